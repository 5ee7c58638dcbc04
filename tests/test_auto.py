"""AutoStackClassifier and AutoStackRegressor: presets, budget, failures, inspection."""

import pickle
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from _models import Slow
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification, make_regression
from sklearn.dummy import DummyClassifier
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
from skstack.auto._budget import TimeBudget
from skstack.families import DEFAULT, FamilyModel, build_estimators
from skstack.families.portfolios import PortfolioEntry

TINY = [PortfolioEntry("linear", {}, 3),
        PortfolioEntry("knn", {"n_neighbors": 5}, 2),
        PortfolioEntry("random_forest", {"n_estimators": 20}, 1)]


class Exploding(ClassifierMixin, BaseEstimator):
    """A model that raises at fit: the AutoStack fit must go on without it."""

    def fit(self, X, y):
        raise RuntimeError("boom")

    def predict(self, X):  # pragma: no cover - never fitted
        raise RuntimeError("boom")


class Interrupting(DummyClassifier):
    """Ctrl-C in the middle of the fit."""

    def fit(self, X, y, sample_weight=None):
        raise KeyboardInterrupt


@pytest.fixture
def mixed_frame():
    rng = np.random.RandomState(0)
    n = 300
    X = pd.DataFrame({
        "num": rng.normal(size=n),
        "num_nan": np.where(rng.rand(n) < 0.2, np.nan, rng.normal(size=n)),
        "city": pd.Series(rng.choice(["paris", "rome", None], size=n), dtype="str"),
        "kind": pd.Categorical(rng.choice(["a", "b", "c"], size=n)),
        "flag": rng.rand(n) < 0.5,
        "when": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.randint(0, 500, n), "D"),
    })
    X.loc[::17, "when"] = pd.NaT
    logit = X["num"] + (X["city"] == "rome") * 1.5 + X["flag"] - (X["when"].dt.month > 6)
    y = np.where(logit + rng.normal(scale=0.5, size=n) > 0.5, "yes", "no")
    return X, y


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


def test_stacking_with_and_without_the_check():
    X, y = make_classification(n_samples=800, n_features=8, random_state=0)
    forced = AutoStackClassifier(presets="high_quality", portfolio=TINY, n_folds=3,
                                 dynamic_stacking=False, random_state=0).fit(X, y)
    assert list(forced.pipeline_.named_steps) == ["encoder", "layer1", "layer2", "selector"]
    assert forced.pipeline_["layer1"].passthrough and not forced.pipeline_["layer2"].passthrough
    assert {r.level for r in forced.records_} == {1, 2}
    assert any(r.name == "linear_l2" for r in forced.records_)
    assert forced.predict_proba(X[:3]).shape == (3, 2)

    checked = AutoStackClassifier(presets="high_quality", portfolio=TINY, n_folds=3,
                                  random_state=0).fit(X, y)
    check = checked.stacking_check_
    assert check["decision"] in ("stack", "no stacking")
    assert check["check_rows"] == round(800 / 9)
    assert 0 <= check["level2_wins"] <= 1
    assert check["stacker"] is None  # the linear model is one of the three candidates
    if check["decision"] == "stack":
        assert check["level2_score"] > check["level1_score"] and check["level2_wins"] >= 0.75
    n_levels = 2 if check["decision"] == "stack" else 1
    assert checked.fit_summary()["n_levels"] == n_levels


def test_the_check_stacks_with_the_second_level_first_model_too():
    from types import SimpleNamespace

    clf = AutoStackClassifier(portfolio=TINY, time_limit=100)
    clf._budget, clf._task = TimeBudget(100), "classification"
    settings = {"portfolio": TINY}
    scores = {"a": 0.9, "b": 0.8, "c": 0.7, "linear": 0.5}
    first = SimpleNamespace(oof_scores_=scores, fit_times_=dict.fromkeys(scores, 1.0))
    # The best three (2 levels each: 1.8 x 1 s) and the linear model, which the real second
    # level trains first, above them (0.9 x 1 s): within the check's 10 s.
    candidates, stacker = clf._check_candidates(first, settings)
    assert candidates == ["a", "b", "c"]
    assert stacker[0] == "linear_l2" and stacker[2] == 1.0
    first.fit_times_["linear"] = 6.0  # 5.4 + 5.4 s: no time for it
    assert clf._check_candidates(first, settings) == (["a", "b", "c"], None)
    scores["linear"] = 0.95  # already a candidate: no stacker on top
    first.fit_times_["linear"] = 1.0
    candidates, stacker = clf._check_candidates(first, settings)
    assert "linear" in candidates and stacker is None


def test_a_model_too_slow_for_the_check_gives_its_place_to_the_next_best():
    from types import SimpleNamespace

    clf = AutoStackClassifier(portfolio=TINY, time_limit=100)
    clf._budget, clf._task = TimeBudget(100), "classification"
    scores = {"a": 0.9, "slow": 0.85, "b": 0.8, "c": 0.7, "d": 0.6}
    first = SimpleNamespace(oof_scores_=scores, fit_times_=dict.fromkeys(scores, 1.0))
    first.fit_times_["slow"] = 20.0  # 36 s: past the check's 10 s
    candidates, _ = clf._check_candidates(first, {"portfolio": TINY})
    assert candidates == ["a", "b", "c"]


def test_a_second_level_that_selects_worse_out_of_fold_is_dropped(monkeypatch):
    X, y = make_classification(n_samples=800, n_features=8, random_state=0)
    build = AutoStackClassifier._level_models

    def weak_second_level(self, settings, level):
        if level == 1:
            return build(self, settings, level)
        return [("prior_l2", DummyClassifier(strategy="prior"), 0)]

    def check_says_stack(self, *args):
        self.stacking_check_ = {"decision": "stack"}
        return True

    monkeypatch.setattr(AutoStackClassifier, "_level_models", weak_second_level)
    monkeypatch.setattr(AutoStackClassifier, "_stacking_helps", check_says_stack)
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


def test_stacking_needs_to_win_most_bootstrap_resamples_of_the_check_rows():
    from functools import partial

    from sklearn.metrics import get_scorer

    from skstack._scoring import score_predictions
    from skstack.auto._estimators import _share_of_wins

    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 300)
    good = np.column_stack([1 - (0.2 + 0.6 * y), 0.2 + 0.6 * y])
    noise = np.clip(good + rng.normal(scale=0.3, size=(300, 1)) * [-1, 1], 0.01, 0.99)
    score = partial(score_predictions, get_scorer("roc_auc"), classes=np.array([0, 1]))
    assert _share_of_wins(score, y, None, noise, good, seed=0) == 1.0
    assert _share_of_wins(score, y, None, good, noise, seed=0) == 0.0
    assert _share_of_wins(score, y, None, good, good.copy(), seed=0) == 0.5  # ties: half
    # Two models as noisy as each other: one scores higher, and the resamples split.
    other = np.clip(good + rng.normal(scale=0.3, size=(300, 1)) * [-1, 1], 0.01, 0.99)
    assert 0.05 < _share_of_wins(score, y, None, noise, other, seed=0) < 0.95
    # Rows of one class cannot be scored by ROC AUC: nothing to count.
    assert _share_of_wins(score, np.ones(5, int), None, good[:5], good[:5], seed=0) == 0.0


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


def test_time_limit_skips_what_cannot_finish():
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    portfolio = [PortfolioEntry("linear", {}, 3), PortfolioEntry(Slow(delay=0.5), {}, 2,
                                                                 name="slow")]
    start = time.monotonic()
    clf = AutoStackClassifier(presets="good_quality", portfolio=portfolio, n_folds=5,
                              time_limit=2.0, random_state=0).fit(X, y)
    elapsed = time.monotonic() - start
    status = dict(zip(clf.leaderboard()["model"], clf.leaderboard()["status"]))
    assert status["linear"] == "ok"
    # Its first fold (0.5 s) projects five more rounds past its deadline: skipped.
    assert status["slow"].startswith("skipped")
    assert elapsed < 2.0 + 2.0  # the limit, plus the tolerance for tiny limits


def test_knn_on_a_large_table_returns_within_its_limit():
    # Its leave-one-out search over every row is quadratic in rows: it used to run for
    # minutes. Now it is projected after its first batch and skipped, or shrunk.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200_000, 20))
    y = (X[:, 0] + rng.normal(size=len(X)) > 0).astype(int)
    start = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the fallback's warning, if it comes
        clf = AutoStackClassifier(presets="best_quality", time_limit=5.0, random_state=0,
                                  portfolio=[PortfolioEntry("knn", {}, 1)]).fit(X, y)
    assert time.monotonic() - start < 20.0  # the 2% target is measured in bench_scale
    knn = clf.leaderboard().set_index("model").loc["knn"]
    assert knn["status"] == "ok" or "neighbour search" in knn["status"]


def test_a_limit_too_small_for_any_model_falls_back():
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    portfolio = [PortfolioEntry(Slow(delay=0.3), {}, 1, name="slow")]
    with pytest.warns(UserWarning, match="No model of the portfolio finished"):
        clf = AutoStackClassifier(presets="good_quality", portfolio=portfolio,
                                  time_limit=0.2, random_state=0).fit(X, y)
    assert list(clf.pipeline_["layer1"].named_estimators_) == ["fallback_linear"]
    assert clf.score(X, y) > 0.7


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


def test_leaderboard_with_test_data(mixed_frame):
    X, y = mixed_frame
    clf = AutoStackClassifier(presets="good_quality", portfolio=TINY, n_folds=3,
                              scoring="roc_auc", random_state=0).fit(X[:200], y[:200])
    board = clf.leaderboard(X[200:], y[200:])
    assert list(board.columns) == ["model", "family", "level", "oof_score", "fit_time",
                                   "repeats", "weight", "status", "test_score",
                                   "predict_time_per_row"]
    ensemble = board.set_index("model").loc["ensemble"]
    used = board[board["weight"] > 0]
    assert used["test_score"].notna().all() and (used["predict_time_per_row"] > 0).all()
    from sklearn.metrics import roc_auc_score

    assert ensemble["test_score"] == pytest.approx(
        roc_auc_score(y[200:] == "yes", clf.predict_proba(X[200:])[:, 1]))


def test_verbose_levels(mixed_frame, capsys):
    X, y = mixed_frame
    AutoStackClassifier(portfolio=TINY, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""
    AutoStackClassifier(portfolio=TINY, random_state=0, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "level 1: 3 models" in out and "linear: OOF" in out


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


def test_budget_allocation():
    budget = TimeBudget(100.0, start=time.monotonic())
    assert budget.reserve() == pytest.approx(5.0)
    level = budget.level_deadline(levels_left=2)
    assert level - time.monotonic() == pytest.approx(47.5, abs=0.1)
    # The first level weighs twice a level above it: two thirds of 95 s with one above.
    first = budget.level_deadline(levels_left=2, first=True)
    assert first - time.monotonic() == pytest.approx(95 * 2 / 3, abs=0.1)
    assert budget.level_deadline(levels_left=1, first=True) == pytest.approx(
        budget.level_deadline(levels_left=1), abs=0.1)
    # Twice the fair share of 10 models, but at least a fifth of the level.
    model = budget.model_deadline(level, models_left=10)
    assert model - time.monotonic() == pytest.approx(0.2 * 47.5, abs=0.1)
    model = budget.model_deadline(level, models_left=2)
    assert model - time.monotonic() == pytest.approx(47.5, abs=0.1)
    # A model may end past its deadline by a quarter of the level's time beyond it.
    assert budget.model_limit(level, model) == pytest.approx(model + 0.25 * (level - model))
    unlimited = TimeBudget(None)
    assert unlimited.level_deadline(1) is None and unlimited.reserve() == 0
    assert unlimited.model_limit(None, None) is None


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


def test_a_second_pass_knows_the_first_folds_of_its_level():
    from skstack.auto._estimators import _Trainer

    clf = AutoStackClassifier(time_limit=60)
    clf._budget, clf._first_folds = TimeBudget(60), {}
    _Trainer(clf, 1, time.monotonic() + 5, ["a"])._saw_first_fold("lightgbm", 8.0)
    # A later trainer of the same level (the second pass) does not retry a family whose
    # first fold alone outlasts the time left; another level has seen nothing yet.
    assert _Trainer(clf, 1, time.monotonic() + 5, ["a"])._no_time_for("lightgbm")
    assert not _Trainer(clf, 1, time.monotonic() + 10, ["a"])._no_time_for("lightgbm")
    assert not _Trainer(clf, 2, time.monotonic() + 5, ["a"])._no_time_for("lightgbm")


def test_a_later_tier_shares_only_the_time_the_first_one_leaves():
    from skstack._bagging import BudgetExceeded
    from skstack.auto._estimators import _Trainer
    from skstack.auto._progress import Progress

    clf = AutoStackClassifier(time_limit=600)
    clf._budget, clf._first_folds, clf.records_ = TimeBudget(600), {}, []
    clf.interrupted_, clf._progress = False, Progress(verbose=0, start=time.monotonic())
    names = ["a", "b", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8"]
    level_end = time.monotonic() + 100
    trainer = _Trainer(clf, 1, level_end, names,
                       tiers={name: int(name.startswith("v")) for name in names})
    allowances = []

    def fit(deadline, limit):
        allowances.append(deadline - time.monotonic())
        raise BudgetExceeded("measured")  # no time is spent: every model sees 100 s left

    model = FamilyModel(LogisticRegression())
    for name in names:
        trainer(name, model, fit)
    # Tier 0's two models share the level as if the eight variants were absent: all of
    # it for the last one; the variants then share it among themselves (a fifth each).
    assert allowances[0] == pytest.approx(100, abs=0.5)
    assert allowances[1] == pytest.approx(100, abs=0.5)
    assert allowances[2] == pytest.approx(25, abs=0.5)  # twice the fair share of 8
    # Without tiers, the first model gets a fifth of the level: ten models share it.
    allowances.clear()
    _Trainer(clf, 1, level_end, names)("a", model, fit)
    assert allowances[0] == pytest.approx(20, abs=0.5)


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


def test_save_and_load_skops_and_joblib(tmp_path, mixed_frame):
    from skstack.io import load, untrusted_types

    X, y = mixed_frame
    portfolio = TINY + [PortfolioEntry("lightgbm", {"n_estimators": 20}, 0)]
    clf = AutoStackClassifier(presets="good_quality", portfolio=portfolio, n_folds=3,
                              prune=False, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    for name in ("model.skops", "model.joblib"):
        path = clf.save(tmp_path / name)
        restored = AutoStackClassifier.load(path)
        np.testing.assert_allclose(restored.predict_proba(X), expected)
    # Nothing beyond skops' defaults and skstack's own types is needed to load it.
    assert untrusted_types(tmp_path / "model.skops") == []
    with pytest.raises(TypeError, match="not a AutoStackRegressor"):
        AutoStackRegressor.load(tmp_path / "model.joblib")
    assert isinstance(load(tmp_path / "model.skops"), AutoStackClassifier)


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


def test_skops_refuses_unknown_types(tmp_path):
    import skops.io as sio

    from skstack.io import load

    sio.dump({"f": np.sum}, tmp_path / "odd.skops")
    with pytest.raises(ValueError, match="not trusted by default"):
        load(tmp_path / "odd.skops")
    assert load(tmp_path / "odd.skops", trusted=["numpy.sum"])["f"] is np.sum


def test_command_line(tmp_path, mixed_frame, capsys):
    from skstack.cli import infer_task, main

    X, y = mixed_frame
    frame = X.drop(columns=["when"]).assign(label=y)
    frame.iloc[:250].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[250:].to_parquet(tmp_path / "test.parquet")
    model = tmp_path / "model.skops"
    assert main(["fit", str(tmp_path / "train.csv"), "--label", "label", "--time-limit", "30",
                 "--verbose", "0", "-o", str(model)]) == 0
    assert "classification model (medium_quality)" in capsys.readouterr().out
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(tmp_path / "test.parquet"), "--label", "label",
                 "--proba", "-o", str(out)]) == 0
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["proba_no", "proba_yes"] and len(predictions) == 50
    capsys.readouterr()
    assert main(["leaderboard", str(model), str(tmp_path / "test.parquet"), "--label",
                 "label"]) == 0
    assert "test_score" in capsys.readouterr().out
    assert main(["predict", str(tmp_path / "missing.skops"), str(out), "-o", str(out)]) == 1
    assert infer_task(pd.Series([1.5, 2.0])) == "regression"
    assert infer_task(pd.Series([0, 1, 1])) == "classification"
    assert infer_task(pd.Series(["a", "b"])) == "classification"


def test_holdout_and_check_keep_groups_together():
    from skstack.auto._estimators import holdout_plan

    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    groups = np.arange(300) // 10
    clf = AutoStackClassifier(portfolio=TINY, random_state=0).fit(X, y, groups=groups)
    bag = clf.pipeline_["layer1"].estimators_[0]
    held_out = np.flatnonzero(bag.oof_mask_)
    assert not set(groups[held_out]) & set(np.delete(groups, held_out))
    (train, test), = holdout_plan(y, classifier=True, fraction=1 / 9, random_state=0,
                                  groups=groups)
    assert not set(groups[train]) & set(groups[test])


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


def test_plot_leaderboard(mixed_frame):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    X, y = mixed_frame
    clf = AutoStackClassifier(portfolio=TINY, random_state=0).fit(X, y)
    ax = clf.plot_leaderboard()
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert "L2 ensemble" in labels and "L1 linear" in labels


def test_feature_importance_ranks_the_informative_columns(mixed_frame):
    X, y = mixed_frame
    clf = AutoStackClassifier(portfolio=TINY, random_state=0).fit(X[:200], y[:200])
    importance = clf.feature_importance(X[200:], y[200:], n_repeats=3, random_state=0)
    assert list(importance.columns) == ["feature", "importance", "std", "p_value", "n_repeats"]
    assert set(importance["feature"]) == set(X.columns)
    ranked = list(importance["feature"])
    assert ranked.index("num") < ranked.index("num_nan")
    assert ranked.index("num") < ranked.index("kind")
    top = importance.set_index("feature").loc["num"]
    assert top["importance"] > 0 and top["p_value"] < 0.05
    subsample = clf.feature_importance(X, y, n_repeats=2, max_rows=50, random_state=0)
    assert subsample["n_repeats"].eq(2).all()

    Xr, yr = make_regression(n_samples=150, n_features=3, n_informative=1, random_state=0)
    reg = AutoStackRegressor(portfolio=TINY, random_state=0).fit(Xr, yr)
    board = reg.feature_importance(Xr, yr, n_repeats=2, random_state=0)
    assert set(board["feature"]) == {"x0", "x1", "x2"}
    assert board["importance"].iloc[0] > 10 * abs(board["importance"].iloc[-1])


def test_progress_bar_on_a_terminal_only(mixed_frame, capsys, monkeypatch):
    X, y = mixed_frame
    AutoStackClassifier(portfolio=TINY, random_state=0, verbose=1).fit(X, y)
    assert "model/s" not in capsys.readouterr().err  # not a terminal: no bar
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    AutoStackClassifier(portfolio=TINY, random_state=0, time_limit=30, verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert "level 1: 100%" in captured.err and "3/3" in captured.err
    assert "best=" in captured.err and "left=" in captured.err
    assert "linear: OOF" in captured.out
    AutoStackClassifier(portfolio=TINY, random_state=0, verbose=0).fit(X, y)
    assert capsys.readouterr() == ("", "")


class SlowToPredict(LogisticRegression):
    """A good model that takes ``delay`` seconds per prediction call."""

    def __init__(self, delay=0.05, C=1.0):
        self.delay = delay
        super().__init__(C=C)

    def predict_proba(self, X):
        time.sleep(self.delay)
        return super().predict_proba(X)


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
