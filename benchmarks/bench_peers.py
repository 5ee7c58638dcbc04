"""skstack's presets beside AutoGluon, FLAML and the baselines, the same way, on the same splits.

Every system runs through ``../shared/peers/peers.py`` (a supervised subprocess with a hard
kill, one JSON record per run): AutoGluon 1.6.3 (``autogluon-medium``, ``autogluon-best``)
and FLAML from the peer environments that ``../shared/peers/setup.sh DIR`` builds (about a
minute each; benchmark tools, not dependencies), scikit-learn's stacking and LightGBM's
defaults, and skstack's presets from this project's environment. One system at a time, one
split at a time: the machine has two cores, and two runs side by side corrupt each other's
timings.

Splits: the 25% test part of ``benchmarks/_data.py`` with ``--seeds`` (tables below 2,000
rows get three seeds, larger ones the first: one split of a small table is noise), written
as parquet files for the runner. Reported per dataset and system: the manifest's metric on
the test rows (the mean over seeds), fit seconds / limit, one-row and batch predict time,
peak memory of the process tree. The summary counts each skstack preset's wins against
AutoGluon best_quality and gives the mean normalised score (0: worst of the systems on a
dataset, 1: best), and a plot. Rows are appended to the CSV run by run, so a long run can
be split; ``--raw`` only summarises.

Usage::

    python benchmarks/bench_peers.py --peers ~/peers [--datasets a,b]
        [--systems skstack-best,autogluon-best,...] [--time-limit 60] [--seeds 0,1,2]
        [--csv benchmarks/results/peers_60s.csv] [--out benchmarks/results/peers_60s.md]
        [--raw CSV]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _data import GREATER_IS_BETTER, load_frame, manifest  # noqa: E402

RUNNER = HERE.parents[1] / "shared" / "peers" / "peers.py"
SYSTEMS = ["skstack-best", "skstack-medium", "autogluon-best", "autogluon-medium", "flaml",
           "sk-stacking", "lightgbm"]
SMALL_ROWS = 2000
PROBLEM = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}
METRIC_KEY = {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "rmse"}
COLUMNS = ["dataset", "seed", "system", "metric", "score", "fit_seconds", "fit_time_ratio",
           "predict_one_row_ms", "predict_rows_per_second", "peak_tree_rss_mb", "n_models",
           "error"]


def python_for(system, peers):
    """The interpreter that runs ``system``: a peer environment, or this project's."""
    if system.startswith("autogluon"):
        return str(Path(peers) / "autogluon" / "bin" / "python")
    if system == "flaml":
        return str(Path(peers) / "flaml" / "bin" / "python")
    return sys.executable


def write_split(name, seed, folder):
    """The dataset's train and test parts as parquet files (label ``target``)."""
    info, X_train, X_test, y_train, y_test = load_frame(name, seed=seed)
    train, test = folder / f"{name}_{seed}_train.parquet", folder / f"{name}_{seed}_test.parquet"
    X_train.assign(target=y_train).to_parquet(train)
    X_test.assign(target=y_test).to_parquet(test)
    return info, train, test


def run(system, name, seed, limit, peers, folder):
    """One run of ``system`` on one split; its record."""
    info, train, test = write_split(name, seed, folder)
    out = folder / f"{system}_{name}_{seed}.json"
    command = [python_for(system, peers), str(RUNNER), "--system", system, "--train", str(train),
               "--test", str(test), "--label", "target", "--problem", PROBLEM[info.task],
               "--time-limit", str(limit), "--seed", str(seed), "--out", str(out)]
    subprocess.run(command, check=False)
    result = json.loads(out.read_text()) if out.exists() else {"error": "no result"}
    metrics = result.get("metrics") or {}
    return {
        "dataset": name, "seed": seed, "system": system, "metric": info.metric,
        "score": metrics.get(METRIC_KEY[info.metric], np.nan),
        "fit_seconds": result.get("fit_seconds"), "fit_time_ratio": result.get("fit_time_ratio"),
        "predict_one_row_ms": result.get("predict_one_row_ms"),
        "predict_rows_per_second": result.get("predict_rows_per_second"),
        "peak_tree_rss_mb": result.get("peak_tree_rss_mb"), "n_models": result.get("n_models"),
        "error": result.get("error"),
    }


def normalised(frame):
    """Per dataset, each system's mean score scaled to 0 (worst) .. 1 (best)."""
    means = frame.groupby(["dataset", "system", "metric"], as_index=False)["score"].mean()
    out = []
    for (_, metric), group in means.groupby(["dataset", "metric"]):
        scores = group["score"] if GREATER_IS_BETTER[metric] else -group["score"]
        low, high = scores.min(), scores.max()
        out.append(group.assign(normalised=(scores - low) / (high - low) if high > low else 1.0))
    return pd.concat(out)


def summarise(frame, limit):
    frame = frame.drop_duplicates(subset=["dataset", "seed", "system"], keep="last")
    scores = normalised(frame)
    table = scores.pivot(index="dataset", columns="system", values="score")
    seeds = frame.groupby("dataset")["seed"].nunique()
    counts = ", ".join(f"{n} seed(s): {int((seeds == n).sum())} datasets"
                       for n in sorted(seeds.unique()))
    lines = [f"# skstack beside AutoGluon at {limit:g} s\n",
             f"Mean test score per dataset over its seeds ({counts}; the harness gives "
             f"tables below {SMALL_ROWS:,} rows three). Metrics: ROC AUC (binary, higher is "
             "better), log loss (multiclass) and RMSE (regression), lower is better.\n",
             table.to_markdown(floatfmt=".4g"), ""]
    metric = frame.groupby("dataset")["metric"].first()
    summary = frame.groupby("system").agg(
        fit_limit_median=("fit_time_ratio", "median"), fit_limit_max=("fit_time_ratio", "max"),
        one_row_ms=("predict_one_row_ms", "median"),
        rows_per_second=("predict_rows_per_second", "median"),
        peak_tree_mb=("peak_tree_rss_mb", "median"),
        errors=("error", lambda e: int(e.notna().sum())))
    summary["mean_normalised"] = scores.groupby("system")["normalised"].mean()
    if "autogluon-best" in table:
        for system in table.columns:
            if system.startswith("skstack"):
                better = [(table.loc[d, system] - table.loc[d, "autogluon-best"])
                          * (1 if GREATER_IS_BETTER[metric[d]] else -1) > 0
                          for d in table.index if not np.isnan(table.loc[d, system])
                          and not np.isnan(table.loc[d, "autogluon-best"])]
                summary.loc[system, "wins_vs_autogluon_best"] = f"{sum(better)}/{len(better)}"
    lines += ["## Summary\n", summary.to_markdown(floatfmt=".3g"), ""]
    return "\n".join(lines) + "\n"


def plot(frame, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = normalised(frame.drop_duplicates(subset=["dataset", "seed", "system"],
                                              keep="last"))
    table = scores.pivot(index="dataset", columns="system", values="normalised")
    ax = table.plot(kind="barh", figsize=(8, 0.35 * len(table) + 2), width=0.8)
    ax.set_xlabel("normalised test score (1: best of the systems)")
    ax.legend(fontsize=7, loc="lower right")
    plt.tight_layout()
    plt.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", default=str(Path.home() / "peers"))
    parser.add_argument("--datasets", default=None)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--csv", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--raw", default=None)
    args = parser.parse_args(argv)
    stem = f"peers_{args.time_limit:g}s"
    csv = Path(args.csv or HERE / "results" / f"{stem}.csv")
    out = Path(args.out or HERE / "results" / f"{stem}.md")
    if args.raw is None:
        names = (args.datasets.split(",") if args.datasets
                 else list(manifest().index))
        seeds = [int(s) for s in args.seeds.split(",")]
        with tempfile.TemporaryDirectory() as tmp:
            for name in names:
                n_rows = manifest().loc[name, "n_rows"]
                for seed in (seeds if n_rows < SMALL_ROWS else seeds[:1]):
                    for system in args.systems.split(","):
                        record = run(system, name, seed, args.time_limit, args.peers,
                                     Path(tmp))
                        print(json.dumps(record), flush=True)
                        pd.DataFrame([record]).reindex(columns=COLUMNS).to_csv(
                            csv, mode="a", header=not csv.exists(), index=False)
    frame = pd.read_csv(args.raw or csv)
    command = "python benchmarks/bench_peers.py " + " ".join(argv or sys.argv[1:])
    out.write_text(summarise(frame, args.time_limit) + f"Written by `{command}` (the CSV "
                   "keeps earlier runs' rows; a run repeated counts its last).\n")
    plot(frame, out.with_suffix(".png"))
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
