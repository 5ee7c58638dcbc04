"""Ensemble selection of an AutoStack fit (skstack.auto._ensemble).

The rows it selects on, pruning, the levels kept, the combiner.
"""

import warnings

import numpy as np
import pytest
from _models import TINY
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier

import skstack.auto._run
from skstack import (
    AutoStackClassifier,
)
from skstack.auto._run import FitRun


def test_medium_quality_selects_on_the_holdout_rows_only(mixed_frame):
    X, y = mixed_frame
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "never held out" warning for the holdout
        clf = AutoStackClassifier(portfolio=TINY, random_state=0).fit(X, y)
    layer = clf.pipeline_["layer1"]
    bag = layer.estimators_[0]
    assert len(bag.estimators_) == 1  # one holdout model, no bagging
    assert bag.oof_mask_.sum() == round(0.1 * len(y))
    # The training rows' in-sample predictions, which nothing reads, are not made.
    for bag in layer.estimators_:
        assert np.isnan(bag.oof_pred_[~bag.oof_mask_]).all()
        assert np.isfinite(bag.oof_pred_[bag.oof_mask_]).all()
    assert clf.settings_ == {"bagging": False, "n_stack_levels": 0, "refit_full": False}

def test_a_second_level_that_selects_worse_out_of_fold_is_dropped(monkeypatch):
    X, y = make_classification(n_samples=800, n_features=8, random_state=0)
    build = FitRun.level_models

    def weak_second_level(self, level):
        if level == 1:
            return build(self, level)
        return [("prior_l2", DummyClassifier(strategy="prior"), 0)]

    def check_says_stack(run, *args):
        return {"decision": "stack"}

    monkeypatch.setattr(FitRun, "level_models", weak_second_level)
    monkeypatch.setattr(skstack.auto._run, "stacking_check", check_says_stack)
    clf = AutoStackClassifier(presets="high_quality", portfolio=TINY, n_folds=3,
                              random_state=0).fit(X, y)
    check = clf.stacking_check_
    assert check["top_kept"] is False
    assert check["below_oof_score"] > check["top_oof_score"]
    assert list(clf.pipeline_.named_steps) == ["encoder", "layer1", "selector"]
    assert not clf.pipeline_["layer1"].passthrough
    assert clf.ensemble_score_ == check["below_oof_score"]
    assert clf.score(X, y) > 0.8
    weights = dict(zip(clf.leaderboard()["model"], clf.leaderboard()["weight"]))
    assert sum(weights[name] for name in ("linear", "knn", "random_forest")) == pytest.approx(1)

    # With an infer_limit the level below keeps every model for the limit to choose from.
    limited = clone(clf).set_params(infer_limit=10.0).fit(X, y)
    assert list(limited.pipeline_.named_steps) == ["encoder", "layer1", "selector"]
    assert not limited.stacking_check_["top_kept"]

    # Without the check, the levels asked for are kept, whatever they score.
    forced = clf.set_params(dynamic_stacking=False).fit(X, y)
    assert list(forced.pipeline_.named_steps) == ["encoder", "layer1", "layer2", "selector"]

def test_linear_combiner_is_chosen_checked_and_saved(tmp_path, mixed_frame):
    from skstack.io import untrusted_types

    X, y = mixed_frame
    linear = AutoStackClassifier(presets="good_quality", portfolio=TINY, n_folds=3,
                                 combiner="linear", random_state=0).fit(X, y)
    selector = linear.pipeline_["selector"]
    assert selector.combiner_ == "linear" and linear.fit_summary()["combiner"] == "linear"
    np.testing.assert_allclose(linear.predict_proba(X),
                               linear.pipeline_.predict_proba(X))
    path = linear.save(tmp_path / "linear.skops")
    assert untrusted_types(path) == []
    np.testing.assert_allclose(AutoStackClassifier.load(path).predict_proba(X),
                               linear.predict_proba(X))
    # "auto" decides on held-out folds; "weighted" never fits the linear model.
    auto = clone(linear).set_params(combiner="auto").fit(X, y)
    scores = auto.pipeline_["selector"].combiner_scores_
    assert set(scores) == {"weighted", "linear"}
    assert auto.fit_summary()["combiner"] == max(scores, key=scores.get)
    weighted = clone(linear).set_params(combiner="weighted").fit(X, y)
    assert weighted.pipeline_["selector"].linear_ is None
