"""Scoring of stored predictions with any scikit-learn scorer.

Out-of-fold predictions and ensemble blends are arrays, not fitted estimators, yet users name
their metric as a scorer (``"neg_log_loss"``, ``make_scorer(...)``). A scorer asks an estimator
for its response; :func:`score_predictions` hands it a stand-in that replays the stored
predictions, so every scorer works unchanged, ``pos_label`` and response-method logic included.
"""

import copy
import inspect

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, get_scorer, r2_score
from sklearn.utils.metaestimators import available_if

__all__ = [
    "default_score",
    "prediction_scorer",
    "resolve_scorer",
    "score_predictions",
    "with_labels",
]


def resolve_scorer(scoring, default):
    """Return a scorer callable for ``scoring``, or for the name ``default`` when it is None."""
    if scoring is None:
        scoring = default
    return get_scorer(scoring) if isinstance(scoring, str) else scoring


def _responds_with(response):
    return lambda self: self.response == response


class _ReplayedClassifier(ClassifierMixin, BaseEstimator):
    """Answers a scorer with stored class probabilities, decision values or vote fractions."""

    def __init__(self, values, classes, response):
        self.values = values
        self.classes = classes
        self.response = response

    @property
    def classes_(self):
        return self.classes

    def predict(self, X):
        values = self.values
        if values.ndim == 1:
            return self.classes[(values > 0).astype(np.intp)]
        return self.classes[np.argmax(values, axis=1)]

    @available_if(_responds_with("proba"))
    def predict_proba(self, X):
        return self.values

    @available_if(_responds_with("decision"))
    def decision_function(self, X):
        return self.values


class _ReplayedRegressor(RegressorMixin, BaseEstimator):
    """Answers a scorer with stored regression predictions."""

    def __init__(self, values):
        self.values = values

    def predict(self, X):
        return self.values


def score_predictions(scorer, y, values, *, classes=None, response="proba", sample_weight=None):
    """Score stored predictions against ``y`` with a scikit-learn scorer.

    Parameters
    ----------
    scorer : callable
        A scorer with signature ``scorer(estimator, X, y, **kwargs)``.
    y : array-like of shape (n_samples,)
        True targets.
    values : ndarray
        Regression predictions ``(n_samples,)``; or, for a classifier, class probabilities or
        vote fractions ``(n_samples, n_classes)`` (``response="proba"``) or decision values
        (``response="decision"``).
    classes : ndarray, default=None
        Class labels in column order; None for regression.
    response : {"proba", "decision"}, default="proba"
        What ``values`` holds for a classifier.
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to the scorer when given.

    Returns
    -------
    score : float
        The scorer's value (greater is better).
    """
    if classes is None:
        replay = _ReplayedRegressor(values)
    else:
        replay = _ReplayedClassifier(values, np.asarray(classes), response)
        scorer = with_labels(scorer, classes)
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
    return float(scorer(replay, np.empty((len(values), 0)), y, **kwargs))


def with_labels(scorer, classes):
    """The scorer told every class label, when its metric takes ``labels``.

    A metric such as log loss otherwise cannot score rows that lack a class (a holdout of
    a small dataset) against probability columns for all of them.
    """
    function, kwargs = getattr(scorer, "_score_func", None), getattr(scorer, "_kwargs", None)
    if function is None or kwargs is None or "labels" in kwargs:
        return scorer
    try:
        takes_labels = "labels" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return scorer
    if not takes_labels:
        return scorer
    scorer = copy.copy(scorer)
    scorer._kwargs = {**kwargs, "labels": np.asarray(classes)}
    return scorer


def default_score(classifier, y, y_pred, sample_weight=None):
    """The ``score`` of scikit-learn's mixins: accuracy for classifiers, R² for regressors."""
    metric = accuracy_score if classifier else r2_score
    return float(metric(y, y_pred, sample_weight=sample_weight))


# ---- fast paths -----------------------------------------------------------------------------
# Greedy selection scores every candidate blend at every step: thousands of calls on the same
# y. For the common metrics, y is encoded once and the metric is plain NumPy, giving the
# scorer's value (tested against it) in a fraction of the time of its input validation.


def _binary_roc_auc(y, classes, sample_weight):
    if classes is None or len(classes) != 2 or sample_weight is not None:
        return None
    positive = np.asarray(y) == classes[1]
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None  # undefined: the scorer says so

    def score(proba):
        ranks = rankdata(proba[:, 1])  # ties get their mean rank, as in the ROC's trapezoids
        return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))

    return score


def _neg_log_loss(y, classes, sample_weight):
    if classes is None:
        return None
    codes = np.searchsorted(classes, y)
    if not np.array_equal(np.asarray(classes)[np.minimum(codes, len(classes) - 1)], y):
        return None
    rows = np.arange(len(codes))

    def score(proba):
        eps = np.finfo(proba.dtype).eps
        picked = np.clip(proba[rows, codes], eps, 1 - eps)
        return float(np.average(np.log(picked), weights=sample_weight))

    return score


def _accuracy(y, classes, sample_weight):
    if classes is None:
        return None
    codes = np.searchsorted(classes, y)

    def score(proba):
        return float(np.average(np.argmax(proba, axis=1) == codes, weights=sample_weight))

    return score


def _regression(transform):
    def make(y, classes, sample_weight):
        if classes is not None:
            return None
        target = np.asarray(y, dtype=np.float64)

        def score(pred):
            errors = np.asarray(pred, dtype=np.float64).reshape(-1) - target
            return float(transform(errors, sample_weight))

        return score

    return make


_FAST_SCORERS = {
    "roc_auc": _binary_roc_auc,
    "neg_log_loss": _neg_log_loss,
    "accuracy": _accuracy,
    "neg_root_mean_squared_error": _regression(
        lambda e, w: -np.sqrt(np.average(e ** 2, weights=w))),
    "neg_mean_squared_error": _regression(lambda e, w: -np.average(e ** 2, weights=w)),
    "neg_mean_absolute_error": _regression(lambda e, w: -np.average(np.abs(e), weights=w)),
}


def prediction_scorer(scoring, default, y, *, classes=None, sample_weight=None):
    """A function of stored predictions returning ``scoring``'s value on ``y``.

    The function takes what :func:`score_predictions` takes with ``response="proba"``:
    class probabilities ``(n_samples, n_classes)`` or regression values. Common metrics
    named by string get a NumPy fast path; any other scorer goes through
    :func:`score_predictions`.

    Parameters
    ----------
    scoring : str, callable or None
        A scorer name or a scorer; None selects ``default``.
    default : str
        Scorer name used when ``scoring`` is None.
    y : array-like of shape (n_samples,)
        True targets.
    classes : ndarray, default=None
        Class labels in column order; None for regression.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    score : callable
        ``score(values) -> float``, greater is better.
    """
    name = default if scoring is None else scoring
    if isinstance(name, str) and name in _FAST_SCORERS:
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        fast = _FAST_SCORERS[name](np.asarray(y), classes, weights)
        if fast is not None:
            return fast
    scorer = resolve_scorer(scoring, default)
    return lambda values: score_predictions(scorer, y, values, classes=classes,
                                            sample_weight=sample_weight)
