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
from time import perf_counter, process_time

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
    _, X, _, labels, _ = load(args.dataset)
    codes = np.unique(labels, return_inverse=True)[1]
    # String labels show what users get (the bag encodes them once, LightGBM does it per
    # fold); integer labels isolate the bag's own bookkeeping.
    for kind, y in (("string labels", labels), ("integer labels", codes)):
        report(kind, args, X, y)


def report(kind, args, X, y):
    model = LGBMClassifier(n_estimators=200, n_jobs=1, verbose=-1, random_state=0)
    plan = make_fold_plan(X, y, classifier=True, n_folds=8, random_state=0)
    bag = BaggedOOFEstimator(model, n_folds=8, n_jobs=1, random_state=0)
    # Wall time, and CPU time of this process: everything runs single-threaded in it, and
    # CPU time is far less disturbed than wall time by other load on a shared machine.
    times = {("hand", "wall"): [], ("bag", "wall"): [], ("hand", "cpu"): [], ("bag", "cpu"): []}
    for repeat in range(args.repeats):
        # Alternate which side runs first, so that drifts in machine speed cancel out.
        for side in ("hand", "bag") if repeat % 2 == 0 else ("bag", "hand"):
            wall, cpu = perf_counter(), process_time()
            if side == "hand":
                by_hand(model, X, y, plan)
            else:
                bag.fit(X, y)
            times[side, "cpu"].append(process_time() - cpu)
            times[side, "wall"].append(perf_counter() - wall)
    times = {key: np.array(value) for key, value in times.items()}
    print(f"\ndataset {args.dataset}, {kind}: {X.shape[0]} rows, LightGBM 200 trees, "
          "8 folds, 1 thread")
    print("| repeat | by hand wall s | bag wall s | wall ratio | by hand CPU s | bag CPU s | "
          "CPU ratio |")
    print("|---|---|---|---|---|---|---|")
    rows = [(str(i), i) for i in range(args.repeats)] + [("median", None)]
    for label, i in rows:
        cells = []
        for clock in ("wall", "cpu"):
            hand, bag_t = times["hand", clock], times["bag", clock]
            if i is None:
                cells += [np.median(hand), np.median(bag_t), np.median(bag_t / hand)]
            else:
                cells += [hand[i], bag_t[i], bag_t[i] / hand[i]]
        print(f"| {label} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    for clock in ("wall", "cpu"):
        ratio = np.median(times["bag", clock] / times["hand", clock])
        print(f"overhead by {clock} time (median ratio - 1): {100 * (ratio - 1):+.1f}%")


if __name__ == "__main__":
    main()
