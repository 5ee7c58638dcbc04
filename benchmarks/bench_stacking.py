"""Hand-built skstack stacks against scikit-learn's StackingClassifier/Regressor.

All use the same base models. skstack, 2 layers: layer 1 (all base models, 8-fold bagged,
passthrough), layer 2 (the tree models, 8-fold bagged), greedy ensemble selection on the
manifest's metric; skstack, 1 layer: layer 1 without passthrough, then the selector.
scikit-learn: ``Stacking*`` with ``cv=8`` and its default final estimator.
Scores are on a held-out 25% split with the manifest's metric; models run single-threaded
per fit and folds run on ``--n-jobs`` workers on both sides. Usage::

    python benchmarks/bench_stacking.py [--datasets a,b,...] [--n-jobs 2]
"""

import argparse
import sys
import warnings
from pathlib import Path
from time import perf_counter

import numpy as np
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    StackingClassifier,
    StackingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import GREATER_IS_BETTER, load  # noqa: E402

from skstack import GreedyEnsembleSelector, StackLayer  # noqa: E402

DEFAULT_DATASETS = "diabetes,kc1,phoneme,spambase,vehicle,yeast,concrete,wine_quality"
SCORING = {"roc_auc": "roc_auc", "log_loss": "neg_log_loss", "rmse": "neg_root_mean_squared_error"}


def base_models(classification):
    kw = {"random_state": 0}
    if classification:
        trees = [("lgbm", LGBMClassifier(n_estimators=200, n_jobs=1, verbose=-1, **kw)),
                 ("rf", RandomForestClassifier(n_estimators=100, **kw)),
                 ("et", ExtraTreesClassifier(n_estimators=100, **kw))]
        others = [KNeighborsClassifier(n_neighbors=15), LogisticRegression(max_iter=1000)]
    else:
        trees = [("lgbm", LGBMRegressor(n_estimators=200, n_jobs=1, verbose=-1, **kw)),
                 ("rf", RandomForestRegressor(n_estimators=100, **kw)),
                 ("et", ExtraTreesRegressor(n_estimators=100, **kw))]
        others = [KNeighborsRegressor(n_neighbors=15), Ridge()]
    # A column with no observed value in some fold is kept (as a constant) rather than
    # dropped with a warning per fold: hypothyroid has one.
    scaled = [(name, make_pipeline(SimpleImputer(keep_empty_features=True), StandardScaler(),
                                   model))
              for name, model in zip(("knn", "linear"), others)]
    return trees, scaled


def skstack_stack(classification, metric, n_jobs, n_layers=2):
    trees, scaled = base_models(classification)
    layers = [StackLayer(trees + scaled, n_folds=8, passthrough=n_layers > 1, n_jobs=n_jobs,
                         random_state=0)]
    if n_layers > 1:
        layers.append(StackLayer(base_models(classification)[0], n_folds=8, n_jobs=n_jobs,
                                 random_state=0))
    return make_pipeline(
        *layers,
        GreedyEnsembleSelector(scoring=SCORING[metric], random_state=0,
                               task="classification" if classification else "regression"),
    )


def sklearn_stack(classification, n_jobs):
    trees, scaled = base_models(classification)
    if classification:
        return StackingClassifier(trees + scaled, cv=8, n_jobs=n_jobs)
    return StackingRegressor(trees + scaled, cv=8, n_jobs=n_jobs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=DEFAULT_DATASETS)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    from _data import score

    rows = []
    for name in args.datasets.split(","):
        info, X_train, X_test, y_train, y_test = load(name)
        classification = info.task != "regression"
        result = {"dataset": name, "rows": info.n_rows, "metric": info.metric}
        sides = (("skstack", skstack_stack(classification, info.metric, args.n_jobs)),
                 ("skstack1", skstack_stack(classification, info.metric, args.n_jobs, 1)),
                 ("sklearn", sklearn_stack(classification, args.n_jobs)))
        for side, model in sides:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = perf_counter()
                model.fit(X_train, y_train)
                result[f"{side}_fit_s"] = perf_counter() - start
                result[side] = score(info.metric, model, X_test, y_test)
        better = GREATER_IS_BETTER[info.metric]
        for side in ("skstack", "skstack1"):
            result[f"{side}_better"] = (result[side] > result["sklearn"]) == better
        rows.append(result)
        print(f"{name}: {result}", file=sys.stderr, flush=True)

    print("| dataset | rows | metric | skstack 2 layers | skstack 1 layer | sklearn stacking | "
          "fit s (2 layers / 1 layer / sklearn) | fit-time ratio 2L/sk, 1L/sk |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dataset']} | {r['rows']} | {r['metric']} | {r['skstack']:.4f} | "
              f"{r['skstack1']:.4f} | {r['sklearn']:.4f} | {r['skstack_fit_s']:.1f} / "
              f"{r['skstack1_fit_s']:.1f} / {r['sklearn_fit_s']:.1f} | "
              f"{r['skstack_fit_s'] / r['sklearn_fit_s']:.2f}, "
              f"{r['skstack1_fit_s'] / r['sklearn_fit_s']:.2f} |")
    for side, label in (("skstack", "2 layers"), ("skstack1", "1 layer")):
        wins = sum(r[f"{side}_better"] for r in rows)
        ratios = [r[f"{side}_fit_s"] / r["sklearn_fit_s"] for r in rows]
        print(f"\nskstack {label} better than sklearn stacking on {wins}/{len(rows)} datasets; "
              f"median fit-time ratio {np.median(ratios):.2f}")


if __name__ == "__main__":
    main()
