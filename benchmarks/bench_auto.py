"""AutoStack presets at a fixed time limit against plain LightGBM and sklearn stacking.

For every dataset of ``../shared/datasets/`` (or ``--datasets``): each preset of
:class:`~skstack.AutoStackClassifier`/``Regressor`` is fitted on the raw training frame
(categoricals, strings and missing values as they are) with ``--time-limit``; plain
LightGBM (library defaults) and scikit-learn's ``Stacking*`` (LightGBM, random forest, extra
trees, KNN, linear; ``cv=5``) are fitted on the ordinal-encoded frame in the same run.
Reported per dataset: the manifest's metric on a held-out 25%, fit time and its ratio to the
limit, predict time for one row (median of 20) and for the test set, and the peak resident
memory added during the fit. The summary counts wins against both baselines, the mean
normalised score (0 = worst, 1 = best of the methods on each dataset) and the worst
fit-time overrun. The raw rows are appended, one dataset at a time, to the CSV next to
``--out`` (or ``--csv``), so that a long run (300 s on every dataset) can be split over
several invocations and summarised at the end with ``--raw`` (no fitting; of rows repeated
across the files, the last counts, so that ``--no-baselines`` reruns of a preset replace
earlier ones). A preset found at several time limits is reported once per limit
(``best_quality_60s``, ``best_quality_300s``). ``--baselines`` takes the LightGBM and
sklearn-stacking rows from other CSVs (they have no time limit, so a 60 s run's serve a
300 s one). Usage::

    python benchmarks/bench_auto.py [--datasets a,b] [--presets best_quality,medium_quality]
                                    [--time-limit 60] [--out benchmarks/results/auto_60s.md]
                                    [--csv PATH] [--raw CSV[,CSV]] [--baselines CSV[,CSV]]
                                    [--no-baselines]
"""

import argparse
import os
import sys
import threading
import warnings
from pathlib import Path
from time import perf_counter, sleep

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import GREATER_IS_BETTER, load, load_frame, manifest, score  # noqa: E402
from bench_stacking import sklearn_stack  # noqa: E402

from skstack import AutoStackClassifier, AutoStackRegressor  # noqa: E402

BASELINES = ["lightgbm", "sklearn_stacking"]
SCORING = {"roc_auc": "roc_auc", "log_loss": "neg_log_loss", "rmse": "neg_root_mean_squared_error"}
TEXT_DATASETS = {"fine_food_reviews"}  # free text: the subject of the encoders issue


class PeakMemory:
    """Peak resident memory (bytes) above the starting point, sampled every 50 ms."""

    def __enter__(self):
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            sleep(0.05)

    @staticmethod
    def _rss():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.added = max(0, self.peak - self.start)


def predict_times(model, X_test, metric):
    method = model.predict if metric == "rmse" else model.predict_proba
    row = X_test.iloc[:1] if hasattr(X_test, "iloc") else X_test[:1]
    singles = []
    for _ in range(20):
        start = perf_counter()
        method(row)
        singles.append(perf_counter() - start)
    start = perf_counter()
    method(X_test)
    return float(np.median(singles)), perf_counter() - start


def run_one(model, X_train, y_train, X_test, y_test, metric):
    with warnings.catch_warnings(), PeakMemory() as memory:
        warnings.simplefilter("ignore")
        start = perf_counter()
        model.fit(X_train, y_train)
        fit_s = perf_counter() - start
    one_row_s, test_s = predict_times(model, X_test, metric)
    return {"score": score(metric, model, X_test, y_test), "fit_s": fit_s,
            "predict_1_row_ms": 1000 * one_row_s, "predict_test_s": test_s,
            "peak_mem_mb": memory.added / 2**20}


def lightgbm(classification):
    from lightgbm import LGBMClassifier, LGBMRegressor

    cls = LGBMClassifier if classification else LGBMRegressor
    return cls(verbose=-1, random_state=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    names = [n for n in manifest().index if n not in TEXT_DATASETS]
    parser.add_argument("--datasets", default=",".join(names))
    parser.add_argument("--presets", default="best_quality")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--out", default=None)
    parser.add_argument("--csv", default=None,
                        help="append the raw rows here (default: next to --out)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="fit the presets only (to merge with a run that has them)")
    parser.add_argument("--raw", default=None,
                        help="summarise these saved CSVs (comma-separated); no fitting")
    parser.add_argument("--baselines", default=None,
                        help="with --raw: the LightGBM and sklearn-stacking rows come from "
                             "these CSVs (comma-separated)")
    args = parser.parse_args()
    if args.raw:
        report(saved_rows(args.raw, args.baselines), args.out)
        return
    csv = args.csv or (Path(args.out).with_suffix(".csv") if args.out else None)
    rows = []
    for name in args.datasets.split(","):
        rows += bench_dataset(name, args.presets.split(","), args.time_limit,
                              baselines=not args.no_baselines)
        if csv:
            pd.DataFrame([r for r in rows if r["dataset"] == name]).to_csv(
                csv, mode="a", header=not Path(csv).exists(), index=False)
    if args.no_baselines:  # nothing to compare with: merge with --raw
        print(pd.DataFrame(rows).round(4).to_markdown(index=False))
        return
    report(pd.DataFrame(rows), args.out)


def read_csvs(paths):
    return pd.concat([pd.read_csv(path) for path in paths.split(",")], ignore_index=True)


def saved_rows(paths, baseline_paths=None):
    """The rows of saved CSVs, one per dataset and method (and time limit of a preset)."""
    frame = read_csvs(paths)
    if baseline_paths:
        others = read_csvs(baseline_paths)
        others = others[others["method"].isin(BASELINES)
                        & others["dataset"].isin(frame["dataset"])]
        frame = pd.concat([frame[~frame["method"].isin(BASELINES)], others],
                          ignore_index=True)
    preset = ~frame["method"].isin(BASELINES)
    limits = frame[preset].groupby("method")["time_limit"].nunique()
    several = preset & frame["method"].map(limits).gt(1)
    frame.loc[several, "method"] = (frame["method"] + "_"
                                    + frame["time_limit"].map("{:.0f}s".format))
    # Runs of other presets repeat the baselines: their last fit counts.
    return frame.drop_duplicates(["dataset", "method"], keep="last")


def report(frame, out):
    """Summary, tables and plot of raw rows."""
    presets = [m for m in frame["method"].unique() if m not in BASELINES]
    # Presets first, then the baselines, datasets in their order of appearance.
    order = {method: i for i, method in enumerate(presets + BASELINES)}
    frame = frame.sort_values("method", key=lambda m: m.map(order), kind="stable")
    frame = frame.sort_values("dataset", kind="stable",
                              key=lambda d: d.map({n: i for i, n in enumerate(d.unique())}))
    text = summarise(frame, presets)
    print(text)
    if out:
        Path(out).write_text(text + "\n")
        plot(frame, presets, Path(out).with_suffix(".png"))


def bench_dataset(name, presets, time_limit, baselines=True):
    """Raw rows of every preset and both baselines on one dataset."""
    rows = []
    info, X_train, X_test, y_train, y_test = load_frame(name)
    _, Xo_train, Xo_test, _, _ = load(name)
    classification = info.task != "regression"
    auto = AutoStackClassifier if classification else AutoStackRegressor
    results = {}
    for preset in presets:
        model = auto(presets=preset, time_limit=time_limit,
                     scoring=SCORING[info.metric], random_state=0)
        results[preset] = run_one(model, X_train, y_train, X_test, y_test, info.metric)
        results[preset]["levels"] = model.fit_summary()["n_levels"]
    if baselines:
        results["lightgbm"] = run_one(lightgbm(classification), Xo_train, y_train, Xo_test,
                                      y_test, info.metric)
        results["sklearn_stacking"] = run_one(sklearn_stack(classification, n_jobs=1),
                                              Xo_train, y_train, Xo_test, y_test, info.metric)
    for method, result in results.items():
        rows.append({"dataset": name, "rows": info.n_rows, "metric": info.metric,
                     "time_limit": time_limit, "method": method, **result})
    print(name, {m: round(r["score"], 4) for m, r in results.items()},
          {m: round(r["fit_s"], 1) for m, r in results.items()}, file=sys.stderr,
          flush=True)
    return rows


def normalised(frame):
    """Per dataset: 0 for the worst method, 1 for the best (direction of the metric)."""
    out = []
    for _, group in frame.groupby("dataset", sort=False):
        sign = 1 if GREATER_IS_BETTER[group["metric"].iloc[0]] else -1
        values = sign * group["score"]
        span = values.max() - values.min()
        out.append((values - values.min()) / span if span > 0 else values * 0 + 1)
    return pd.concat(out)


def summarise(frame, presets):
    frame = frame.assign(normalised=normalised(frame))
    table = frame.pivot_table(index=["dataset", "metric"], columns="method", values="score",
                              sort=False)
    limit_of = frame[frame["method"].isin(presets)].groupby("method")["time_limit"].first()
    limits = ", ".join(f"{t:.0f}" for t in sorted(limit_of.unique()))
    lines = [f"Time limit {limits} s; scores on a held-out 25% "
             "(roc_auc: higher is better; log_loss, rmse: lower).", "",
             table.round(4).to_markdown(), ""]
    scores = table.droplevel("metric")
    sign = pd.Series([1 if GREATER_IS_BETTER[m] else -1
                      for m in table.index.get_level_values("metric")], index=scores.index)

    def wins(method, other):
        both = scores[[method, other]].dropna()
        better = sign[both.index] * (both[method] - both[other]) > 0
        return f"{better.sum()}/{len(better)}"

    for preset in presets:
        mine = frame[frame["method"] == preset].set_index("dataset")
        ratio = mine["fit_s"] / mine["time_limit"]
        lines.append(
            f"- {preset}: beats LightGBM on {wins(preset, 'lightgbm')}, sklearn stacking on "
            f"{wins(preset, 'sklearn_stacking')}; fit time / limit median "
            f"{ratio.median():.3f}, max {ratio.max():.3f} ({ratio.idxmax()}); predict 1 row "
            f"median {mine['predict_1_row_ms'].median():.1f} ms; peak memory median "
            f"{mine['peak_mem_mb'].median():.0f} MB")
    # A preset at several limits (named by saved_rows): does the longer fit beat the shorter?
    def preset_of(method):
        return method.removesuffix(f"_{limit_of[method]:.0f}s")

    for longer in presets:
        for shorter in presets:
            if (longer != shorter and preset_of(longer) == preset_of(shorter)
                    and limit_of[longer] > limit_of[shorter]):
                lines.append(f"- {longer} beats {shorter} on {wins(longer, shorter)}")
    lines.append("")
    means = frame.groupby("method", sort=False)["normalised"].mean().round(3)
    lines.append("Mean normalised score (1 = best method on every dataset): "
                 + ", ".join(f"{m} {v}" for m, v in means.items()))
    lines += ["", "Per method and dataset:", "",
              frame.drop(columns=["normalised"]).round(4).to_markdown(index=False)]
    return "\n".join(lines)


def plot(frame, presets, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    frame = frame.assign(normalised=normalised(frame))
    table = frame.pivot_table(index="dataset", columns="method", values="normalised",
                              sort=False)
    ax = table.plot.bar(figsize=(max(8, 0.6 * len(table)), 4), width=0.8)
    ax.set_ylabel("normalised score (1 = best)")
    ax.set_title("AutoStack presets vs LightGBM and sklearn stacking")
    plt.tight_layout()
    plt.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
