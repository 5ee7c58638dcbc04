"""One AutoStack fit (skstack.auto._run and _members).

Levels, skips, failures, Ctrl-C, second passes, repeats, refolds, groups.
"""

import importlib
import warnings

import numpy as np
import pytest
from _models import TINY, Exploding, Interrupting, Slow
from sklearn.base import clone
from sklearn.datasets import make_classification

from skstack import (
    AutoStackClassifier,
)
from skstack._folds import holdout_plan
from skstack.families import DEFAULT, FamilyModel, build_estimators
from skstack.families._base import family_of
from skstack.families.portfolios import PortfolioEntry


def test_a_forest_of_few_trees_fits_silently_and_scores_only_its_out_of_bag_rows():
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    portfolio = [PortfolioEntry("random_forest", {"n_estimators": 3}, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rows in every bootstrap sample: no warning
        clf = AutoStackClassifier(presets="good_quality", portfolio=portfolio,
                                  n_stack_levels=0, random_state=0).fit(X, y)
    bag = clf.pipeline_["layer1"].named_estimators_["random_forest"]
    assert 0.5 < bag.oof_mask_.mean() < 1.0
    # The scored rows hold out-of-bag probabilities, not scikit-learn's zeros.
    np.testing.assert_allclose(bag.oof_pred_[bag.oof_mask_].sum(axis=1), 1.0)
    assert np.isfinite(bag.oof_score_)

def test_a_failing_model_is_recorded_and_skipped(mixed_frame):
    X, y = mixed_frame
    portfolio = TINY + [PortfolioEntry(Exploding(), {}, 10, name="exploding")]
    with pytest.warns(UserWarning, match="'exploding' failed"):
        clf = AutoStackClassifier(portfolio=portfolio, random_state=0).fit(X, y)
    board = clf.leaderboard()
    status = board.set_index("model")["status"]
    assert status["exploding"].startswith("failed: RuntimeError: boom")
    assert status["linear"] == "ok"
    assert clf.fit_summary()["models"]["failed"] == 1

def test_ctrl_c_keeps_what_finished(mixed_frame):
    X, y = mixed_frame
    portfolio = [PortfolioEntry("linear", {}, 3), PortfolioEntry(Interrupting(), {}, 2,
                                                                 name="ctrl_c"),
                 PortfolioEntry("knn", {}, 1)]
    with pytest.warns(UserWarning, match="interrupted"):
        clf = AutoStackClassifier(portfolio=portfolio, random_state=0).fit(X, y)
    assert clf.interrupted_
    status = dict(zip(clf.leaderboard()["model"], clf.leaderboard()["status"]))
    assert status["linear"] == "ok"
    assert status["ctrl_c"] == status["knn"] == "skipped: interrupted"
    assert clf.predict(X[:4]).shape == (4,)

def test_a_limit_too_small_for_any_model_falls_back():
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    portfolio = [PortfolioEntry(Slow(delay=0.3), {}, 1, name="slow")]
    with pytest.warns(UserWarning, match="No model of the portfolio finished"):
        clf = AutoStackClassifier(presets="good_quality", portfolio=portfolio,
                                  time_limit=0.2, random_state=0).fit(X, y)
    assert list(clf.pipeline_["layer1"].named_estimators_) == ["fallback_linear"]
    assert clf.score(X, y) > 0.7

def test_skipped_models_get_the_time_left_and_become_drop():
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    portfolio = [PortfolioEntry("linear", {}, 3), PortfolioEntry(Slow(delay=0.3), {}, 2,
                                                                 name="slow")]
    clf = AutoStackClassifier(presets="good_quality", portfolio=portfolio, n_folds=5,
                              time_limit=60, random_state=0)
    # With a budget that ends before the slow model's folds, it is skipped and dropped.
    clf.set_params(time_limit=1.5).fit(X, y)
    layer = clf.pipeline_["layer1"]
    assert dict(layer.estimators)["slow"] == "drop"
    assert list(layer.named_estimators_) == ["linear"]
    # The second pass retries it with the level's whole remaining time: here it fits.
    clf.set_params(time_limit=20).fit(X, y)
    assert set(clf.pipeline_["layer1"].named_estimators_) <= {"linear", "slow"}
    status = dict(zip(clf.leaderboard()["model"], clf.leaderboard()["status"]))
    assert status["slow"] == "ok"
    assert sum(r.name == "slow" for r in clf.records_) == 1

def test_portfolio_tiers_order_the_models_before_their_priority():
    from skstack.families import LARGE

    portfolio = [PortfolioEntry("linear", {}, 1), PortfolioEntry("knn", {}, 9, tier=1),
                 PortfolioEntry("random_forest", {}, 5)]
    names = [name for name, _ in build_estimators(portfolio, task="regression")]
    assert names == ["random_forest", "linear", "knn"]
    # The large portfolio trains every default model, in its own order, before a variant.
    large = [name for name, _ in build_estimators(LARGE, task="regression")]
    default = [name for name, _ in build_estimators(DEFAULT, task="regression")]
    assert large[:len(default)] == default and len(large) > len(default)

def test_a_model_whose_libraries_are_loading_waits_for_the_second_pass(monkeypatch):
    from skstack.families import Family

    calls = []

    def loading(family):  # knn's libraries load until its first turn has passed
        calls.append(family.name)
        return family.name == "knn" and calls.count("knn") == 1

    monkeypatch.setattr(Family, "loading", loading)
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    clf = AutoStackClassifier(presets="good_quality", portfolio=TINY, n_stack_levels=0,
                              time_limit=30, random_state=0).fit(X, y)
    status = dict(zip(clf.leaderboard()["model"], clf.leaderboard()["status"]))
    assert status == {"ensemble": "ok", "linear": "ok", "knn": "ok", "random_forest": "ok"}
    assert calls.count("knn") == 2  # skipped once, fitted in the second pass
    # Without a time limit nothing is skipped: the fit imports what it needs.
    calls.clear()
    clf.set_params(time_limit=None).fit(X, y)
    assert "knn" not in calls

def test_time_left_repeats_the_bags_that_predict_with_their_folds():
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    portfolio = [PortfolioEntry("linear", {}, 2),
                 PortfolioEntry("lightgbm", {"n_estimators": 30}, 1)]
    clf = AutoStackClassifier(presets="best_quality", portfolio=portfolio, n_folds=3,
                              n_stack_levels=0, time_limit=30, random_state=0).fit(X, y)
    board = clf.leaderboard().set_index("model")
    layer = clf.pipeline_["layer1"]
    for name in ("linear", "lightgbm"):
        # Up to 3 repeats; one may be passed over when a busy machine slows its first fold.
        assert board.loc[name, "repeats"] in (2, 3)
    for name, bag in layer.named_estimators_.items():  # the models the ensemble kept
        assert len(bag.estimators_) == 3 * board.loc[name, "repeats"]
    assert clf.fit_time_ < 30

    # No repeats: for a refitted preset, with an explicit n_repeats, or without a limit.
    for params in ({"presets": "good_quality"}, {"n_repeats": 2}, {"time_limit": None}):
        other = clone(clf).set_params(**params).fit(X, y)
        board = other.leaderboard().set_index("model").drop(index="ensemble")
        assert set(board["repeats"]) == {params.get("n_repeats", 1)}

def test_starved_folds_refit_the_level_with_fewer(monkeypatch):
    def starve(self, *args):  # as a boosting fold with 1/4 of the time it needs reports
        self.time_shortfall_ = 4.0

    monkeypatch.setattr(FamilyModel, "_fit_rate_to_time", starve)
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    portfolio = [PortfolioEntry("linear", {}, 3),
                 PortfolioEntry("lightgbm", {"n_estimators": 20}, 2, name="starving"),
                 PortfolioEntry("random_forest", {"n_estimators": 10}, 1)]
    clf = AutoStackClassifier(presets="good_quality", portfolio=portfolio, time_limit=60,
                              random_state=0).fit(X, y)
    assert clf.settings_["n_folds"] == 2  # 8 folds / shortfall 4
    bags = clf.pipeline_["layer1"].named_estimators_
    # The model before the starved one keeps its 8 folds; it and those after get 2.
    assert len(bags["linear"].estimators_) == 8
    assert len(bags["starving"].estimators_) == 2
    assert len(bags["random_forest"].estimators_) in (1, 2)  # out-of-bag, or 2 folds
    assert [r.name for r in clf.records_].count("starving") == 1

    # Explicit folds are kept as asked, and so is a fit without a time limit.
    for params in ({"n_folds": 5}, {"time_limit": None}):
        other = clone(clf).set_params(**params).fit(X, y)
        assert "n_folds" not in other.settings_
        assert len(other.pipeline_["layer1"].named_estimators_["starving"].estimators_) == (
            params.get("n_folds", 8))

def test_holdout_and_check_keep_groups_together():
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    groups = np.arange(300) // 10
    clf = AutoStackClassifier(portfolio=TINY, random_state=0).fit(X, y, groups=groups)
    bag = clf.pipeline_["layer1"].estimators_[0]
    held_out = np.flatnonzero(bag.oof_mask_)
    assert not set(groups[held_out]) & set(np.delete(groups, held_out))
    (train, test), = holdout_plan(y, classifier=True, fraction=1 / 9, random_state=0,
                                  groups=groups)
    assert not set(groups[train]) & set(groups[test])


def test_ctrl_c_during_an_mlp_epoch_stops_the_whole_fit(monkeypatch):
    pytest.importorskip("skorch")
    from skorch.callbacks import Callback

    from skstack.families import _mlp

    class CtrlC(Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            raise KeyboardInterrupt

    monkeypatch.setattr(_mlp, "_deadline_callback", lambda deadline: CtrlC())
    # Its imports done first: still loading when its turn comes, the MLP would be skipped.
    mlp_family = family_of(_mlp.MLPClassifier())
    for module in mlp_family.requires:
        importlib.import_module(module)
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    portfolio = [PortfolioEntry("linear", {}, 3),
                 PortfolioEntry("mlp", {"max_epochs": 5, "hidden_sizes": (8,)}, 2),
                 PortfolioEntry("knn", {}, 1)]
    with pytest.warns(UserWarning, match="interrupted"):
        clf = AutoStackClassifier(presets="good_quality", portfolio=portfolio, n_folds=3,
                                  time_limit=60, random_state=0).fit(X, y)
    status = clf.leaderboard().set_index("model")["status"]
    assert clf.interrupted_ and status["linear"] == "ok"
    assert status["mlp"] == status["knn"] == "skipped: interrupted"


def test_sample_weight_changes_the_fit():
    X, y = make_classification(n_samples=300, n_features=5, weights=[0.7], random_state=0)
    params = dict(presets="good_quality", portfolio=TINY, n_folds=3, random_state=0)
    plain = AutoStackClassifier(**params).fit(X, y)
    weights = np.where(y == 1, 10.0, 1.0)  # the minority class counts ten times
    weighted = AutoStackClassifier(**params).fit(X, y, sample_weight=weights)
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.05


def test_refit_full_after_the_fit_keeps_the_weights_a_refitted_fit_selects():
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    params = dict(presets="best_quality", portfolio=TINY, n_folds=3, n_stack_levels=0,
                  n_repeats=1, random_state=0)
    during = AutoStackClassifier(**params, refit=True).fit(X, y)
    after = AutoStackClassifier(**params, refit=False).fit(X, y).refit_full(X, y)
    assert during.pipeline_["selector"].weights_ == after.pipeline_["selector"].weights_
    assert all(bag.refit_full for bag in after.pipeline_["layer1"].estimators_)


def _ctrl_c_in_fits(member_call):
    """A ``fit_member`` call whose model's fit is a Ctrl-C."""
    def call(self, name, estimator, fit):
        def ctrl_c(*args, **kwargs):
            raise KeyboardInterrupt
        return member_call(self, name, estimator, ctrl_c)
    return call


@pytest.mark.parametrize("stage, member, n_stack_levels", [
    ("bag repeats", "Repeater", 0),
    ("stacking check", "DeadlineMember", 1),
])
def test_ctrl_c_during_a_later_stage_keeps_the_first_level(monkeypatch, stage, member,
                                                           n_stack_levels):
    from skstack.auto import _members

    cls = getattr(_members, member)
    monkeypatch.setattr(cls, "__call__", _ctrl_c_in_fits(cls.__call__))
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    clf = AutoStackClassifier(presets="best_quality", portfolio=TINY, n_folds=3,
                              n_stack_levels=n_stack_levels, time_limit=30,
                              random_state=0).fit(X, y)
    board = clf.leaderboard().set_index("model").drop(index="ensemble")
    assert clf.interrupted_ and clf.fit_time_ < 15
    # The first level's models, each with its first repeat; no level above it.
    assert (board["status"] == "ok").all() and (board["repeats"] == 1).all()
    assert [name for name, _ in clf.pipeline_.steps] == ["encoder", "layer1", "selector"]
    assert clf.predict(X[:4]).shape == (4,)


def test_libraries_load_ahead_of_their_model_and_never_for_a_model_not_reached(
        tmp_path, monkeypatch):
    import sys

    from skstack.families import Family, _base

    (tmp_path / "skstack_ahead_models.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "class NearClassifier(LogisticRegression):\n    pass\n"
        "class FarClassifier(LogisticRegression):\n    pass\n"
        "class StopClassifier(LogisticRegression):\n"
        "    def fit(self, X, y, sample_weight=None):\n        raise KeyboardInterrupt\n")
    for module in ("skstack_near_lib", "skstack_far_lib"):
        (tmp_path / f"{module}.py").write_text("")
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    import skstack_ahead_models as models

    monkeypatch.setattr(_base, "_LOADING", {})
    for kind, requires in [("Near", ("skstack_near_lib",)), ("Far", ("skstack_far_lib",)),
                           ("Stop", ())]:
        # subsample: a family that bounds its own time, so no worker process starts.
        monkeypatch.setitem(_base._FAMILIES, kind, Family(
            name=kind.lower(), modules=("skstack_ahead_models",), classes=(f"{kind}Classifier",),
            classifier=f"skstack_ahead_models:{kind}Classifier", regressor="",
            preprocessing="onehot", requires=requires,
            subsample=lambda estimator, X, y, deadline, n_predicted: None))
    # Ctrl-C in the third model: the fifth after it, the far one, is never reached.
    portfolio = [PortfolioEntry("linear", {}, 100),
                 PortfolioEntry(models.NearClassifier(), {}, 99, name="near"),
                 PortfolioEntry(models.StopClassifier(), {}, 98, name="stop")]
    portfolio += [PortfolioEntry("linear", {"C": 0.1 * i}, 97 - i, name=f"linear_{i}")
                  for i in range(1, 5)]
    portfolio.append(PortfolioEntry(models.FarClassifier(), {}, 1, name="far"))
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    with pytest.warns(UserWarning, match="interrupted"):
        AutoStackClassifier(presets="good_quality", portfolio=portfolio, n_folds=3,
                            time_limit=60, random_state=0).fit(X, y)
    assert _base._LOADING["skstack_near_lib"].wait(30)
    assert "skstack_near_lib" in sys.modules
    assert "skstack_far_lib" not in sys.modules and "skstack_far_lib" not in _base._LOADING
