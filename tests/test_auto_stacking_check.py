"""The stacked-overfitting check (skstack.auto._stacking_check)."""


import numpy as np
from _models import TINY, make_run
from sklearn.datasets import make_classification

from skstack import (
    AutoStackClassifier,
)
from skstack.auto._stacking_check import check_candidates, share_of_wins


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

    run = make_run(time_limit=100, portfolio=TINY)
    scores = {"a": 0.9, "b": 0.8, "c": 0.7, "linear": 0.5}
    first = SimpleNamespace(oof_scores_=scores, fit_times_=dict.fromkeys(scores, 1.0))
    # The best three (2 levels each: 1.8 x 1 s) and the linear model, which the real second
    # level trains first, above them (0.9 x 1 s): within the check's 10 s.
    candidates, stacker = check_candidates(run, first)
    assert candidates == ["a", "b", "c"]
    assert stacker[0] == "linear_l2" and stacker[2] == 1.0
    first.fit_times_["linear"] = 6.0  # 5.4 + 5.4 s: no time for it
    assert check_candidates(run, first) == (["a", "b", "c"], None)
    scores["linear"] = 0.95  # already a candidate: no stacker on top
    first.fit_times_["linear"] = 1.0
    candidates, stacker = check_candidates(run, first)
    assert "linear" in candidates and stacker is None

def test_a_model_too_slow_for_the_check_gives_its_place_to_the_next_best():
    from types import SimpleNamespace

    run = make_run(time_limit=100, portfolio=TINY)
    scores = {"a": 0.9, "slow": 0.85, "b": 0.8, "c": 0.7, "d": 0.6}
    first = SimpleNamespace(oof_scores_=scores, fit_times_=dict.fromkeys(scores, 1.0))
    first.fit_times_["slow"] = 20.0  # 36 s: past the check's 10 s
    candidates, _ = check_candidates(run, first)
    assert candidates == ["a", "b", "c"]

def test_stacking_needs_to_win_most_bootstrap_resamples_of_the_check_rows():
    from functools import partial

    from sklearn.metrics import get_scorer

    from skstack._scoring import score_predictions

    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 300)
    good = np.column_stack([1 - (0.2 + 0.6 * y), 0.2 + 0.6 * y])
    noise = np.clip(good + rng.normal(scale=0.3, size=(300, 1)) * [-1, 1], 0.01, 0.99)
    score = partial(score_predictions, get_scorer("roc_auc"), classes=np.array([0, 1]))
    assert share_of_wins(score, y, None, noise, good, seed=0) == 1.0
    assert share_of_wins(score, y, None, good, noise, seed=0) == 0.0
    assert share_of_wins(score, y, None, good, good.copy(), seed=0) == 0.5  # ties: half
    # Two models as noisy as each other: one scores higher, and the resamples split.
    other = np.clip(good + rng.normal(scale=0.3, size=(300, 1)) * [-1, 1], 0.01, 0.99)
    assert 0.05 < share_of_wins(score, y, None, noise, other, seed=0) < 0.95
    # Rows of one class cannot be scored by ROC AUC: nothing to count.
    assert share_of_wins(score, np.ones(5, int), None, good[:5], good[:5], seed=0) == 0.0
