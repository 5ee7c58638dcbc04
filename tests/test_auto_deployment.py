"""What a fitted AutoStack predicts with (skstack.auto._deployment): refit, pruning, infer_limit."""


import numpy as np
import pytest
from _models import TINY, SlowToPredict
from sklearn.base import clone
from sklearn.datasets import make_classification

from skstack import (
    AutoStackClassifier,
)
from skstack.families.portfolios import PortfolioEntry


def test_bagged_preset_refits_and_prunes(mixed_frame):
    X, y = mixed_frame
    clf = AutoStackClassifier(presets="good_quality", portfolio=TINY, n_folds=3,
                              random_state=0).fit(X, y)
    layer = clf.pipeline_["layer1"]
    weights = clf.pipeline_["selector"].weights_
    assert all(weight > 0 for weight in weights.values())  # unused models were pruned
    assert set(weights) == set(layer.named_estimators_)
    assert all(bag.refit_full and hasattr(bag, "full_estimator_") for bag in layer.estimators_)
    board = clf.leaderboard()
    assert set(board["model"]) == {"linear", "knn", "random_forest", "ensemble"}
    # Pruning keeps the selection: the same weights as selecting without pruning.
    unpruned = clone(clf).set_params(prune=False).fit(X, y)
    kept = {k: v for k, v in unpruned.pipeline_["selector"].weights_.items() if v > 0}
    assert kept == pytest.approx(weights)

def test_refit_full_after_fit_predicts_with_one_model_per_learner(mixed_frame):
    X, y = mixed_frame
    clf = AutoStackClassifier(presets="best_quality", portfolio=TINY, n_folds=3,
                              n_stack_levels=1, dynamic_stacking=False,
                              random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    layers = [step for name, step in clf.pipeline_.steps if name.startswith("layer")]
    assert len(layers) == 2 and not any(bag.refit_full for bag in layers[0].estimators_)
    clf.refit_full(X, y)
    for layer in layers:
        for bag in layer.estimators_:
            assert bag.refit_full and hasattr(bag, "full_estimator_")
    after = clf.predict_proba(X)
    assert after.shape == before.shape and not np.allclose(after, before)
    assert clf.score(X, y) > 0.7 and clf.fit_summary()["settings"]["refit_full"]
    with pytest.raises(ValueError, match="training rows"):
        clf.refit_full(X[:50], y[:50])

def test_infer_limit_drops_the_slow_models():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 10))
    y = (X @ rng.normal(size=10) + rng.normal(size=300) > 0).astype(int)  # linear: LR wins
    portfolio = [PortfolioEntry(SlowToPredict(), {}, 3, name="slow"),
                 PortfolioEntry("knn", {"n_neighbors": 15}, 2)]
    params = dict(portfolio=portfolio, presets="good_quality", refit=False, n_folds=3,
                  random_state=0)
    free = AutoStackClassifier(**params).fit(X, y)
    assert free.pipeline_[-1].weights_["slow"] > 0 and free.infer_time_per_row_ is None
    limited = AutoStackClassifier(**params, infer_limit=0.05,
                                  infer_limit_batch_size=1).fit(X, y)
    assert list(limited.pipeline_["layer1"].named_estimators_) == ["knn"]
    assert limited.infer_time_per_row_ <= 0.05
    assert limited.fit_summary()["infer_time_per_row"] == limited.infer_time_per_row_
    board = limited.leaderboard().set_index("model")
    assert board.loc["slow", "status"] == "ok" and board.loc["slow", "weight"] == 0

def test_infer_limit_too_small_keeps_one_level_and_one_model_with_a_warning():
    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    clf = AutoStackClassifier(portfolio=TINY, presets="high_quality", n_stack_levels=1,
                              dynamic_stacking=False, n_folds=3, random_state=0,
                              infer_limit=1e-12, infer_limit_batch_size=50)
    with pytest.warns(UserWarning, match="No ensemble meets infer_limit"):
        clf.fit(X, y)
    assert [name for name, _ in clf.pipeline_.steps] == ["encoder", "layer1", "selector"]
    assert len(clf.pipeline_["layer1"].named_estimators_) == 1
    assert clf.predict(X[:3]).shape == (3,)


def test_infer_limit_gives_the_accuracy_latency_front():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 10))
    y = (X @ rng.normal(size=10) + rng.normal(size=300) > 0).astype(int)
    portfolio = [PortfolioEntry(SlowToPredict(), {}, 3, name="slow"),
                 PortfolioEntry("knn", {"n_neighbors": 15}, 2)]
    params = dict(portfolio=portfolio, presets="good_quality", refit=False, n_folds=3,
                  random_state=0, infer_limit_batch_size=1)
    assert AutoStackClassifier(**params).fit(X, y).inference_front_ is None
    generous = AutoStackClassifier(**params, infer_limit=100.0).fit(X, y)
    front = generous.inference_front_
    assert list(front.columns) == ["level", "models", "n_models", "oof_score",
                                   "seconds_per_row", "deployed"]
    # Fastest first, each row better than every faster one; one model at the fast end.
    assert front["seconds_per_row"].is_monotonic_increasing
    assert front["oof_score"].is_monotonic_increasing and len(front) >= 2
    assert front["n_models"].iloc[0] == 1 and "slow" not in front["models"].iloc[0]
    assert "slow" in front["models"].iloc[-1]
    # A generous limit deploys the best ensemble; one between two rows, the row within it.
    assert front["deployed"].tolist() == [False] * (len(front) - 1) + [True]
    assert set(generous.pipeline_["layer1"].named_estimators_) == set(front["models"].iloc[-1])
    between = np.sqrt(front["seconds_per_row"].iloc[-2] * front["seconds_per_row"].iloc[-1])
    tight = AutoStackClassifier(**params, infer_limit=between).fit(X, y)
    row = tight.inference_front_.set_index("models").loc[[front["models"].iloc[-2]]]
    assert row["deployed"].item()
    assert set(tight.pipeline_["layer1"].named_estimators_) == set(front["models"].iloc[-2])
    assert tight.ensemble_score_ == pytest.approx(front["oof_score"].iloc[-2])
