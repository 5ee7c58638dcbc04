"""Ranking the LARGE portfolio's configurations on the shared datasets (zero-shot ordering).

For each dataset (training part of the usual 75/25 split; the test part is never read):
every configuration of ``LARGE`` is bagged over 8 folds in one ``StackLayer``, each fold
model limited to ``--max-time`` seconds (as a time-limited AutoStack fit limits them),
and its OOF score (the manifest's metric) and fit time are recorded. Scores are normalised
per dataset (1 = the best configuration, 0 = the median one, clipped at 0), and
configurations are ordered greedily, as zero-shot portfolios are built (Caruana-style
forward selection over datasets, TabRepo): each step adds the configuration that most
raises the mean over datasets of the best normalised score among those chosen; the ones
that add nothing follow by mean normalised score. Reported: the order with each
configuration's marginal gain, the normalised and the raw tables (also written as CSV next
to ``--out``; ``--raw`` re-ranks a saved CSV without refitting): a candidate training
order for ``skstack.families.LARGE``. Usage::

    python benchmarks/bench_portfolio.py [--datasets a,b] [--max-time 3] [--raw CSV]
                                         [--out benchmarks/results/portfolio.md]
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_families import SCORING, load_raw  # noqa: E402

from skstack import StackLayer  # noqa: E402
from skstack.families import LARGE, build_estimators  # noqa: E402

DEFAULT_DATASETS = "diabetes,kc1,credit_data,titanic,vehicle,yeast,concrete,abalone"


def bag_portfolio(name, max_time, n_jobs):
    """OOF score and fit seconds of every LARGE configuration on one dataset."""
    info, X_train, _, y_train, _ = load_raw(name)
    task = "regression" if info.task == "regression" else "classification"
    estimators = [(model_name, model.set_params(max_time=max_time))
                  for model_name, model in build_estimators(LARGE, task=task)]
    layer = StackLayer(estimators, n_folds=8, n_jobs=n_jobs, scoring=SCORING[info.metric],
                       random_state=0).fit(X_train, y_train)
    return pd.DataFrame({
        "dataset": name,
        "model": list(layer.oof_scores_),
        "oof_score": list(layer.oof_scores_.values()),
        "fit_s": [layer.fit_times_[model] for model in layer.oof_scores_],
    })


def normalised(raw):
    """Per dataset: 1 for the best configuration, 0 for the median one and below."""
    scores = raw.pivot(index="model", columns="dataset", values="oof_score")
    best, median = scores.max(), scores.median()
    return ((scores - median) / (best - median).replace(0, np.nan)).clip(lower=0).fillna(0)


def greedy_order(scores, seconds):
    """Forward selection of configurations by the gain in mean best normalised score.

    Each step adds the configuration that most raises the mean over datasets of the best
    normalised score among those chosen (ties: the cheaper). Once no configuration adds
    anything, the rest follow by their mean normalised score: good on average, though
    never the best anywhere.
    """
    chosen, gains, best = [], [], np.zeros(scores.shape[1])
    remaining = list(scores.index)
    while remaining:
        current = best.mean()
        gain = {m: np.maximum(best, scores.loc[m].to_numpy()).mean() - current
                for m in remaining}
        pick = max(remaining, key=lambda m: (gain[m], -seconds[m]))
        if gain[pick] <= 1e-12:
            break
        chosen.append(pick)
        gains.append(gain[pick])
        best = np.maximum(best, scores.loc[pick].to_numpy())
        remaining.remove(pick)
    rest = sorted(remaining, key=lambda m: -scores.loc[m].mean())
    return pd.DataFrame({"model": chosen + rest, "gain": gains + [0.0] * len(rest),
                         "mean_fit_s": [seconds[m] for m in chosen + rest]})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=DEFAULT_DATASETS)
    parser.add_argument("--max-time", type=float, default=3.0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--raw", default=None, help="re-rank this saved CSV; no fitting")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.raw:
        raw = pd.read_csv(args.raw)
    else:
        frames = []
        for name in args.datasets.split(","):
            frames.append(bag_portfolio(name, args.max_time, args.n_jobs))
            print(f"{name}: {frames[-1]['fit_s'].sum():.0f} s", file=sys.stderr, flush=True)
        raw = pd.concat(frames, ignore_index=True)
        if args.out:
            raw.to_csv(Path(args.out).with_suffix(".csv"), index=False)
    scores = normalised(raw)
    seconds = raw.groupby("model")["fit_s"].mean()
    order = greedy_order(scores, seconds)
    order["mean_normalised"] = [scores.loc[m].mean() for m in order["model"]]
    order["top3_datasets"] = [int((scores.rank(ascending=False).loc[m] <= 3).sum())
                              for m in order["model"]]
    datasets = ",".join(raw["dataset"].unique())
    text = "\n\n".join([
        (f"LARGE bagged over 8 folds, {args.max_time} s per fold model, on "
         f"{datasets}; OOF scores only (the test parts are never read)."),
        "## Greedy order (gain in mean best normalised OOF score)",
        order.round(4).to_markdown(index=False),
        "## Normalised OOF score (1 best, 0 median or worse)",
        scores.loc[order["model"]].round(3).to_markdown(),
        "## Raw OOF scores and fit seconds",
        raw.round(4).to_markdown(index=False),
    ]) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
