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


def test_a_tie_between_a_chosen_model_and_its_copy_keeps_the_chosen_one():
    # A, its exact copy B, and C; the best blend is 2 A + C (or 2 B + C, or A + B + C).
    preds = np.array([[1.0], [1.0], [0.0]])

    def score(blend):
        return -abs(blend.mean() - 2 / 3)

    for seed in range(20):
        counts, trajectory = _select(preds, score, 3, False, np.random.RandomState(seed))
        # Step 1 ties A and B (a seeded pick); step 3 ties "the one picked, again" with the
        # other: the one picked wins, every time (a random pick would split them half the
        # time).
        assert sorted(counts[:2].tolist()) == [0, 2] and counts[2] == 1
        assert len(trajectory) == 3


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


def _underconfident_multiclass(seed=0, n=600):
    """Two models whose probabilities are right but shrunk towards uniform."""
    rng = np.random.RandomState(seed)
    y = rng.randint(3, size=n)
    models = []
    for _ in range(2):
        signal = np.eye(3)[np.where(rng.rand(n) < 0.9, y, rng.randint(3, size=n))]
        models.append(0.3 * signal + 0.7 / 3)
    return np.hstack(models), y


def test_linear_combiner_sharpens_what_an_average_cannot():
    from sklearn.linear_model import LogisticRegression

    X, y = _underconfident_multiclass()
    auto = GreedyEnsembleSelector(task="classification", combiner="auto",
                                  random_state=0).fit(X, y)
    assert auto.combiner_ == "linear"
    scores = auto.combiner_scores_
    assert scores["linear"] > scores["weighted"] + 0.1
    assert auto.ensemble_score_ == scores["linear"]
    # The logistic regression on the selected models' probability columns, refitted on all.
    columns = auto._selected_columns()
    direct = LogisticRegression(C=1.0, max_iter=1000).fit(X[:, columns], y)
    np.testing.assert_allclose(auto.predict_proba(X), direct.predict_proba(X[:, columns]))
    assert log_loss(y, auto.predict_proba(X)) < log_loss(
        y, GreedyEnsembleSelector(task="classification", random_state=0).fit(X, y)
        .predict_proba(X))
    # The greedy weights still say which models are used.
    assert set(auto.weights_) == {"model0", "model1"}


def test_auto_combiner_keeps_a_calibrated_average():
    rng = np.random.RandomState(0)
    n = 2000
    p = rng.uniform(0.02, 0.98, n)
    y = (rng.rand(n) < p).astype(int)
    X = np.c_[p, np.clip(p + rng.normal(0, 0.02, n), 0.01, 0.99)]  # calibrated models
    auto = GreedyEnsembleSelector(task="classification", combiner="auto",
                                  random_state=0).fit(X, y)
    assert auto.combiner_ == "weighted" and auto.linear_ is None
    assert auto.combiner_scores_["linear"] <= auto.combiner_scores_["weighted"]
    weighted = GreedyEnsembleSelector(task="classification", random_state=0).fit(X, y)
    np.testing.assert_allclose(auto.predict_proba(X), weighted.predict_proba(X))


def test_auto_combiner_gives_up_when_out_of_time():
    X, y = _underconfident_multiclass()
    selector = GreedyEnsembleSelector(task="classification", combiner="auto",
                                      combiner_time_limit=0.0, random_state=0).fit(X, y)
    assert selector.combiner_ == "weighted" and selector.combiner_scores_ is None


def test_linear_combiner_for_regression_labels_and_weights():
    from sklearn.linear_model import RidgeCV

    rng = np.random.RandomState(0)
    y = rng.normal(size=300)
    X = np.c_[0.5 * y + rng.normal(0, 0.3, 300), 0.5 * y + rng.normal(0, 0.3, 300)]
    selector = GreedyEnsembleSelector(task="regression", combiner="linear",
                                      random_state=0).fit(X, y)
    assert selector.combiner_ == "linear" and selector.combiner_scores_ is None
    columns = selector._selected_columns()
    direct = RidgeCV(alphas=(0.1, 1.0, 10.0)).fit(X[:, columns], y)
    np.testing.assert_allclose(selector.predict(X), direct.predict(X[:, columns]))
    # A linear fit undoes the models' shrinkage: better than their average.
    assert selector.ensemble_score_ > selector.weighted_score_
    # String labels come back as labels; sample weights reach the linear model.
    X, codes = _binary_predictions()
    labels = np.array(["no", "yes"])[codes]
    weights = np.where(codes == 1, 5.0, 1.0)
    plain = GreedyEnsembleSelector(task="classification", combiner="linear",
                                   random_state=0).fit(X, labels)
    weighted = GreedyEnsembleSelector(task="classification", combiner="linear",
                                      random_state=0).fit(X, labels, sample_weight=weights)
    assert set(plain.predict(X)) <= {"no", "yes"}
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()


def test_time_limit_stops_adding_models_after_the_first():
    X, y = _binary_predictions()
    X = np.c_[X, X[:, ::-1]]  # four models, and steps that keep improving for a while
    calls = []

    def slow(blend):  # every score costs 10 ms
        import time

        calls.append(1)
        time.sleep(0.01)
        return -np.mean((blend - y) ** 2)

    counts, trajectory = _select(X.T.copy(), slow, 25, False, np.random.RandomState(0),
                                 deadline=0.0)  # long past
    assert counts.sum() == 1 and len(trajectory) == 1 and len(calls) == X.shape[1]
    for sorted_initialization in (False, True):
        selector = GreedyEnsembleSelector(task="classification", time_limit=0.0,
                                          sorted_initialization=sorted_initialization,
                                          random_state=0).fit(X, y)
        assert selector.counts_.sum() == 1  # one model: a usable ensemble
        assert selector.predict_proba(X).shape == (len(y), 2)
    unlimited = GreedyEnsembleSelector(task="classification", random_state=0).fit(X, y)
    assert len(unlimited.trajectory_[0]) >= 1
    assert GreedyEnsembleSelector(task="classification", time_limit=60,
                                  random_state=0).fit(X, y).counts_.tolist() == (
        unlimited.counts_.tolist())
