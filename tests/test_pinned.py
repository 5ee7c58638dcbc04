"""Fixed-seed AutoStack fits predict exactly what they predicted when the file was pinned.

Refactoring the fit (moving code between modules, renaming, splitting classes) must not
change what it computes. These fits run without a time limit, so every step is
deterministic; their test-set predictions were stored in ``data/pinned_predictions.npz``
and must be reproduced to the last bit (a tolerance of 1e-12 absorbs nothing but the
order of float additions).

Regenerate the file only for an intended change of behaviour, and say so in the commit:
``python tests/test_pinned.py``.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from skstack import AutoStackClassifier, AutoStackRegressor
from skstack.families.portfolios import PortfolioEntry

PINNED = Path(__file__).parent / "data" / "pinned_predictions.npz"

# Every kind of member: fold models with early stopping (LightGBM), out-of-bag forests,
# leave-one-out KNN and a resumed linear solver.
PORTFOLIO = [
    PortfolioEntry("linear", {}, 110),
    PortfolioEntry("knn", {"n_neighbors": 7}, 105),
    PortfolioEntry("lightgbm", {"n_estimators": 80, "learning_rate": 0.1,
                                "num_leaves": 15}, 100),
    PortfolioEntry("random_forest", {"n_estimators": 25}, 70),
    PortfolioEntry("extra_trees", {"n_estimators": 25}, 65),
]


def _frame(X, seed):
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["city"] = rng.choice(["paris", "rome", "oslo", None], size=len(frame))
    frame.loc[rng.rand(len(frame)) < 0.1, "x1"] = np.nan
    return frame


def pinned_predictions():
    """The predictions the stored file holds, computed by the current code."""
    X, y = make_classification(n_samples=420, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    X = _frame(X, 0)
    stacked = AutoStackClassifier(presets="best_quality", portfolio=PORTFOLIO,
                                  n_stack_levels=1, dynamic_stacking=True, random_state=0)
    stacked.fit(X.iloc[:320], y[:320])
    refitted = AutoStackClassifier(presets="high_quality", portfolio=PORTFOLIO,
                                   n_stack_levels=1, dynamic_stacking=False, random_state=1)
    refitted.fit(X.iloc[:320], y[:320])
    Xr, yr = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=0)
    Xr = _frame(Xr, 1)
    holdout = AutoStackRegressor(presets="medium_quality", portfolio=PORTFOLIO,
                                 random_state=0).fit(Xr.iloc[:240], yr[:240])
    return {
        "stacked_proba": stacked.predict_proba(X.iloc[320:]),
        "refitted_proba": refitted.predict_proba(X.iloc[320:]),
        "holdout_pred": holdout.predict(Xr.iloc[240:]),
    }


def test_fixed_seed_fits_predict_what_was_pinned():
    stored = np.load(PINNED)
    current = pinned_predictions()
    assert sorted(stored.files) == sorted(current)
    for key, values in current.items():
        np.testing.assert_allclose(values, stored[key], rtol=0, atol=1e-12, err_msg=key)


# The families the pinned file leaves out (their builds differ between platforms): each must
# still be deterministic under a seed, threads included.
OTHER_FAMILIES = [
    PortfolioEntry("xgboost", {"n_estimators": 40}, 100),
    PortfolioEntry("catboost", {"iterations": 40}, 90),
    PortfolioEntry("mlp", {"max_epochs": 8}, 80),
]


@pytest.mark.parametrize("entry", OTHER_FAMILIES, ids=lambda entry: entry.family)
def test_same_seed_same_predictions(entry):
    pytest.importorskip({"mlp": "skorch"}.get(entry.family, entry.family))
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, random_state=0)
    X = _frame(X, 0)

    def fitted_proba(seed):
        model = AutoStackClassifier(presets="best_quality", portfolio=[entry], n_jobs=2,
                                    n_stack_levels=0, random_state=seed)
        return model.fit(X.iloc[:240], y[:240]).predict_proba(X.iloc[240:])

    first = fitted_proba(0)
    np.testing.assert_array_equal(first, fitted_proba(0))
    # The seed reaches the models: another one changes the predictions.
    assert not np.array_equal(first, fitted_proba(1))


if __name__ == "__main__":
    PINNED.parent.mkdir(exist_ok=True)
    np.savez(PINNED, **pinned_predictions())
    print(f"wrote {PINNED}")
