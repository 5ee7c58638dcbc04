import numpy as np
import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.metrics import log_loss

from skstack import GreedyEnsembleSelector
from skstack._selection import _select, task_of_scoring


def _binary_predictions(seed=0, n=300):
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    good = np.clip(np.where(y == 1, 0.7, 0.3) + rng.normal(0, 0.15, n), 0.01, 0.99)
    other = np.clip(np.where(y == 1, 0.7, 0.3) + rng.normal(0, 0.15, n), 0.01, 0.99)
    noise = rng.uniform(0.01, 0.99, n)
    return np.c_[good, other, noise], y


def test_selection_matches_a_direct_caruana_loop():
    X, y = _binary_predictions()
    selector = GreedyEnsembleSelector(task="classification", n_iterations=10, random_state=0)
    selector.fit(X, y)

    def loss(p):
        return log_loss(y, np.c_[1 - p, p])

    chosen, trajectory = [], []
    for _ in range(10):
        scores = [-loss(X[:, chosen + [m]].mean(axis=1)) for m in range(3)]
        chosen.append(int(np.argmax(scores)))
        trajectory.append(max(scores))
    best = int(np.argmax(trajectory)) + 1
    expected = np.bincount(chosen[:best], minlength=3)
    np.testing.assert_array_equal(selector.counts_, expected)
    np.testing.assert_allclose(selector.trajectory_[0], trajectory[:best])
    assert selector.weights_["model2"] == 0.0
    assert selector.ensemble_score_ == pytest.approx(max(trajectory))
    proba = selector.predict_proba(X)
    blend = X @ (expected / expected.sum())
    np.testing.assert_allclose(proba[:, 1], blend)


def test_trajectory_is_cut_at_best_iteration():
    X, y = _binary_predictions()
    X = np.c_[X[:, 0], X[:, 0]]  # identical models: no addition ever improves
    selector = GreedyEnsembleSelector(task="classification", random_state=0).fit(X, y)
    assert selector.counts_.sum() == 1
    assert len(selector.trajectory_[0]) == 1


def test_ties_prefer_models_already_chosen():
    preds = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    counts, _ = _select(preds, lambda blend: -abs(blend.mean() - 1.0), 5, False,
                        np.random.RandomState(0))
    # Models 0 and 1 tie on the first step; afterwards the chosen one keeps being preferred.
    assert sorted(counts.tolist()) == [0, 0, 1]


def test_tie_break_is_seeded():
    preds = np.ones((4, 10))
    picks = {tuple(_select(preds, lambda b: 0.0, 1, False, np.random.RandomState(s))[0])
             for s in range(20)}
    assert len(picks) > 1  # the first pick among equals is random...
    again = {tuple(_select(preds, lambda b: 0.0, 1, False, np.random.RandomState(3))[0])
             for _ in range(5)}
    assert len(again) == 1  # ...and reproducible


def test_sorted_initialization_starts_from_best_models():
    X, y = _binary_predictions()
    selector = GreedyEnsembleSelector(task="classification", sorted_initialization=True,
                                      n_iterations=10, random_state=0).fit(X, y)
    assert selector.counts_[0] >= 1 and selector.counts_[1] >= 1
    plain = GreedyEnsembleSelector(task="classification", n_iterations=10,
                                   random_state=0).fit(X, y)
    assert selector.ensemble_score_ >= plain.ensemble_score_ - 1e-3


def test_bagged_selection_sums_counts_over_bags():
    X, y = _binary_predictions()
    selector = GreedyEnsembleSelector(task="classification", bagging=True, n_bags=8,
                                      bag_fraction=0.67, random_state=0).fit(X, y)
    assert len(selector.trajectory_) == 8
    assert selector.counts_.sum() == sum(len(t) for t in selector.trajectory_)
    assert sum(selector.weights_.values()) == pytest.approx(1.0)


def test_multiclass_blocks_are_renormalised():
    rng = np.random.RandomState(0)
    y = rng.randint(3, size=150)
    one_hot = np.eye(3)[y]
    model_a = 0.6 * one_hot + 0.4 / 3
    model_b = rng.dirichlet(np.ones(3), size=150)
    X = np.c_[model_a, model_b]
    names = ["a__0", "a__1", "a__2", "b__0", "b__1", "b__2"]
    import pandas as pd

    selector = GreedyEnsembleSelector(random_state=0).fit(pd.DataFrame(X, columns=names), y)
    assert selector.task_ == "classification"
    assert selector.model_names_.tolist() == ["a", "b"]
    assert selector.weights_["a"] > selector.weights_["b"]
    proba = selector.predict_proba(pd.DataFrame(X, columns=names))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="3 probability columns per model"):
        GreedyEnsembleSelector(task="classification").fit(X[:, :4], y)


def test_regression_blend():
    rng = np.random.RandomState(0)
    y = rng.normal(size=200)
    X = np.c_[y + rng.normal(0, 0.5, 200), y + rng.normal(0, 0.5, 200), rng.normal(size=200)]
    selector = GreedyEnsembleSelector(random_state=0).fit(X, y)
    assert selector.task_ == "regression"
    # Pure noise earns at most a little weight (it shrinks the blend towards the mean).
    assert selector.weights_["model2"] < 0.15
    assert 0.3 < selector.weights_["model0"] < 0.7
    np.testing.assert_allclose(selector.predict(X), X @ selector._weights)


def test_estimator_type_known_before_fit():
    assert is_classifier(GreedyEnsembleSelector(task="classification"))
    assert is_regressor(GreedyEnsembleSelector(task="regression"))
    assert is_classifier(GreedyEnsembleSelector(scoring="neg_log_loss"))
    assert is_classifier(GreedyEnsembleSelector(scoring="roc_auc"))
    assert is_classifier(GreedyEnsembleSelector(scoring="accuracy"))
    assert is_regressor(GreedyEnsembleSelector(scoring="neg_root_mean_squared_error"))
    assert is_regressor(GreedyEnsembleSelector(scoring="r2"))
    unknown = GreedyEnsembleSelector()
    assert not is_classifier(unknown) and not is_regressor(unknown)
    assert task_of_scoring(None) is None


def test_sample_weight_changes_the_selection():
    X, y = _binary_predictions()
    X = X.copy()
    X[:150, 2] = np.where(y[:150] == 1, 0.99, 0.01)  # the noise model is perfect on 150 rows
    weights = np.r_[np.full(150, 100.0), np.full(150, 0.01)]
    weighted = GreedyEnsembleSelector(task="classification", random_state=0)
    weighted.fit(X, y, sample_weight=weights)
    assert weighted.weights_["model2"] > 0.5


def test_string_labels_binary():
    X, y = _binary_predictions()
    labels = np.array(["neg", "pos"])[y]
    selector = GreedyEnsembleSelector(task="classification", random_state=0).fit(X, labels)
    assert set(selector.predict(X)) <= {"neg", "pos"}
    assert selector.score(X, labels) > 0.7


@pytest.mark.parametrize("scoring", ["roc_auc", "neg_log_loss", "accuracy",
                                     "neg_root_mean_squared_error", "neg_mean_squared_error",
                                     "neg_mean_absolute_error"])
@pytest.mark.parametrize("weighted", [False, True])
def test_fast_prediction_scorers_equal_the_scikit_learn_scorers(scoring, weighted):
    from skstack._scoring import prediction_scorer, resolve_scorer, score_predictions

    rng = np.random.RandomState(0)
    n = 300
    weights = rng.uniform(0.5, 2.0, n) if weighted else None
    regression = scoring.startswith(("neg_m", "neg_root"))
    if regression:
        y, values, classes = rng.normal(size=n), rng.normal(size=n), None
    else:
        classes = np.array(["a", "b"] if scoring == "roc_auc" else ["a", "b", "c"],
                           dtype=object)
        y = classes[rng.randint(len(classes), size=n)]
        values = rng.dirichlet(np.ones(len(classes)), size=n)
        values[:5] = np.round(values[:5], 1)  # ties
        values[5, 0] = 0.0  # a zero probability, clipped
    fast = prediction_scorer(scoring, None, y, classes=classes, sample_weight=weights)
    expected = score_predictions(resolve_scorer(scoring, None), y, values, classes=classes,
                                 sample_weight=weights)
    assert fast(values) == pytest.approx(expected, rel=1e-10)
