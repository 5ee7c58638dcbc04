"""
AutoStack on a frame of mixed column types
==========================================

:class:`~skstack.AutoStackClassifier` on a frame with numeric, categorical, boolean and
datetime columns and missing values: no preprocessing by hand. It fits the
``high_quality`` preset within a time limit, reports what it trained, scores each model on
held-out rows and shows that the fitted model is an ordinary scikit-learn
:class:`~sklearn.pipeline.Pipeline`.

Run it with ``.venv/bin/python examples/plot_autostack.py``.
"""

# %%
# A frame of mixed types
# ----------------------
# scikit-learn's breast-cancer measurements, plus a categorical column with missing
# entries, a boolean, a datetime and missing numbers. The labels are strings.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from skstack import AutoStackClassifier

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
rng = np.random.RandomState(0)
X = X.iloc[:, :10].copy()
X["clinic"] = pd.Categorical(rng.choice(["north", "south", None], size=len(X)))
X["second_opinion"] = rng.rand(len(X)) < 0.3
X["visit"] = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.randint(0, 700, len(X)), "D")
X.loc[rng.rand(len(X)) < 0.1, "mean radius"] = np.nan
y = y.map({0: "malignant", 1: "benign"})
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
X_train.head()

# %%
# Fit within a time limit
# -----------------------
# ``time_limit`` is in seconds and holds for the whole fit: the models, their k-fold bags,
# the stacking check and the ensemble selection.
clf = AutoStackClassifier(
    presets="high_quality", time_limit=30, scoring="roc_auc", random_state=0
).fit(X_train, y_train)
summary = clf.fit_summary()
print(
    f"fit in {summary['fit_time']:.1f} s (limit 30 s), {summary['n_levels']} level(s), "
    f"stacking check: {summary['stacking_check']}"
)
print("ensemble weights:", {k: round(v, 2) for k, v in summary["ensemble_weights"].items()})

# %%
# Every model, scored on held-out rows
# ------------------------------------
# The leaderboard has each model's out-of-fold score (on the training rows no fold model
# of it saw) next to its score on the test rows, its fit and predict times and why a model
# did not run.
board = clf.leaderboard(X_test, y_test)
board[["model", "level", "oof_score", "test_score", "weight", "fit_time", "status"]].round(4)

# %%
# The out-of-fold scores as a chart; the ensemble's members are highlighted.
ax = clf.plot_leaderboard()
plt.tight_layout()

# %%
# An ordinary Pipeline
# --------------------
# The fitted model is a :class:`~sklearn.pipeline.Pipeline` of the column encoder, the
# stack levels and the selector, so it predicts on raw frames like any estimator.
print(list(clf.pipeline_.named_steps))
clf.predict_proba(X_test.iloc[:3])
