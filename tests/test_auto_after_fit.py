"""What users do after the first fit: the decision threshold, class weights, one model out,
any validation structure."""

import numpy as np
import pytest
from _models import TINY
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.metrics import f1_score, log_loss, make_scorer, recall_score
from sklearn.model_selection import GroupKFold, TimeSeriesSplit, train_test_split

from skstack import AutoStackClassifier, AutoStackRegressor
from skstack.families import PortfolioEntry


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(n_samples=3000, n_features=8, n_informative=4,
                               weights=[0.9, 0.1], flip_y=0.05, random_state=0)
    return train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)


def _fit(X, y, sample_weight=None, **params):
    params = {"presets": "best_quality", "portfolio": TINY, "n_folds": 5,
              "random_state": 0, **params}
    return AutoStackClassifier(**params).fit(X, y, sample_weight=sample_weight)


def test_a_tuned_threshold_raises_f1_without_refitting(imbalanced):
    X_train, X_test, y_train, y_test = imbalanced
    plain = _fit(X_train, y_train)
    tuned = _fit(X_train, y_train, decision_threshold="auto")
    assert plain.decision_threshold_ is None
    assert 0.0 < tuned.decision_threshold_ < 0.5  # the rare class needs a lower bar
    # The same ensemble: probabilities unchanged, only the labels move.
    np.testing.assert_allclose(tuned.predict_proba(X_test), plain.predict_proba(X_test))
    np.testing.assert_array_equal(plain.predict(X_test),
                                  plain.classes_[plain.predict_proba(X_test).argmax(1)])
    assert f1_score(y_test, tuned.predict(X_test)) > f1_score(y_test, plain.predict(X_test))


def test_a_fixed_threshold_and_other_label_metrics(imbalanced):
    X_train, X_test, y_train, y_test = imbalanced
    clf = _fit(X_train, y_train, decision_threshold=0.3)
    proba = clf.predict_proba(X_test)[:, 1]
    assert clf.decision_threshold_ == 0.3
    np.testing.assert_array_equal(clf.predict(X_test), (proba > 0.3).astype(int))
    # String labels, with a scorer told the positive one. Recall alone is best when
    # every out-of-fold positive is above the threshold: a low one.
    labels = np.array(["no", "yes"])
    recall = make_scorer(recall_score, pos_label="yes")
    clf = _fit(X_train, labels[y_train], decision_threshold="auto", threshold_scoring=recall)
    assert clf.decision_threshold_ < 0.1
    assert recall_score(labels[y_test], clf.predict(X_test), pos_label="yes") > 0.95


def test_threshold_errors_come_before_the_fit(imbalanced):
    X_train, _, y_train, _ = imbalanced
    with pytest.raises(ValueError, match="binary classification; y has 3 classes"):
        _fit(X_train, np.arange(len(y_train)) % 3, decision_threshold="auto")
    with pytest.raises(ValueError, match="does not change"):
        _fit(X_train, y_train, decision_threshold="auto", threshold_scoring="roc_auc")
    with pytest.raises(ValueError, match=r"cannot score the labels \['no', 'yes'\]"):
        _fit(X_train, np.array(["no", "yes"])[y_train], decision_threshold="auto")
    with pytest.raises(ValueError, match="decision_threshold"):
        _fit(X_train, y_train, decision_threshold=1.5)


def test_balanced_class_weight_raises_the_minority_recall(imbalanced):
    X_train, X_test, y_train, y_test = imbalanced
    plain = _fit(X_train, y_train)
    balanced = _fit(X_train, y_train, class_weight="balanced")
    assert (recall_score(y_test, balanced.predict(X_test))
            > recall_score(y_test, plain.predict(X_test)) + 0.05)


def test_class_weight_is_a_sample_weight_per_class(imbalanced):
    X_train, X_test, y_train, _ = imbalanced
    weighted = _fit(X_train, y_train, class_weight={0: 1.0, 1: 4.0})
    by_rows = _fit(X_train, y_train, sample_weight=np.where(y_train == 1, 4.0, 1.0))
    np.testing.assert_allclose(weighted.predict_proba(X_test), by_rows.predict_proba(X_test))
    # With sample_weight, the two multiply.
    both = _fit(X_train, y_train, sample_weight=np.where(y_train == 1, 2.0, 1.0),
                class_weight={0: 1.0, 1: 2.0})
    np.testing.assert_allclose(both.predict_proba(X_test), weighted.predict_proba(X_test))
    plain = _fit(X_train, y_train)
    assert not np.allclose(plain.predict_proba(X_test), weighted.predict_proba(X_test))


def test_one_model_out_predicts_like_its_leaderboard_row(mixed_frame):
    X, y = mixed_frame  # a frame of mixed columns: the member needs the encoder too
    clf = AutoStackClassifier(presets="best_quality", portfolio=TINY, n_folds=3,
                              n_stack_levels=1, dynamic_stacking=False, prune=False,
                              random_state=0).fit(X, y)
    board = clf.leaderboard(X, y).set_index(["level", "model"])
    assert {1, 2} <= set(board.index.get_level_values("level"))
    for (level, name), row in board.drop(index=[(3, "ensemble")]).iterrows():
        assert row["status"] == "ok"
        member = clf.get_model(name)
        assert member.steps[-1][0] == name and len(member.steps) == level + 1
        proba = member.predict_proba(X)
        assert proba.shape == (len(X), len(clf.classes_))
        assert set(member.predict(X)) <= set(clf.classes_)
        np.testing.assert_allclose(-log_loss(y, proba, labels=clf.classes_),
                                   row["test_score"], rtol=1e-9)
    with pytest.raises(ValueError, match=r"No model named 'nope'; the leaderboard's"):
        clf.get_model("nope")


def test_a_pruned_model_says_why_it_is_absent(imbalanced):
    X_train, _, y_train, _ = imbalanced
    clf = _fit(X_train, y_train, n_stack_levels=0)
    board = clf.leaderboard()
    unused = board[(board["weight"] == 0) & (board["model"] != "ensemble")]["model"]
    for name in unused:
        with pytest.raises(ValueError, match="pruned"):
            clf.get_model(name)
    used = board[board["weight"] > 0]["model"].iloc[0]
    np.testing.assert_array_equal(clf.get_model(used).predict(X_train).shape,
                                  (len(X_train),))


# ---- any validation structure: cv= ---------------------------------------------------------


class PastOnly(RegressorMixin, BaseEstimator):
    """Predicts 1 for a row later than every row it was trained on, else 0.

    The row's time is the last column (standardised by the model's preprocessing, which
    keeps its order), at every level: the levels above get the input columns last.
    """

    def fit(self, X, y, sample_weight=None):
        self.latest_ = np.asarray(X)[:, -1].max()
        return self

    def predict(self, X):
        return (np.asarray(X)[:, -1] > self.latest_).astype(float)


@pytest.fixture(scope="module")
def time_ordered():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 4))
    y = X[:, 0] + np.linspace(0, 3, 600) + 0.1 * rng.normal(size=600)
    return np.column_stack([X, np.arange(600.0)]), y


def test_a_time_series_split_never_trains_a_model_on_later_rows(time_ordered):
    X, y = time_ordered
    reg = AutoStackRegressor(
        presets="best_quality", portfolio=[PortfolioEntry(PastOnly(), priority=1),
                                           PortfolioEntry("linear")],
        cv=TimeSeriesSplit(4), n_stack_levels=1, dynamic_stacking=False, prune=False,
        random_state=0).fit(X, y)
    layers = [layer for _, layer in reg.pipeline_.steps[1:-1]]
    assert len(layers) == 2
    held = slice(120, None)  # TimeSeriesSplit(4) of 600 rows holds out all but 120
    for layer in layers:
        bag = layer.named_estimators_[next(n for n in layer.named_estimators_
                                           if n.startswith("pastonly"))]
        covered = bag.oof_mask_
        # Every out-of-fold prediction comes from a model trained on earlier rows only.
        np.testing.assert_array_equal(bag.oof_pred_[covered], 1.0)
        assert covered.sum() == (480 if layer is layers[0] else 360)
    # The first rows were never held out: level 2 neither trains on them nor predicts them.
    assert np.isnan(layers[0].named_estimators_["linear"].oof_pred_[:120]).all()
    assert len(layers[1].estimators_[0].oof_pred_) == 480
    assert np.isfinite(layers[0].named_estimators_["linear"].oof_pred_[held]).all()
    assert np.isfinite(reg.predict(X)).all()
    # A student learns the rows the top level held out, wherever they are among the fit's.
    student = reg.distill(X, y, family="linear")
    assert reg.distillation_["rows"] == 360 and np.isfinite(student.predict(X)).all()


def test_grouped_folds_and_a_time_ordered_stacking_check(time_ordered):
    X, y = time_ordered
    groups = np.arange(len(y)) // 50
    reg = AutoStackRegressor(presets="best_quality", portfolio=TINY, cv=GroupKFold(4),
                             random_state=0).fit(X, y, groups=groups)
    plan = reg.pipeline_["layer1"].cv
    for train, test in plan:  # no group on both sides of a fold
        assert not set(groups[train]) & set(groups[test])
    assert reg.settings_["bagging"]
    # Under a time-ordered split, the stacking check holds out its latest fold.
    reg = AutoStackRegressor(presets="best_quality", portfolio=TINY, cv=TimeSeriesSplit(4),
                             n_stack_levels=1, random_state=0).fit(X, y)
    assert reg.stacking_check_["check_rows"] == 120
    assert reg.score(X[300:], y[300:]) > 0.5
    reg.refit_full(X, y)  # each level refits on the rows it trained on
    assert np.isfinite(reg.predict(X)).all()


def test_cv_refuses_other_fold_settings(time_ordered):
    X, y = time_ordered
    with pytest.raises(ValueError, match="cv=.* sets the folds"):
        AutoStackRegressor(portfolio=TINY, cv=TimeSeriesSplit(3), n_folds=5).fit(X, y)
    labels = np.where(np.arange(len(y)) < 100, 2, (y > np.median(y)).astype(int))
    with pytest.raises(ValueError, match=r"never holds out a row of the classes \[2\]"):
        AutoStackClassifier(portfolio=TINY, cv=TimeSeriesSplit(4)).fit(X, labels)
    # A class held out only by the first fold leaves the level above without it: no stacking.
    labels = np.where((np.arange(len(y)) >= 120) & (np.arange(len(y)) < 240), 2, labels % 2)
    clf = AutoStackClassifier(presets="best_quality", portfolio=TINY, cv=TimeSeriesSplit(4),
                              n_stack_levels=1, dynamic_stacking=False).fit(X, labels)
    assert len(clf.pipeline_.steps) == 3 and list(clf.classes_) == [0, 1, 2]
    with pytest.raises(ValueError, match="warm_start=True needs a cv that a later fit"):
        AutoStackRegressor(portfolio=TINY, cv=TimeSeriesSplit(3).split(X),
                           warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        AutoStackRegressor(portfolio=TINY, cv=GroupKFold(3)).fit(X, y, groups=[0, 1])


# ---- more time on a fitted model: warm_start -----------------------------------------------


class InterruptOnce(DummyClassifier):
    """Ctrl-C at its first fit of a test (``calls`` reset by the test), then a prior."""

    calls = 0

    def fit(self, X, y, sample_weight=None):
        type(self).calls += 1
        if type(self).calls == 1:
            raise KeyboardInterrupt
        return super().fit(X, y, sample_weight=sample_weight)


def _warm(**params):
    portfolio = [*TINY, PortfolioEntry(InterruptOnce(), priority=0)]
    params = {"presets": "best_quality", "portfolio": portfolio, "n_folds": 3,
              "n_stack_levels": 1, "dynamic_stacking": False, "warm_start": True,
              "random_state": 0, **params}
    return AutoStackClassifier(**params)


def test_warm_start_continues_an_interrupted_fit_without_losing_a_model(imbalanced,
                                                                         monkeypatch):
    X_train, X_test, y_train, y_test = imbalanced
    monkeypatch.setattr(InterruptOnce, "calls", 0)
    with pytest.warns(UserWarning, match="Fit interrupted"):
        clf = _warm().fit(X_train, y_train)
    assert clf.interrupted_ and len(clf.warm_state_.layers) == 1
    first = dict(clf.warm_state_.layers[0].named_estimators_)
    assert set(first) == {"linear", "knn", "random_forest"}
    status = {r.name: r.status for r in clf.records_}
    assert status["interruptonce"] == "skipped: interrupted"

    clf.fit(X_train, y_train)  # the same data: continue
    assert not clf.interrupted_
    layers = clf.warm_state_.layers
    assert len(layers) == 2  # the level the Ctrl-C cut off
    # Every bag of the first fit is still there, the same object, and the model it
    # never trained is now fitted.
    kept = layers[0].named_estimators_
    assert all(kept[name] is bag for name, bag in first.items())
    assert "interruptonce" in kept and "linear_l2" in layers[1].named_estimators_
    status = {r.name: r.status for r in clf.records_}
    assert status["interruptonce"] == "ok" and status["linear_l2"] == "ok"
    assert len(clf.pipeline_.steps) == 4  # encoder, two levels, selector
    assert log_loss(y_test, clf.predict_proba(X_test)) < 0.4


def test_a_warm_start_after_refit_full_refits_what_it_adds(imbalanced, monkeypatch):
    X_train, _, y_train, _ = imbalanced
    monkeypatch.setattr(InterruptOnce, "calls", 0)
    with pytest.warns(UserWarning, match="Fit interrupted"):
        clf = _warm(n_stack_levels=0).fit(X_train, y_train)
    clf.refit_full(X_train, y_train)
    clf.fit(X_train, y_train)
    bags = clf.warm_state_.layers[0].named_estimators_
    assert clf.settings_["refit_full"] and bags["interruptonce"].refit_full
    assert all(bag.refit_full for bag in clf.pipeline_["layer1"].estimators_)


def test_warm_start_refuses_other_data_and_other_models(imbalanced, monkeypatch):
    X_train, _, y_train, _ = imbalanced
    monkeypatch.setattr(InterruptOnce, "calls", 1)  # no Ctrl-C
    clf = _warm().fit(X_train, y_train)
    with pytest.raises(ValueError, match="on the same X, y, sample_weight and groups"):
        clf.fit(X_train[:-1], y_train[:-1])
    with pytest.raises(ValueError, match=r"these parameters changed: \['n_folds'\]"):
        clf.set_params(n_folds=4).fit(X_train, y_train)
    # The time, the selection and the deployment may change; warm_start=False starts anew.
    clf.set_params(n_folds=3, n_iterations=10, prune=False).fit(X_train, y_train)
    assert clf.set_params(warm_start=False).fit(X_train[:500], y_train[:500]).warm_state_ is None


# ---- one fast model: distill -----------------------------------------------------------------


def test_distill_trains_one_model_on_the_ensembles_out_of_fold_probabilities(imbalanced):
    X_train, X_test, y_train, y_test = imbalanced
    clf = _fit(X_train, y_train)
    student = clf.distill(X_train, y_train, params={"n_estimators": 200}, random_state=0)
    assert [name for name, _ in student.steps] == ["encoder", "student"]
    assert len(student[-1].regressors_) == 1  # binary: the probability of classes_[1]
    ensemble, distilled = clf.predict_proba(X_test), student.predict_proba(X_test)
    np.testing.assert_allclose(distilled.sum(axis=1), 1.0)
    # It follows the ensemble, and scores near it on new rows.
    assert np.corrcoef(ensemble[:, 1], distilled[:, 1])[0, 1] > 0.9
    assert log_loss(y_test, distilled) < log_loss(y_test, ensemble) + 0.05
    report = clf.distillation_
    assert report["rows"] == len(y_train) and report["check_rows"] == len(y_train) // 5
    assert {"student_score", "plain_score", "ensemble_score",
            "student_seconds_per_row", "ensemble_seconds_per_row"} <= set(report)
    with pytest.raises(ValueError, match=f"the {len(y_train)} training rows given to fit"):
        clf.distill(X_train[:-1], y_train[:-1])


def test_distill_multiclass_regression_and_a_holdout_preset(time_ordered):
    X, y = time_ordered
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    clf = AutoStackClassifier(presets="best_quality", portfolio=TINY, n_folds=3,
                              random_state=0).fit(X, labels)
    student = clf.distill(X, labels, family="linear")
    assert len(student[-1].regressors_) == 3  # one per class, normalised
    np.testing.assert_allclose(student.predict_proba(X).sum(axis=1), 1.0)
    reg = AutoStackRegressor(presets="medium_quality", portfolio=TINY,
                             random_state=0).fit(X, y)
    student = reg.distill(X, y, family="linear")
    # Under a holdout split only the validation rows have out-of-fold predictions.
    assert reg.distillation_["rows"] == 60
    assert np.corrcoef(student.predict(X), reg.predict(X))[0, 1] > 0.9


def test_refit_full_weights_classes_as_the_fit_did(imbalanced, monkeypatch):
    from sklearn.utils.class_weight import compute_sample_weight

    from skstack import BaggedOOFEstimator

    X_train, _, y_train, _ = imbalanced
    clf = _fit(X_train, y_train, class_weight="balanced")
    weights = []
    original = BaggedOOFEstimator._add_full_model
    monkeypatch.setattr(BaggedOOFEstimator, "_add_full_model", lambda self, X, y, params:
                        weights.append(params["sample_weight"]) or original(self, X, y, params))
    clf.refit_full(X_train, y_train)
    assert weights
    for used in weights:
        np.testing.assert_allclose(used, compute_sample_weight("balanced", y_train))
