"""Helpers that the blocks, the families and :mod:`skstack.auto` share.

Seeds, row picking, the deadline exception, thread shares, returning freed memory to the
system, input validation of the meta-estimators, and the one ``score`` method of every
estimator.
"""

import ctypes
import ctypes.util
import sys
import threading
from contextlib import nullcontext

import numpy as np
from joblib import cpu_count, effective_n_jobs
from scipy import sparse
from sklearn.base import is_classifier
from sklearn.utils import _safe_indexing, column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, assert_all_finite, validate_data
from threadpoolctl import threadpool_limits

from ._scoring import default_score

__all__ = [
    "SEED_MAX",
    "WARNING_FILTERS",
    "BudgetExceeded",
    "ScoreMixin",
    "check_labels",
    "index_params",
    "pick",
    "release_freed_memory",
    "thread_budget",
    "thread_limit",
    "validate_X",
    "validate_y",
]

# Seeds drawn from a RandomState for the models, folds and selections of a fit.
SEED_MAX = np.iinfo(np.int32).max

# Held around a fold's ``warnings.catch_warnings()``: the filters are the process's, and folds
# fitted side by side in threads would otherwise restore each other's.
WARNING_FILTERS = threading.RLock()


def pick(data, rows):
    """Rows of ``data`` (None stays None)."""
    return None if data is None else _safe_indexing(data, rows)


def _load_malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _load_malloc_trim()


def release_freed_memory():
    """Hand the memory that models freed back to the system (glibc only; else a no-op).

    glibc keeps what a thread frees in that thread's arena for its next allocations, so the
    training buffers of a fold model (a booster's histograms, a forest's sample copies) stay
    in the process's resident memory after the model is done, arena by arena: on 500 rows of
    3,000 columns a fold of LightGBM leaves about 150 MB behind. Called after each fold model,
    it keeps a fit's peak to what its models hold at once; it takes milliseconds.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class BudgetExceeded(RuntimeError):
    """A bag given a deadline projects, after its first fold, that it cannot finish in time.

    ``first_fold_time`` holds the seconds the first fold took.
    """

    def __init__(self, message, first_fold_time=None):
        super().__init__(message)
        self.first_fold_time = first_fold_time


def thread_budget(n_jobs, n_tasks):
    """Parallel workers and threads per worker such that their product fits the usable CPUs."""
    n_cpus = cpu_count(only_physical_cores=False)
    workers = max(1, min(effective_n_jobs(n_jobs), n_tasks))
    return workers, max(1, n_cpus // workers)


def thread_limit(threads):
    """Cap BLAS/OpenMP pools to ``threads``; a no-op (and no library scan) when all CPUs."""
    if threads >= cpu_count(only_physical_cores=False):
        return nullcontext()
    return threadpool_limits(limits=threads)


def index_params(params, indices, n_samples):
    """Slice every per-row fit parameter to ``indices``; pass the others through."""
    sliced = {}
    for key, value in params.items():
        if _is_per_row(value, n_samples):
            if not (hasattr(value, "iloc") or sparse.issparse(value)):
                value = np.asarray(value)
            value = _safe_indexing(value, indices)
        sliced[key] = value
    return sliced


def _is_per_row(value, n_samples):
    if value is None or isinstance(value, str):
        return False
    if not (hasattr(value, "__len__") or hasattr(value, "__array__")):
        return False
    try:
        return _num_samples(value) == n_samples
    except TypeError:
        return False


def validate_X(meta, X, *, reset, allow_nan):
    """Validate ``X`` for a meta-estimator, keeping DataFrames as they are.

    Model pipelines need column dtypes (categoricals, strings), so DataFrames are only checked
    for their feature names, count, size and NaN; other input goes through ``check_array``
    with ``dtype=None`` so that string arrays reach the models untouched.
    """
    if not hasattr(X, "columns"):
        return validate_data(
            meta,
            X,
            reset=reset,
            accept_sparse=["csr", "csc"],
            dtype=None,
            ensure_all_finite="allow-nan" if allow_nan else True,
            ensure_min_samples=2 if reset else 1,
        )
    validate_data(meta, X, reset=reset, skip_check_array=True)
    if reset and len(X) < 2:
        raise ValueError(
            f"Found array with {len(X)} sample(s) (shape={X.shape}) while a minimum of 2 "
            "is required: bagging needs rows to hold out."
        )
    if not allow_nan and X.isna().to_numpy().any():
        raise ValueError(
            f"Input X contains NaN, which {type(meta).__name__} cannot pass to its models. "
            "Impute first (e.g. SimpleImputer in a Pipeline) or use models that handle "
            "missing values, such as HistGradientBoosting or LightGBM."
        )
    return X


def check_labels(y):
    """:func:`~sklearn.utils.multiclass.check_classification_targets`, with a clear error
    for labels of mixed types (some numbers, some strings), which cannot be sorted."""
    values = np.asarray(y)
    if values.dtype == object:
        import pandas as pd

        if pd.api.types.infer_dtype(values.ravel(), skipna=True) in ("mixed", "mixed-integer"):
            kinds = sorted({type(value).__name__ for value in values.ravel()[:1000]})
            raise ValueError(
                f"Mix of label input types in y ({', '.join(kinds)}): a classifier's labels "
                "must all be of one type. Convert them, e.g. y.astype(str).")
    check_classification_targets(y)


def validate_y(y, *, classifier):
    """Return the target the models see and the sorted classes (None for regression).

    Regression targets become float arrays. Class labels become codes ``0..n_classes-1``
    (as in :class:`~sklearn.ensemble.StackingClassifier`): encoded once here instead of by
    every fold model, and the same in every fold.
    """
    y = column_or_1d(y, warn=True)
    if not classifier:
        y = y.astype(np.float64)
        assert_all_finite(y, input_name="y")
        return y, None
    check_labels(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            "Classifier can't train when only one class is present: the data contains "
            f"only class {classes[0]!r}."
        )
    return codes.ravel(), classes


class ScoreMixin:
    """``score`` as scikit-learn's mixins define it: accuracy or R², documented once.

    Placed ahead of :class:`~sklearn.base.ClassifierMixin` and
    :class:`~sklearn.base.RegressorMixin`, whose docstrings link into scikit-learn's own
    documentation. Whether the estimator scores as a classifier follows its tags; an
    estimator whose task is known only once fitted overrides ``_scores_as_classifier``.
    """

    def _scores_as_classifier(self):
        return is_classifier(self)

    def score(self, X, y, sample_weight=None):
        """Accuracy for classifiers, R² for regressors, like scikit-learn's mixins.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Test rows.
        y : array-like of shape (n_samples,)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        score : float
            Mean accuracy or R².
        """
        y_pred = self.predict(X)  # first: an unfitted estimator says so
        return default_score(self._scores_as_classifier(), y, y_pred, sample_weight)
