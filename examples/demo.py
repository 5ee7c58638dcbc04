"""skstack on scikit-learn's breast-cancer data, next to plain LightGBM and sklearn stacking.

Run with ``make demo``. Two stacks: a hand-built two-layer stack of five scikit-learn and
LightGBM models, and one layer of skstack's DEFAULT portfolio (every model family with its own
preprocessing, early-stopped on each fold's held-out rows). It prints each portfolio model's
out-of-fold (OOF) score, the ensemble weights chosen by greedy selection, and held-out ROC AUC
and log loss against plain LightGBM and scikit-learn's StackingClassifier (five base models).
"""

from time import perf_counter

from lightgbm import LGBMClassifier
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    RandomForestClassifier,
    StackingClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skstack import GreedyEnsembleSelector, StackLayer
from skstack.families import DEFAULT, build_estimators


def base_models():
    return [
        ("lgbm", LGBMClassifier(n_estimators=200, learning_rate=0.05, verbose=-1)),
        ("rf", RandomForestClassifier(n_estimators=200)),
        ("et", ExtraTreesClassifier(n_estimators=200)),
        ("knn", make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=15))),
        ("lr", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))),
    ]


def main():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                        random_state=0)
    stack = make_pipeline(
        StackLayer(base_models(), n_folds=8, passthrough=True, random_state=0, n_jobs=-1),
        StackLayer(base_models()[:3], n_folds=8, random_state=0, n_jobs=-1),
        GreedyEnsembleSelector(scoring="neg_log_loss", random_state=0),
    ).set_output(transform="pandas")  # named columns: the selector reports weights by model
    portfolio = make_pipeline(
        StackLayer(build_estimators(DEFAULT, task="classification"), n_folds=8,
                   scoring="neg_log_loss", random_state=0, n_jobs=-1),
        GreedyEnsembleSelector(scoring="neg_log_loss", random_state=0),
    ).set_output(transform="pandas")
    rivals = {
        "skstack DEFAULT portfolio": portfolio,
        "skstack 2-layer stack": stack,
        "LightGBM alone": LGBMClassifier(n_estimators=200, learning_rate=0.05, verbose=-1),
        "sklearn StackingClassifier": StackingClassifier(base_models(), cv=8, n_jobs=-1),
    }
    rows = []
    for name, model in rivals.items():
        start = perf_counter()
        model.fit(X_train, y_train)
        seconds = perf_counter() - start
        proba = model.predict_proba(X_test)[:, 1]
        rows.append((name, roc_auc_score(y_test, proba), log_loss(y_test, proba), seconds))

    layer, selector = portfolio[0], portfolio[-1]
    print("DEFAULT portfolio, 8-fold bagged: out-of-fold log loss per model")
    for model, score in sorted(layer.oof_scores_.items(), key=lambda item: -item[1]):
        print(f"  {model:15s} {-score:.4f}   fit {layer.fit_times_[model]:5.1f} s")
    print("Greedy ensemble weights:",
          {name: round(w, 2) for name, w in selector.weights_.items() if w > 0})
    print(f"\nHeld-out test set ({len(y_test)} rows):")
    print(f"  {'model':28s} {'ROC AUC':>8s} {'log loss':>9s} {'fit s':>7s}")
    for name, auc, loss, seconds in rows:
        print(f"  {name:28s} {auc:8.4f} {loss:9.4f} {seconds:7.2f}")


if __name__ == "__main__":
    main()
