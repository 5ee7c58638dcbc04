"""AutoGluon's tabular experience as scikit-learn estimators: AutoStackClassifier/Regressor.

The estimators are thin: they hold the parameters, validate the input and compose the fit's
parts, each in its own module: the presets (:mod:`.presets`), the time budget
(:mod:`._budget`), the level loop (:mod:`._run`, with the members that train each model in
:mod:`._members`), the stacked-overfitting check (:mod:`._stacking_check`), the ensemble
selection (:mod:`._ensemble`), what the fitted model predicts with (:mod:`._deployment`)
and the record of it all (:mod:`._report`). ``pipeline_`` is an ordinary fitted
:class:`~sklearn.pipeline.Pipeline` of skstack's blocks: the column encoder, one
:class:`~skstack.StackLayer` per level and a :class:`~skstack.GreedyEnsembleSelector`.
"""

import copy
import warnings
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    _num_samples,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from .._utils import SEED_MAX, ScoreMixin, check_labels
from ._budget import TimeBudget
from ._deployment import deployed_ensemble, make_pipeline, member_pipeline, refit_full
from ._distill import distill
from ._encoding import budgeted_encoder
from ._ensemble import oof_ensemble_proba
from ._progress import Progress
from ._report import (
    feature_importance_frame,
    leaderboard_frame,
    plot_leaderboard,
)
from ._run import DEFAULT_SCORING, FitRun
from ._threshold import check_threshold_scoring, threshold_scorer, tune_threshold
from ._warm_start import WarmState, fingerprint
from .presets import PRESETS, resolve_preset

__all__ = ["AutoStackClassifier", "AutoStackRegressor"]


class _BaseAutoStack(BaseEstimator):
    """Shared fit of :class:`AutoStackClassifier` and :class:`AutoStackRegressor`."""

    _task = None  # "classification" or "regression"

    _parameter_constraints: dict = {
        "presets": [StrOptions(set(PRESETS))],
        "time_limit": [None, Interval(Real, 0, None, closed="neither")],
        "scoring": [None, str, callable],
        "portfolio": [None, list],
        "excluded_families": [None, list, tuple],
        "column_types": [None, dict],
        "n_folds": [StrOptions({"auto"}), Interval(Integral, 2, None, closed="left")],
        "n_repeats": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "cv": [None, "cv_object"],
        "n_stack_levels": [StrOptions({"auto"}), Interval(Integral, 0, None, closed="left")],
        "passthrough": ["boolean"],
        "refit": [StrOptions({"auto"}), "boolean"],
        "dynamic_stacking": ["boolean"],
        "holdout_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iterations": [Interval(Integral, 1, None, closed="left")],
        "combiner": [StrOptions({"weighted", "linear", "auto"})],
        "prune": ["boolean"],
        "infer_limit": [None, Interval(Real, 0, None, closed="neither")],
        "infer_limit_batch_size": [Interval(Integral, 1, None, closed="left")],
        "memory_limit": [None, Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        *,
        presets="medium_quality",
        time_limit=None,
        scoring=None,
        portfolio=None,
        excluded_families=None,
        column_types=None,
        n_folds="auto",
        n_repeats="auto",
        cv=None,
        n_stack_levels="auto",
        passthrough=True,
        refit="auto",
        dynamic_stacking=True,
        holdout_fraction=0.1,
        n_iterations=25,
        combiner="auto",
        prune=True,
        infer_limit=None,
        infer_limit_batch_size=10_000,
        memory_limit=None,
        random_state=None,
        n_jobs=None,
        verbose=0,
        warm_start=False,
    ):
        self.presets = presets
        self.time_limit = time_limit
        self.scoring = scoring
        self.portfolio = portfolio
        self.excluded_families = excluded_families
        self.column_types = column_types
        self.n_folds = n_folds
        self.n_repeats = n_repeats
        self.cv = cv
        self.n_stack_levels = n_stack_levels
        self.passthrough = passthrough
        self.refit = refit
        self.dynamic_stacking = dynamic_stacking
        self.holdout_fraction = holdout_fraction
        self.n_iterations = n_iterations
        self.combiner = combiner
        self.prune = prune
        self.infer_limit = infer_limit
        self.infer_limit_batch_size = infer_limit_batch_size
        self.memory_limit = memory_limit
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.warm_start = warm_start

    # ---- settings ----------------------------------------------------------------------

    def _settings(self, n_samples):
        """The preset's row for this data, with the explicit parameters laid over it."""
        settings = resolve_preset(self.presets, n_samples)
        if self.portfolio is not None:
            settings["portfolio"] = self.portfolio
        if self.refit != "auto":
            settings["refit_full"] = self.refit
        if self.n_stack_levels != "auto":
            settings["n_stack_levels"] = self.n_stack_levels
        if self.cv is not None:
            settings["bagging"] = True  # over the user's folds, whatever the preset's plan
        if not settings["bagging"] and settings["n_stack_levels"] > 0:
            warnings.warn(
                f"presets={self.presets!r} fits on one holdout split, whose training rows have "
                "no out-of-fold predictions to stack on: n_stack_levels is set to 0. Use a "
                "bagged preset to stack.",
                UserWarning,
                stacklevel=3,
            )
            settings["n_stack_levels"] = 0
        return settings

    def _scoring(self):
        return self.scoring if self.scoring is not None else DEFAULT_SCORING[self._task]

    # ---- fit ---------------------------------------------------------------------------

    def _check_X(self, X, reset):
        """Frames keep their dtypes for the encoder; arrays are checked, NaN allowed."""
        if hasattr(X, "columns"):
            validate_data(self, X, reset=reset, skip_check_array=True)
            return X
        return validate_data(self, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")

    def _validate_input(self, X, y, sample_weight):
        X = self._check_X(X, reset=True)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target "
                             "y is None.")
        y = _check_y(y, y_numeric=self._task == "regression", estimator=self)
        check_consistent_length(X, y)
        if _num_samples(X) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 rows; got "
                             f"n_samples={_num_samples(X)}.")
        if self._task == "classification":
            check_labels(y)
            if len(np.unique(y)) < 2:
                raise ValueError("Classifier can't train when only one class is present.")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if (self.warm_start and self.cv is not None and not isinstance(self.cv, Integral)
                and not hasattr(self.cv, "split") and not isinstance(self.cv, Sequence)):
            raise ValueError("warm_start=True needs a cv that a later fit can compare and "
                             "split again: a splitter, a number of folds or a list of "
                             f"(train, test) pairs; got {type(self.cv).__name__}.")
        if self.cv is not None and (self.n_folds != "auto" or self.n_repeats not in ("auto", 1)):
            raise ValueError(
                f"cv={self.cv!r} sets the folds: leave n_folds and n_repeats at 'auto' "
                f"(got n_folds={self.n_folds!r}, n_repeats={self.n_repeats!r}).")
        return X, y, sample_weight

    def _weighted(self, y, sample_weight):
        """The row weights every model trains with (the classifier adds class weights)."""
        return sample_weight

    def _training_rows(self, X, y, sample_weight):
        """The training rows given again after :meth:`fit`, validated and weighted as the
        fit weighted them."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        y = _check_y(y, y_numeric=self._task == "regression", estimator=self)
        check_consistent_length(X, y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        return X, y, self._weighted(y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, sample_weight=None, groups=None):
        """Train the portfolio level by level within ``time_limit`` and select the ensemble.

        Ctrl-C stops the training of more models; the fit then ensembles what finished.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Training input. Frames may mix numeric, categorical, string, boolean and
            datetime columns with missing values.
        y : array-like of shape (n_samples,)
            Target.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights for every model and for the ensemble selection.
        groups : array-like of shape (n_samples,), default=None
            Group labels: folds keep every group together (they are passed to a ``cv``
            splitter's ``split``).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        budget = TimeBudget(self.time_limit)
        progress = Progress(self.verbose, budget.start)
        X, y, sample_weight = self._validate_input(X, y, sample_weight)
        if groups is not None:
            groups = np.asarray(groups)
            check_consistent_length(X, groups)
        run = FitRun(self._task, self.get_params(deep=False),
                     self._settings(_num_samples(X)), budget, progress,
                     n_classes=len(np.unique(y)) if self._task == "classification" else None)
        data = (fingerprint(X, y, sample_weight, groups) if self.warm_start else None)
        warm = getattr(self, "warm_state_", None) if self.warm_start else None
        if warm is not None:
            warm.check(data, self.get_params(deep=False), type(self).__name__)
            warm = None if warm.fallback else warm
        run.memory_watch.start()
        try:
            return self._fit_run(run, X, y, sample_weight, groups, warm, data)
        finally:
            run.memory_watch.stop()

    def _fit_run(self, run, X, y, sample_weight, groups, warm=None, data=None):
        """Fit (or continue, from ``warm``) the levels, then select and deploy."""
        budget = run.budget
        if warm is None:
            encoder = (budgeted_encoder(X, self.column_types, self.time_limit, run.log)
                       if hasattr(X, "columns") else "passthrough")
            Xe = X if encoder == "passthrough" else encoder.fit_transform(X)
            run.plan = run.make_plan(Xe, y, groups)
            layers = run.fit_levels(Xe, y, sample_weight, groups)
        else:
            encoder, layers = warm.restore(run)
            Xe = X if encoder == "passthrough" else encoder.transform(X)
            run.log(1, f"continuing the earlier fit: {len(layers)} level(s)")
            layers = run.fit_levels(Xe, y, sample_weight, groups, layers)
        if not layers:
            layers = [run.fallback(Xe, y, sample_weight, groups)]
        # The selection prunes the layers it keeps; a warm start keeps every model.
        unpruned = [copy.copy(layer) for layer in layers] if self.warm_start else None
        layers, selector, infer_time = deployed_ensemble(run, X, y, sample_weight, encoder,
                                                         layers)
        self.pipeline_ = make_pipeline(encoder, layers, selector)
        self.warm_state_ = (None if unpruned is None else
                            WarmState(run, encoder, unpruned, data, self.get_params(deep=False)))
        self.records_ = run.records.records
        for record in self.records_:  # the weights of this ensemble (of a continued fit's)
            record.weight = (selector.weights_.get(record.name, 0.0)
                             if record.level == len(layers) and record.fitted else np.nan)
        self.settings_ = run.fitted_settings
        self.stacking_check_ = run.stacking_check
        self.interrupted_ = run.records.interrupted
        self.ensemble_score_ = selector.ensemble_score_
        self.infer_time_per_row_ = infer_time
        self.inference_front_ = run.inference_front
        self.fit_time_ = budget.elapsed()
        run.memory_watch.stop()
        self.peak_memory_mb_ = (run.memory_watch.peak - run.memory_watch.start_memory) / 2**20
        run.log(1, f"done: {len(layers)} level(s), ensemble score "
                   f"{selector.ensemble_score_:.4f}, {self.fit_time_:.1f} s")
        return self

    # ---- prediction and inspection -------------------------------------------------------

    def predict(self, X):
        """Predict with the fitted ensemble.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Input rows, with the columns seen at fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels or values.
        """
        check_is_fitted(self)
        return self.pipeline_.predict(self._check_X(X, reset=False))

    def refit_full(self, X, y, *, sample_weight=None):
        """Refit every kept model on all training rows, to predict with one model each.

        AutoGluon's ``refit_full``: each bag fits one more model on all rows, trained for
        the mean number of boosting rounds or epochs its folds kept, and predicts with it
        alone instead of averaging its k fold models, so prediction is about k times
        faster. The out-of-fold predictions, the upper levels and the ensemble weights stay
        as they are. The presets ``good_quality`` and ``high_quality`` do this during
        :meth:`fit`, within the time limit.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The training input given to :meth:`fit`.
        y : array-like of shape (n_samples,)
            The training target given to :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), default=None
            The row weights given to :meth:`fit`.

        Returns
        -------
        self : object
            The estimator, now predicting with the refitted models.
        """
        X, y, sample_weight = self._training_rows(X, y, sample_weight)
        refit_full(self.pipeline_, X, y, sample_weight)
        self.settings_["refit_full"] = True
        if getattr(self, "warm_state_", None) is not None:
            self.warm_state_.refitted()
        return self

    def distill(self, X, y, *, sample_weight=None, family="lightgbm", params=None,
                time_limit=None, random_state=None):
        """One fast model trained on the ensemble's predictions (AutoGluon's ``distill``).

        The student learns the ensemble's out-of-fold predictions of the training rows
        (its class probabilities, through a :class:`~skstack.SoftTargetClassifier`, or its
        values), behind the same column encoder: an ordinary fitted pipeline that
        predicts on the raw input in a fraction of the ensemble's time (its ``predict``
        is the most probable class: it does not apply a ``decision_threshold_``). Before
        it trains on every row with an out-of-fold prediction (under ``medium_quality``,
        the holdout's), a copy trained without a fifth of them scores that fifth next to the
        ensemble's own out-of-fold predictions of it and next to the same model trained on
        the labels; the report (``family``, ``rows``, ``check_rows``, ``student_score``,
        ``plain_score``, ``ensemble_score``, both pipelines' ``*_seconds_per_row`` for one
        row, ``fit_time``) is left in ``distillation_``. Where ``plain_score`` is the
        higher, the ensemble's edge is one the family cannot learn from its predictions.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The training input given to :meth:`fit`.
        y : array-like of shape (n_samples,)
            The training target given to :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), default=None
            The row weights given to :meth:`fit`.
        family : str, default="lightgbm"
            The student's family (its regressor): ``"lightgbm"``, ``"xgboost"``,
            ``"catboost"``, ``"random_forest"``, ``"extra_trees"``, ``"knn"``,
            ``"linear"``, ``"mlp"``. Boosting early-stops on a tenth of the rows.
        params : dict, default=None
            Parameters of the family's regressor, over the default portfolio's.
        time_limit : float, default=None
            Seconds the student's fits may train (shared by the check's two fits and the
            final one, and by the classes of a multiclass student).
        random_state : int, RandomState instance or None, default=None
            Seeds the held-out fifth.

        Returns
        -------
        student : Pipeline
            The column encoder (shared with ``pipeline_``) and the fitted student.
        """
        X, y, sample_weight = self._training_rows(X, y, sample_weight)
        seed = check_random_state(random_state).randint(SEED_MAX)
        pipeline, self.distillation_ = distill(
            self, X, y, sample_weight, family=family, params=params,
            time_limit=time_limit, random_state=seed)
        return pipeline

    def export_onnx(self, path=None, *, X=None, tolerance=1e-5):
        """The fitted ensemble as one ONNX model, scored without Python or skstack.

        See :func:`skstack.export.export_onnx` (the ``onnx`` extra): the inputs, the
        outputs and the members that convert. Models without weight in the ensemble are
        left out: only its members (and the levels they stack on) need to convert.

        Parameters
        ----------
        path : str or path-like, default=None
            Where to write the model; None only returns it.
        X : DataFrame or array-like, default=None
            Rows to check the export on (the training rows, say): its predictions must
            match :meth:`predict_proba` (or :meth:`predict`) within ``tolerance``.
        tolerance : float, default=1e-5
            The largest difference the check allows: absolute for probabilities,
            relative for values above 1.

        Returns
        -------
        model : onnx.ModelProto
            The exported model.
        """
        from ..export import export_onnx

        check_is_fitted(self)
        return export_onnx(self, path, X=X, tolerance=tolerance)

    def get_model(self, name):
        """One model of the fitted ensemble as an ordinary fitted estimator.

        A :class:`~sklearn.pipeline.Pipeline` of the column encoder, the levels the model
        stacks on (for a model above the first level) and the model's bag (its
        preprocessing and fold models, or its refitted model), predicting on the same raw
        input as this estimator: to deploy or inspect one member. Its parts are shared
        with ``pipeline_``; copy it (:func:`copy.deepcopy`) before changing them.

        Parameters
        ----------
        name : str
            A model's name, as in :meth:`leaderboard`'s ``model`` column (a model above
            the first level has its level in its name: ``lightgbm_l2``).

        Returns
        -------
        model : Pipeline
            The fitted model, with ``predict`` (and ``predict_proba`` for a classifier).

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from skstack.auto import AutoStackClassifier
        >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        >>> clf = AutoStackClassifier(presets="medium_quality", time_limit=20, prune=False,
        ...                           excluded_families=["catboost", "mlp"],
        ...                           random_state=0).fit(X, y)
        >>> model = clf.get_model("lightgbm")
        >>> list(model.named_steps)
        ['encoder', 'lightgbm']
        >>> model.predict_proba(X.iloc[:2]).shape
        (2, 2)
        """
        check_is_fitted(self)
        return member_pipeline(self.pipeline_, self.records_, name)

    def save(self, path):
        """Write the fitted model to ``path``: ``.skops`` (safe loading) or joblib.

        Parameters
        ----------
        path : str or path-like
            Destination; the ``.skops`` suffix selects skops (see :mod:`skstack.io`).

        Returns
        -------
        path : Path
            The file written.
        """
        from ..io import save

        check_is_fitted(self)
        return save(self, path)

    @classmethod
    def load(cls, path, *, trusted=None):
        """Read a model written by :meth:`save` (see :func:`skstack.io.load`).

        Parameters
        ----------
        path : str or path-like
            A ``.skops`` file, or a joblib file from a trusted source.
        trusted : list of str, default=None
            Extra types to trust in a ``.skops`` file.

        Returns
        -------
        model : AutoStackClassifier or AutoStackRegressor
            The loaded model.
        """
        from ..io import load

        model = load(path, trusted=trusted)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}.")
        return model

    def leaderboard(self, X=None, y=None):
        """One row per model: family, level, scores, times, ensemble weight, status.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features), default=None
            Test rows; with ``y``, adds each kept model's ``test_score`` and every kept
            model's ``predict_time_per_row``.
        y : array-like of shape (n_samples,), default=None
            Test targets.

        Returns
        -------
        leaderboard : DataFrame
            Sorted by test score when given, else by OOF score. Scores follow scikit-learn's
            "greater is better" convention of ``scoring``; failed and skipped models have a
            ``status`` saying why.
        """
        check_is_fitted(self)
        return leaderboard_frame(self, X, y)

    def feature_importance(self, X, y, *, n_repeats=5, max_rows=5000, random_state=None,
                           n_jobs=None):
        """Permutation importance of each input column for the fitted ensemble.

        Each column of ``X`` is shuffled ``n_repeats`` times and the drop of the ``scoring``
        score is averaged (:func:`sklearn.inspection.permutation_importance`). Columns are
        shuffled as given, before the column encoder, so a datetime column is one feature.
        Use rows not seen at fit: on training rows the out-of-fold structure is lost and
        importances are inflated.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Rows to score on, with the columns seen at fit.
        y : array-like of shape (n_samples,)
            Their targets.
        n_repeats : int, default=5
            Shuffles per column.
        max_rows : int or None, default=5000
            Score on a random subsample of this many rows (None: all), which bounds the
            time: it is ``n_features * n_repeats`` predictions of ``max_rows`` rows.
        random_state : int, RandomState instance or None, default=None
            Seeds the subsample and the shuffles.
        n_jobs : int, default=None
            Columns scored in parallel (joblib).

        Returns
        -------
        importance : DataFrame
            ``feature``, ``importance`` (mean drop of the score; greater is more
            important), ``std``, ``p_value`` (one-sided t-test that the drop is above
            zero) and ``n_repeats``, sorted by importance.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        y = _check_y(y, y_numeric=self._task == "regression", estimator=self)
        check_consistent_length(X, y)
        return feature_importance_frame(self, X, y, n_repeats=n_repeats, max_rows=max_rows,
                                        random_state=random_state, n_jobs=n_jobs)

    def plot_leaderboard(self, ax=None):
        """Bar chart of the models' OOF scores, ensemble members highlighted (matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        ax : matplotlib Axes
            The axes drawn on.
        """
        check_is_fitted(self)
        return plot_leaderboard(self, ax)

    def fit_summary(self):
        """What the fit did: settings, time, models trained, skipped and failed, ensemble.

        Returns
        -------
        summary : dict
            ``presets``, ``settings``, ``time_limit``, ``fit_time``, ``n_levels``,
            ``models`` (counts by status), ``stacking_check``, ``ensemble_weights``,
            ``combiner`` (``"weighted"`` or ``"linear"``), ``ensemble_score``,
            ``interrupted``, ``infer_time_per_row``, ``peak_memory_mb``.
        """
        check_is_fitted(self)
        statuses = {}
        for record in self.records_:
            key = record.status.split(":")[0]
            statuses[key] = statuses.get(key, 0) + 1
        return {
            "presets": self.presets,
            "settings": dict(self.settings_),
            "time_limit": self.time_limit,
            "fit_time": self.fit_time_,
            "n_levels": sum(1 for name, _ in self.pipeline_.steps if name.startswith("layer")),
            "models": statuses,
            "stacking_check": self.stacking_check_,
            "ensemble_weights": dict(self.pipeline_[-1].weights_),
            "combiner": self.pipeline_[-1].combiner_,
            "ensemble_score": self.ensemble_score_,
            "interrupted": self.interrupted_,
            "infer_time_per_row": self.infer_time_per_row_,
            "peak_memory_mb": self.peak_memory_mb_,
        }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.target_tags.required = True
        return tags


class AutoStackClassifier(ScoreMixin, ClassifierMixin, _BaseAutoStack):
    """Bagged, stacked ensembles of a model portfolio under a time limit: a classifier.

    AutoGluon's recipe as one scikit-learn estimator. The fit trains a portfolio of model
    configurations (LightGBM, CatBoost, XGBoost, forests, KNN, linear models, a neural
    net) in priority order, each bagged with k-fold out-of-fold predictions; optionally
    stacks another level on those predictions when a held-out check shows it helps; and
    finishes with Caruana's greedy ensemble selection. All within ``time_limit``: models
    that cannot finish are skipped, and whatever finished is ensembled. The result,
    ``pipeline_``, is an ordinary fitted :class:`~sklearn.pipeline.Pipeline` of skstack's
    blocks.

    Read more in the :ref:`User Guide <auto>`.

    Parameters
    ----------
    presets : {"medium_quality", "good_quality", "high_quality", "best_quality"}, \
            default="medium_quality"
        The quality level, a row of :data:`skstack.auto.PRESETS`: holdout or bagging, stack
        levels, portfolio, refit. The parameters below override it where set.

    time_limit : float, default=None
        Seconds the whole fit may take; None means no limit. The fit returns within it
        (up to a small overshoot of a model that cannot be interrupted).

    scoring : str or callable, default=None
        Scorer of the OOF scores, the stacking check and the ensemble selection (any
        scikit-learn scorer name or object). None means ``"neg_log_loss"``.

    portfolio : list of PortfolioEntry, default=None
        Model configurations; None takes the preset's (:data:`skstack.families.DEFAULT`
        or :data:`skstack.families.LARGE`).

    excluded_families : list of str, default=None
        Families to leave out, e.g. ``["catboost", "mlp"]``.

    column_types : dict, default=None
        ``{column: modality}`` overrides of the column typing of frame input
        (``"numeric"``, ``"categorical"``, ``"datetime"``, ``"text"``, ``"image"``,
        ``"drop"``; see :func:`skstack.encoders.make_modality_encoder`).

    n_folds : int or "auto", default="auto"
        Folds of the bagged presets; ``"auto"`` is ``min(8, max(5, n_samples // 10))``.

    n_repeats : int or "auto", default="auto"
        k-fold repeats of the bagged presets. ``"auto"``: one, and with a ``time_limit``,
        up to 3 for bags that predict with their fold models (no ``refit``, no
        ``infer_limit``), with the time left once every model was tried, best models first
        (see :ref:`time-budget`). An integer: exactly that many for every model.

    cv : int, cross-validation generator or iterable, default=None
        The folds every model is bagged over, instead of the built-in shuffled k folds
        (or the holdout of ``medium_quality``): a number of (stratified) folds, a splitter
        such as :class:`~sklearn.model_selection.GroupKFold` (with ``groups`` passed to
        :meth:`fit`) or :class:`~sklearn.model_selection.TimeSeriesSplit`, or
        ``(train, test)`` index pairs. It is split once; every level keeps its fold
        boundaries. Rows that no fold holds out (a time-ordered split's first ones) have
        no out-of-fold prediction: the levels above, the stacking check and the
        ensemble selection use only the rows that were held out (see
        :ref:`after-fit`). No repeats are added, and ``n_folds`` and ``n_repeats``
        must stay ``"auto"``.

    n_stack_levels : int or "auto", default="auto"
        Levels stacked above the base models; ``"auto"`` takes the preset's.

    passthrough : bool, default=True
        Give stacked levels the input features next to the predictions below them.

    refit : bool or "auto", default="auto"
        During the fit, refit every model on all rows so that it predicts with one model
        instead of the fold average (AutoGluon's ``refit_full``; :meth:`refit_full` does it
        after a fit); ``"auto"`` takes the preset's.

    dynamic_stacking : bool, default=True
        Check on held-out rows that a second level helps before fitting it.

    holdout_fraction : float, default=0.1
        Validation share of the holdout preset (``medium_quality``).

    n_iterations : int, default=25
        Greedy ensemble selection steps.

    combiner : {"auto", "weighted", "linear"}, default="auto"
        How the selected models are combined (see
        :class:`~skstack.GreedyEnsembleSelector`): their greedy weights' average, a linear
        model on their predictions (logistic or ridge regression, as scikit-learn's
        stacking), or ``"auto"``: the linear model when its cross-validated score beats
        the average's, and time is left for the check.

    prune : bool, default=True
        Drop the last level's models that the ensemble does not use, so they cost nothing
        at predict time (their rows stay in the leaderboard).

    infer_limit : float, default=None
        Seconds per row the fitted ensemble may take to predict, timed on
        ``infer_limit_batch_size`` training rows at the end of the fit. Besides the
        stack, its first level is searched: the models whose removal saves the most time
        are dropped one by one (the ensemble selected again each time), down to one
        model. The ensemble of best out-of-fold score within the limit is kept; the front
        of those tried is ``inference_front_``. A warning says when even one model is too
        slow. None: no limit.

    infer_limit_batch_size : int, default=10000
        Rows per prediction call that ``infer_limit`` is about: 1 for online single-row
        serving (where fixed costs dominate), large for batch scoring. Cut to what the
        time left can measure when ``time_limit`` is set.

    memory_limit : float, default=None
        Gigabytes of memory the process may hold during the fit. Before each model
        starts, its peak is projected from its input's shape; one projected past the
        memory left is skipped (the leaderboard says why), a forest shrunk to the trees
        that fit. None: what the process holds at the start plus what the machine, or
        its container's memory limit, has available.

    random_state : int, RandomState instance or None, default=None
        Seeds the folds, the models and the selection.

    n_jobs : int, default=None
        Folds fitted in parallel; each gets its share of the CPUs.

    verbose : int, default=0
        0 is silent, 1 reports levels and models, 2 also the skipped ones.

    warm_start : bool, default=False
        Keep every fitted model (``warm_state_``), and continue from them when
        :meth:`fit` is called again on the same data (AutoGluon's ``fit_extra``): with the
        new ``time_limit``, the later fit trains the models the earlier one skipped, a
        new level when the stacking check allows, and up to two more k-fold repeats of
        each bag, then selects the ensemble again among everything it has. Nothing the
        earlier fit trained is lost. Other data, or a change of a parameter that decides
        the models or their folds, raises ValueError (see :ref:`after-fit`). The
        unselected models stay in memory.

    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, as in scikit-learn's classifiers: ``{label: weight}``, or
        ``"balanced"`` for ``n_samples / (n_classes * np.bincount(y))``. They multiply
        ``sample_weight`` and reach every model, fold, score and the ensemble selection.

    decision_threshold : "auto", float or None, default=None
        Binary classification only: the probability of ``classes_[1]`` above which
        :meth:`predict` labels a row ``classes_[1]``. ``"auto"`` tunes it to maximise
        ``threshold_scoring`` on the ensemble's out-of-fold predictions, at no extra fit;
        None predicts the most probable class. :meth:`predict_proba` is unchanged.

    threshold_scoring : str or callable, default="f1"
        The label metric (a scorer name or object) that ``decision_threshold="auto"``
        maximises, for example ``"f1"``, ``"balanced_accuracy"`` or a
        :func:`~sklearn.metrics.make_scorer` of ``fbeta_score`` with its ``pos_label``.

    Attributes
    ----------
    pipeline_ : Pipeline
        The fitted encoder, stack levels and selector.

    classes_ : ndarray of shape (n_classes,)
        Class labels.

    decision_threshold_ : float or None
        The threshold :meth:`predict` applies to the probability of ``classes_[1]``;
        None without ``decision_threshold`` (the most probable class).

    records_ : list of ModelRecord
        One record per model the fit tried (see :meth:`leaderboard`).

    settings_ : dict
        The settings the fit used (preset row and overrides).

    stacking_check_ : dict or None
        The stacked-overfitting check: decision, scores of both levels, models used; after
        a stacked fit, both levels' out-of-fold ensemble scores and whether the top level
        was kept.

    ensemble_score_ : float
        Score of the ensemble on the OOF (or holdout) predictions.

    interrupted_ : bool
        Whether Ctrl-C stopped the training early.

    warm_state_ : WarmState or None
        With ``warm_start=True``: every fitted model, unpruned, and the fit's plan, which
        a later :meth:`fit` continues from; None otherwise.

    fit_time_ : float
        Seconds the fit took (a continued fit: its own time, not the earlier fit's).

    infer_time_per_row_ : float or None
        Seconds per row the kept ensemble took on ``infer_limit_batch_size`` rows; None
        without ``infer_limit``.

    inference_front_ : DataFrame or None
        With ``infer_limit``: the accuracy-versus-latency front of the ensembles it chose
        among, fastest first, one row each: ``level``, ``models`` (the names), ``n_models``,
        ``oof_score`` (the ensemble's, on the rows it was selected on),
        ``seconds_per_row`` (the stack's and the deployed one's measured whole, the other
        level-1 ensembles' the sum of their parts' measured times plus the pipeline's own
        cost per call, as the deployed one's timing found it) and ``deployed`` (the one
        ``pipeline_`` predicts with). No ensemble tried is both faster and better than
        one of the front, so a tighter ``infer_limit`` costs the score of the row within
        it. Under ``time_limit`` the search ends when the time is spent: the front may
        stop short of one model. None without ``infer_limit``.

    peak_memory_mb_ : float
        Megabytes of resident memory the process held above its start at the fit's
        peak (each model's is in :meth:`leaderboard`).

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during :meth:`fit`, when they are all strings.

    See Also
    --------
    AutoStackRegressor : The same for regression.
    skstack.StackLayer : One level of the stack.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skstack.auto import AutoStackClassifier
    >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    >>> clf = AutoStackClassifier(excluded_families=["catboost", "mlp"], time_limit=60,
    ...                           random_state=0).fit(X, y)
    >>> clf.predict_proba(X.iloc[:2]).shape
    (2, 2)
    >>> list(clf.pipeline_.named_steps)[-1]
    'selector'
    """

    _task = "classification"

    _parameter_constraints: dict = {
        **_BaseAutoStack._parameter_constraints,
        "class_weight": [None, dict, StrOptions({"balanced"})],
        "decision_threshold": [None, StrOptions({"auto"}),
                               Interval(Real, 0, 1, closed="neither")],
        "threshold_scoring": [str, callable],
    }

    def __init__(
        self,
        *,
        presets="medium_quality",
        time_limit=None,
        scoring=None,
        portfolio=None,
        excluded_families=None,
        column_types=None,
        n_folds="auto",
        n_repeats="auto",
        cv=None,
        n_stack_levels="auto",
        passthrough=True,
        refit="auto",
        dynamic_stacking=True,
        holdout_fraction=0.1,
        n_iterations=25,
        combiner="auto",
        prune=True,
        infer_limit=None,
        infer_limit_batch_size=10_000,
        memory_limit=None,
        random_state=None,
        n_jobs=None,
        verbose=0,
        warm_start=False,
        class_weight=None,
        decision_threshold=None,
        threshold_scoring="f1",
    ):
        super().__init__(
            presets=presets, time_limit=time_limit, scoring=scoring, portfolio=portfolio,
            excluded_families=excluded_families, column_types=column_types,
            n_folds=n_folds, n_repeats=n_repeats, cv=cv, n_stack_levels=n_stack_levels,
            passthrough=passthrough, refit=refit, dynamic_stacking=dynamic_stacking,
            holdout_fraction=holdout_fraction, n_iterations=n_iterations,
            combiner=combiner, prune=prune, infer_limit=infer_limit,
            infer_limit_batch_size=infer_limit_batch_size, memory_limit=memory_limit,
            random_state=random_state, n_jobs=n_jobs, verbose=verbose, warm_start=warm_start)
        self.class_weight = class_weight
        self.decision_threshold = decision_threshold
        self.threshold_scoring = threshold_scoring

    @property
    def classes_(self):
        """Class labels."""
        return self.pipeline_[-1].classes_

    def _validate_input(self, X, y, sample_weight):
        X, y, sample_weight = super()._validate_input(X, y, sample_weight)
        if self.decision_threshold is not None:
            if len(np.unique(y)) != 2:
                raise ValueError(
                    f"decision_threshold={self.decision_threshold!r} applies to binary "
                    f"classification; y has {len(np.unique(y))} classes.")
            if self.decision_threshold == "auto":
                check_threshold_scoring(self.threshold_scoring, y, np.unique(y))
        return X, y, self._weighted(y, sample_weight)

    def _weighted(self, y, sample_weight):
        """``sample_weight`` times the weights of ``class_weight``."""
        if self.class_weight is None:
            return sample_weight
        weights = compute_sample_weight(self.class_weight, y)
        return weights if sample_weight is None else sample_weight * weights

    def _fit_run(self, run, X, y, sample_weight, groups, warm=None, data=None):
        super()._fit_run(run, X, y, sample_weight, groups, warm, data)
        self.decision_threshold_ = self.decision_threshold
        if self.decision_threshold == "auto":
            selector = self.pipeline_[-1]
            proba = oof_ensemble_proba(run, self.pipeline_[-2], selector)
            rows = run.selection_rows()
            self.decision_threshold_, score = tune_threshold(
                proba, y[rows], selector.classes_,
                threshold_scorer(self.threshold_scoring),
                None if sample_weight is None else sample_weight[rows],
                run.budget.threshold_deadline())
            run.log(1, f"decision threshold {self.decision_threshold_:.4f}: out-of-fold "
                       f"{self.threshold_scoring} {score:.4f}")
        return self

    def predict(self, X):
        """Predict class labels with the fitted ensemble.

        With a ``decision_threshold_``, a row is labelled ``classes_[1]`` when its
        probability of that class is above the threshold; otherwise it gets its most
        probable class.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Input rows, with the columns seen at fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        check_is_fitted(self)
        if self.decision_threshold_ is None:
            return super().predict(X)
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] > self.decision_threshold_).astype(np.intp)]

    def predict_proba(self, X):
        """Class probabilities of the ensemble.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self.pipeline_.predict_proba(self._check_X(X, reset=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class AutoStackRegressor(ScoreMixin, RegressorMixin, _BaseAutoStack):
    """Bagged, stacked ensembles of a model portfolio under a time limit: a regressor.

    The regression twin of :class:`AutoStackClassifier`; see it for the parameters. The
    default ``scoring`` is ``"neg_root_mean_squared_error"``.

    Read more in the :ref:`User Guide <auto>`.

    Parameters
    ----------
    presets : {"medium_quality", "good_quality", "high_quality", "best_quality"}, \
            default="medium_quality"
        The quality level (a row of :data:`skstack.auto.PRESETS`).
    time_limit : float, default=None
        Seconds the whole fit may take; None means no limit.
    scoring : str or callable, default=None
        Scorer of OOF scores, the stacking check and the selection.
    portfolio : list of PortfolioEntry, default=None
        Model configurations; None takes the preset's.
    excluded_families : list of str, default=None
        Families to leave out.
    column_types : dict, default=None
        Overrides of the column typing of frame input.
    n_folds : int or "auto", default="auto"
        Folds of the bagged presets.
    n_repeats : int or "auto", default="auto"
        k-fold repeats; ``"auto"`` adds up to 3 with time left (see the classifier).
    cv : int, cross-validation generator or iterable, default=None
        The folds every model is bagged over (a splitter such as
        :class:`~sklearn.model_selection.TimeSeriesSplit`), instead of the built-in ones;
        the levels above and the selection use only rows it held out (see the
        classifier).
    n_stack_levels : int or "auto", default="auto"
        Levels stacked above the base models.
    passthrough : bool, default=True
        Give stacked levels the input features too.
    refit : bool or "auto", default="auto"
        Refit every model on all rows during the fit, for faster inference.
    dynamic_stacking : bool, default=True
        Check that a second level helps before fitting it.
    holdout_fraction : float, default=0.1
        Validation share of the holdout preset.
    n_iterations : int, default=25
        Greedy ensemble selection steps.
    combiner : {"auto", "weighted", "linear"}, default="auto"
        How the selected models are combined (see the classifier).
    prune : bool, default=True
        Drop unused last-level models.
    infer_limit : float, default=None
        Seconds per row the ensemble may take to predict (see the classifier).
    infer_limit_batch_size : int, default=10000
        Rows per prediction call that ``infer_limit`` is about.
    memory_limit : float, default=None
        Gigabytes the process may hold during the fit (see the classifier).
    random_state : int, RandomState instance or None, default=None
        Seeds everything random.
    n_jobs : int, default=None
        Folds fitted in parallel.
    verbose : int, default=0
        Verbosity.
    warm_start : bool, default=False
        Keep every model, and continue from them when :meth:`fit` is called again on the
        same data (see the classifier).

    Attributes
    ----------
    pipeline_ : Pipeline
        The fitted encoder, stack levels and selector.
    records_ : list of ModelRecord
        One record per model tried.
    settings_ : dict
        The settings the fit used.
    stacking_check_ : dict or None
        The stacked-overfitting check: decision, scores of both levels, models used; after
        a stacked fit, both levels' out-of-fold ensemble scores and whether the top level
        was kept.
    ensemble_score_ : float
        Score of the ensemble on the OOF (or holdout) predictions.
    interrupted_ : bool
        Whether Ctrl-C stopped the training early.
    warm_state_ : WarmState or None
        With ``warm_start=True``: every fitted model, which a later :meth:`fit` continues.
    fit_time_ : float
        Seconds the fit took.
    infer_time_per_row_ : float or None
        Seconds per row of the kept ensemble, with ``infer_limit``.
    inference_front_ : DataFrame or None
        With ``infer_limit``: the accuracy-versus-latency front of the ensembles it chose
        among (see :class:`AutoStackClassifier`).
    peak_memory_mb_ : float
        Megabytes the process held above its start at the fit's peak.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during :meth:`fit`, when they are all strings.

    See Also
    --------
    AutoStackClassifier : The same for classification.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skstack.auto import AutoStackRegressor
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> reg = AutoStackRegressor(excluded_families=["catboost", "mlp"], time_limit=60,
    ...                          random_state=0).fit(X, y)
    >>> reg.predict(X.iloc[:3]).shape
    (3,)
    """

    _task = "regression"
