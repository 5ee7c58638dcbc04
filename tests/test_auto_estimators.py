"""AutoStackClassifier and AutoStackRegressor as estimators.

Presets, the fitted pipeline, scikit-learn tools, input checks.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from _models import TINY
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skstack import (
    AutoStackClassifier,
    AutoStackRegressor,
    GreedyEnsembleSelector,
    StackLayer,
)
from skstack.auto import PRESETS, resolve_preset
from skstack.families.portfolios import PortfolioEntry


def test_presets_table_and_resolution():
    assert list(PRESETS) == ["medium_quality", "good_quality", "high_quality", "best_quality"]
    assert not PRESETS["medium_quality"].bagging
    assert PRESETS["best_quality"].portfolio is not PRESETS["high_quality"].portfolio
    assert resolve_preset("best_quality", 749)["n_stack_levels"] == 0
    assert resolve_preset("best_quality", 750)["n_stack_levels"] == 1
    with pytest.raises(ValueError, match="Unknown preset"):
        resolve_preset("ultra", 10)

def test_fit_returns_an_ordinary_pipeline(mixed_frame):
    X, y = mixed_frame
    clf = AutoStackClassifier(portfolio=TINY, random_state=0).fit(X, y)
    assert isinstance(clf.pipeline_, Pipeline)
    assert list(clf.pipeline_.named_steps) == ["encoder", "layer1", "selector"]
    assert isinstance(clf.pipeline_["layer1"], StackLayer)
    assert isinstance(clf.pipeline_["selector"], GreedyEnsembleSelector)
    np.testing.assert_array_equal(clf.predict(X), clf.pipeline_.predict(X))
    np.testing.assert_allclose(clf.predict_proba(X), clf.pipeline_.predict_proba(X))
    assert set(clf.classes_) == {"no", "yes"}
    assert clf.score(X, y) > 0.7
    # Datetime columns became numbers; unseen categories and NaN at predict do not crash.
    X_new = X.head(5).copy()
    X_new["city"] = ["tokyo", None, "rome", "paris", "lima"]
    assert clf.predict_proba(X_new).shape == (5, 2)

def test_regressor_and_sklearn_tools():
    X, y = make_regression(n_samples=240, n_features=5, noise=5.0, random_state=0)
    reg = AutoStackRegressor(portfolio=TINY, presets="good_quality", n_folds=3,
                             random_state=0)
    scores = cross_val_score(reg, X, y, cv=3)
    assert np.all(scores > 0.8)
    search = GridSearchCV(reg, {"presets": ["medium_quality", "good_quality"]}, cv=2).fit(X, y)
    assert search.best_params_["presets"] in ("medium_quality", "good_quality")
    pipe = make_pipeline(FunctionTransformer(), reg).fit(X, y)
    assert pipe.predict(X[:2]).shape == (2,)
    fitted = reg.fit(X, y)
    assert not hasattr(clone(fitted), "pipeline_")
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(restored.predict(X), fitted.predict(X))

def test_bad_input():
    X, y = make_classification(n_samples=50, n_features=3, n_redundant=0, random_state=0)
    with pytest.raises(ValueError, match="presets"):
        AutoStackClassifier(presets="ultra").fit(X, y)
    with pytest.raises(ValueError, match="time_limit"):
        AutoStackClassifier(time_limit=-1).fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        AutoStackClassifier(portfolio=TINY).fit(X, np.zeros(50))
    with pytest.raises(ValueError, match="Unknown family"):
        AutoStackClassifier(portfolio=[PortfolioEntry("nope")]).fit(X, y)
    with pytest.warns(UserWarning, match="n_stack_levels is set to 0"):
        AutoStackClassifier(portfolio=TINY, n_stack_levels=1).fit(X, y)
    # Labels of mixed types cannot be sorted: the error says so, not Python's "<".
    mixed = pd.Series(["yes" if label else 0 for label in y], dtype=object)
    for estimator in (AutoStackClassifier(portfolio=TINY),
                      StackLayer([("lr", LogisticRegression())])):
        with pytest.raises(ValueError, match=r"Mix of label input types in y \(int, str\)"):
            estimator.fit(X, mixed)
