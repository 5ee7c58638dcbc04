"""Every model family, bagged (8 folds, portfolio settings) against its library's defaults.

For each dataset: a StackLayer of the ``DEFAULT`` portfolio (8-fold bagging, early stopping on
each fold's holdout, native OOF for forests and KNN) gives every model's OOF score, held-out
test score and fit time; each family's plain library defaults, fitted once on the training
rows (through ``FamilyModel`` for its preprocessing), give the baseline. Last, the portfolio
blended by ``GreedyEnsembleSelector`` is compared with the best single bagged model.
Scores use the manifest's metric on a held-out 25% split. Usage::

    python benchmarks/bench_families.py [--datasets a,b,...] [--n-jobs 2]
"""

import argparse
import sys
import warnings
from pathlib import Path
from time import perf_counter

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DATA_DIR, GREATER_IS_BETTER, manifest  # noqa: E402

from skstack import GreedyEnsembleSelector, StackLayer  # noqa: E402
from skstack.families import DEFAULT, FamilyModel, build_estimators  # noqa: E402
from skstack.families._registry import BUILTIN_FAMILIES  # noqa: E402

DEFAULT_DATASETS = "diabetes,kc1,credit_data,titanic,vehicle,yeast,concrete,abalone"
SCORING = {"roc_auc": "roc_auc", "log_loss": "neg_log_loss", "rmse": "neg_root_mean_squared_error"}


def load_raw(name, seed=0):
    """Train/test split with the raw columns (categoricals, strings, NaN) kept."""
    info = manifest().loc[name]
    frame = pd.read_parquet(DATA_DIR / f"{name}.parquet")
    y = frame.pop("target")
    classification = info.task != "regression"
    y = y.astype(str).to_numpy() if classification else y.to_numpy(dtype=float)
    split = train_test_split(frame, y, test_size=0.25, random_state=seed,
                             stratify=y if classification else None)
    return info, *split


def test_score(metric, values, y_test, classes):
    from sklearn.metrics import log_loss, mean_squared_error, roc_auc_score

    if metric == "rmse":
        return float(np.sqrt(mean_squared_error(y_test, values)))
    if metric == "roc_auc":
        return float(roc_auc_score(y_test == classes[1], values[:, 1]))
    return float(log_loss(y_test, values, labels=classes))


def predictions(model, X, metric):
    return model.predict(X) if metric == "rmse" else model.predict_proba(X)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=DEFAULT_DATASETS)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows, blends = [], []
    for name in args.datasets.split(","):
        info, X_train, X_test, y_train, y_test = load_raw(name)
        task = "regression" if info.task == "regression" else "classification"
        layer = StackLayer(build_estimators(DEFAULT, task=task), n_folds=8, n_jobs=args.n_jobs,
                           scoring=SCORING[info.metric], random_state=0)
        start = perf_counter()
        oof = layer.fit_transform(X_train, y_train)
        layer_seconds = perf_counter() - start
        classes = getattr(layer, "classes_", None)
        single = {}
        for model, bag in layer.named_estimators_.items():
            score = test_score(info.metric, predictions(bag, X_test, info.metric), y_test,
                               classes)
            single[model] = score
            rows.append({"dataset": name, "model": model, "oof": bag.oof_score_,
                         "test": score, "fit_s": bag.fit_time_, "n_models": len(bag.estimators_)})
        for family in BUILTIN_FAMILIES:
            plain = FamilyModel(family.estimator_class(task == "classification")())
            start = perf_counter()
            plain.fit(X_train, y_train)
            rows.append({"dataset": name, "model": f"{family.name} (library defaults, 1 fit)",
                         "test": test_score(info.metric, predictions(plain, X_test, info.metric),
                                            y_test, classes),
                         "fit_s": perf_counter() - start, "oof": np.nan, "n_models": 1})
        selector = GreedyEnsembleSelector(scoring=SCORING[info.metric], task=task,
                                          random_state=0).fit(oof, y_train)
        blend_values = predictions(selector, layer.transform(X_test), info.metric)
        blend = test_score(info.metric, blend_values, y_test, classes)
        pick = max if GREATER_IS_BETTER[info.metric] else min
        best_model = pick(single, key=single.get)
        # What a user can actually pick: the best model by OOF score (greater is better).
        oof_scores = {model: bag.oof_score_ for model, bag in layer.named_estimators_.items()}
        by_oof = max(oof_scores, key=oof_scores.get)
        blends.append({"dataset": name, "metric": info.metric, "portfolio+selector": blend,
                       "best single by OOF": single[by_oof], "its model": by_oof,
                       "best single on test (oracle)": single[best_model],
                       "oracle model": best_model, "layer fit s": layer_seconds})
        print(f"{name}: blend {blend:.4f} best {best_model} {single[best_model]:.4f} "
              f"({layer_seconds:.0f} s)", file=sys.stderr, flush=True)

    table = pd.DataFrame(rows)
    print("## Test score per model (bagged portfolio entries and plain library defaults)\n")
    wide = table.pivot(index="model", columns="dataset", values="test")
    print(wide.round(4).to_markdown())
    print("\n## Fit seconds\n")
    print(table.pivot(index="model", columns="dataset", values="fit_s").round(1).to_markdown())
    print("\n## OOF score of the bagged models (scorer: the manifest metric, greater is "
          "better)\n")
    print(table.dropna(subset=["oof"]).pivot(index="model", columns="dataset", values="oof")
          .round(4).to_markdown())
    print("\n## DEFAULT portfolio + GreedyEnsembleSelector against the best single model\n")
    print(pd.DataFrame(blends).round(4).to_markdown(index=False))
    for reference in ("best single by OOF", "best single on test (oracle)"):
        better = [(b["portfolio+selector"] > b[reference]) == GREATER_IS_BETTER[b["metric"]]
                  or b["portfolio+selector"] == b[reference] for b in blends]
        print(f"\nportfolio + selector at least as good as the {reference} on "
              f"{sum(better)}/{len(blends)} datasets")


if __name__ == "__main__":
    main()
