"""
The building blocks: bagged layers, stacking and greedy selection
=================================================================

Two stacks built by hand from skstack's blocks, next to plain LightGBM and scikit-learn's
:class:`~sklearn.ensemble.StackingClassifier` on the breast-cancer data: a two-layer stack
of five scikit-learn and LightGBM models, and one layer of skstack's ``DEFAULT`` portfolio
(every model family with its own preprocessing, early-stopped on each fold's held-out
rows). Each is an ordinary :class:`~sklearn.pipeline.Pipeline`.

Run it with ``make demo-blocks``.
"""

# %%
# The models
# ----------
from time import perf_counter

import matplotlib.pyplot as plt
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, StackingClassifier
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


X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# Two stacks and two rivals
# -------------------------
# A :class:`~skstack.StackLayer` bags each of its models over 8 folds and outputs their
# out-of-fold predictions at fit time (their fold models' average at predict time), so a
# second layer or the :class:`~skstack.GreedyEnsembleSelector` learns from predictions of
# rows the models did not see. ``passthrough=True`` hands the original columns on too.
stack = make_pipeline(
    StackLayer(base_models(), n_folds=8, passthrough=True, random_state=0, n_jobs=-1),
    StackLayer(base_models()[:3], n_folds=8, random_state=0, n_jobs=-1),
    GreedyEnsembleSelector(scoring="neg_log_loss", random_state=0),
).set_output(transform="pandas")  # named columns: the selector reports weights by model
portfolio = make_pipeline(
    StackLayer(
        build_estimators(DEFAULT, task="classification"),
        n_folds=8,
        scoring="neg_log_loss",
        random_state=0,
        n_jobs=-1,
    ),
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
    rows.append(
        {
            "model": name,
            "ROC AUC": roc_auc_score(y_test, proba),
            "log loss": log_loss(y_test, proba),
            "fit seconds": seconds,
        }
    )
results = pd.DataFrame(rows).set_index("model")
results.round(4)

# %%
# What the portfolio layer learned
# --------------------------------
# Each model's out-of-fold log loss, and the weights greedy selection gave them.
layer, selector = portfolio[0], portfolio[-1]
oof = pd.Series({model: -score for model, score in layer.oof_scores_.items()})
print("greedy ensemble weights:", {n: round(w, 2) for n, w in selector.weights_.items() if w > 0})
oof.sort_values().round(4)

# %%
# Held-out log loss of the four (lower is better).
ax = results["log loss"].sort_values().plot.barh(color="tab:blue")
ax.set_xlabel(f"test log loss ({len(y_test)} rows)")
ax.invert_yaxis()
plt.tight_layout()
