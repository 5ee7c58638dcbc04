"""AutoStackClassifier on a frame with numeric, categorical, boolean and datetime columns.

Run with ``.venv/bin/python examples/autostack.py``. Fits the ``high_quality`` preset within
60 seconds, prints the fit summary and the leaderboard on held-out rows, and shows that the
fitted model is an ordinary scikit-learn Pipeline.
"""

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from skstack import AutoStackClassifier


def make_frame():
    """Breast-cancer measurements plus a categorical, a boolean and a datetime column."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rng = np.random.RandomState(0)
    X = X.iloc[:, :10].copy()
    X["clinic"] = pd.Categorical(rng.choice(["north", "south", None], size=len(X)))
    X["second_opinion"] = rng.rand(len(X)) < 0.3
    X["visit"] = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.randint(0, 700, len(X)), "D")
    X.loc[rng.rand(len(X)) < 0.1, "mean radius"] = np.nan
    return X, y.map({0: "malignant", 1: "benign"})


def main():
    X, y = make_frame()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                        random_state=0)
    clf = AutoStackClassifier(presets="high_quality", time_limit=60, scoring="roc_auc",
                              random_state=0, verbose=1).fit(X_train, y_train)
    summary = clf.fit_summary()
    print(f"\nfit in {summary['fit_time']:.1f} s (limit 60 s), {summary['n_levels']} level(s); "
          f"models: {summary['models']}; stacking check: {summary['stacking_check']}")
    print("\nensemble weights:", {k: round(v, 2) for k, v in summary["ensemble_weights"].items()})
    print("\n", clf.leaderboard(X_test, y_test).round(4).to_string(index=False))
    print("\nthe fitted model is a Pipeline:", list(clf.pipeline_.named_steps))


if __name__ == "__main__":
    main()
