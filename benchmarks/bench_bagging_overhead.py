"""Overhead of BaggedOOFEstimator over fitting the same fold models by hand.

Both sides fit LightGBM on the same 8 folds, single-threaded and one fold after another, and
predict each held-out fold; the bag adds its bookkeeping (cloning, seeding, thread limits,
OOF assembly, OOF score). Runs alternate between the two sides and the median ratio is
reported. Usage::

    python benchmarks/bench_bagging_overhead.py [--dataset jm1] [--repeats 5]
"""

import argparse
import sys
from pathlib import Path
from time import perf_counter

import numpy as np
from lightgbm import LGBMClassifier
from sklearn.base import clone

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import load  # noqa: E402

from skstack import BaggedOOFEstimator  # noqa: E402
from skstack._folds import make_fold_plan  # noqa: E402


def by_hand(model, X, y, plan):
    oof = np.zeros((len(y), 2))
    models = []
    for train, test in plan:
        fitted = clone(model).fit(X[train], y[train])
        oof[test] = fitted.predict_proba(X[test])
        models.append(fitted)
    return models, oof


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="jm1")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    _, X, _, y, _ = load(args.dataset)
    model = LGBMClassifier(n_estimators=200, n_jobs=1, verbose=-1, random_state=0)
    plan = make_fold_plan(X, y, classifier=True, n_folds=8, random_state=0)
    bag = BaggedOOFEstimator(model, n_folds=8, n_jobs=1, random_state=0)
    hand_times, bag_times = [], []
    for repeat in range(args.repeats):
        # Alternate which side runs first, so that drifts in machine speed cancel out.
        for side in ("hand", "bag") if repeat % 2 == 0 else ("bag", "hand"):
            start = perf_counter()
            if side == "hand":
                by_hand(model, X, y, plan)
            else:
                bag.fit(X, y)
            (hand_times if side == "hand" else bag_times).append(perf_counter() - start)
    ratios = np.array(bag_times) / np.array(hand_times)
    print(f"dataset {args.dataset}: {X.shape[0]} rows, LightGBM 200 trees, 8 folds, 1 thread")
    print(f"| repeat | by hand (s) | BaggedOOFEstimator (s) | ratio |")
    print(f"|---|---|---|---|")
    for i, (h, b, r) in enumerate(zip(hand_times, bag_times, ratios)):
        print(f"| {i} | {h:.3f} | {b:.3f} | {r:.3f} |")
    print(f"| median | {np.median(hand_times):.3f} | {np.median(bag_times):.3f} | "
          f"{np.median(ratios):.3f} |")
    print(f"overhead (median ratio - 1): {100 * (np.median(ratios) - 1):+.1f}%")


if __name__ == "__main__":
    main()
