"""K-fold bagging with out-of-fold predictions: :class:`BaggedOOFEstimator` and its fold helpers.

Beyond its public API, a fitted bag offers :mod:`skstack.auto` a small semi-private
interface (``AUTO_INTERFACE``; ``tests/test_stacking.py`` checks that ``auto`` uses no
other private method): ``_preprocess(X)`` (the bag's fitted preprocessing), ``_models()``
(the models that predict: the fold models, or the refitted one), ``_average_models(X,
models, method=None, store=None)`` (their mean aligned output on preprocessed rows) and
``_add_full_model(X, y, fit_params)`` (the all-rows model fitted after the fact, for
``refit_full()``).
"""

import math
import time
import warnings
from contextlib import nullcontext
from copy import copy
from numbers import Integral
from time import perf_counter

import numpy as np
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    _fit_context,
    clone,
    is_classifier,
)
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils._tags import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _num_samples,
    check_consistent_length,
    check_is_fitted,
)

from ._cluster import on_cluster
from ._folds import make_fold_plan
from ._scoring import resolve_scorer, score_predictions
from ._utils import (
    SEED_MAX,
    BudgetExceeded,
    ScoreMixin,
    index_params,
    release_freed_memory,
    thread_budget,
    thread_limit,
    validate_X,
    validate_y,
)

__all__ = ["BaggedOOFEstimator"]  # helpers below are shared with StackLayer

# The private methods skstack.auto may call (see the module's docstring).
AUTO_INTERFACE = ("_preprocess", "_models", "_average_models", "_add_full_model")

def with_max_time(template, seconds):
    """``template``, or a clone whose ``max_time`` (when it has one) is at most ``seconds``.

    Models with a ``max_time`` parameter (:class:`~skstack.families.FamilyModel`) stop
    training at that point and keep what they trained; others are returned as they are.
    """
    params = template.get_params(deep=False)
    if "max_time" not in params:
        return template
    current = params["max_time"]
    seconds = max(0.0, seconds)
    return clone(template).set_params(
        max_time=seconds if current is None else min(current, seconds)
    )


# --------------------------------------------------------------------------------------------
# Fold helpers (module level so that joblib can ship them to workers)
# --------------------------------------------------------------------------------------------


def response_method(estimator):
    """The method whose output becomes the OOF prediction: probabilities first, like stacking."""
    if not is_classifier(estimator):
        return "predict"
    for method in ("predict_proba", "decision_function"):
        if hasattr(estimator, method):
            return method
    return "predict"


def _prepare(template, seed, threads):
    """Clone ``template`` with unset seeds filled and thread counts capped to ``threads``.

    A seed the user fixed is kept; an unset one is derived from the bag's ``random_state`` so
    that results do not depend on ``n_jobs``. Every ``n_jobs`` of the wrapped estimator, at any
    nesting depth, that could use more than ``threads`` is set to ``threads``, so that
    parallel folds never oversubscribe the CPUs.
    """
    estimator = clone(template)
    params = estimator.get_params(deep=True)
    updates = {}
    for key, value in params.items():
        prefix, _, name = key.rpartition("__")
        owner = params[prefix] if prefix else estimator
        if name == "random_state" and value is None:
            updates[key] = seed
        elif name == "n_jobs" and _uses_more_threads(owner, value, threads):
            updates[key] = threads
    if updates:
        estimator.set_params(**updates)
    return estimator


def _uses_more_threads(owner, n_jobs, threads):
    if n_jobs is None:
        # scikit-learn reads None as one job. LightGBM and XGBoost read it as "all cores" and
        # then ignore threadpoolctl's OpenMP limit: two such folds in parallel on two cores
        # can run a hundred times slower, so they get an explicit count. The class whose
        # __init__ declares n_jobs tells whose convention applies (user subclasses included).
        declaring = next(c for c in type(owner).__mro__ if "__init__" in vars(c))
        return not declaring.__module__.startswith("sklearn.")
    return isinstance(n_jobs, Integral) and (n_jobs < 1 or n_jobs > threads)


def predict_aligned(estimator, X, method, n_classes):
    """Predictions of one fitted model, with classifier columns aligned to all class codes.

    Classifiers (trained on codes ``0..n_classes-1``) give ``(n_samples, n_classes)``
    probabilities or vote fractions (a fold that lacked a class gives it probability 0), or
    decision values; regressors (``n_classes=None``) give values.
    """
    if n_classes is None:
        return np.asarray(estimator.predict(X), dtype=np.float64)
    if method == "predict":
        codes = np.asarray(estimator.predict(X), dtype=np.intp)
        return np.eye(n_classes)[codes]
    raw = np.asarray(getattr(estimator, method)(X))
    values = raw.astype(np.float64)
    if method == "predict_proba" and raw.dtype.kind == "f" and raw.dtype.itemsize < 8:
        # float32 rows (XGBoost's) sum to one within 1e-7: log loss warns that they do
        # not, at every scoring of the OOF predictions. Rescaled in float64 they do.
        sums = values.sum(axis=1, keepdims=True)
        values = np.divide(values, sums, out=values, where=sums > 0)
    if method == "decision_function" and len(estimator.classes_) != n_classes:
        raise ValueError(
            f"A fold model saw only {len(estimator.classes_)} of {n_classes} classes; decision "
            "values cannot be aligned. Use fewer folds or a model with predict_proba."
        )
    return align_columns(values, estimator.classes_, n_classes)


def _shared_input(models, X, store=None, key=None):
    """``X`` prepared once for all ``models`` where they can share it, else ``X``.

    Fold models of a :class:`~skstack.families.FamilyModel` are clones fitted on the same
    columns after the bag's shared preprocessing: their input checks and conversion
    (:meth:`~skstack.families.FamilyModel.prepare_input`) are the same for all. With a
    ``store`` (a dict a layer keeps for one prediction), bags of the same family over the
    same preprocessing (``key``) share it too.
    """
    first = models[0]
    if not hasattr(first, "prepare_input") or first.preprocessor_ is not None:
        return X
    if store is None:
        return first.prepare_input(X) if len(models) > 1 else X
    key = (key, first.family_.name, first.n_features_in_)
    if key not in store:
        store[key] = first.prepare_input(X)
    return store[key]


def align_columns(values, codes, n_classes):
    """Spread the columns of a model that saw only class ``codes`` over all ``n_classes``.

    A class the model never saw gets probability 0.
    """
    if len(codes) == n_classes:
        return values
    aligned = np.zeros((values.shape[0], n_classes))
    aligned[:, np.asarray(codes, dtype=np.intp)] = values
    return aligned


class RowsOnDemand:
    """A fitted preprocessing's output, computed for the rows a fold model reads when it
    reads them.

    Under a plan of one holdout split, each model reads two blocks of rows: the training
    rows and the held-out ones. Computed for every row at once, a wide output (one-hot
    columns) would be held whole plus a copy of most of it, the training block; computed
    per block from the narrow input, only the block being read is. A row's output does not
    depend on the other rows, so the blocks are those of the whole output.
    """

    def __init__(self, preprocessor, X):
        self.preprocessor = preprocessor
        self.X = X

    def __len__(self):
        return _num_samples(self.X)

    def take(self, rows):
        return self.preprocessor.transform(_safe_indexing(self.X, rows))

    def whole(self):
        return self.preprocessor.transform(self.X)


def take_rows(X, rows):
    """The rows ``rows`` of ``X``, an array, a frame or :class:`RowsOnDemand`."""
    return X.take(rows) if isinstance(X, RowsOnDemand) else _safe_indexing(X, rows)


def fit_fold(template, X, y, train, test, fit_params, seed, threads, method, n_classes):
    """Fit one fold model and predict its held-out rows.

    A model with a ``fit_with_validation(X, y, X_val, y_val, **fit_params)`` method receives
    the held-out rows, so that it can early-stop on them, and one with a
    ``training_rows(y)`` method the training rows it keeps, taken before ``X`` (a
    :class:`RowsOnDemand`) computes them (see :class:`BaggedOOFEstimator`).
    """
    estimator = _prepare(template, seed, threads)
    n_samples = _num_samples(X)
    y_train = _safe_indexing(y, train)
    kept = estimator.training_rows(y_train) if hasattr(estimator, "training_rows") else None
    if kept is not None:
        train, y_train = train[kept], _safe_indexing(y_train, kept)
    X_train = take_rows(X, train)
    params = index_params(fit_params, train, n_samples)
    X_test = take_rows(X, test)
    with thread_limit(threads):
        start = perf_counter()
        if len(test) and hasattr(estimator, "fit_with_validation"):
            estimator.fit_with_validation(
                X_train, y_train, X_test, _safe_indexing(y, test), **params
            )
        else:
            estimator.fit(X_train, y_train, **params)
        fit_time = perf_counter() - start
        pred = predict_aligned(estimator, X_test, method, n_classes) if len(test) else None
    del X_train, y_train, X_test
    release_freed_memory()
    return estimator, pred, fit_time


def _oof_sums(n_samples, tests, preds):
    """Sum of the held-out predictions of every row, and their count (None: not made)."""
    first = next(p for p in preds if p is not None)
    total = np.zeros((n_samples,) + first.shape[1:])
    counts = np.zeros(n_samples)
    for test, pred in zip(tests, preds):
        if pred is not None:
            total[test] += pred
            counts[test] += 1
    return total, counts


def _n_classes(bag):
    return len(bag.classes_) if hasattr(bag, "classes_") else None


def _estimator_has(attr):
    """Delegate availability of a method to the fitted fold models, else to ``estimator``."""

    def check(self):
        if hasattr(self, "estimators_"):
            return hasattr(self.estimators_[0], attr)
        return hasattr(self.estimator, attr)

    return check


# --------------------------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------------------------


class BaggedOOFEstimator(ScoreMixin, MetaEstimatorMixin, BaseEstimator):
    """K-fold bagging of one estimator, keeping every fold model and its out-of-fold predictions.

    The training rows are split into ``n_folds`` folds (stratified for classifiers, on binned
    targets for regressors), optionally repeated with new shuffles. One clone of
    ``estimator`` is trained per fold on the other folds and predicts the held-out fold, so
    that every training row gets an out-of-fold (OOF) prediction from models that never saw
    it (``oof_pred_``). At predict time the fold models are averaged (soft voting for
    classifiers); no model is refitted on all rows unless ``refit_full=True``.

    The bag is a classifier or a regressor, following ``estimator``.

    Read more in the :ref:`User Guide <bagging>`.

    Parameters
    ----------
    estimator : estimator object
        The model to bag. It is cloned for every fold. If it has a method
        ``fit_with_validation(X, y, X_val, y_val, **fit_params)``, that method is called
        instead of ``fit``, with the fold's held-out rows as ``X_val, y_val``: this is the
        hook for early stopping on the fold holdout. If it also has
        ``full_fit_params(fold_estimators)``, the returned parameters are set on the model
        refitted on all rows (e.g. the mean early-stopped iteration count). If it has
        ``shared_preprocessing()``, returning an unfitted transformer and the estimator to
        fit on its output, the transformer is fitted once on all rows and the fold models
        train on its output: unsupervised preprocessing (imputation, encoding, scaling)
        done once instead of per fold, at fit and at predict. If it has
        ``training_rows(y)``, each fold model trains on the training rows it returns
        (positions among the fold's, or None for all), sampled before the preprocessing
        is applied to them (:class:`~skstack.families.FamilyModel`'s ``max_rows``).

    n_folds : int or "auto", default="auto"
        Folds per repeat. ``"auto"`` uses ``min(8, max(5, n_samples // 10))``. When there are
        fewer rows, groups, or members of the rarest class than folds, fewer folds are used and
        a warning says so.

    n_repeats : int, default=1
        Number of k-fold repeats with different shuffles; OOF predictions are averaged over
        repeats.

    cv : int, cross-validation generator or iterable, default=None
        A splitter to use instead of the built-in folds (``n_folds`` and ``n_repeats`` are
        then ignored). Rows that it never holds out get the average prediction of the fold
        models that saw them, are flagged in ``oof_mask_`` and left out of ``oof_score_``.

    scoring : str or callable, default=None
        Scorer for ``oof_score_``; None means accuracy for classifiers and R² for
        regressors.

    refit_full : bool, default=False
        Also fit one model on all rows and predict with it alone (faster inference; AutoGluon's
        ``refit_full``). The fold models and OOF predictions are kept.

    native_oof : bool, default=True
        If ``estimator`` has a ``fit_oof(X, y, **fit_params)`` method returning its own
        out-of-fold predictions of the training rows (out-of-bag for random forests,
        leave-one-out for KNN), train that one model instead of ``k`` fold models. Not used
        with ``cv`` or ``groups``, which such predictions would not respect.

    n_jobs : int, default=None
        Number of folds fitted in parallel through joblib, in threads unless a
        :obj:`joblib.parallel_config` context names another backend (processes, a Dask or
        Ray cluster). ``None`` means 1 unless in such a context; ``-1`` means all usable
        CPUs. Each parallel fold gets an equal share of the CPUs: ``n_jobs`` parameters of
        the wrapped estimator and BLAS/OpenMP pools are capped to it.

    random_state : int, RandomState instance or None, default=None
        Seeds the fold shuffles and every unset ``random_state`` of the fold models, so that
        results do not depend on ``n_jobs``.

    verbose : int, default=0
        joblib verbosity.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted fold models, repeat after repeat. Classifiers are trained on the class
        codes ``0..n_classes-1`` (encoded once, as in
        :class:`~sklearn.ensemble.StackingClassifier`); ``classes_`` maps codes to labels.

    full_estimator_ : estimator
        The model fitted on all rows; only when ``refit_full=True``.

    preprocessor_ : transformer or None
        The preprocessing shared by the fold models (see ``estimator``), or None.

    oof_pred_ : ndarray of shape (n_samples,) or (n_samples, n_classes)
        Out-of-fold predictions of the training rows: class probabilities (or vote
        fractions, or decision values, per ``oof_method_``) for classifiers, values for
        regressors; averaged over repeats.

    oof_mask_ : ndarray of shape (n_samples,), dtype=bool
        True for rows whose ``oof_pred_`` is truly out-of-fold.

    oof_score_ : float
        ``scoring`` evaluated on the OOF predictions of the masked rows.

    oof_method_ : str
        ``"predict_proba"``, ``"decision_function"`` or ``"predict"``: what was averaged.

    fold_fit_times_ : ndarray of shape (n_splits,)
        Seconds spent in each fold model's fit.

    fit_time_ : float
        Wall seconds of the whole :meth:`fit`.

    classes_ : ndarray of shape (n_classes,)
        Class labels (classifiers only).

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during :meth:`fit`, when they are all strings.

    See Also
    --------
    StackLayer : Bags several models over the same folds and outputs their predictions.
    sklearn.ensemble.BaggingClassifier : Bootstrap bagging without OOF stacking features.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skstack import BaggedOOFEstimator
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> bag = BaggedOOFEstimator(DecisionTreeClassifier(max_depth=3), n_folds=5,
    ...                          random_state=0).fit(X, y)
    >>> len(bag.estimators_), bag.oof_pred_.shape
    (5, (569, 2))
    >>> round(bag.oof_score_, 2)
    0.93
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "n_folds": [StrOptions({"auto"}), Interval(Integral, 2, None, closed="left")],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "cv": ["cv_object", None],
        "scoring": [None, str, callable],
        "refit_full": ["boolean"],
        "native_oof": ["boolean"],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        *,
        n_folds="auto",
        n_repeats=1,
        cv=None,
        scoring=None,
        refit_full=False,
        native_oof=True,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.n_folds = n_folds
        self.n_repeats = n_repeats
        self.cv = cv
        self.scoring = scoring
        self.refit_full = refit_full
        self.native_oof = native_oof
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ---- fitting -----------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, sample_weight=None, groups=None, **fit_params):
        """Fit one model per fold and record the out-of-fold predictions.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training input. DataFrames are passed to the fold models as they are.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, sliced to every fold model's rows and used in ``oof_score_``.
        groups : array-like of shape (n_samples,), default=None
            Group labels: grouped folds, or the ``groups`` of a ``cv`` splitter.
        **fit_params : dict
            Other parameters of ``estimator.fit``; per-row arrays are sliced to each fold.

        Returns
        -------
        self : object
            The fitted bag.
        """
        X, y = self._validate_fit_data(X, y)
        if sample_weight is not None:
            fit_params["sample_weight"] = sample_weight
        return self._fit_validated(X, y, fit_params, groups)

    def _fit_validated(self, X, y, fit_params, groups, plan=None, deadline=None, shared=None,
                       fill_uncovered=True, limit=None):
        """Fit validated data: one native-OOF model, or fold models over ``plan``.

        A :class:`StackLayer` passes the plan it shares among its bags. With a ``deadline``
        (a :func:`time.monotonic` value), models with a ``max_time`` get their share of the
        time left, and after the first fold the bag raises :class:`BudgetExceeded` if the
        other folds project past the deadline (the time-budgeted fits of ``skstack.auto``);
        a later ``limit`` lets them end up to it rather than be skipped or shortened.
        ``shared`` is the layer's store of fitted preprocessing, by what it computes.
        ``fill_uncovered=False`` leaves NaN in ``oof_pred_`` for rows that no fold held out,
        instead of predicting them with the models that saw them (a holdout split whose
        training rows' predictions nobody reads: predicting them is costly, and untimed).
        """
        native = self._native_oof_applies(groups)
        # One holdout split, no refit on all rows: a model reads two blocks of rows only.
        blocks = plan is not None and len(plan) == 1 and not native and not self.refit_full
        Xp, template = self._fit_preprocessing(X, shared, rows_on_demand=blocks)
        if native:
            return self._fit_native(Xp, y, fit_params, template, deadline)
        if plan is None:
            plan = make_fold_plan(
                X,
                y,
                classifier=is_classifier(self.estimator),
                n_folds=self.n_folds,
                n_repeats=self.n_repeats,
                cv=self.cv,
                groups=groups,
                random_state=self.random_state,
            )
        return self._fit_plan(Xp, y, plan, fit_params, template, deadline, fill_uncovered,
                              limit)

    def _split_preprocessing(self):
        """The unfitted shared preprocessing (or None) and the template of the fold models."""
        if hasattr(self.estimator, "shared_preprocessing"):
            return self.estimator.shared_preprocessing()
        return None, self.estimator

    def _fit_preprocessing(self, X, shared=None, rows_on_demand=False):
        """Fit the shared preprocessing (or take it from ``shared``); return its output.

        Bags of one layer see the same rows, so equal preprocessing (keyed by its repr,
        which states every parameter) is fitted once and the bags hold the same object,
        which the layer then applies once per prediction. With ``rows_on_demand`` (a
        holdout plan), a preprocessing that says it pays (``rows_on_demand(n_rows)``)
        gives a :class:`RowsOnDemand` instead of its whole output.
        """
        preprocessor, template = self._split_preprocessing()
        if preprocessor is None:
            self.preprocessor_ = None
            return X, template
        key = f"{type(preprocessor).__module__}.{preprocessor!r}"
        if shared is not None and key in shared:
            self.preprocessor_, Xp = shared[key]
        else:
            self.preprocessor_ = preprocessor
            on_demand = getattr(preprocessor, "rows_on_demand", None)
            if rows_on_demand and on_demand is not None and on_demand(_num_samples(X)):
                Xp = RowsOnDemand(preprocessor.fit(X), X)
            else:
                Xp = preprocessor.fit_transform(X)
            if shared is not None:
                shared[key] = (preprocessor, Xp)
        if isinstance(Xp, RowsOnDemand) and not rows_on_demand:
            # A bag that reads every row: computed once, for the layer's other bags too.
            Xp = Xp.whole()
            if shared is not None:
                shared[key] = (self.preprocessor_, Xp)
        return Xp, template

    def _preprocess(self, X):
        return X if self.preprocessor_ is None else self.preprocessor_.transform(X)

    def _adopt_validation(self, layer):
        """Take the input attributes (feature count and names, classes) of a layer that
        validated ``X`` and ``y`` for all of its bags, at least as strictly as each bag
        would: validated once, not once per bag (the labels' checks over 5 million rows,
        for each of the portfolio's 41 models, took 11 s)."""
        self.n_features_in_ = layer.n_features_in_
        if hasattr(layer, "feature_names_in_"):
            self.feature_names_in_ = layer.feature_names_in_
        if is_classifier(self.estimator):
            self.classes_ = layer.classes_

    def _validate_fit_data(self, X, y):
        classifier = is_classifier(self.estimator)
        allow_nan = get_tags(self.estimator).input_tags.allow_nan
        X = validate_X(self, X, reset=True, allow_nan=allow_nan)
        y, classes = validate_y(y, classifier=classifier)
        check_consistent_length(X, y)
        if classifier:
            self.classes_ = classes
        return X, y

    def _fit_plan(self, X, y, plan, fit_params, template, deadline=None, fill_uncovered=True,
                  limit=None):
        """Fit one model per fold of ``plan`` on preprocessed ``X``; assemble the OOF."""
        start = perf_counter()
        self.oof_method_ = response_method(self.estimator)
        rng = check_random_state(self.random_state)
        seeds = rng.randint(SEED_MAX, size=len(plan) + 1)
        results, template = self._train_folds(template, X, y, plan, fit_params, seeds,
                                              deadline, self.refit_full, limit)
        self.estimators_ = [estimator for estimator, _, _ in results]
        self._native_fit = False
        self.fold_fit_times_ = np.array([fit_time for _, _, fit_time in results])
        self._set_oof(X, [test for _, test in plan], [pred for _, pred, _ in results],
                      fill_uncovered)
        if self.refit_full:
            self.full_estimator_ = self._fit_full(X, y, fit_params, seeds[-1], template)
        return self._finish(y, fit_params, start)

    def _train_folds(self, template, X, y, plan, fit_params, seeds, deadline, extra_rounds,
                     limit=None):
        """The ``(model, predictions, seconds)`` of every fold, and the template used last.

        With a ``deadline``, the rounds of parallel folds and ``extra_rounds`` more (the
        refit) share the time equally; the first fold projects the others (``_replan``,
        which lets them end up to ``limit``). A refit trains on every row, more than a
        fold's: it counts as that many times a fold (2 with two folds).
        """
        workers, threads = thread_budget(self.n_jobs, len(plan))
        if deadline is None:
            results = self._fit_folds(template, X, y, plan, fit_params, seeds, workers, threads)
            return results, template
        # Each round gets an equal share of the time, less a margin for what max_time does
        # not count (preprocessing, predicting).
        rounds = math.ceil(len(plan) / workers) + extra_rounds
        template = with_max_time(template, 0.85 * (deadline - time.monotonic()) / rounds)
        first_start = time.monotonic()
        results = self._fit_folds(template, X, y, plan[:1], fit_params, seeds, 1, threads)
        refit = extra_rounds * _num_samples(X) / max(1, len(plan[0][0]))
        template = self._replan(template, time.monotonic() - first_start,
                                rounds - 1 - extra_rounds + refit, deadline, first_start, limit)
        results += self._fit_folds(
            template, X, y, plan[1:], fit_params, seeds[1:], workers, threads
        )
        return results, template

    def _add_repeat(self, X, y, plan, fit_params, deadline=None):
        """Train the folds of one more repeat, ``plan``, and average in their OOF predictions.

        AutoGluon's bag sets: another shuffle of the folds gives each row one more
        out-of-fold prediction, and new fold models to average at predict time, which
        lowers the variance of both. ``X`` is preprocessed (``_preprocess``) and ``y`` holds
        class codes, as in ``_fit_plan``; ``plan`` must hold out every row, as the first
        repeat did. The bag is left as it was when the repeat raises (BudgetExceeded).
        """
        check_is_fitted(self)
        if self._native_fit or not self.oof_mask_.all():
            raise ValueError("Only a bag of fold models that hold out every row can repeat.")
        start = perf_counter()
        n_before = len(self.estimators_)
        rng = check_random_state(self.random_state)
        seeds = rng.randint(SEED_MAX, size=n_before + 1 + len(plan))[n_before + 1:]
        template = self._split_preprocessing()[1]
        results, _ = self._train_folds(template, X, y, plan, fit_params, seeds, deadline, 0)
        total, counts = _oof_sums(_num_samples(X), [test for _, test in plan],
                                  [pred for _, pred, _ in results])
        if not (counts > 0).all():
            raise ValueError("The repeat's plan leaves rows out: every row must be held out.")
        shape = (-1,) + (1,) * (total.ndim - 1)
        previous = self._oof_counts
        self.oof_pred_ = (self.oof_pred_ * previous.reshape(shape) + total) / (
            previous + counts).reshape(shape)
        self._oof_counts = previous + counts
        self.estimators_ = self.estimators_ + [estimator for estimator, _, _ in results]
        self.fold_fit_times_ = np.concatenate(
            [self.fold_fit_times_, [fit_time for _, _, fit_time in results]])
        self.oof_score_ = self._score_oof(y, fit_params.get("sample_weight"))
        self.fit_time_ += perf_counter() - start
        return self

    def _fit_folds(self, template, X, y, plan, fit_params, seeds, workers, threads):
        """Fit the folds of ``plan``, ``workers`` at a time with ``threads`` each.

        Threads by default: the fold models release the GIL while they train, and threads
        share ``X`` and the imported libraries, where each worker process would hold copies
        of both (one that imports torch holds 700 MB). The threads' share of the BLAS and
        OpenMP pools is set once around them. A joblib backend the user configures (dask,
        ray, loky) still applies.
        """
        n_classes = _n_classes(self)
        # On a Dask cluster inside a layer's fit: each sent once for all of its bags.
        X, y = on_cluster(X, y)
        plan = [on_cluster(train, test) for train, test in plan]
        with thread_limit(threads) if workers > 1 else nullcontext():
            return Parallel(n_jobs=workers, verbose=self.verbose, prefer="threads")(
                delayed(fit_fold)(
                    template, X, y, train, test, fit_params, seed, threads, self.oof_method_,
                    n_classes,
                )
                for (train, test), seed in zip(plan, seeds)
            )

    def _replan(self, template, first_fold_time, rounds_left, deadline, first_start,
                limit=None):
        """The template for the other folds, or :class:`BudgetExceeded` if they cannot finish.

        The first fold's time projects the others. When that ends past the deadline (with
        10% of the bag's allowance as slack, so that models cut at their share are kept; or
        up to a later ``limit``: time the caller lets the bag borrow) and the model has a
        ``max_time``, the other folds get a shorter one: the time left per round to the
        deadline less what the first fold spent outside training (preprocessing,
        predicting). A model left with under a quarter of its first share is skipped.
        """
        if rounds_left == 0:  # a single fold (a holdout): done, whatever it cost
            return template
        now = time.monotonic()
        projected_end = now + first_fold_time * rounds_left
        slack_end = deadline + 0.1 * max(0.0, deadline - first_start)
        if projected_end <= (slack_end if limit is None else max(slack_end, limit)):
            return template
        max_time = template.get_params(deep=False).get("max_time")
        if max_time:
            overhead = max(0.0, first_fold_time - max_time)
            per_round = (deadline - now) / rounds_left - overhead
            if per_round >= 0.25 * max_time:
                return with_max_time(template, per_round)
        raise BudgetExceeded(
            f"The first fold took {first_fold_time:.2f} s; the rest ({rounds_left:.3g} times "
            f"that) would end {projected_end - deadline:.1f} s past the deadline.",
            first_fold_time,
        )

    def _native_oof_applies(self, groups):
        """Whether one model with its own OOF predictions replaces the k fold models."""
        return (
            self.native_oof
            and self.cv is None
            and groups is None
            and hasattr(self.estimator, "fit_oof")
        )

    def _fit_native(self, X, y, fit_params, template, deadline=None):
        """Fit one model that computes its own OOF predictions (out-of-bag, leave-one-out)."""
        start = perf_counter()
        self.oof_method_ = response_method(self.estimator)
        seed = check_random_state(self.random_state).randint(SEED_MAX)
        _, threads = thread_budget(self.n_jobs, 1)
        if deadline is not None:
            template = with_max_time(template, 0.9 * (deadline - time.monotonic()))
        estimator = _prepare(template, seed, threads)
        with thread_limit(threads):
            fit_start = perf_counter()
            oof = estimator.fit_oof(X, y, **fit_params)
            self.fold_fit_times_ = np.array([perf_counter() - fit_start])
        oof = np.asarray(oof, dtype=np.float64)
        if hasattr(self, "classes_"):
            oof = align_columns(oof, estimator.classes_, len(self.classes_))
        self.estimators_ = [estimator]
        self._native_fit = True
        # Rows the model could not predict out-of-fold (never out of bag) come back as NaN.
        covered = np.flatnonzero(np.isfinite(oof.reshape(len(oof), -1)).all(axis=1))
        self._set_oof(X, [covered], [oof[covered]])
        if self.refit_full:
            self.full_estimator_ = estimator  # it was trained on all rows already
        return self._finish(y, fit_params, start)

    def _finish(self, y, fit_params, start):
        self.oof_score_ = self._score_oof(y, fit_params.get("sample_weight"))
        self.fit_time_ = perf_counter() - start
        return self

    def _set_oof(self, X, tests, preds, fill_uncovered=True):
        total, counts = _oof_sums(_num_samples(X), tests, preds)
        self.oof_mask_ = counts > 0
        uncovered = ~self.oof_mask_
        if uncovered.any() and not fill_uncovered:
            total[uncovered] = np.nan
            counts[uncovered] = 1
        elif uncovered.any():
            warnings.warn(
                f"{uncovered.sum()} training rows were never held out: their oof_pred_ is the "
                "average of fold models that saw them (not out-of-fold), and they are left "
                "out of oof_score_ (see oof_mask_).",
                UserWarning,
                stacklevel=3,
            )
            total[uncovered] = self._average_models(
                take_rows(X, np.flatnonzero(uncovered)), self.estimators_
            )
            counts[uncovered] = 1
        self._oof_counts = counts  # predictions per row: how later repeats average in
        self.oof_pred_ = total / counts.reshape((-1,) + (1,) * (total.ndim - 1))

    def _score_oof(self, y, sample_weight):
        default = "accuracy" if is_classifier(self.estimator) else "r2"
        scorer = resolve_scorer(self.scoring, default)
        mask = self.oof_mask_
        response = "decision" if self.oof_method_ == "decision_function" else "proba"
        if hasattr(self, "classes_"):
            y = self.classes_[y]
        return score_predictions(
            scorer,
            y[mask],
            self.oof_pred_[mask],
            classes=getattr(self, "classes_", None),
            response=response,
            sample_weight=None if sample_weight is None else np.asarray(sample_weight)[mask],
        )

    def _add_full_model(self, X, y, fit_params):
        """Fit the all-rows model after the fact and predict with it (``refit_full``).

        ``X`` and ``y`` (class codes) are the validated training rows of the fit. A native-OOF
        model was trained on all rows already and serves as it is.
        """
        check_is_fitted(self)
        if self._native_fit:
            self.full_estimator_ = self.estimators_[0]
        else:
            seed = check_random_state(self.random_state).randint(SEED_MAX)
            self.full_estimator_ = self._fit_full(self._preprocess(X), y, fit_params, seed)
        self.refit_full = True
        return self

    def _fit_full(self, X, y, fit_params, seed, template=None):
        _, threads = thread_budget(self.n_jobs, 1)
        if template is None:
            template = self._split_preprocessing()[1]
        estimator = _prepare(template, seed, threads)
        if hasattr(self.estimator, "full_fit_params"):
            estimator.set_params(**self.estimator.full_fit_params(self.estimators_))
        with thread_limit(threads):
            return estimator.fit(X, y, **fit_params)

    # ---- prediction --------------------------------------------------------------------

    def _models(self):
        return [self.full_estimator_] if self.refit_full else self.estimators_

    def _average(self, X, method=None):
        """Mean aligned output of the predicting models on validated ``X``."""
        return self._average_models(self._preprocess(X), self._models(), method)

    def _average_models(self, X, models, method=None, store=None):
        """Mean aligned output of ``models`` on preprocessed ``X`` (``store``: see
        ``_shared_input``; ``X`` is then the output of ``preprocessor_``)."""
        method = method or self.oof_method_
        X = _shared_input(models, X, store, id(self.preprocessor_))
        total = None
        for estimator in models:
            pred = predict_aligned(estimator, X, method, _n_classes(self))
            total = pred if total is None else total + pred
        return total / len(models)

    def _predict_values(self, X, method=None):
        check_is_fitted(self)
        allow_nan = get_tags(self.estimator).input_tags.allow_nan
        return self._average(validate_X(self, X, reset=False, allow_nan=allow_nan), method)

    def predict(self, X):
        """Predict with the average of the fold models (or the full refit).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Class labels (argmax of the averaged probabilities) or regression values.
        """
        values = self._predict_values(X)
        if not is_classifier(self):
            return values
        if values.ndim == 1:
            return self.classes_[(values > 0).astype(np.intp)]
        return self.classes_[np.argmax(values, axis=1)]

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities averaged over the fold models.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        return self._predict_values(X, "predict_proba")

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision values averaged over the fold models.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Averaged decision values of the fold models.
        """
        return self._predict_values(X, "decision_function")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = copy(inner.classifier_tags)
        tags.regressor_tags = copy(inner.regressor_tags)
        if tags.classifier_tags is not None:
            # Folds are stratified on a 1-D target: multilabel targets are not supported.
            tags.classifier_tags.multi_label = False
        tags.target_tags.required = True
        tags.target_tags.multi_output = False
        tags.target_tags.single_output = True
        for name in ("allow_nan", "sparse", "categorical", "string"):
            setattr(tags.input_tags, name, getattr(inner.input_tags, name))
        return tags
