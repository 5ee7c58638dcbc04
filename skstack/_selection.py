"""Caruana greedy ensemble selection: :class:`GreedyEnsembleSelector`."""

import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import get_scorer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._tags import ClassifierTags, RegressorTags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._scoring import prediction_scorer
from ._utils import SEED_MAX, ScoreMixin

__all__ = ["GreedyEnsembleSelector"]

_DEFAULT_SCORING = {"classification": "neg_log_loss", "regression": "neg_root_mean_squared_error"}

# Folds of the cross-validated check of the linear combiner (combiner="auto").
_COMBINER_FOLDS = 5


def task_of_scoring(scoring):
    """``"classification"``, ``"regression"`` or None (unknown) for a scoring name or scorer."""
    if scoring is None:
        return None
    try:
        scorer = get_scorer(scoring) if isinstance(scoring, str) else scoring
    except ValueError:
        return None
    module = getattr(getattr(scorer, "_score_func", None), "__module__", "") or ""
    if module.endswith("_regression"):
        return "regression"
    if module.endswith(("_classification", "_ranking")):
        return "classification"
    return None


def _task_of_data(X, y):
    """Guess the task from the data: class labels with probability-like columns that fit."""
    if type_of_target(y) not in ("binary", "multiclass"):
        return "regression"
    n_classes = len(np.unique(y))
    width = 1 if n_classes == 2 else n_classes
    probability_like = X.size == 0 or (X.min() >= 0.0 and X.max() <= 1.0)
    if probability_like and X.shape[1] % width == 0:
        return "classification"
    return "regression"


def align_proba(proba, classes, all_classes):
    """Probability columns of ``classes`` spread over ``all_classes`` (missing ones 0)."""
    if len(classes) == len(all_classes):
        return proba
    out = np.zeros((len(proba), len(all_classes)))
    out[:, np.searchsorted(all_classes, classes)] = proba
    return out


def blend_response(task, blend):
    """Blend of predictions -> what the scorer or the user receives."""
    if task == "regression":
        return blend
    if blend.ndim == 1:
        positive = np.clip(blend, 0.0, 1.0)
        return np.column_stack([1.0 - positive, positive])
    blend = np.clip(blend, 0.0, None)
    sums = blend.sum(axis=1, keepdims=True)
    # A row of all-zero probabilities carries no preference: make it uniform.
    return np.divide(blend, sums, out=np.full_like(blend, 1 / blend.shape[1]), where=sums > 0)


def _fit_weighted(model, X, y, sample_weight):
    if sample_weight is None:
        return model.fit(X, y)
    return model.fit(X, y, sample_weight=sample_weight)


def _first_best(trajectory):
    """Index of the first score equal to the best up to rounding: smaller ensembles win ties."""
    trajectory = np.asarray(trajectory)
    best = trajectory.max()
    return int(np.flatnonzero(trajectory >= best - 1e-12 * max(1.0, abs(best)))[0])


def _out_of_time(deadline, history):
    """Whether a selection past ``deadline`` (None: never) stops; the first step is always
    taken, so that the selection holds a model."""
    return deadline is not None and len(history) > 0 and time.monotonic() >= deadline


def _select(preds, score, n_iterations, sorted_initialization, rng, deadline=None):
    """Forward selection with replacement over ``preds`` (models on axis 0).

    Returns the integer count of every model and the score after each added model, with the
    trajectory cut at its best point. Ties prefer models already chosen, then a seeded pick.
    Past ``deadline`` (a :func:`time.monotonic` value) no more models are added.
    """
    n_models = len(preds)
    if n_models == 1:  # every step would add the same model: its blend never changes
        return np.array([1]), np.asarray([score(preds[0])])
    history, trajectory = [], []
    total = np.zeros_like(preds[0])
    if sorted_initialization:
        singles = np.array([score(p) for p in preds])
        order = np.argsort(-singles, kind="stable")
        for model in order[: min(n_models, n_iterations)]:
            if _out_of_time(deadline, history):
                break
            total += preds[model]
            history.append(model)
            trajectory.append(score(total / len(history)))
        keep = _first_best(trajectory) + 1
        history, trajectory = history[:keep], trajectory[:keep]
        total = preds[history].sum(axis=0)
    while len(history) < n_iterations and not _out_of_time(deadline, history):
        size = len(history) + 1
        scores = np.array([score((total + p) / size) for p in preds])
        ties = np.flatnonzero(np.isclose(scores, scores.max(), rtol=1e-12, atol=0.0))
        chosen = [m for m in ties if m in history]
        candidates = chosen or list(ties)
        model = candidates[0] if len(candidates) == 1 else int(rng.choice(candidates))
        total += preds[model]
        history.append(model)
        trajectory.append(scores[model])
    best = _first_best(trajectory) + 1
    counts = np.bincount(np.asarray(history[:best], dtype=np.intp), minlength=n_models)
    return counts, np.asarray(trajectory[:best])


class GreedyEnsembleSelector(ScoreMixin, BaseEstimator):
    """Caruana et al. (2004) greedy ensemble selection over stacked model predictions.

    Each input column block holds one model's predictions (the output of a
    :class:`StackLayer` without passthrough): one column per model for binary classification
    (positive-class probability) and regression, ``n_classes`` columns per model for
    multiclass. Starting from an empty ensemble, the model whose addition gives the best
    ``scoring`` is added, with replacement, ``n_iterations`` times; the trajectory is cut at
    its best iteration and the counts become the weights of a weighted average.

    **Classifier or regressor.** Tools such as :func:`~sklearn.model_selection.cross_val_score`
    ask before fitting whether the final step is a classifier (to stratify). ``task`` answers:
    ``"classification"`` or ``"regression"``, or ``"auto"``, which reads the task from
    ``scoring`` when it names a classification or regression metric, and otherwise from the
    data at fit time: classification when ``y`` holds class labels and the columns look like
    probabilities that fit the number of classes (before fit the selector is then neither,
    and such tools do not stratify). Set ``task`` to remove all guessing.

    Read more in the :ref:`User Guide <selection>`.

    Parameters
    ----------
    task : {"auto", "classification", "regression"}, default="auto"
        The learning task, which sets the estimator type (see above).

    scoring : str or callable, default=None
        Scorer to maximise; None means ``"neg_log_loss"`` for classification and
        ``"neg_root_mean_squared_error"`` for regression.

    n_iterations : int, default=25
        Number of models added (with replacement) before the cut at the best iteration.

    sorted_initialization : bool, default=False
        Start from the best-scoring prefix of the models sorted by their own score
        (Caruana et al.'s sorted initialization), then continue greedily.

    bagging : bool, default=False
        Caruana et al.'s bagged selection: repeat the selection ``n_bags`` times, each over a
        random ``bag_fraction`` of the models, and sum the counts.

    n_bags : int, default=20
        Number of selection bags when ``bagging=True``.

    bag_fraction : float, default=0.5
        Fraction of the models drawn for each bag.

    combiner : {"weighted", "linear", "auto"}, default="weighted"
        How the selected models are combined. ``"weighted"``: the greedy weights' average.
        ``"linear"``: a linear model on the selected models' predictions (logistic
        regression on their probabilities, ridge regression on their values), as
        scikit-learn's stacking does; it can sharpen, recalibrate and weigh classes
        differently, which an average cannot. ``"auto"``: the linear model only when it
        scores higher on held-out folds (5 folds, each repeating the greedy selection on
        its training part).

    combiner_time_limit : float, default=None
        Seconds the ``"auto"`` check may take: when its first fold projects past them, the
        weighted average is kept. None means no limit.

    time_limit : float, default=None
        Seconds the greedy selection may take: once they have passed, no more models are
        added (the first always is) and the ensemble is the best of the steps taken. None
        means no limit. Under a time budget, a selection among many models with a slow
        metric (log loss over many classes) then cannot overrun it.

    random_state : int, RandomState instance or None, default=None
        Seeds tie-breaking, model bagging and the combiner's folds.

    Attributes
    ----------
    task_ : str
        The task used: ``"classification"`` or ``"regression"``.

    model_names_ : ndarray of str
        One name per model column block, from the input feature names (the ``__<class>``
        suffix removed) or ``model0, model1, ...``.

    counts_ : ndarray of int
        How many times each model was selected.

    weights_ : dict
        Normalised weight of every model, by name (zero for unselected models).

    trajectory_ : list of ndarray
        Score after each selection step, for each selection run (one unless ``bagging``).

    ensemble_score_ : float
        Score of the ensemble as it predicts: the weighted average's on the training
        predictions; with the linear combiner, its cross-validated score (``"auto"``) or
        its score on the training predictions (``"linear"``).

    weighted_score_ : float
        Score of the weighted average on the training predictions.

    combiner_ : {"weighted", "linear"}
        The combiner used at prediction time.

    linear_ : estimator or None
        The fitted linear combiner (on the selected models' columns), when it is used.

    combiner_scores_ : dict or None
        Cross-validated scores of the ``"weighted"`` and ``"linear"`` combiners, when
        ``combiner="auto"`` computed them (each fold repeats the selection on its
        training part).

    classes_ : ndarray of shape (n_classes,)
        Class labels (classification only).

    n_features_in_ : int
        Number of input columns seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of input columns seen during :meth:`fit`, when they are all strings.

    See Also
    --------
    StackLayer : Produces the prediction columns this selector blends.

    References
    ----------
    R. Caruana, A. Niculescu-Mizil, G. Crew, A. Ksikes, "Ensemble selection from libraries
    of models", ICML 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from skstack import GreedyEnsembleSelector
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=200)
    >>> good = np.clip(y + rng.normal(0, 0.3, 200), 0.01, 0.99)
    >>> noise = rng.uniform(0.01, 0.99, 200)
    >>> selector = GreedyEnsembleSelector(task="classification", random_state=0)
    >>> selector.fit(np.c_[good, noise], y).weights_
    {'model0': 1.0, 'model1': 0.0}
    """

    _parameter_constraints: dict = {
        "task": [StrOptions({"auto", "classification", "regression"})],
        "scoring": [None, str, callable],
        "n_iterations": [Interval(Integral, 1, None, closed="left")],
        "sorted_initialization": ["boolean"],
        "bagging": ["boolean"],
        "n_bags": [Interval(Integral, 1, None, closed="left")],
        "bag_fraction": [Interval(Real, 0, 1, closed="right")],
        "combiner": [StrOptions({"weighted", "linear", "auto"})],
        "combiner_time_limit": [None, Interval(Real, 0, None, closed="left")],
        "time_limit": [None, Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        task="auto",
        scoring=None,
        n_iterations=25,
        sorted_initialization=False,
        bagging=False,
        n_bags=20,
        bag_fraction=0.5,
        combiner="weighted",
        combiner_time_limit=None,
        time_limit=None,
        random_state=None,
    ):
        self.task = task
        self.scoring = scoring
        self.n_iterations = n_iterations
        self.sorted_initialization = sorted_initialization
        self.bagging = bagging
        self.n_bags = n_bags
        self.bag_fraction = bag_fraction
        self.combiner = combiner
        self.combiner_time_limit = combiner_time_limit
        self.time_limit = time_limit
        self.random_state = random_state

    def _declared_task(self):
        """The task known before fit, or None."""
        if hasattr(self, "task_"):
            return self.task_
        if self.task != "auto":
            return self.task
        return task_of_scoring(self.scoring)

    def _is_classification(self):
        return self._declared_task() == "classification"

    # ---- fitting -----------------------------------------------------------------------

    def _model_blocks(self, X):
        """Split the columns into per-model blocks (models on axis 0)."""
        width = getattr(self, "_width", 1)
        if width == 1:
            return X.T.copy()
        return X.reshape(X.shape[0], -1, width).transpose(1, 0, 2).copy()

    def _names(self, n_models, width):
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return np.asarray([f"model{m}" for m in range(n_models)], dtype=object)
        firsts = names[::width]
        if width > 1 or len(getattr(self, "classes_", ())) == 2:
            firsts = [str(name).rsplit("__", 1)[0] for name in firsts]
        return np.asarray(firsts, dtype=object)

    def _response(self, blend):
        return blend_response(self.task_, blend)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Select the ensemble on training (out-of-fold) predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_models * width)
            Prediction columns: ``width`` is 1 for binary classification and regression,
            ``n_classes`` for multiclass.
        y : array-like of shape (n_samples,)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights passed to the scorer.

        Returns
        -------
        self : GreedyEnsembleSelector
            The fitted selector.
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        y = column_or_1d(y, warn=True)
        self.task_ = self._declared_task() or _task_of_data(X, y)
        self._width = self._check_target(X, y)
        if self.task_ == "regression":
            y = y.astype(np.float64)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        preds = self._model_blocks(X)
        self.model_names_ = self._names(len(preds), self._width)
        rng = check_random_state(self.random_state)
        self.counts_, self.trajectory_ = self._selection(preds, y, sample_weight, rng)
        self._weights = self.counts_ / self.counts_.sum()
        self.weights_ = dict(zip(self.model_names_.tolist(), self._weights.tolist()))
        score_response = self._scorer(y, sample_weight)
        self.weighted_score_ = score_response(self._response(
            np.tensordot(self._weights, preds, axes=1)))
        self.ensemble_score_ = self.weighted_score_
        self.combiner_, self.linear_, self.combiner_scores_ = "weighted", None, None
        if self.combiner != "weighted":
            self._fit_combiner(X, preds, y, sample_weight, score_response, rng)
        return self

    def _scorer(self, y, sample_weight):
        """``score(response) -> float`` against ``y``: the scoring's fast path."""
        return prediction_scorer(
            self.scoring, _DEFAULT_SCORING[self.task_], y,
            classes=getattr(self, "classes_", None), sample_weight=sample_weight,
        )

    def _selection(self, preds, y, sample_weight, rng):
        """The count of every model and the trajectory of each selection run on these rows."""
        score_response = self._scorer(y, sample_weight)

        def score(blend):
            return score_response(self._response(blend))

        runs = [np.arange(len(preds))]
        if self.bagging:
            size = max(1, round(self.bag_fraction * len(preds)))
            runs = [rng.choice(len(preds), size=size, replace=False) for _ in range(self.n_bags)]
        deadline = None if self.time_limit is None else time.monotonic() + self.time_limit
        counts, trajectories = np.zeros(len(preds), dtype=np.intp), []
        for models in runs:
            run_counts, trajectory = _select(
                preds[models], score, self.n_iterations, self.sorted_initialization, rng,
                deadline,
            )
            counts[models] += run_counts
            trajectories.append(trajectory)
        return counts, trajectories

    # ---- the linear combiner ------------------------------------------------------------

    def _selected_columns(self, weights=None):
        """Input column indices of the models with a non-zero weight."""
        models = np.flatnonzero((self._weights if weights is None else weights) > 0)
        return (models[:, None] * self._width + np.arange(self._width)).ravel()

    def _linear_features(self, X):
        """The selected models' columns (probabilities, as scikit-learn's stacking uses)."""
        return X[:, self._columns]

    def _linear_model(self):
        if self.task_ == "regression":
            return RidgeCV(alphas=(0.1, 1.0, 10.0))
        return LogisticRegression(C=1.0, max_iter=1000)

    def _linear_response(self, model, Z):
        if self.task_ == "regression":
            return model.predict(Z)
        return align_proba(model.predict_proba(Z), model.classes_, self.classes_)

    def _fit_combiner(self, X, preds, y, sample_weight, score_response, rng):
        """Fit the linear combiner; with ``"auto"``, keep it only if it scores higher."""
        self._columns = self._selected_columns()
        if self.combiner == "auto":
            self.combiner_scores_ = self._cross_validated_scores(X, preds, y, sample_weight,
                                                                 rng)
            scores = self.combiner_scores_
            if scores is None or scores["linear"] <= scores["weighted"]:
                return
        Z = self._linear_features(X)
        self.linear_ = _fit_weighted(self._linear_model(), Z, y, sample_weight)
        self.combiner_ = "linear"
        self.ensemble_score_ = (score_response(self._linear_response(self.linear_, Z))
                                if self.combiner_scores_ is None
                                else self.combiner_scores_["linear"])

    def _linear_fits_in_time(self, X, y, sample_weight, rng):
        """Whether 6 linear fits on all rows project within ``combiner_time_limit``.

        Timed on a tenth of the rows (at least 200), so that even the first fold of the
        check cannot overrun a limit that a large table would blow.
        """
        n_rows = len(y)
        rows = rng.choice(n_rows, size=min(n_rows, max(200, n_rows // 10)), replace=False)
        start = time.perf_counter()
        try:
            _fit_weighted(self._linear_model(), self._linear_features(X[rows]), y[rows],
                          None if sample_weight is None else sample_weight[rows])
        except ValueError:  # e.g. a single class among the sampled rows
            return False
        projected = (time.perf_counter() - start) * n_rows / len(rows)
        return projected * (_COMBINER_FOLDS + 1) <= self.combiner_time_limit

    def _cross_validated_scores(self, X, preds, y, sample_weight, rng):
        """Both combiners' scores on held-out folds, or None when out of time or rows.

        Each fold repeats the whole procedure on its training part (the greedy selection,
        then the linear model on the models it selected), so that neither combiner is
        scored on the rows that chose it.
        """
        classification = self.task_ == "classification"
        splitter = (StratifiedKFold if classification else KFold)(
            _COMBINER_FOLDS, shuffle=True, random_state=rng.randint(SEED_MAX))
        try:
            splits = list(splitter.split(X, y))
        except ValueError:  # a class too rare for the folds
            return None
        if self.combiner_time_limit is not None and not self._linear_fits_in_time(
                X, y, sample_weight, rng):
            return None
        start = time.perf_counter()
        responses = {}
        for i, (train, test) in enumerate(splits):
            w_train = None if sample_weight is None else sample_weight[train]
            counts = self._selection(preds[:, train], y[train], w_train, rng)[0]
            weights = counts / counts.sum()
            columns = self._selected_columns(weights)
            model = _fit_weighted(self._linear_model(), X[train][:, columns], y[train],
                                  w_train)
            fold = {
                "weighted": self._response(np.tensordot(weights, preds[:, test], axes=1)),
                "linear": self._linear_response(model, X[test][:, columns]),
            }
            for name, pred in fold.items():
                if name not in responses:
                    responses[name] = np.zeros((len(y),) + pred.shape[1:])
                responses[name][test] = pred
            if i == 0 and self.combiner_time_limit is not None:
                # The other folds and the final fit take about as long as the first.
                first = time.perf_counter() - start
                if first * (_COMBINER_FOLDS + 1) > self.combiner_time_limit:
                    return None
        score_response = self._scorer(y, sample_weight)
        return {name: float(score_response(pred)) for name, pred in responses.items()}

    def _check_target(self, X, y):
        """Validate ``y`` for the task; return the number of columns per model."""
        if self.task_ == "regression":
            try:
                y.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError("task='regression' needs a numeric target.") from exc
            return 1
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                "Classifier can't train when only one class is present: the data contains "
                f"only class {self.classes_[0]!r}."
            )
        width = 1 if len(self.classes_) == 2 else len(self.classes_)
        if X.shape[1] % width:
            raise ValueError(
                f"With {len(self.classes_)} classes the selector expects {width} probability "
                f"columns per model, but X has {X.shape[1]} columns. Put it right after a "
                "StackLayer with passthrough=False."
            )
        return width

    # ---- prediction --------------------------------------------------------------------

    def _blend(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if self.linear_ is not None:
            return self._linear_response(self.linear_, self._linear_features(X))
        return self._response(np.tensordot(self._weights, self._model_blocks(X), axes=1))

    def predict(self, X):
        """Predict with the weighted average of the selected models.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_models * width)
            Prediction columns, laid out as in :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Class labels or regression values.
        """
        blend = self._blend(X)
        if self.task_ == "regression":
            return blend
        return self.classes_[np.argmax(blend, axis=1)]

    @available_if(_is_classification)
    def predict_proba(self, X):
        """Class probabilities of the weighted ensemble (renormalised).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_models * width)
            Prediction columns, laid out as in :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        return self._blend(X)

    def _scores_as_classifier(self):
        return self.task_ == "classification"  # task="auto" is decided by fit

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        task = self._declared_task()
        if task == "classification":
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        elif task == "regression":
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        return tags
