"""The time budget (skstack.auto._budget) and the deadlines the trainer gives each model."""

import time
import warnings

import numpy as np
import pytest
from _models import TINY, Slow, make_run
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skstack import (
    AutoStackClassifier,
)
from skstack._utils import BudgetExceeded
from skstack.auto import _budget
from skstack.auto._budget import TimeBudget
from skstack.auto._members import Trainer
from skstack.families import FamilyModel
from skstack.families.portfolios import PortfolioEntry


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
    # A model starved on a large input (its share under 4 passes of the fixed costs over
    # the rows) gets half the level instead: the first models converge, the last skipped.
    assert budget.model_deadline(level, 10, shape=(100_000, 12)) - time.monotonic() \
        == pytest.approx(0.2 * 47.5, abs=0.1)
    assert budget.model_deadline(level, 10, shape=(5_000_000, 12)) - time.monotonic() \
        == pytest.approx(0.5 * 47.5, abs=0.1)
    # The first one-hot model of a level pays the encoding of every row first.
    assert TimeBudget.preparation_seconds("onehot", 1_000_000, 12) == pytest.approx(3.6)
    assert TimeBudget.preparation_seconds("none", 1_000_000, 12) == 0.0
    # A model may end past its deadline by a quarter of the level's time beyond it.
    assert budget.model_limit(level, model) == pytest.approx(model + 0.25 * (level - model))
    unlimited = TimeBudget(None)
    assert unlimited.level_deadline(1) is None and unlimited.reserve() == 0
    assert unlimited.model_limit(None, None) is None

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
    assert knn["status"].startswith("ok") or "neighbour search" in knn["status"]


def test_a_second_pass_knows_the_first_folds_of_its_level():
    run = make_run(time_limit=60)
    models = [("a", FamilyModel(LogisticRegression()))]
    Trainer(run, 1, time.monotonic() + 5, models)._saw_first_fold("lightgbm", 8.0)
    # A later trainer of the same level (the second pass) does not retry a family whose
    # first fold alone outlasts the time left; another level has seen nothing yet.
    assert Trainer(run, 1, time.monotonic() + 5, models)._no_time_for("lightgbm")
    assert not Trainer(run, 1, time.monotonic() + 10, models)._no_time_for("lightgbm")
    assert not Trainer(run, 2, time.monotonic() + 5, models)._no_time_for("lightgbm")

def test_a_later_tier_shares_only_the_time_the_first_one_leaves():
    run = make_run(time_limit=600)
    names = ["a", "b", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8"]
    model = FamilyModel(LogisticRegression())
    models = [(name, model) for name in names]
    level_end = time.monotonic() + 100
    trainer = Trainer(run, 1, level_end, models,
                      tiers={name: int(name.startswith("v")) for name in names})
    allowances = []

    def fit(deadline, limit, params=None):
        allowances.append(deadline - time.monotonic())
        raise BudgetExceeded("measured")  # no time is spent: every model sees 100 s left

    for name in names:
        trainer(name, model, fit)
    # Tier 0's two models share the level as if the eight variants were absent: all of
    # it for the last one; the variants then share it among themselves (a fifth each).
    assert allowances[0] == pytest.approx(100, abs=0.5)
    assert allowances[1] == pytest.approx(100, abs=0.5)
    assert allowances[2] == pytest.approx(25, abs=0.5)  # twice the fair share of 8
    # Without tiers, the first model gets a fifth of the level: ten models share it.
    allowances.clear()
    Trainer(run, 1, level_end, models)("a", model, fit)
    assert allowances[0] == pytest.approx(20, abs=0.5)


def test_a_table_too_large_to_bag_in_the_time_gets_a_holdout_plan():
    # 11 first-tier models, a fold's fixed costs at 1.7e-7 s per cell and model, two levels
    # (the first gets 2/3 of the time), as best_quality plans them: a holdout when one pass
    # of those costs takes more than 5% of the first level's time.
    def folds(limit, n_rows, n_columns, levels=2, **kw):
        return TimeBudget(limit).fold_plan(n_rows, n_columns, 11, 8, levels=levels, **kw)

    assert folds(30, 54_000, 9) == 8  # diamonds keeps its folds
    assert folds(300, 120_000, 12) == 8
    assert folds(60, 120_000, 12) == folds(30, 120_000, 12) == 1
    assert folds(300, 1_000_000, 12) == 1
    assert folds(60, 20_000, 3000) == 8  # too few rows for a good holdout: folds
    assert folds(300, 250_000, 12) == 8
    assert folds(300, 250_000, 12, refit=True) == 1  # the refit is one more pass
    assert folds(300, 250_000, 12, levels=1) == 8
    assert TimeBudget(None).fold_plan(10**9, 10**3, 11, 8) == 8


def test_a_table_too_large_for_bagging_trains_on_a_holdout_split(monkeypatch):
    import skstack.auto._budget

    X, y = make_classification(n_samples=600, n_features=5, random_state=0)
    monkeypatch.setattr(skstack.auto._budget, "FIXED_SECONDS_PER_CELL", 1.0)  # "huge"
    monkeypatch.setattr(skstack.auto._budget, "HOLDOUT_MIN_ROWS", 100)
    clf = AutoStackClassifier(presets="best_quality", portfolio=TINY, n_stack_levels=1,
                              time_limit=30, random_state=0).fit(X, y)
    assert clf.settings_["bagging"] is False and clf.settings_["n_stack_levels"] == 0
    layer = clf.pipeline_["layer1"]
    (train, validation), = layer.cv
    assert len(validation) == 60 and len(train) == 540
    assert list(clf.pipeline_.named_steps) == ["encoder", "layer1", "selector"]
    assert clf.score(X, y) > 0.8
    # With explicit folds, or without a time limit, the preset's bagging stays.
    for params in ({"n_folds": 5}, {"time_limit": None}):
        other = clone(clf).set_params(**params).fit(X, y)
        assert other.settings_["bagging"] is True


def test_a_model_that_ignores_every_deadline_is_ended_and_skipped():
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    portfolio = [PortfolioEntry("linear", {}, 2),
                 PortfolioEntry(Slow(delay=600), {}, 1, name="sleeper")]
    start = time.monotonic()
    clf = AutoStackClassifier(presets="good_quality", portfolio=portfolio, time_limit=5,
                              random_state=0).fit(X, y)
    assert time.monotonic() - start < 15  # not the sleeper's 600 s
    board = clf.leaderboard().set_index("model")
    assert board.loc["linear", "status"] == "ok"
    assert "ended at its deadline" in board.loc["sleeper", "status"]
    assert list(clf.pipeline_["layer1"].named_estimators_) == ["linear"]


class OutOfMemory(LogisticRegression):
    """A model that runs out of memory at fit."""

    def fit(self, X, y, sample_weight=None):
        raise MemoryError("Unable to allocate 80.0 GiB")


def test_models_projected_past_the_memory_left_are_skipped_or_shrunk(monkeypatch):
    import skstack.auto._budget as budget

    X, y = make_classification(n_samples=600, n_features=5, random_state=0)
    # One-hot families "need" a gigabyte per cell; a tree 120 MB (600 rows x 100 kB).
    monkeypatch.setitem(budget.MEMORY_PER_CELL, "onehot", 2**30)
    monkeypatch.setattr(budget, "TREE_NODE_BYTES", 100_000)
    limit = budget.process_memory() / 2**30 + 1.0  # 1 GB more than the process holds
    clf = AutoStackClassifier(presets="good_quality", portfolio=TINY, memory_limit=limit,
                              random_state=0).fit(X, y)
    status = clf.leaderboard().set_index("model")["status"]
    for name in ("linear", "knn"):
        assert status[name].startswith("skipped for memory: needs about")
        assert "memory_limit" in status[name]
    assert status["random_forest"].startswith("ok: ")
    assert "trees, for memory" in status["random_forest"]
    forest = clf.pipeline_["layer1"].named_estimators_["random_forest"].estimators_[0]
    assert 1 <= len(forest.estimator_.estimators_) < 20  # TINY's forest has 20 trees
    assert clf.score(X, y) > 0.8
    assert clf.fit_summary()["models"] == {"ok": 1, "skipped for memory": 2}


def test_a_model_out_of_memory_is_recorded_and_the_others_kept():
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    portfolio = TINY + [PortfolioEntry(OutOfMemory(), {}, 0, name="greedy")]
    with pytest.warns(UserWarning, match="'greedy' failed"):
        clf = AutoStackClassifier(presets="good_quality", portfolio=portfolio,
                                  random_state=0).fit(X, y)
    status = clf.leaderboard().set_index("model")["status"]
    assert status["greedy"].startswith("failed: MemoryError: Unable to allocate")
    assert set(clf.pipeline_["layer1"].named_estimators_) <= {"linear", "knn", "random_forest"}
    assert clf.score(X, y) > 0.8


def test_a_model_whose_preprocessing_cannot_finish_is_not_started(monkeypatch):
    # One-hot encoding priced at a second per cell: no level has that time left, so the
    # one-hot families are not started (their deadline could not cut the encoding).
    monkeypatch.setitem(_budget.PREPARATION_SECONDS_PER_CELL, "onehot", 1.0)
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    clf = AutoStackClassifier(presets="best_quality", portfolio=TINY, n_folds=3,
                              n_stack_levels=0, time_limit=20, random_state=0).fit(X, y)
    status = clf.leaderboard().set_index("model")["status"]
    assert status["random_forest"] == "ok"
    assert status["linear"] == status["knn"] == "skipped: no time left"


def test_a_forest_capped_in_leaves_is_projected_at_its_cap():
    from skstack.auto._budget import MemoryBudget

    forest = {"n_estimators": 300, "min_samples_leaf": 1, "max_samples": None}
    uncapped = MemoryBudget.tree_bytes(1_000_000, 2, forest)
    capped = MemoryBudget.tree_bytes(1_000_000, 2, {**forest, "max_leaf_nodes": 15_000})
    assert capped == pytest.approx(uncapped * 15_000 / 1_000_000)
    # Below the cap, the rows decide.
    small = {**forest, "max_leaf_nodes": 15_000}
    assert MemoryBudget.tree_bytes(2_000, 2, small) == MemoryBudget.tree_bytes(2_000, 2, forest)
