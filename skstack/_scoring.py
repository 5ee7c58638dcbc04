"""Scoring of stored predictions with any scikit-learn scorer.

Out-of-fold predictions and ensemble blends are arrays, not fitted estimators, yet users name
their metric as a scorer (``"neg_log_loss"``, ``make_scorer(...)``). A scorer asks an estimator
for its response; :func:`score_predictions` hands it a stand-in that replays the stored
predictions, so every scorer works unchanged, ``pos_label`` and response-method logic included.
"""

import copy
import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, get_scorer, r2_score
from sklearn.utils.metaestimators import available_if

__all__ = ["default_score", "resolve_scorer", "score_predictions", "with_labels"]


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
