"""One stack layer of bagged models: :class:`StackLayer`.

Beyond its public API, :class:`StackLayer` offers :mod:`skstack.auto` a small semi-private
interface (``AUTO_INTERFACE``; ``tests/test_stacking.py`` checks that ``auto`` uses no
other private method of the layer or its bags):

- ``_fit(X, y, sample_weight, groups, fit_params, fit_member=None, ...)``: the fit, with a
  ``fit_member(name, estimator, fit)`` callback that decides per model whether and until
  when it trains, and may leave it out;
- ``_add_repeat(X, y, sample_weight, groups, fit_member, names, random_state)``: one more
  k-fold repeat of the bags ``names`` on a new shuffle they share;
- ``_merge(other)``: the bags of a layer fitted on the same rows and folds, added;
- ``_keep(names)``: the layer pruned to the models ``names``;
- ``_oof_frame(X)`` and ``_oof_predictions()``: the out-of-fold output, with and without
  the passthrough columns.
"""

import warnings

import numpy as np
from scipy import sparse
from sklearn.base import (
    TransformerMixin,
    _fit_context,
    clone,
    is_classifier,
    is_regressor,
)
from sklearn.utils import Bunch
from sklearn.utils._set_output import _get_output_config
from sklearn.utils._tags import get_tags
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ._bagging import BaggedOOFEstimator
from ._cluster import data_sent_once
from ._folds import make_fold_plan
from ._utils import validate_X, validate_y

__all__ = ["StackLayer"]

# The private methods skstack.auto may call (see the module's docstring).
AUTO_INTERFACE = ("_fit", "_add_repeat", "_merge", "_keep", "_oof_frame", "_oof_predictions")


def stack_columns(pred, n_classes):
    """Stack features of one model: 1 column for binary and regression, else one per class."""
    if pred.ndim == 1:
        return pred[:, None]
    if n_classes == 2:
        return pred[:, 1:]
    return pred


class StackLayer(TransformerMixin, _BaseComposition):
    """One stack layer: bag every model over shared folds and output their predictions.

    Every estimator is wrapped in a :class:`BaggedOOFEstimator`, all over the same folds.
    :meth:`fit_transform` returns the out-of-fold (OOF) predictions of the training rows, so
    that the next step learns from predictions its rows did not influence; :meth:`transform`
    returns, for new rows, the average of the same fold models. Hence
    ``fit_transform(X, y)`` differs from ``fit(X, y).transform(X)`` by design, like
    :class:`~sklearn.preprocessing.TargetEncoder`'s cross fitting. In a
    :class:`~sklearn.pipeline.Pipeline`, ``fit`` uses the former and ``predict`` the latter.

    The output has one column per model for binary classification (probability of the
    positive class) and regression, and one column per class and model for multiclass; with
    ``passthrough=True`` the input features follow.

    Read more in the :ref:`User Guide <stacking>`.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The models of the layer: all classifiers or all regressors. An estimator can be
        ``"drop"``. Nested parameters are reachable as ``<name>__<param>``.

    n_folds : int or "auto", default="auto"
        Folds per repeat, shared by all models (see :class:`BaggedOOFEstimator`).

    n_repeats : int, default=1
        Number of k-fold repeats.

    cv : int, cross-validation generator or iterable, default=None
        A splitter used instead of the built-in folds.

    passthrough : bool, default=False
        Append the input features to the predictions (AutoGluon's ``use_orig_features``).

    scoring : str or callable, default=None
        Scorer of the per-model OOF scores in ``oof_scores_``; None means accuracy or R².

    refit_full : bool, default=False
        Refit every model on all rows and transform new rows with those refits.

    native_oof : bool, default=True
        Let models with their own OOF predictions (``fit_oof``) train once instead of per
        fold (see :class:`BaggedOOFEstimator`).

    n_jobs : int, default=None
        Parallel fold fits per model (see :class:`BaggedOOFEstimator`).

    random_state : int, RandomState instance or None, default=None
        Seeds the shared folds and the models' unset seeds.

    verbose : int, default=0
        joblib verbosity.

    Attributes
    ----------
    estimators_ : list of BaggedOOFEstimator
        The fitted bags, ``"drop"`` left out.

    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted bags by name.

    oof_scores_ : dict
        OOF score of every model, by name.

    fit_times_ : dict
        Seconds spent fitting each bag, by name.

    classes_ : ndarray of shape (n_classes,)
        Class labels (classification layers only).

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during :meth:`fit`, when they are all strings.

    See Also
    --------
    BaggedOOFEstimator : The bag every model is wrapped in.
    GreedyEnsembleSelector : The usual last step after a layer.
    sklearn.ensemble.StackingClassifier : Stacking with a full refit for test-time features.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skstack import StackLayer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> layer = StackLayer([("tree", DecisionTreeClassifier(max_depth=3)),
    ...                     ("lr", make_pipeline(StandardScaler(), LogisticRegression()))],
    ...                    n_folds=5, random_state=0)
    >>> oof = layer.fit_transform(X, y)
    >>> oof.shape, layer.get_feature_names_out().tolist()
    ((569, 2), ['tree__1', 'lr__1'])
    >>> {name: round(score, 3) for name, score in layer.oof_scores_.items()}
    {'tree': 0.931, 'lr': 0.977}
    """

    _parameter_constraints: dict = {
        **{
            name: constraint
            for name, constraint in BaggedOOFEstimator._parameter_constraints.items()
            if name != "estimator"
        },
        "estimators": [list],
        "passthrough": ["boolean"],
    }

    def __init__(
        self,
        estimators,
        *,
        n_folds="auto",
        n_repeats=1,
        cv=None,
        passthrough=False,
        scoring=None,
        refit_full=False,
        native_oof=True,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimators = estimators
        self.n_folds = n_folds
        self.n_repeats = n_repeats
        self.cv = cv
        self.passthrough = passthrough
        self.scoring = scoring
        self.refit_full = refit_full
        self.native_oof = native_oof
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def get_params(self, deep=True):
        """Get the parameters, including ``<name>__<param>`` of every estimator when deep.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of the contained estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params):
        """Set parameters, including whole estimators by name and their nested parameters.

        Parameters
        ----------
        **params : keyword arguments
            ``estimators``, ``<name>`` (an estimator or ``"drop"``) or ``<name>__<param>``.

        Returns
        -------
        self : StackLayer
            This estimator.
        """
        self._set_params("estimators", **params)
        return self

    @property
    def named_estimators(self):
        """The unfitted estimators by name (a :class:`~sklearn.utils.Bunch`)."""
        return Bunch(**dict(self.estimators))

    def _active(self):
        """Validated ``(name, estimator)`` pairs without the dropped ones, and the task."""
        if not self.estimators:
            raise ValueError("StackLayer needs a non-empty list of (name, estimator) tuples.")
        names = [name for name, _ in self.estimators]
        self._validate_names(names)
        active = [(name, est) for name, est in self.estimators if est != "drop"]
        if not active:
            raise ValueError("All estimators of the StackLayer are 'drop'.")
        if all(is_classifier(est) for _, est in active):
            return active, True
        if all(is_regressor(est) for _, est in active):
            return active, False
        kinds = {name: get_tags(est).estimator_type for name, est in active}
        raise ValueError(f"A StackLayer needs all classifiers or all regressors; got {kinds}.")

    def _allow_nan(self, active):
        return all(get_tags(est).input_tags.allow_nan for _, est in active)

    def _fit(self, X, y, sample_weight, groups, fit_params, fit_member=None,
             fill_uncovered=True):
        """Fit every active model as a bag over one shared fold plan.

        ``fit_member(name, estimator, fit)``, when given, runs each model's fit:
        ``fit(deadline=None, limit=None, params=None)`` returns the fitted bag (see
        ``BaggedOOFEstimator._fit_validated``; ``params`` are set on the bag's copy of
        the estimator first, to shrink it), and ``fit_member`` returns it, or None to leave
        the model out (how ``skstack.auto`` applies its time and memory budgets and skips
        failing models). ``fill_uncovered``: see ``BaggedOOFEstimator._fit_validated``.
        """
        active, classifier = self._active()
        X = validate_X(self, X, reset=True, allow_nan=self._allow_nan(active))
        y_model, classes = validate_y(y, classifier=classifier)
        if classifier:
            self.classes_ = classes
        if sample_weight is not None:
            fit_params["sample_weight"] = sample_weight
        plan = make_fold_plan(
            X,
            y_model,
            classifier=classifier,
            n_folds=self.n_folds,
            n_repeats=self.n_repeats,
            cv=self.cv,
            groups=groups,
            random_state=self.random_state,
        )
        bag_params = {
            name: getattr(self, name)
            for name in BaggedOOFEstimator._parameter_constraints
            if name != "estimator"
        }
        bags, shared = [], {}  # shared: the preprocessing fitted so far, for every bag
        with data_sent_once():  # on a Dask cluster, the bags' data is sent once
            for name, estimator in active:
                bag = BaggedOOFEstimator(clone(estimator), **bag_params)
                bag._adopt_validation(self)  # X and y as this layer validated them

                def fit(deadline=None, limit=None, params=None, bag=bag):
                    if params:
                        bag.estimator.set_params(**params)
                    return bag._fit_validated(X, y_model, dict(fit_params), groups, plan,
                                              deadline, shared, fill_uncovered, limit)

                fitted = fit() if fit_member is None else fit_member(name, estimator, fit)
                if fitted is not None:
                    bags.append((name, fitted))
        if not bags:
            raise ValueError("No model of the StackLayer was fitted.")
        self._set_members(bags)
        return X

    def _set_members(self, bags):
        """Set the fitted attributes from ``(name, fitted bag)`` pairs, in output order."""
        self.named_estimators_ = Bunch(**dict(bags))
        self.estimators_ = [bag for _, bag in bags]
        self.oof_scores_ = {name: bag.oof_score_ for name, bag in bags}
        self.fit_times_ = {name: bag.fit_time_ for name, bag in bags}
        self._prediction_names = self._names_of_predictions([name for name, _ in bags])

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, sample_weight=None, groups=None, **fit_params):
        """Fit every model as a bag over shared folds.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training input.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to every fold fit.
        groups : array-like of shape (n_samples,), default=None
            Group labels for grouped folds or a ``cv`` splitter.
        **fit_params : dict
            Passed to every model's ``fit``; per-row arrays are sliced to each fold.

        Returns
        -------
        self : StackLayer
            The fitted layer.
        """
        self._fit(X, y, sample_weight, groups, fit_params)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y, *, sample_weight=None, groups=None, **fit_params):
        """Fit the layer and return the out-of-fold predictions of the training rows.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training input.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to every fold fit.
        groups : array-like of shape (n_samples,), default=None
            Group labels for grouped folds or a ``cv`` splitter.
        **fit_params : dict
            Passed to every model's ``fit``; per-row arrays are sliced to each fold.

        Returns
        -------
        X_out : ndarray, sparse matrix or DataFrame of shape (n_samples, n_features_out)
            OOF predictions, then the input features when ``passthrough=True``.
        """
        X = self._fit(X, y, sample_weight, groups, fit_params)
        return self._oof_output(X)

    def _oof_output(self, X):
        """What :meth:`fit_transform` returns, for the fitted layer and its training ``X``."""
        return self._assemble([bag.oof_pred_ for bag in self.estimators_], X)

    def _oof_frame(self, X):
        """:meth:`_oof_output` as a named DataFrame, as :meth:`transform` gives new rows."""
        import pandas as pd

        out = self._oof_output(X)
        if hasattr(out, "columns"):
            return out
        index = X.index if hasattr(X, "index") else None
        return pd.DataFrame(out, columns=self.get_feature_names_out(), index=index)

    def _keep(self, names):
        """Prune the fitted layer to the models ``names``; the others become ``"drop"``."""
        check_is_fitted(self)
        names = set(names)
        self.set_params(**{name: "drop" for name, est in self.estimators
                           if est != "drop" and name not in names})
        self._set_members([(name, bag) for name, bag in self.named_estimators_.items()
                           if name in names])
        return self

    def _merge(self, other):
        """Add the bags of ``other``, a layer fitted on the same rows and folds, to this one.

        Their names must be among this layer's ``estimators`` (models it did not fit).
        """
        check_is_fitted(self)
        self._set_members(list(self.named_estimators_.items())
                          + list(other.named_estimators_.items()))
        return self

    def _add_repeat(self, X, y, sample_weight, groups, fit_member, names, random_state):
        """One more k-fold repeat, on a new shuffle that every bag shares, for ``names``.

        The bags ``names`` (in that order; those without fold models are passed over) add
        the folds of the repeat (``BaggedOOFEstimator._add_repeat``). ``X`` and ``y`` are
        the rows the layer was fitted on; ``fit_member`` is as in ``_fit``, and a bag it
        leaves out keeps what it had.
        """
        check_is_fitted(self)
        if self.cv is not None:
            raise ValueError("Only a layer bagged over its own k folds (cv=None) can repeat.")
        active, classifier = self._active()
        X = validate_X(self, X, reset=False, allow_nan=self._allow_nan(active))
        y_model, _ = validate_y(y, classifier=classifier)
        with warnings.catch_warnings():
            # The first repeat warned already when the rows could not fill the folds.
            warnings.simplefilter("ignore", UserWarning)
            plan = make_fold_plan(X, y_model, classifier=classifier, n_folds=self.n_folds,
                                  groups=groups, random_state=random_state)
        fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        inputs = {}  # the preprocessed rows, once per preprocessing that bags share
        for name in names:
            bag = self.named_estimators_[name]
            if bag._native_fit:
                continue

            def fit(deadline=None, bag=bag):
                key = id(bag.preprocessor_)
                if key not in inputs:
                    inputs[key] = bag._preprocess(X)
                return bag._add_repeat(inputs[key], y_model, plan, dict(fit_params), deadline)

            fit_member(name, bag, fit)
        self._set_members(list(self.named_estimators_.items()))
        return self

    def transform(self, X):
        """Predictions of new rows: every bag's fold models averaged.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        X_out : ndarray, sparse matrix or DataFrame of shape (n_samples, n_features_out)
            Predictions, then the input features when ``passthrough=True``.
        """
        check_is_fitted(self)
        allow_nan = all(get_tags(bag).input_tags.allow_nan for bag in self.estimators_)
        X = validate_X(self, X, reset=False, allow_nan=allow_nan)
        encoded = {}  # bags sharing one fitted preprocessing apply it once
        prepared = {}  # and bags of one family over it convert its output once
        preds = []
        for bag in self.estimators_:
            key = id(bag.preprocessor_)
            if key not in encoded:
                encoded[key] = bag._preprocess(X)
            preds.append(bag._average_models(encoded[key], bag._models(), store=prepared))
        return self._assemble(preds, X)

    def _stack(self, preds):
        n_classes = len(self.classes_) if hasattr(self, "classes_") else 0
        return np.hstack([stack_columns(pred, n_classes) for pred in preds])

    def _oof_predictions(self):
        """The OOF prediction columns alone (never the passthrough), as a named frame."""
        import pandas as pd

        stacked = self._stack([bag.oof_pred_ for bag in self.estimators_])
        return pd.DataFrame(stacked, columns=self._prediction_names)

    def _assemble(self, preds, X):
        stacked = self._stack(preds)
        if not self.passthrough:
            return stacked
        if hasattr(X, "columns") and _get_output_config("transform", self)["dense"] == "pandas":
            import pandas as pd

            # Concatenating frames keeps the passthrough columns' own dtypes (categoricals).
            predictions = pd.DataFrame(stacked, columns=self._prediction_names, index=X.index)
            return pd.concat([predictions, X], axis=1)
        if sparse.issparse(X):
            return sparse.hstack([sparse.csr_matrix(stacked), X], format="csr")
        return np.hstack([stacked, np.asarray(X)])

    def _names_of_predictions(self, names):
        if not hasattr(self, "classes_"):
            return names
        classes = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        return [f"{name}__{label}" for name in names for label in classes]

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``<model>`` or ``<model>__<class>``, then the inputs.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input feature names, used only with ``passthrough=True``; by default
            ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
            The output column names.
        """
        check_is_fitted(self)
        names = list(self._prediction_names)
        if self.passthrough:
            names += list(_check_feature_names_in(self, input_features))
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        try:
            active, _ = self._active()
        except (ValueError, TypeError):
            return tags
        inner = [get_tags(est).input_tags for _, est in active]
        tags.input_tags.allow_nan = all(t.allow_nan for t in inner)
        tags.input_tags.sparse = all(t.sparse for t in inner)
        return tags
