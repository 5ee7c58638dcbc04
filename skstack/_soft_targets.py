"""A classifier learnt from class probabilities: :class:`SoftTargetClassifier`."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils._param_validation import HasMethods
from sklearn.utils._tags import get_tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ._utils import ScoreMixin

__all__ = ["SoftTargetClassifier"]


class SoftTargetClassifier(ScoreMixin, ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """A classifier made of regressors of the class probabilities: it learns soft targets.

    Knowledge distillation (AutoGluon's ``distill``) trains a fast model on what a large
    ensemble predicts: its class probabilities, which carry more than the labels (how sure
    the ensemble is, which classes it confuses). This classifier fits one clone of
    ``regressor`` per class on those probabilities (one, of ``classes_[1]``, for binary
    targets) and predicts their clipped, normalised outputs. Without ``soft_targets`` it
    learns the one-hot labels, as an ordinary classifier.

    Parameters
    ----------
    regressor : regressor, default=None
        The model of each class's probability; None is a
        :class:`~sklearn.ensemble.HistGradientBoostingRegressor`. A LightGBM regressor with
        ``objective="cross_entropy"`` learns probabilities with their own loss.

    Attributes
    ----------
    regressors_ : list of regressor
        The fitted regressors: one for binary targets (``classes_[1]``), else one per class.

    classes_ : ndarray of shape (n_classes,)
        Class labels.

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during :meth:`fit`, when they are all strings.

    See Also
    --------
    skstack.AutoStackClassifier.distill : Trains one on a fitted ensemble's predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skstack import SoftTargetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> teacher = LogisticRegression(max_iter=1000).fit(X, y)
    >>> student = SoftTargetClassifier().fit(X, y, soft_targets=teacher.predict_proba(X))
    >>> student.predict_proba(X[:1]).round(2)
    array([[0.99, 0.01, 0.  ]])
    >>> float(np.mean(student.predict(X) == teacher.predict(X)))
    1.0
    """

    _parameter_constraints: dict = {
        "regressor": [None, HasMethods(["fit", "predict"])],
    }

    def __init__(self, regressor=None):
        self.regressor = regressor

    def _template(self):
        return HistGradientBoostingRegressor() if self.regressor is None else self.regressor

    def _check_X(self, X, reset):
        if hasattr(X, "columns"):  # frames keep their dtypes for the regressor
            validate_data(self, X, reset=reset, skip_check_array=True)
            return X
        allow_nan = get_tags(self).input_tags.allow_nan
        return validate_data(self, X, reset=reset, dtype=None,
                             ensure_all_finite="allow-nan" if allow_nan else True)

    def fit(self, X, y, *, sample_weight=None, soft_targets=None):
        """Fit one regressor per class on its probability.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Training input.
        y : array-like of shape (n_samples,)
            Class labels; they name the classes (``classes_``, sorted).
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to each regressor.
        soft_targets : array-like of shape (n_samples, n_classes), default=None
            Each row's probability of each class of ``classes_``, for example a teacher's
            ``predict_proba``; None learns the one-hot labels.

        Returns
        -------
        self : SoftTargetClassifier
            The fitted classifier.
        """
        self._validate_params()
        X = self._check_X(X, reset=True)
        y = _check_y(y, estimator=self)
        check_consistent_length(X, y)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError("Classifier can't train when only one class is present.")
        if soft_targets is None:
            targets = np.eye(n_classes)[codes]
        else:
            targets = np.asarray(soft_targets, dtype=np.float64)
            if targets.shape != (len(y), n_classes):
                raise ValueError(f"soft_targets must have shape (n_samples, n_classes) = "
                                 f"{(len(y), n_classes)}, one column per class of y; got "
                                 f"{targets.shape}.")
            if not np.isfinite(targets).all() or targets.min() < 0 or targets.max() > 1:
                raise ValueError("soft_targets must be probabilities, in [0, 1].")
        params = {}
        if sample_weight is not None:
            params["sample_weight"] = _check_sample_weight(sample_weight, X)
        columns = [1] if n_classes == 2 else range(n_classes)
        self.regressors_ = [clone(self._template()).fit(X, targets[:, k], **params)
                            for k in columns]
        return self

    def predict_proba(self, X):
        """Class probabilities: the regressors' outputs, clipped to [0, 1], normalised.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, in the order of ``classes_``.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        values = np.column_stack([np.asarray(regressor.predict(X), dtype=np.float64)
                                  for regressor in self.regressors_])
        values = np.clip(values, 0.0, 1.0)
        if len(self.classes_) == 2:
            return np.hstack([1.0 - values, values])
        totals = values.sum(axis=1, keepdims=True)
        uniform = np.full_like(values, 1.0 / values.shape[1])
        return np.divide(values, totals, out=uniform, where=totals > 0)

    def predict(self, X):
        """The most probable class of each row.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._template()).input_tags
        tags.input_tags.allow_nan = inner.allow_nan
        tags.input_tags.sparse = inner.sparse
        return tags
