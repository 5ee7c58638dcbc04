"""The one adapter shape every model family uses: :class:`Family` and :class:`FamilyModel`.

A :class:`Family` is a declarative record: how to recognise the family's estimators, which
preprocessing they need, which parameter sets their threads, which parameters keep them
quiet, and (for boosting) how to early-stop on a validation set and read back the best
iteration. :class:`FamilyModel` wraps any estimator, looks its family up, and brings the
preprocessing, the early stopping on the fold holdout that :class:`~skstack.BaggedOOFEstimator`
hands it, and the thread setting. Adding a family is adding one :class:`Family` record.
"""

import importlib
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from joblib import parallel_config
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils._tags import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_y,
    _num_samples,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    has_fit_parameter,
    validate_data,
)

from .._folds import covering_sample
from .._utils import ScoreMixin, index_params
from ._hard_stop import fit_in_own_process, fit_with_hard_stop, warm_up_worker
from ._preprocessing import check_frame, make_preprocessor

__all__ = [
    "EarlyStopping",
    "Family",
    "FamilyModel",
    "NativeOOF",
    "PreparedInput",
    "family_of",
    "register_family",
]

# Batches up to this size predict without joblib's thread pool (see FamilyModel._predict).
_SEQUENTIAL_ROWS = 2000

# Rounds x learning rate that a boosting fit under max_time should be able to reach. With
# early stopping at learning rate 0.05, LightGBM kept a median of 6.5 and an upper quartile
# of 19.8 of these units on the shared datasets (benchmarks/bench_rounds.py,
# benchmarks/results/rounds.md); a fit whose time affords fewer trains at a higher rate, up
# to _MAX_RAISED_RATE, rather than stopping far from convergence. Not above 0.2: LightGBM
# on letter (26 classes) diverges at 0.3 (test log loss 21 after 20 rounds on all rows;
# 0.15 at 0.2), and on four other multiclass datasets 0.2 scored as well as 0.3.
_RATE_UNITS = 20.0
_MAX_RAISED_RATE = 0.2
_PROBE_ROUNDS = (10, 40)


@dataclass(frozen=True)
class EarlyStopping:
    """How a boosting family early-stops on a validation set.

    Parameters
    ----------
    rounds_param : str
        The estimator parameter holding the maximum number of rounds.
    fit_kwargs : callable
        ``fit_kwargs(X_val, y_val, patience) -> dict`` of keyword arguments for ``fit``.
    best_rounds : callable
        ``best_rounds(fitted_estimator) -> int``: the number of rounds early stopping kept.
    set_params : callable, default=None
        ``set_params(patience) -> dict`` of estimator parameters to set before such a fit.
    rate_param : str, default=None
        The estimator parameter holding the learning rate, which a fit under ``max_time``
        may raise when the time affords too few rounds (see :class:`FamilyModel`).
    """

    rounds_param: str
    fit_kwargs: Callable
    best_rounds: Callable
    set_params: Callable = None
    rate_param: str = None


@dataclass(frozen=True)
class NativeOOF:
    """How a family computes out-of-fold predictions from a single model.

    Parameters
    ----------
    params : callable
        ``params(estimator) -> dict`` of estimator parameters the computation needs
        (e.g. ``{"oob_score": True, "bootstrap": True}``); empty when it cannot apply.
    predict : callable
        ``predict(fitted_estimator, X, y, rows, deadline) -> ndarray``: OOF probabilities
        (columns in the order of the estimator's ``classes_``) or values for the
        preprocessed training rows ``X``; NaN for rows it cannot predict. ``rows`` are the
        rows of ``X`` the model was fitted on (None: all of them; see
        :attr:`Family.subsample`), the others it predicts as new rows. ``deadline`` (a
        :func:`time.monotonic` value or None) is when the fit's ``max_time`` ends: a
        prediction projected to end past it raises
        :class:`~skstack._bagging.BudgetExceeded`.
    """

    params: Callable
    predict: Callable


@dataclass(frozen=True)
class Family:
    """A model family: everything skstack needs to know to train its estimators well.

    Parameters
    ----------
    name : str
        Short name, used in portfolios and model names (``"lightgbm"``).
    modules : tuple of str
        Module prefixes whose estimators belong to the family (``("lightgbm.",)``).
    classes : tuple of str, default=()
        Class names within those modules (empty: every estimator of the modules).
    classifier, regressor : str
        ``"module:Class"`` of the estimators the portfolio builds, imported lazily.
    preprocessing : {"native", "ordinal", "onehot", "none"}
        What the estimators need (see :mod:`skstack.families._preprocessing`).
    threads_param : str or None, default="n_jobs"
        The estimator parameter that sets its number of threads.
    quiet : dict, default={}
        Parameters set unless the user set them: silence, no files written.
    required : dict, default={}
        Parameters always set: what the preprocessing's output needs (e.g. XGBoost's
        ``enable_categorical``).
    early_stopping : EarlyStopping or None, default=None
        Early-stopping recipe (boosting and neural nets).
    to_model_input : callable, default=None
        ``to_model_input(X) -> (X, fit_kwargs)``: a last conversion of preprocessed input
        and any keyword arguments ``fit`` needs for it (e.g. CatBoost's ``cat_features``).
    input_params : callable, default=None
        ``input_params(X) -> dict``: estimator parameters the model input needs, from the
        preprocessed input (XGBoost's ``feature_types`` for its code arrays).
    native_oof : NativeOOF or None, default=None
        How one fitted model gives out-of-fold predictions of its own training rows
        (out-of-bag for forests, leave-one-out for KNN), so a bag trains it once.
    deadline : callable, default=None
        ``deadline(estimator, deadline) -> (params, fit_kwargs)``: how to stop training at
        ``deadline`` (a :func:`time.monotonic` value) keeping what was trained so far, for
        :class:`FamilyModel`'s ``max_time`` (boosting and neural nets).
    grow : callable, default=None
        ``grow(estimator, X, y, fit_kwargs, deadline)``: for families without a training
        callback, train in steps (each ``estimator.fit(X, y, **fit_kwargs)`` fits once
        more) and stop at ``deadline``, keeping what was trained (forests: warm-started
        growth; a resumed linear solver; for ``max_time``).
    subsample : callable, default=None
        ``subsample(estimator, X, y, deadline, n_predicted) -> rows or None``: for
        families whose cost lies in the rows they keep rather than in training (KNN
        searches all of them at every prediction), the rows of ``X`` to fit on so that
        the model can still predict ``n_predicted`` rows (its out-of-fold predictions)
        before ``deadline``; None keeps every row.
    max_rows : int, default=None
        The most training rows a portfolio model of the family learns from (the
        ``max_rows`` that :func:`~skstack.families.build_estimators` gives it): for
        families whose accuracy stops growing with rows long before their time and
        memory do. None: every row.
    isolate : callable, default=None
        ``isolate(X) -> bool``: whether to fit on the model input ``X`` in a process of its
        own that exits after the fit, for libraries that keep what a fit allocated for the
        life of the process (CatBoost on large tables; see ``fit_in_own_process`` in
        ``skstack/families/_hard_stop.py``).
    small_batch_predict : callable, default=None
        ``small_batch_predict(estimator, X, method) -> array or None``: the prediction of
        a small batch without the estimator's per-call overhead (forests: their trees'
        arrays read directly; LightGBM: its booster); None falls back to the estimator's
        method.
    to_predict_input : callable, default=None
        ``to_predict_input(X, fit_kwargs) -> X``: the model input of
        ``to_model_input`` in the form the library predicts from without converting it
        again (CatBoost: a ``Pool``), made once for all the fold models of a bag.
    onnx : callable, default=None
        ``onnx(estimator, n_features) -> Converted``: a fitted estimator of the family,
        reading ``n_features`` preprocessed columns, as an ONNX model (see
        ``skstack/families/_onnx.py``), for :func:`~skstack.export.export_onnx`; None: the
        family does not export.
    requires : tuple of str, default=()
        Modules the family needs at fit time (its optional extra); a portfolio leaves the
        family out, with a warning, when one is missing.
    """

    name: str
    modules: tuple
    classifier: str
    regressor: str
    preprocessing: str
    classes: tuple = ()
    threads_param: str = "n_jobs"
    quiet: dict = field(default_factory=dict)
    required: dict = field(default_factory=dict)
    early_stopping: EarlyStopping = None
    to_model_input: Callable = None
    input_params: Callable = None
    native_oof: "NativeOOF" = None
    deadline: Callable = None
    grow: Callable = None
    subsample: Callable = None
    max_rows: int = None
    isolate: Callable = None
    small_batch_predict: Callable = None
    to_predict_input: Callable = None
    onnx: Callable = None
    requires: tuple = ()

    def available(self):
        """Whether every module the family needs can be imported."""
        from importlib.util import find_spec

        return all(find_spec(module) is not None for module in self.requires)

    def loading(self):
        """Whether :func:`preload_families` is still importing a module the family needs."""
        return any(module in _LOADING and not _LOADING[module].is_set()
                   for module in self.requires)

    def matches(self, estimator):
        cls = type(estimator)
        in_module = cls.__module__.startswith(self.modules)
        return in_module and (not self.classes or cls.__name__ in self.classes)

    def estimator_class(self, classification):
        module, name = (self.classifier if classification else self.regressor).split(":")
        return getattr(importlib.import_module(module), name)


_FAMILIES = {}
_LOADING = {}  # module -> threading.Event set when its background import has ended
_LOADING_LOCK = threading.Lock()


def preload_families(families):
    """Import the modules ``families`` need in a background thread.

    torch and skorch take seconds to import (4.6 s on two cores). Imported by the first
    network's fit, that time counts as its first fold, which under a time budget
    overruns the model's share and misprojects its other folds. Started at the start of
    a budgeted fit, the import overlaps the models before it instead; a failed import is
    left for the model's own fit to report.

    Parameters
    ----------
    families : iterable of Family
        The families whose ``requires`` modules to import. When one of them cannot stop
        itself, the worker process of the hard stop starts too (see
        :func:`~skstack.families._hard_stop.fit_with_hard_stop`).
    """
    families = list(families)
    if _needs_worker(families):
        warm_up_worker()
    with _LOADING_LOCK:
        modules = list(dict.fromkeys(
            module for family in families for module in family.requires
            if module not in sys.modules and module not in _LOADING))
        if not modules:
            return
        done = threading.Event()
        for module in modules:
            _LOADING[module] = done

    def load():
        try:
            for module in modules:
                importlib.import_module(module)
        except Exception:  # noqa: BLE001, S110 - the family's fit raises it again
            pass
        finally:
            done.set()

    threading.Thread(target=load, name="skstack-preload", daemon=True).start()


def _needs_worker(families):
    return any(family.deadline is None and family.grow is None and family.subsample is None
               for family in families)


GENERIC = Family(name="generic", modules=(), classifier="", regressor="", preprocessing="onehot",
                 threads_param=None)


def register_family(family):
    """Add (or replace) a family in the registry that :func:`family_of` searches.

    Parameters
    ----------
    family : Family
        The record to register, under ``family.name``.

    Returns
    -------
    family : Family
        The same record, so that it can be used as a decorator-like one-liner.
    """
    _FAMILIES[family.name] = family
    return family


def family_of(estimator):
    """The registered :class:`Family` of ``estimator``, or a generic one-hot family.

    Parameters
    ----------
    estimator : estimator object
        A model, e.g. ``LGBMClassifier()``.

    Returns
    -------
    family : Family
        Its family record.
    """
    from . import _registry  # noqa: F401  (registers the built-in families)

    for family in _FAMILIES.values():
        if family.matches(estimator):
            return family
    return GENERIC


def _merge(kwargs, more):
    """Fit keyword arguments of two recipes; their callback lists are concatenated."""
    merged = dict(kwargs)
    for key, value in more.items():
        if key == "callbacks" and key in merged:
            value = list(merged[key]) + list(value)
        merged[key] = value
    return merged


def default_patience(n_rows):
    """Early-stopping patience: 300 rounds up to 10k rows, fewer above (AutoGluon's rule)."""
    return 300 if n_rows <= 10_000 else max(20, int(300 * 10_000 / n_rows))


@dataclass(frozen=True)
class PreparedInput:
    """Rows already validated and converted for the fitted models of one bag.

    Made by :meth:`FamilyModel.prepare_input`; the models of the same family, columns and
    (absent) preprocessing accept it in place of ``X``.
    """

    data: object
    family: str
    n_features: int


def _model_has(attr):
    def check(self):
        return hasattr(self.estimator_ if hasattr(self, "estimator_") else self.estimator, attr)

    return check


class FamilyModel(ScoreMixin, MetaEstimatorMixin, BaseEstimator):
    """An estimator with the preprocessing, threads and early stopping its family needs.

    The family is looked up from the wrapped estimator's class (:func:`family_of`).
    :meth:`fit` preprocesses (native categoricals for LightGBM, XGBoost and CatBoost;
    ordinal codes for forests; imputation, scaling and one-hot encoding for linear models
    and KNN), then fits. Inside a :class:`~skstack.BaggedOOFEstimator`, boosting families
    early-stop on each fold's held-out rows (:meth:`fit_with_validation`), and the
    ``refit_full`` model trains for the mean number of rounds the folds kept.

    A classifier or a regressor, following ``estimator``. Class labels are encoded for the
    wrapped estimator (XGBoost needs codes) and decoded again.

    Parameters
    ----------
    estimator : estimator object
        The model, e.g. ``LGBMClassifier(n_estimators=10000)``.

    preprocessing : {"auto", "native", "ordinal", "onehot", "none"}, default="auto"
        ``"auto"`` uses the family's; the others override it.

    early_stopping : {"auto"} or bool, default="auto"
        ``"auto"``: early-stop when a validation set is handed over (bagging folds).
        ``True``: also carve ``validation_fraction`` of the rows in a plain :meth:`fit`.
        ``False``: never; always train the full number of rounds.

    patience : int or "auto", default="auto"
        Rounds without improvement before stopping; ``"auto"`` is 300 up to 10k rows and
        ``max(20, 300 * 10000 / n_rows)`` above.

    validation_fraction : float, default=0.1
        Share of rows held out when ``early_stopping=True`` and no validation set is given.

    n_jobs : int, default=None
        Threads for the model, set on its family's thread parameter (``n_jobs``,
        ``thread_count``...). None leaves the model's own default.

    max_time : float, default=None
        Seconds one fit may train: boosting and neural-net families stop at that point and
        keep the rounds or epochs trained so far, forests the trees grown so far, and
        logistic regression the coefficients its solver reached (it runs in resumed steps).
        KNN keeps a random subset of its training rows (every class kept) small enough
        to predict as many rows as it was given within that time (``fit_rows_``).
        Preprocessing is not counted; ``Ridge`` ignores it. An early-stopped
        boosting fit first times a few rounds; when the time affords too few rounds to
        converge at the configured learning rate (rounds x rate under 20), it trains at a
        higher rate (at most 0.2) that does, and records the factor in ``rate_scale_``.

    max_rows : int, default=None
        Train on at most this many rows: a larger training set is sampled at random
        (every class kept), and the rows kept are recorded in ``fit_rows_``. For models
        whose accuracy stops growing with rows long before their time and memory do
        (the portfolio's linear and KNN models, see :attr:`Family.max_rows`). Inside a
        :class:`~skstack.BaggedOOFEstimator`, each fold's sample is drawn before the bag's
        shared preprocessing is applied to its rows (:meth:`training_rows`), so that a wide
        encoding is computed for the sampled rows only. Out-of-fold predictions of the
        rows left out (:meth:`fit_oof`) are those of new rows. None trains on every row.

    Attributes
    ----------
    estimator_ : estimator
        The fitted model.

    preprocessor_ : transformer or None
        The fitted preprocessing.

    family_ : Family
        The family record used.

    best_rounds_ : int or None
        Rounds kept by early stopping, when it ran.

    rate_scale_ : float
        Factor by which ``max_time`` raised the learning rate (1.0: not raised).

    time_shortfall_ : float or None
        How many times ``max_time`` the fit would have needed to reach 20 rounds x rate even
        at the highest raised rate (1.0: it had the time); None when no rounds were timed
        (no ``max_time``, no early stopping, or a family without a learning rate).

    fit_rows_ : ndarray or None
        The training rows the model was fitted on when ``max_rows`` or ``max_time`` made
        it keep a subset (KNN); None when it used them all.

    classes_ : ndarray of shape (n_classes,)
        Class labels (classifiers only).

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during :meth:`fit`, when they are all strings.

    Examples
    --------
    >>> import pandas as pd
    >>> from lightgbm import LGBMClassifier
    >>> from skstack.families import FamilyModel
    >>> X = pd.DataFrame({"city": ["a", "b", "c", None] * 50, "n": range(200)})
    >>> y = (X["n"] % 3 == 0).astype(int)
    >>> model = FamilyModel(LGBMClassifier(n_estimators=20)).fit(X, y)
    >>> model.family_.name, model.predict_proba(X).shape
    ('lightgbm', (200, 2))
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "preprocessing": [StrOptions({"auto", "native", "ordinal", "onehot", "none"})],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "patience": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_jobs": [None, Integral],
        "max_time": [None, Interval(Real, 0, None, closed="left")],
        "max_rows": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        estimator,
        *,
        preprocessing="auto",
        early_stopping="auto",
        patience="auto",
        validation_fraction=0.1,
        n_jobs=None,
        max_time=None,
        max_rows=None,
    ):
        self.estimator = estimator
        self.preprocessing = preprocessing
        self.early_stopping = early_stopping
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.n_jobs = n_jobs
        self.max_time = max_time
        self.max_rows = max_rows

    @property
    def family_(self):
        """The :class:`Family` record of ``estimator``.

        Looked up, not stored: recipes are functions that safe persistence (skops) does
        not write, and a loaded model finds its family in the registry again.
        """
        return family_of(self.estimator)

    def _kind(self):
        return self.family_.preprocessing if self.preprocessing == "auto" else self.preprocessing

    def shared_preprocessing(self):
        """This model's preprocessing and a copy of the model that expects its output.

        :class:`~skstack.BaggedOOFEstimator` fits the preprocessing once on all training
        rows and trains the fold models on its output, instead of fitting and applying it
        once per fold. It learns nothing from the target, so the out-of-fold predictions
        stay out-of-fold.

        Returns
        -------
        preprocessor : transformer or None
            The unfitted preprocessing; None when the family has none.
        estimator : FamilyModel
            A clone with ``preprocessing="none"``.
        """
        return make_preprocessor(self._kind()), clone(self).set_params(preprocessing="none")

    # ---- fitting -----------------------------------------------------------------------

    def _check_X(self, X, reset):
        if hasattr(X, "columns"):  # frames keep their dtypes for the preprocessing
            check_frame(self, X, reset=reset)
            return X
        allow_nan = get_tags(self).input_tags.allow_nan
        return validate_data(self, X, reset=reset, dtype=None,
                             ensure_all_finite="allow-nan" if allow_nan else True)

    def _start(self, X, y):
        """Validate, encode labels, and fit the preprocessing; return model-ready data."""
        self._validate_params()
        X = self._check_X(X, reset=True)
        if y is None:
            raise ValueError(f"This {type(self).__name__} estimator requires y to be passed, "
                             "but the target y is None.")
        y = _check_y(y, y_numeric=not is_classifier(self.estimator), estimator=self)
        check_consistent_length(X, y)
        if is_classifier(self.estimator):
            check_classification_targets(y)
            self.classes_, y = np.unique(y, return_inverse=True)
        self.preprocessor_ = make_preprocessor(self._kind())
        Xt = X if self.preprocessor_ is None else self.preprocessor_.fit_transform(X)
        self.estimator_ = self._configured_estimator()
        self.best_rounds_ = None
        self.rate_scale_ = 1.0
        self.time_shortfall_ = None
        self.fit_rows_ = None
        return Xt, y

    def _configured_estimator(self):
        estimator = clone(self.estimator)
        params = estimator.get_params(deep=False)
        updates = {k: v for k, v in self.family_.quiet.items() if params.get(k) is None}
        updates.update(self.family_.required)
        threads_param = self.family_.threads_param
        if self.n_jobs is not None and threads_param:
            updates[threads_param] = self.n_jobs
        if updates:
            estimator.set_params(**updates)
        return estimator

    def _transform(self, X):
        return X if self.preprocessor_ is None else self.preprocessor_.transform(X)

    def _model_input(self, Xt):
        if self.family_.to_model_input is None:
            return Xt, {}
        return self.family_.to_model_input(Xt)

    def _fit_model(self, Xt, y, validation, fit_params):
        if self.family_.input_params is not None:
            self.estimator_.set_params(**self.family_.input_params(Xt))
        Xm, kwargs = self._model_input(Xt)
        recipe = self.family_.early_stopping
        stopping = validation is not None and recipe is not None
        if stopping:
            X_val, y_val = validation
            patience = default_patience(len(y)) if self.patience == "auto" else self.patience
            if recipe.set_params is not None:
                self.estimator_.set_params(**recipe.set_params(patience))
            kwargs = _merge(kwargs, recipe.fit_kwargs(self._model_input(X_val)[0], y_val,
                                                      patience))
        deadline = self._deadline()
        trained = False
        if stopping and deadline is not None and recipe.rate_param is not None:
            trained = self._fit_rate_to_time(Xm, y, kwargs, fit_params, recipe, deadline)
        if not trained:
            self._train(Xm, y, kwargs, fit_params, deadline)
        if stopping:
            self.best_rounds_ = int(recipe.best_rounds(self.estimator_))
        return self

    def _deadline(self):
        return None if self.max_time is None else time.monotonic() + self.max_time

    def _fit_rate_to_time(self, Xm, y, kwargs, fit_params, recipe, deadline):
        """Raise the learning rate when the time to ``deadline`` affords too few rounds.

        A short fit of 10 rounds bounds the time of one round from above (it includes
        the fixed cost of a fit: binning, set-up). When that bound says the rounds that
        fit before the deadline are fewer than the configured maximum and reach fewer
        than ``_RATE_UNITS`` rounds x rate, and a second fit of 40 rounds is cheap (a
        tenth of the time left), the difference of the two (at least a quarter of the
        longer one's time per round, so that noise cannot make rounds look free) measures
        one round without the fixed cost. When the rounds are still too few, the rate
        rises until they reach the units (at most to ``_MAX_RAISED_RATE``): a model that
        converges at a coarser rate beats one stopped early at a fine one.

        The short fit stops at ``deadline`` too: where one round is slow (many classes,
        many stacked features), its 10 rounds could outlast the whole allowance. When it
        leaves less time than it took, it is the fitted model (returns True).
        """
        params = self.estimator_.get_params()
        rate, rounds = params.get(recipe.rate_param), params.get(recipe.rounds_param)
        if rate is None or rounds is None:
            return False
        wanted = min(_RATE_UNITS, rate * rounds)

        def affordable(per_round):
            return max(1.0, (deadline - time.monotonic()) / max(per_round, 1e-6))

        def too_few(per_round):
            left = affordable(per_round)
            return left < rounds and left * rate < wanted

        def timed_fit(n_rounds):
            probe = clone(self.estimator_).set_params(**{recipe.rounds_param: n_rounds})
            start = time.monotonic()
            probe = self._fit_until(probe, Xm, y, kwargs, fit_params, deadline)
            return probe, time.monotonic() - start

        short, long = _PROBE_ROUNDS
        highest = max(rate, _MAX_RAISED_RATE)
        probe, short_time = timed_fit(short)
        if deadline - time.monotonic() < short_time:
            # No time to train again: the probe, stopped at the deadline, is the model
            # (CatBoost refuses new params once fitted: it keeps the probe's round count).
            self.estimator_ = probe
            self.time_shortfall_ = max(1.0, wanted / highest
                                       / max(1, recipe.best_rounds(probe)))
            return True
        per_round = short_time / short
        self.time_shortfall_ = 1.0
        if not too_few(per_round):
            return False
        if long / short * short_time < 0.1 * (deadline - time.monotonic()):
            long_time = timed_fit(long)[1]
            per_round = max((long_time - short_time) / (long - short),
                            0.25 * long_time / long)
            if not too_few(per_round):
                return False
        raised = min(highest, wanted / affordable(per_round))
        self.estimator_.set_params(**{recipe.rate_param: raised})
        self.rate_scale_ = raised / rate
        self.time_shortfall_ = max(1.0, wanted / highest / affordable(per_round))
        return False

    def _train(self, Xm, y, kwargs, fit_params, deadline=None, n_predicted=None):
        """Fit the configured model, stopping at ``deadline`` where the family can.

        ``n_predicted``: the rows the fit is to predict by ``deadline`` (None: as many as
        it trains on), which a family that subsamples its rows for time keeps time for.
        """
        if "sample_weight" in fit_params and not has_fit_parameter(self.estimator_,
                                                                   "sample_weight"):
            # A portfolio mixes families; one that cannot weight rows still contributes.
            warnings.warn(f"{type(self.estimator_).__name__} does not support sample_weight: "
                          "it is fitted without the weights.", UserWarning, stacklevel=2)
            fit_params = {k: v for k, v in fit_params.items() if k != "sample_weight"}
        self.estimator_ = self._fit_until(self.estimator_, Xm, y, kwargs, fit_params, deadline,
                                          n_predicted)

    def _fit_until(self, estimator, Xm, y, kwargs, fit_params, deadline, n_predicted=None):
        """Fit ``estimator``, stopping at ``deadline`` (None: never); returns it fitted.

        A family with none of the ways to stop (``deadline``, ``grow``, ``subsample``)
        is fitted in a worker process that is ended at the deadline.
        """
        family = self.family_
        if deadline is not None and family.subsample is not None:
            rows = family.subsample(estimator, Xm, y, deadline,
                                    n_predicted or _num_samples(Xm))
            if rows is not None:
                self.fit_rows_ = rows
                fit_params = index_params(fit_params, rows, _num_samples(Xm))
                Xm, y = _safe_indexing(Xm, rows), _safe_indexing(y, rows)
        stops = family.deadline, family.grow, family.subsample
        if deadline is not None and all(hook is None for hook in stops):
            # Ended at twice its time: a fit that cannot stop is not cut at the first
            # moment it is late; the bag's projection after the first fold decides.
            hard_deadline = deadline + max(0.0, deadline - time.monotonic())
            return fit_with_hard_stop(estimator, Xm, y, {**kwargs, **fit_params},
                                      hard_deadline, threads=self.n_jobs or 1)
        if deadline is None or (family.deadline is None and family.grow is None):
            return self._fit_call(estimator, Xm, y, {**kwargs, **fit_params})
        if family.deadline is not None:
            params, deadline_kwargs = family.deadline(estimator, deadline)
            configured = {key: estimator.get_params()[key] for key in params}
            estimator.set_params(**params)
            try:
                estimator = self._fit_call(estimator, Xm, y,
                                           {**_merge(kwargs, deadline_kwargs), **fit_params})
            finally:
                # The deadline hook holds a clock value and, for XGBoost, a local class
                # that cannot be pickled: the fitted model keeps its configured params.
                if configured:
                    estimator.set_params(**configured)
            return estimator
        family.grow(estimator, Xm, y, {**kwargs, **fit_params}, deadline)
        return estimator

    def _fit_call(self, estimator, Xm, y, fit_kwargs):
        """``estimator.fit(Xm, y, **fit_kwargs)``; returns the fitted estimator, a copy when
        the family's library keeps its memory and the table is large (``Family.isolate``):
        then it is fitted in a process of its own, which takes that memory with it."""
        isolate = self.family_.isolate
        if isolate is not None and isolate(Xm):
            return fit_in_own_process(estimator, Xm, y, fit_kwargs, threads=self.n_jobs or 1)
        estimator.fit(Xm, y, **fit_kwargs)
        return estimator

    def fit(self, X, y, **fit_params):
        """Preprocess and fit; with ``early_stopping=True``, early-stop on a holdout.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Training input; categorical and missing values allowed.
        y : array-like of shape (n_samples,)
            Target.
        **fit_params : dict
            Passed to the estimator's ``fit`` (e.g. ``sample_weight``).

        Returns
        -------
        self : FamilyModel
            The fitted model.
        """
        if self.early_stopping is True and family_of(self.estimator).early_stopping:
            X = self._check_X(X, reset=True)
            if y is not None and _num_samples(X) >= 10:
                y = column_or_1d(y, warn=True)
                check_consistent_length(X, y)
                fit_idx, val_idx = self._holdout(X, y)
                return self.fit_with_validation(
                    _safe_indexing(X, fit_idx), _safe_indexing(y, fit_idx),
                    _safe_indexing(X, val_idx), _safe_indexing(y, val_idx),
                    **index_params(fit_params, fit_idx, _num_samples(X)),
                )
        X, y, fit_params, capped = self._capped(X, y, fit_params)
        Xt, y = self._start(X, y)
        return self._fit_model(Xt, y, None, fit_params)._record_kept(capped)

    def training_rows(self, y):
        """The rows of a training set with target ``y`` that the model learns from.

        :class:`~skstack.BaggedOOFEstimator` calls this with each fold's training target
        and hands the model those rows only, before its shared preprocessing turns them
        into the model's input.

        Parameters
        ----------
        y : array-like of shape (n_samples,)
            The training target.

        Returns
        -------
        rows : ndarray or None
            Sorted positions of the ``max_rows`` rows sampled (every class kept); None
            when the model trains on every row.
        """
        if self.max_rows is None or y is None or _num_samples(y) <= self.max_rows:
            return None
        return covering_sample(column_or_1d(y), self.max_rows, is_classifier(self.estimator))

    def _capped(self, X, y, fit_params):
        """``X, y, fit_params`` of the rows :meth:`training_rows` keeps, and those rows."""
        rows = self.training_rows(y)
        if rows is None:
            return X, y, fit_params, None
        check_consistent_length(X, y)
        return (_safe_indexing(X, rows), _safe_indexing(y, rows),
                index_params(fit_params, rows, _num_samples(y)), rows)

    def _record_kept(self, capped):
        """``fit_rows_`` among the rows given to fit, the fit having trained on ``capped``
        (None: all of them) and, within those, on its own ``fit_rows_``."""
        if capped is not None:
            self.fit_rows_ = capped if self.fit_rows_ is None else capped[self.fit_rows_]
        return self

    def _holdout(self, X, y):
        """Training and validation row indices for early stopping outside of a bag."""
        indices = np.arange(_num_samples(X))
        stratify = y if is_classifier(self.estimator) else None
        try:
            return train_test_split(indices, test_size=self.validation_fraction,
                                    stratify=stratify, random_state=0)
        except ValueError:  # a class too rare to stratify: a plain split
            return train_test_split(indices, test_size=self.validation_fraction,
                                    random_state=0)

    def fit_with_validation(self, X, y, X_val, y_val, **fit_params):
        """Fit, early-stopping on ``(X_val, y_val)`` when the family supports it.

        :class:`~skstack.BaggedOOFEstimator` calls this with each fold's held-out rows.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Training input.
        y : array-like of shape (n_samples,)
            Training target.
        X_val : DataFrame or array-like of shape (n_val, n_features)
            Validation input, preprocessed like ``X``.
        y_val : array-like of shape (n_val,)
            Validation target.
        **fit_params : dict
            Passed to the estimator's ``fit``.

        Returns
        -------
        self : FamilyModel
            The fitted model.
        """
        X, y, fit_params, capped = self._capped(X, y, fit_params)
        Xt, y = self._start(X, y)
        use_validation = self.early_stopping is not False and self.family_.early_stopping
        if not use_validation:
            return self._fit_model(Xt, y, None, fit_params)._record_kept(capped)
        X_val = self._check_X(X_val, reset=False)
        y_val = column_or_1d(y_val, warn=True)
        if hasattr(self, "classes_"):
            # Validation rows of a class this fold never trained on cannot be scored.
            known = np.flatnonzero(np.isin(y_val, self.classes_))
            X_val = _safe_indexing(X_val, known)
            y_val = np.searchsorted(self.classes_, y_val[known])
        if len(y_val) == 0:
            return self._fit_model(Xt, y, None, fit_params)._record_kept(capped)
        return self._fit_model(Xt, y, (self._transform(X_val), y_val),
                               fit_params)._record_kept(capped)

    @available_if(lambda self: family_of(self.estimator).native_oof is not None)
    def fit_oof(self, X, y, **fit_params):
        """Fit on all rows and return the model's own out-of-fold predictions of them.

        :class:`~skstack.BaggedOOFEstimator` calls this instead of fitting ``k`` fold
        models: out-of-bag predictions for random forests and extra trees (trained with
        bootstrap), leave-one-out predictions for KNN.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Training input.
        y : array-like of shape (n_samples,)
            Target.
        **fit_params : dict
            Passed to the estimator's ``fit``.

        Returns
        -------
        oof : ndarray of shape (n_samples, n_classes) or (n_samples,)
            Probabilities in the order of ``classes_``, or regression values; NaN rows were
            never out of bag.
        """
        Xt, y = self._start(X, y)
        recipe = self.family_.native_oof
        self.estimator_.set_params(**recipe.params(self.estimator_))
        Xm, input_kwargs = self._model_input(Xt)
        deadline = self._deadline()  # training and the OOF predictions share max_time
        X_fit, y_fit, fit_params, capped = self._capped(Xm, y, fit_params)
        with warnings.catch_warnings():
            # A forest of few trees leaves rows in every bootstrap sample: the recipe
            # returns NaN for them, which the bag leaves out of its OOF score.
            warnings.filterwarnings("ignore", "Some inputs do not have OOB scores")
            self._train(X_fit, y_fit, input_kwargs, fit_params, deadline, len(y))
        self._record_kept(capped)
        return recipe.predict(self.estimator_, Xm, y, self.fit_rows_, deadline)

    def full_fit_params(self, fold_estimators):
        """Parameters for a model refitted on all rows: the folds' mean early-stopped rounds.

        Parameters
        ----------
        fold_estimators : list of FamilyModel
            The fitted fold models of a bag.

        Returns
        -------
        params : dict
            ``{"estimator__<rounds param>": rounds, "early_stopping": False}``, or empty
            when no fold early-stopped. When ``max_time`` raised the folds' learning rate,
            the refit trains at their median rate, for as many rounds x rate as they kept.
        """
        stopped = [m for m in fold_estimators if m.best_rounds_ is not None]
        recipe = family_of(self.estimator).early_stopping
        if not stopped or recipe is None:
            return {}
        scales = np.array([getattr(m, "rate_scale_", 1.0) for m in stopped])
        scale = float(np.median(scales))
        rounds = np.mean([m.best_rounds_ for m in stopped] * scales) / scale
        # The refit trains exactly that many rounds: no holdout of its own.
        params = {
            f"estimator__{recipe.rounds_param}": max(1, round(float(rounds))),
            "early_stopping": False,
        }
        if scale != 1.0:
            rate = self.estimator.get_params()[recipe.rate_param]
            params[f"estimator__{recipe.rate_param}"] = rate * scale
        return params

    # ---- prediction --------------------------------------------------------------------

    def prepare_input(self, X):
        """``X`` validated, preprocessed and converted for the fitted model, once.

        A :class:`~skstack.BaggedOOFEstimator` prepares its rows once and hands the result
        to each of its fold models (clones fitted on the same columns, with the shared
        preprocessing applied before them), instead of each one checking and converting
        the same frame again: the conversion to category-code arrays costs about as much
        as a boosting model's prediction of a few rows.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        prepared : PreparedInput
            What :meth:`predict`, :meth:`predict_proba` and :meth:`decision_function` of
            this model and of its fold siblings accept in place of ``X``.
        """
        if self.preprocessor_ is not None:
            raise ValueError("Only a model without preprocessing of its own (as inside a "
                             "bag, preprocessing='none') can share prepared input.")
        return PreparedInput(self._predict_input(X), self.family_.name,
                             self.n_features_in_)

    def _predict_input(self, X):
        if not hasattr(self, "estimator_"):
            # check_is_fitted computes the estimator's tags first: a fifth of the time of
            # a fold model's prediction of one row, paid by every fold model of a stack.
            check_is_fitted(self)
        if isinstance(X, PreparedInput):
            if (self.preprocessor_ is not None or X.family != self.family_.name
                    or X.n_features != self.n_features_in_):
                raise ValueError("This input was prepared for a model of another family, "
                             "columns or preprocessing.")
            return X.data
        Xm, kwargs = self._model_input(self._transform(self._check_X(X, reset=False)))
        convert = self.family_.to_predict_input
        return Xm if convert is None else convert(Xm, kwargs)

    def _predict(self, method, X):
        """``estimator_.<method>`` on the preprocessed rows.

        Small batches go through the family's ``small_batch_predict`` when it has one,
        else run without joblib's thread pool (forests, KNN): dispatching to it costs about
        10 ms per call, more than a few rows take, on any number of cores.
        """
        X = self._predict_input(X)
        if _num_samples(X) > _SEQUENTIAL_ROWS:
            return getattr(self.estimator_, method)(X)
        fast = self.family_.small_batch_predict
        if fast is not None:
            out = fast(self.estimator_, X, method)
            if out is not None:
                return out
        with parallel_config(backend="sequential"):
            return getattr(self.estimator_, method)(X)

    def predict(self, X):
        """Predict labels or values.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predictions.
        """
        pred = np.asarray(self._predict("predict", X))
        if hasattr(self, "classes_"):
            return self.classes_[pred.astype(np.intp).ravel()]
        return pred.ravel()

    @available_if(_model_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities, in the order of ``classes_``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities.
        """
        return self._predict("predict_proba", X)

    @available_if(_model_has("decision_function"))
    def decision_function(self, X):
        """Decision values of the wrapped estimator.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        scores : ndarray
            Decision values.
        """
        return self._predict("decision_function", X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_label = False
        tags.target_tags.required = True
        tags.target_tags.multi_output = False
        # The preprocessing imputes or passes NaN to models that handle it.
        tags.input_tags.allow_nan = self.preprocessing != "none" or inner.input_tags.allow_nan
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags
