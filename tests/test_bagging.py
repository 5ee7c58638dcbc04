import pickle
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from _models import Slow
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GroupKFold, KFold, PredefinedSplit
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skstack import BaggedOOFEstimator
from skstack._folds import default_n_folds, make_fold_plan


def test_default_n_folds():
    assert [default_n_folds(n) for n in (10, 60, 75, 5000)] == [5, 6, 7, 8]


def test_oof_comes_only_from_models_that_did_not_see_the_row():
    # 1-NN memorises its training rows: in-sample it is perfect, out-of-fold it is chance.
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(400, 5)), rng.randint(2, size=400)
    bag = BaggedOOFEstimator(KNeighborsClassifier(n_neighbors=1), n_folds=5, random_state=0)
    bag.fit(X, y)
    in_sample = KNeighborsClassifier(n_neighbors=1).fit(X, y).score(X, y)
    oof_accuracy = np.mean(bag.classes_[bag.oof_pred_.argmax(axis=1)] == y)
    assert in_sample == 1.0
    assert abs(oof_accuracy - 0.5) < 0.1
    assert bag.oof_score_ == pytest.approx(oof_accuracy)


def test_oof_matches_manual_fold_fits(binary_data):
    X, y = binary_data
    bag = BaggedOOFEstimator(LogisticRegression(), n_folds=4, random_state=0).fit(X, y)
    plan = make_fold_plan(X, y, classifier=True, n_folds=4, random_state=0)
    expected = np.zeros((len(y), 2))
    for (train, test), model in zip(plan, bag.estimators_):
        direct = LogisticRegression().fit(X[train], y[train])
        np.testing.assert_array_equal(model.coef_, direct.coef_)
        expected[test] = model.predict_proba(X[test])
    np.testing.assert_allclose(bag.oof_pred_, expected)
    np.testing.assert_allclose(
        bag.predict_proba(X), np.mean([m.predict_proba(X) for m in bag.estimators_], axis=0)
    )


def test_repeats_average_oof(binary_data):
    X, y = binary_data
    bag = BaggedOOFEstimator(LogisticRegression(), n_folds=3, n_repeats=3, random_state=0)
    bag.fit(X, y)
    assert len(bag.estimators_) == 9
    plan = make_fold_plan(X, y, classifier=True, n_folds=3, n_repeats=3, random_state=0)
    counts = np.zeros(len(y))
    for _, test in plan:
        counts[test] += 1
    assert (counts == 3).all()
    assert bag.oof_mask_.all()
    np.testing.assert_allclose(bag.oof_pred_.sum(axis=1), 1.0)


def test_a_repeat_added_later_equals_repeating_up_front(binary_data):
    X, y = binary_data
    plan = make_fold_plan(X, y, classifier=True, n_folds=3, n_repeats=2, random_state=0)
    both = BaggedOOFEstimator(LogisticRegression(), random_state=0)
    both._validate_fit_data(X, y)
    both._fit_validated(X, y, {}, None, plan=plan)
    later = BaggedOOFEstimator(LogisticRegression(), random_state=0)
    later._validate_fit_data(X, y)
    later._fit_validated(X, y, {}, None, plan=plan[:3])
    first_oof = later.oof_pred_.copy()
    later._add_repeat(X, y, plan[3:], {})
    assert len(later.estimators_) == len(later.fold_fit_times_) == 6
    np.testing.assert_allclose(later.oof_pred_, both.oof_pred_)
    assert later.oof_score_ == pytest.approx(both.oof_score_)
    np.testing.assert_allclose(later.predict_proba(X), both.predict_proba(X))
    assert not np.allclose(first_oof, later.oof_pred_)

    # A plan that leaves rows out, or a bag that holds out only some, cannot repeat.
    with pytest.raises(ValueError, match="every row"):
        later._add_repeat(X, y, plan[3:4], {})
    assert len(later.estimators_) == 6
    holdout = [(np.arange(20, len(y)), np.arange(20))]
    partial = BaggedOOFEstimator(LogisticRegression(), cv=holdout).fit(X, y)
    with pytest.raises(ValueError, match="hold out every row"):
        partial._add_repeat(X, y, plan[:3], {})


def test_regression_folds_are_stratified_on_binned_target(regression_data):
    X, y = regression_data
    plan = make_fold_plan(X, y, classifier=False, n_folds=5, random_state=0)
    means = [y[test].mean() for _, test in plan]
    assert np.ptp(means) < 0.25 * y.std()
    bag = BaggedOOFEstimator(Ridge(), n_folds=5, random_state=0).fit(X, y)
    assert bag.oof_pred_.shape == (len(y),)
    assert bag.oof_score_ > 0.9


def test_string_labels_and_multiclass(string_labels, multiclass_data):
    X, y = string_labels
    bag = BaggedOOFEstimator(DecisionTreeClassifier(max_depth=3), random_state=0).fit(X, y)
    assert set(bag.predict(X)) <= {"no", "yes"}
    X, y = multiclass_data
    bag = BaggedOOFEstimator(LogisticRegression(), random_state=0).fit(X, y)
    assert bag.oof_pred_.shape == (len(y), 3)
    assert bag.predict_proba(X).shape == (len(y), 3)


def test_sample_weight_reaches_every_fold(binary_data):
    X, y = binary_data
    weights = np.where(y == 1, 10.0, 0.1)
    plain = BaggedOOFEstimator(LogisticRegression(), n_folds=4, random_state=0).fit(X, y)
    weighted = BaggedOOFEstimator(LogisticRegression(), n_folds=4, random_state=0)
    weighted.fit(X, y, sample_weight=weights)
    plan = make_fold_plan(X, y, classifier=True, n_folds=4, random_state=0)
    for (train, _), model in zip(plan, weighted.estimators_):
        reference = LogisticRegression().fit(X[train], y[train], sample_weight=weights[train])
        np.testing.assert_allclose(model.coef_, reference.coef_)
    assert weighted.predict(X).mean() > plain.predict(X).mean()


def test_same_results_with_one_or_two_jobs(binary_data):
    X, y = binary_data
    results = []
    for n_jobs in (1, 2):
        bag = BaggedOOFEstimator(DecisionTreeClassifier(max_features=2), n_folds=4,
                                 random_state=3, n_jobs=n_jobs).fit(X, y)
        results.append((bag.oof_pred_, bag.predict_proba(X)))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_unset_seeds_are_filled_but_fixed_seeds_kept(binary_data):
    X, y = binary_data
    bag = BaggedOOFEstimator(DecisionTreeClassifier(), n_folds=3, random_state=0).fit(X, y)
    seeds = {m.random_state for m in bag.estimators_}
    assert None not in seeds and len(seeds) == 3
    bag = BaggedOOFEstimator(DecisionTreeClassifier(random_state=7), n_folds=3).fit(X, y)
    assert {m.random_state for m in bag.estimators_} == {7}


def test_parallel_folds_cap_inner_threads(binary_data):
    from sklearn.ensemble import RandomForestClassifier

    X, y = binary_data
    bag = BaggedOOFEstimator(RandomForestClassifier(n_estimators=5, n_jobs=-1), n_folds=4,
                             n_jobs=2, random_state=0).fit(X, y)
    from joblib import cpu_count

    expected = max(1, cpu_count() // 2)
    assert {m.n_jobs for m in bag.estimators_} == {expected}


def test_estimator_type_and_methods_follow_the_wrapped_estimator(binary_data):
    X, y = binary_data
    from sklearn.base import is_classifier, is_regressor

    assert is_classifier(BaggedOOFEstimator(LogisticRegression()))
    assert is_regressor(BaggedOOFEstimator(Ridge()))
    assert not hasattr(BaggedOOFEstimator(Ridge()), "predict_proba")
    svc = BaggedOOFEstimator(LinearSVC(), n_folds=3, random_state=0).fit(X, y)
    assert not hasattr(svc, "predict_proba")
    assert svc.oof_method_ == "decision_function"
    assert svc.oof_pred_.shape == (len(y),)
    assert svc.decision_function(X).shape == (len(y),)


def test_classifier_without_probabilities_uses_votes(binary_data):
    X, y = binary_data

    class LabelsOnly(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.tree_ = DecisionTreeClassifier(max_depth=2).fit(X, y)
            self.classes_ = self.tree_.classes_
            return self

        def predict(self, X):
            return self.tree_.predict(X)

    bag = BaggedOOFEstimator(LabelsOnly(), n_folds=3, random_state=0).fit(X, y)
    assert bag.oof_method_ == "predict"
    assert set(np.unique(bag.oof_pred_)) <= {0.0, 1.0}
    votes = np.mean([m.predict(X)[:, None] == bag.classes_ for m in bag.estimators_], axis=0)
    np.testing.assert_array_equal(bag.predict(X), bag.classes_[votes.argmax(axis=1)])


class EarlyStoppingStandIn(ClassifierMixin, BaseEstimator):
    """Stand-in for a boosting family: records the validation rows it was given."""

    def __init__(self, n_rounds=100):
        self.n_rounds = n_rounds

    def fit(self, X, y):
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        self.validation_rows_ = 0
        self.best_round_ = self.n_rounds
        return self

    def fit_with_validation(self, X, y, X_val, y_val):
        self.fit(X, y)
        self.validation_rows_ = len(X_val)
        self.validation_ids_ = X_val[:, 0].copy()
        # Pretend early stopping found its best round from the held-out rows.
        self.best_round_ = 10 + len(X_val) % 7
        return self

    def full_fit_params(self, fold_estimators):
        return {"n_rounds": int(np.mean([m.best_round_ for m in fold_estimators]))}

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


def test_early_stopping_hook_receives_fold_holdout(binary_data):
    X, y = binary_data
    X = np.column_stack([np.arange(len(y)), X])  # first column identifies the row
    bag = BaggedOOFEstimator(EarlyStoppingStandIn(), n_folds=4, random_state=0,
                             refit_full=True).fit(X, y)
    plan = make_fold_plan(X, y, classifier=True, n_folds=4, random_state=0)
    for (_, test), model in zip(plan, bag.estimators_):
        np.testing.assert_array_equal(np.sort(model.validation_ids_), np.sort(test))
    expected_rounds = int(np.mean([m.best_round_ for m in bag.estimators_]))
    assert bag.full_estimator_.n_rounds == expected_rounds
    assert bag.full_estimator_.validation_rows_ == 0
    np.testing.assert_allclose(bag.predict_proba(X), bag.full_estimator_.predict_proba(X))


def test_refit_full_predicts_with_one_model(regression_data):
    X, y = regression_data
    bag = BaggedOOFEstimator(Ridge(), n_folds=4, refit_full=True, random_state=0).fit(X, y)
    np.testing.assert_allclose(bag.predict(X), Ridge().fit(X, y).predict(X))
    assert len(bag.estimators_) == 4


def test_custom_splitter_and_groups(binary_data):
    X, y = binary_data
    groups = np.arange(len(y)) % 10
    bag = BaggedOOFEstimator(LogisticRegression(), cv=GroupKFold(5)).fit(X, y, groups=groups)
    assert len(bag.estimators_) == 5 and bag.oof_mask_.all()
    bag = BaggedOOFEstimator(LogisticRegression(), n_folds=5, random_state=0)
    bag.fit(X, y, groups=groups)
    plan = make_fold_plan(X, y, classifier=True, n_folds=5, groups=groups, random_state=0)
    for train, test in plan:
        assert not set(groups[train]) & set(groups[test])


def test_rows_never_held_out_are_defined_and_flagged(binary_data):
    X, y = binary_data
    test_fold = np.where(np.arange(len(y)) < 150, np.arange(len(y)) % 3, -1)
    with pytest.warns(UserWarning, match="never held out"):
        bag = BaggedOOFEstimator(LogisticRegression(), cv=PredefinedSplit(test_fold)).fit(X, y)
    assert bag.oof_mask_.sum() == 150
    assert np.isfinite(bag.oof_pred_).all()
    np.testing.assert_allclose(bag.oof_pred_[150:], bag.predict_proba(X[150:]))


def test_dataframe_input_is_kept_and_names_checked(binary_data):
    X, y = binary_data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    seen = []

    class RecordsType(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            seen.append(type(X))
            return super().fit(X, y, sample_weight=sample_weight)

    bag = BaggedOOFEstimator(RecordsType(), n_folds=3, random_state=0).fit(frame, y)
    assert seen and all(t is pd.DataFrame for t in seen)
    np.testing.assert_array_equal(bag.feature_names_in_, frame.columns)
    with pytest.raises(ValueError, match="feature names"):
        bag.predict(frame.rename(columns={"f0": "other"}))
    with pytest.raises(ValueError, match="features"):
        bag.predict(X[:, :3])


@pytest.mark.parametrize("make_X", [lambda X: X, lambda X: pd.DataFrame(X)], ids=["array", "frame"])
def test_nan_rejected_when_model_cannot_take_it(binary_data, make_X):
    X, y = binary_data
    X = X.copy()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BaggedOOFEstimator(LogisticRegression()).fit(make_X(X), y)
    from sklearn.ensemble import HistGradientBoostingClassifier

    bag = BaggedOOFEstimator(HistGradientBoostingClassifier(max_iter=5), n_folds=3)
    bag.fit(make_X(X), y)  # a model that handles NaN gets it


def test_bad_input_gets_clear_errors(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="1 sample"):
        BaggedOOFEstimator(LogisticRegression()).fit(X[:1], y[:1])
    with pytest.raises(ValueError, match="only one class"):
        BaggedOOFEstimator(LogisticRegression()).fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="n_folds"):
        BaggedOOFEstimator(LogisticRegression(), n_folds=1).fit(X, y)


def test_rare_class_degrades_to_fewer_folds(binary_data):
    X, y = binary_data
    y = y.copy()
    y[:3] = 2  # a class of 3 members, fewer than 8 folds
    with pytest.warns(UserWarning, match="3 member"):
        bag = BaggedOOFEstimator(LogisticRegression(), n_folds=8, random_state=0).fit(X, y)
    assert len(bag.estimators_) == 3
    y[:3] = y[3:6]
    y[0] = 2  # a single member: still fits, with a warning
    with pytest.warns(UserWarning, match="1 member"):
        bag = BaggedOOFEstimator(DecisionTreeClassifier(), n_folds=5, random_state=0).fit(X, y)
    assert bag.oof_pred_.shape == (len(y), 3)


def test_tiny_data_uses_fewer_folds():
    X = np.arange(8, dtype=float).reshape(4, 2)
    y = np.array([0.0, 1.0, 2.0, 3.0])
    with pytest.warns(UserWarning, match="Only 4 rows"):
        bag = BaggedOOFEstimator(DecisionTreeRegressor(), n_folds=5).fit(X, y)
    assert len(bag.estimators_) == 4


def test_clone_and_pickle_round_trip(binary_data):
    X, y = binary_data
    bag = BaggedOOFEstimator(LogisticRegression(C=0.5), n_folds=3, random_state=0).fit(X, y)
    fresh = clone(bag)
    assert not hasattr(fresh, "estimators_") and fresh.estimator.C == 0.5
    restored = pickle.loads(pickle.dumps(bag))
    np.testing.assert_array_equal(restored.predict_proba(X), bag.predict_proba(X))


def test_scoring_parameter(binary_data):
    X, y = binary_data
    bag = BaggedOOFEstimator(LogisticRegression(), scoring="roc_auc", random_state=0).fit(X, y)
    from sklearn.metrics import roc_auc_score

    assert bag.oof_score_ == pytest.approx(roc_auc_score(y, bag.oof_pred_[:, 1]))


def test_fold_lacking_a_class_gets_zero_probability():
    X = np.arange(20, dtype=float).reshape(10, 2)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bag = BaggedOOFEstimator(DummyClassifier(strategy="prior"), cv=KFold(5)).fit(X, y)
    assert bag.oof_pred_.shape == (10, 3)
    assert (bag.oof_pred_[8:, 2] == 0).all()  # the last fold's models never saw class 2


def test_library_thread_defaults_get_explicit_counts(binary_data):
    lightgbm = pytest.importorskip("lightgbm")
    X, y = binary_data
    bag = BaggedOOFEstimator(lightgbm.LGBMClassifier(n_estimators=5, verbose=-1), n_folds=4,
                             n_jobs=2, random_state=0).fit(X, y)
    from joblib import cpu_count

    # LightGBM reads n_jobs=None as "all cores" and ignores threadpoolctl's OpenMP limit.
    assert {m.n_jobs for m in bag.estimators_} == {max(1, cpu_count() // 2)}
    # scikit-learn reads None as one job: left alone (and no deprecation warning is raised).
    bag = BaggedOOFEstimator(LogisticRegression(), n_folds=3, n_jobs=2).fit(X, y)
    assert {m.n_jobs for m in bag.estimators_} == {None}


def test_deadline_projection_skips_a_bag_that_cannot_finish(binary_data):
    from skstack._utils import BudgetExceeded

    X, y = binary_data
    bag = BaggedOOFEstimator(Slow(delay=0.2), n_folds=5, random_state=0)
    bag._validate_fit_data(X, y)
    start = time.monotonic()
    with pytest.raises(BudgetExceeded, match="first fold took"):
        bag._fit_validated(X, y, {}, None, deadline=time.monotonic() + 0.5)
    assert time.monotonic() - start < 0.5  # stopped after the first fold
    fitted = bag._fit_validated(X, y, {}, None, deadline=time.monotonic() + 5)
    assert len(fitted.estimators_) == 5
    # A limit past the projected end lets the bag borrow the time instead of being skipped.
    fitted = bag._fit_validated(X, y, {}, None, deadline=time.monotonic() + 0.5,
                                limit=time.monotonic() + 5)
    assert len(fitted.estimators_) == 5


def test_the_projection_counts_a_refit_on_every_row_as_more_than_a_fold(binary_data):
    from skstack._utils import BudgetExceeded

    X, y = binary_data
    bag = BaggedOOFEstimator(Slow(delay=0.5), n_folds=2, refit_full=True, random_state=0)
    bag._validate_fit_data(X, y)
    # Two folds train on half of the rows each, the refit on all: the first fold (0.5 s)
    # projects one more fold and a refit twice as long, 1.5 s, past 1.75 s from the start.
    with pytest.raises(BudgetExceeded, match=r"the rest \(3 times that\)"):
        bag._fit_validated(X, y, {}, None, deadline=time.monotonic() + 1.75)
    bag.set_params(refit_full=False)
    assert len(bag._fit_validated(X, y, {}, None, deadline=time.monotonic() + 1.75)
               .estimators_) == 2


class _Float32Probabilities(ClassifierMixin, BaseEstimator):
    """Logistic regression whose probabilities come back as float32, as XGBoost's do."""

    def fit(self, X, y):
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X).astype(np.float32)

    def predict(self, X):
        return self.model_.predict(X)


def test_float32_probabilities_are_rescaled_to_sum_to_one():
    rng = np.random.RandomState(0)
    X = rng.rand(200, 4)
    y = rng.randint(0, 5, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log loss warns on rows that do not sum to one
        bag = BaggedOOFEstimator(_Float32Probabilities(), scoring="neg_log_loss",
                                 random_state=0).fit(X, y)
        proba = bag.predict_proba(X)
    assert bag.oof_pred_.dtype == np.float64
    np.testing.assert_allclose(bag.oof_pred_.sum(1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=0, atol=1e-12)


class _Fragmenting(ClassifierMixin, BaseEstimator):
    """Allocates 250 MB in 64 KB pieces while fitting and keeps a tenth, as boosters do."""

    def fit(self, X, y):
        pieces = [np.ones(8000) for _ in range(4000)]
        self.kept_ = pieces[::10]
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X):
        return self.classes_[np.zeros(len(X), dtype=int)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_what_a_fold_model_freed_goes_back_to_the_system(n_jobs):
    # The freed pieces sit between kept ones: glibc would keep them in the process.
    import psutil

    X, y = np.zeros((40, 2)), np.tile([0, 1], 20)
    process = psutil.Process()
    before = process.memory_info().rss
    bag = BaggedOOFEstimator(_Fragmenting(), n_folds=4, n_jobs=n_jobs, random_state=0)
    bag.fit(X, y)
    grown = (process.memory_info().rss - before) / 2**20
    kept = 4 * 400 * 8000 * 8 / 2**20  # 98 MB
    assert grown < kept + 60
