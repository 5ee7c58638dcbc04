"""AutoGluon's tabular experience as scikit-learn estimators: AutoStackClassifier/Regressor.

The fit composes the public blocks and nothing else: the column encoder, one
:class:`~skstack.StackLayer` per level over the portfolio, and a
:class:`~skstack.GreedyEnsembleSelector`; ``pipeline_`` is the fitted
:class:`~sklearn.pipeline.Pipeline` of them. What the blocks do not know, and this module
adds, is the time budget (:mod:`._budget`), the presets (:mod:`.presets`), skipping models
that fail or cannot finish, the stacked-overfitting check, and the record of it all
(:mod:`._report`).
"""

import copy
import math
import time
import warnings
from collections import Counter
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.model_selection import (
    GroupShuffleSplit,
    ShuffleSplit,
    StratifiedShuffleSplit,
)
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    _num_samples,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from .._bagging import BudgetExceeded
from .._scoring import (
    default_score,
    prediction_scorer,
)
from .._selection import GreedyEnsembleSelector, blend_response
from .._stacking import StackLayer
from ..families import build_estimators, family_of
from ..families._base import preload_families
from ..families.portfolios import PortfolioEntry, _tiered_estimators
from ._budget import TimeBudget
from ._encoding import budgeted_encoder
from ._inference import InferenceCosts, measurement_rows, time_per_row
from ._progress import Progress
from ._report import (
    ModelRecord,
    feature_importance_frame,
    leaderboard_frame,
    plot_leaderboard,
)
from .presets import PRESETS, resolve_preset

__all__ = ["AutoStackClassifier", "AutoStackRegressor"]

_SEED_MAX = np.iinfo(np.int32).max
_DEFAULT_SCORING = {"classification": "neg_log_loss", "regression": "neg_root_mean_squared_error"}
# The stacked-overfitting check may use this share of the time limit.
_CHECK_SHARE = 0.1
# Stacking is kept when level 2 scores higher on the check rows and in at least this share
# of their bootstrap resamples: the check's held-out ninth is small, and a difference in
# ROC AUC on a few hundred rows is mostly noise.
_STACK_CONFIDENCE = 0.75
_CHECK_RESAMPLES = 100
# Most k-fold repeats that the time left may give a bag (n_repeats="auto"). AutoGluon
# allows 20; each repeat adds k fold models to every prediction, and the gain in variance
# shrinks with each one.
MAX_AUTO_REPEATS = 3
# A repeat may take at least this long (when the time left allows): a bag of models that fit
# in milliseconds would otherwise be passed over whenever the machine is busy for a moment.
_MIN_REPEAT_TIME = 1.0
# Level 1 is refitted with fewer folds when its first model had under 1/_STARVED of the time
# its folds need (see _Trainer._check_folds).
_STARVED = 2.0


def holdout_plan(y, *, classifier, fraction, random_state, groups=None):
    """One train/validation split, stratified for classifiers; None when it cannot be made.

    The validation part is ``fraction`` of the rows, at least one row (one per class for
    classifiers) and at most 2,500 rows; with ``groups``, a fraction of the groups, every
    group on one side. For classifiers, both parts must hold every class: when they cannot,
    the result is None, and the caller bags instead.
    """
    n_samples = len(y)
    n_val = max(1, round(fraction * n_samples))
    if groups is not None:
        splitter = GroupShuffleSplit(1, test_size=fraction, random_state=random_state)
        plan = list(splitter.split(np.zeros(n_samples), y, groups))
        if classifier and any(len(np.unique(y[rows])) < len(np.unique(y)) for rows in plan[0]):
            return None
        return plan
    if not classifier:
        n_val = int(min(n_val, 2500, n_samples - 1))
        return list(ShuffleSplit(1, test_size=n_val, random_state=random_state).split(y))
    classes, counts = np.unique(y, return_counts=True)
    n_val = int(min(max(n_val, len(classes)), 2500, n_samples - len(classes)))
    if counts.min() < 2 or n_val < len(classes):
        return None
    splitter = StratifiedShuffleSplit(1, test_size=n_val, random_state=random_state)
    plan = list(splitter.split(np.zeros(n_samples), y))
    # Proportional allocation can still leave a class out of a tiny validation part.
    if any(len(np.unique(y[rows])) < len(classes) for rows in plan[0]):
        return None
    return plan


class _Interrupted(Exception):
    """Raised inside the fit when Ctrl-C asked it to stop; the fit keeps what finished."""


class _Refold(Exception):
    """Raised after the first model of level 1 when its folds starved: fit with fewer."""

    def __init__(self, n_folds, reason):
        super().__init__(reason)
        self.n_folds = n_folds


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
        "random_state": ["random_state"],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
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
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        self.presets = presets
        self.time_limit = time_limit
        self.scoring = scoring
        self.portfolio = portfolio
        self.excluded_families = excluded_families
        self.column_types = column_types
        self.n_folds = n_folds
        self.n_repeats = n_repeats
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
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

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
        return self.scoring if self.scoring is not None else _DEFAULT_SCORING[self._task]

    def _log(self, level, message):
        self._progress.log(level, message)

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
            check_classification_targets(y)
            if len(np.unique(y)) < 2:
                raise ValueError("Classifier can't train when only one class is present.")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        return X, y, sample_weight

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
            Group labels: folds keep every group together.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._budget = TimeBudget(self.time_limit)
        self._progress = Progress(self.verbose, self._budget.start)
        X, y, sample_weight = self._validate_input(X, y, sample_weight)
        settings = self._settings(_num_samples(X))
        self.settings_ = {key: value for key, value in settings.items() if key != "portfolio"}
        self.records_ = []
        self.interrupted_ = False
        self.stacking_check_ = None
        self._seeds = check_random_state(self.random_state)
        self._n_folds = self.n_folds
        self._first_folds = {}  # level -> family -> the first-fold times seen
        self._tiers = {}  # model name -> its portfolio tier, every level's
        if self._budget.limited:
            preload_families(_family(model) for _, model in self._estimators(settings))

        encoder = (budgeted_encoder(X, self.column_types, self.time_limit, self._log)
                   if hasattr(X, "columns") else "passthrough")
        Xe = X if encoder == "passthrough" else encoder.fit_transform(X)
        layers = []
        plan = self._plan(y, settings, groups)
        try:
            self._fit_levels(Xe, y, sample_weight, groups, settings, plan, layers)
        except KeyboardInterrupt:
            self._interrupt()
        finally:
            self._progress.close()
        if not layers:
            layers = [self._fallback(Xe, y, sample_weight, groups, plan)]
        for layer in layers:  # models that were not fitted become "drop"
            layer._keep(list(layer.named_estimators_))
        for layer in layers[:-1]:
            layer.set_params(passthrough=self.passthrough)
        layers[-1].set_params(passthrough=False)
        self.infer_time_per_row_ = None
        pruned = None
        if len(layers) > 1 and self.dynamic_stacking:
            layers, pruned, selector = self._keep_helpful_levels(layers, y, sample_weight,
                                                                 plan, settings)
        if self.infer_limit is None:
            if pruned is None:
                selector = self._select(layers[-1], y, sample_weight, plan, settings)
            else:
                layers = pruned
        else:  # chooses among every model of the kept levels, not only the selected ones
            layers, selector = self._meet_infer_limit(X, y, sample_weight, plan, settings,
                                                      encoder, layers)
        self.pipeline_ = _pipeline(encoder, layers, selector)
        self._finish_records(layers, selector)
        self.fit_time_ = self._budget.elapsed()
        self._log(1, f"done: {len(layers)} level(s), ensemble score "
                     f"{selector.ensemble_score_:.4f}, {self.fit_time_:.1f} s")
        del self._budget, self._seeds, self._progress, self._n_folds, self._first_folds
        return self

    def _fit_levels(self, X, y, sample_weight, groups, settings, plan, layers):
        """Fit level after level into ``layers`` until the levels, the time or Ctrl-C end.

        Time the levels leave unused (stacking not kept, a level finished early) goes to
        the last level's models that were skipped for time.
        """
        inputs, levels = [X], settings["n_stack_levels"] + 1
        for level in range(1, levels + 1):
            if self.interrupted_:
                break
            if level == 2 and not self._stacking_helps(X, y, layers[0], sample_weight,
                                                       settings, groups):
                break
            layer = self._fit_level(level, levels - level + 1, inputs[-1], y, sample_weight,
                                    groups, settings, plan)
            if layer is None:
                break
            layers.append(layer)
            inputs.append(_oof_frame(layer, inputs[-1]))
        if layers and not self.interrupted_:
            self._retry_skipped(layers[-1], len(layers), inputs[len(layers) - 1], y,
                                sample_weight, groups, settings, plan)
        if layers and not self.interrupted_:
            self._repeat_bags(layers[-1], len(layers), inputs[len(layers) - 1], y,
                              sample_weight, groups, settings)

    def _retry_skipped(self, layer, level, X, y, sample_weight, groups, settings, plan):
        """Fit the level's models that were skipped for time with the time still left."""
        skipped = {r.name for r in self.records_
                   if r.level == level and r.status.startswith("skipped")}
        missing = [(name, est) for name, est in layer.estimators
                   if name in skipped and name not in layer.named_estimators_]
        if not missing or self._budget.exhausted():
            return
        level_deadline = self._budget.level_deadline(1)
        self._log(1, f"level {level}, second pass: {len(missing)} skipped models")
        self._progress.open(f"level {level}, again", len(missing), level_deadline)
        extra = self._layer(missing, settings, plan, layer.random_state)
        trainer = _Trainer(self, level, level_deadline, [name for name, _ in missing],
                           tiers=self._tiers)
        fitted = self._fit_members(extra, X, y, sample_weight, groups, trainer)
        self._progress.close()
        if fitted is not None:
            layer._merge(extra)

    def _repeat_bags(self, layer, level, X, y, sample_weight, groups, settings):
        """Spend the time still left on more k-fold repeats of the last level's bags.

        AutoGluon's bag sets: each repeat shuffles the rows into new folds, so every row
        gets one more out-of-fold prediction and every bag k more fold models, which lowers
        the variance of both. Repeats go round the bags, best OOF score first, up to
        ``MAX_AUTO_REPEATS`` each (``n_repeats="auto"`` only). They are for bags that predict
        with their fold models: a refitted bag predicts with one model on all rows, and an
        ``infer_limit`` asks for fewer models, not more.
        """
        if (self.n_repeats != "auto" or not self._budget.limited or not settings["bagging"]
                or settings["refit_full"] or self.infer_limit is not None):
            return
        deadline = self._budget.level_deadline(1)
        for repeat in range(2, MAX_AUTO_REPEATS + 1):
            if self.interrupted_ or self._budget.exhausted():
                return
            names = sorted(layer.oof_scores_, key=lambda name: -layer.oof_scores_[name])
            self._progress.open(f"level {level}, repeat {repeat}", len(names), deadline)
            member = _Repeater(self, level, deadline)
            layer._add_repeat(X, y, sample_weight, groups, member, names,
                              self._seeds.randint(_SEED_MAX))
            self._progress.close()
            self._log(1, f"level {level}, repeat {repeat}: {member.n_fitted} of "
                         f"{len(names)} models")
            if member.n_fitted == 0:
                return

    def _record(self, name, level):
        """The leaderboard record of a model: a new one, or the one of its earlier attempt."""
        for record in self.records_:
            if record.name == name and record.level == level:
                return record
        record = ModelRecord(name=name, level=level)
        self.records_.append(record)
        return record

    def _interrupt(self):
        if not self.interrupted_:
            warnings.warn("Fit interrupted: ensembling the models that finished.",
                          UserWarning, stacklevel=3)
        self.interrupted_ = True

    def _plan(self, y, settings, groups):
        """The fold plan shared by every level: k-fold (None, each layer draws it) or holdout."""
        if settings["bagging"]:
            return None
        plan = holdout_plan(y, classifier=self._task == "classification",
                            fraction=self.holdout_fraction,
                            random_state=self._seeds.randint(_SEED_MAX), groups=groups)
        if plan is None:
            warnings.warn("No holdout split holds every class (too few rows or groups of "
                          "some class): bagging over k folds instead.", UserWarning,
                          stacklevel=3)
            settings["bagging"] = self.settings_["bagging"] = True
        return plan

    def _layer(self, estimators, settings, plan, seed):
        layer = StackLayer(
            estimators,
            n_folds=self._n_folds,
            n_repeats=1 if self.n_repeats == "auto" else self.n_repeats,
            cv=plan,
            passthrough=self.passthrough,
            scoring=self._scoring(),
            refit_full=settings["refit_full"],
            n_jobs=self.n_jobs,
            random_state=seed,
        )
        return layer.set_output(transform="pandas")

    def _estimators(self, settings, level=1):
        """The portfolio's ``(name, model)`` list of ``level``."""
        return [(name, model) for name, model, _ in self._level_models(settings, level)]

    def _level_models(self, settings, level):
        """The portfolio's ``(name, model, tier)``; above level 1 the names say the level
        (``lightgbm_l2``), so that their prediction columns never clash with the ones they
        stack on."""
        models = _tiered_estimators(settings["portfolio"], task=self._task,
                                    excluded_families=self.excluded_families or ())
        if level == 1:
            return models
        return [(f"{name}_l{level}", model, tier) for name, model, tier in models]

    def _fit_layer(self, layer, X, y, sample_weight, groups, fit_member):
        # A holdout split never holds out its training rows; the holdout preset neither
        # stacks nor selects on them, so their (in-sample) predictions are not made.
        with warnings.catch_warnings():
            # A forest the time limit stopped at a few trees leaves rows in every
            # bootstrap sample; its bag fills them and says so, which a user of the
            # whole fit can do nothing about.
            warnings.filterwarnings("ignore", r".* training rows were never held out")
            layer._fit(X, y, sample_weight, groups, {}, fit_member=fit_member,
                       fill_uncovered=layer.cv is None)
        return layer

    def _fit_level(self, level, levels_left, X, y, sample_weight, groups, settings, plan):
        """Fit one level's portfolio under the budget; None when no model finished."""
        models = self._level_models(settings, level)
        estimators = [(name, model) for name, model, _ in models]
        self._tiers.update((name, tier) for name, _, tier in models)
        level_deadline = self._budget.level_deadline(levels_left, first=level == 1)
        self._log(1, f"level {level}: {len(estimators)} models"
                     + ("" if level_deadline is None else
                        f", {level_deadline - time.monotonic():.1f} s"))
        names = [name for name, _ in estimators]
        kept = {}
        while True:
            layer = self._layer(estimators, settings, plan, self._seeds.randint(_SEED_MAX))
            self._progress.open(f"level {level}", len(estimators), level_deadline)
            refold = (level == 1 and settings["bagging"] and self._n_folds == "auto"
                      and self._budget.limited)
            trainer = _Trainer(self, level, level_deadline, names, refold=refold, kept=kept,
                               tiers=self._tiers)
            try:
                return self._fit_members(layer, X, y, sample_weight, groups, trainer)
            except _Refold as fewer:
                # The bags fitted before the starved one keep their folds: every bag's
                # OOF predictions stay out-of-fold, whatever folds made them.
                kept = trainer.fitted
                self._first_folds.pop(level, None)  # times of larger folds than the next
                self._n_folds = self.settings_["n_folds"] = fewer.n_folds
                self._log(1, f"level {level}: {fewer}; it and the models after it get "
                             f"{fewer.n_folds} folds")
            finally:
                self._progress.close()

    def _fit_members(self, layer, X, y, sample_weight, groups, trainer):
        """The layer fitted through ``trainer``, or None when the trainer fitted no model."""
        try:
            return self._fit_layer(layer, X, y, sample_weight, groups, trainer)
        except ValueError:
            if trainer.n_fitted == 0:  # every model failed or was skipped: the layer gave up
                return None
            raise

    def _fallback(self, X, y, sample_weight, groups, plan):
        """A fast linear model when no portfolio model finished in time."""
        warnings.warn(
            "No model of the portfolio finished within time_limit="
            f"{self.time_limit}; fitting a fast linear model instead. Raise time_limit for a "
            "real ensemble.",
            UserWarning,
            stacklevel=3,
        )
        settings = {"portfolio": [PortfolioEntry("linear", name="fallback_linear")],
                    "refit_full": False}
        layer = self._layer(build_estimators(settings["portfolio"], task=self._task),
                            settings, plan, self._seeds.randint(_SEED_MAX))
        trainer = _Trainer(self, 1, None, ["fallback_linear"], fallback=True)
        return self._fit_layer(layer, X, y, sample_weight, groups, trainer)

    # ---- stacked-overfitting check -------------------------------------------------------

    def _stacking_helps(self, X, y, first, sample_weight, settings, groups):
        """Whether a second level beats the first on rows that neither level saw.

        AutoGluon's dynamic stacking refits the whole stack on a holdout split (a quarter of
        the time). Here only the best first-level models that fit in a tenth of the time
        limit are refitted, on 8/9 of the rows, as a small two-level stack; both levels'
        ensembles then score the held-out ninth, and stacking is kept only when the second
        level scores higher. The second level of the check also holds the model the real
        second level trains first (the portfolio's highest priority: the linear model),
        when time allows: a stacker on the candidates' predictions that their own copies
        above them are not.
        """
        if not self.dynamic_stacking:
            self.stacking_check_ = {"decision": "stack", "reason": "dynamic_stacking=False"}
            return True
        if self.interrupted_:
            return False
        candidates, stacker = self._check_candidates(first, settings)
        if not candidates:
            self.stacking_check_ = {"decision": "no stacking",
                                    "reason": "no time to check that stacking helps"}
            self._log(1, "stacking check: no time, not stacking")
            return False
        seed = self._seeds.randint(_SEED_MAX)
        split = holdout_plan(y, classifier=self._task == "classification", fraction=1 / 9,
                             random_state=seed, groups=groups)
        if split is None:
            self.stacking_check_ = {"decision": "no stacking",
                                    "reason": "too few rows of some class to check"}
            return False
        fit_rows, check_rows = split[0]
        X_fit, y_fit, w_fit = pick(X, fit_rows), pick(y, fit_rows), pick(sample_weight, fit_rows)
        # Each level of the check gets half of its time, each model a share as large as
        # its part of the level-1 fit times: a model cut short at level 1 would otherwise
        # train longer here and leave level 2 no time.
        start, check_time = time.monotonic(), self._check_time()
        costs = {name: first.fit_times_[name] for name in candidates}
        estimators = [(name, first.named_estimators[name]) for name in candidates]
        above = [(f"{name}_l2", est) for name, est in estimators]
        above_costs = {f"{name}_l2": cost for name, cost in costs.items()}
        if stacker is not None:
            above.insert(0, stacker[:2])
            above_costs[stacker[0]] = stacker[2]
        check_settings = dict(settings, refit_full=False)
        try:
            member = _DeadlineMember(self, start + check_time / 2, costs)
            level1 = self._fit_layer(self._layer(estimators, check_settings, None, seed),
                                     X_fit, y_fit, w_fit, pick(groups, fit_rows), member)
            stacked = _oof_frame(level1, X_fit)
            level2 = self._layer(above, check_settings, None, seed + 1).set_params(
                passthrough=False)
            member = _DeadlineMember(self, start + check_time, above_costs,
                                     optional=() if stacker is None else (stacker[0],))
            self._fit_layer(level2, stacked, y_fit, w_fit, pick(groups, fit_rows), member)
        except (_Interrupted, BudgetExceeded, ValueError) as error:
            self.stacking_check_ = {"decision": "no stacking",
                                    "reason": f"the check could not finish: {error}"}
            self._log(1, f"stacking check with {', '.join(candidates)} could not finish "
                         f"({error}): not stacking")
            return False
        X_check, y_check = pick(X, check_rows), pick(y, check_rows)
        w_check = pick(sample_weight, check_rows)
        stacked_check = level1.transform(X_check)
        level1.set_params(passthrough=False)
        first = self._check_predictions(level1, y_fit, w_fit, level1.transform(X_check))
        second = self._check_predictions(level2, y_fit, w_fit, level2.transform(stacked_check))
        classes = getattr(level1, "classes_", None)

        def score(y_true, values, sample_weight=None):
            # NumPy fast paths for the common metrics: the bootstrap scores 200 times.
            return prediction_scorer(self._scoring(), None, y_true, classes=classes,
                                     sample_weight=sample_weight)(values)

        first_score = score(y_check, first, sample_weight=w_check)
        second_score = score(y_check, second, sample_weight=w_check)
        wins = _share_of_wins(score, y_check, w_check, first, second, seed)
        helps = second_score > first_score and wins >= _STACK_CONFIDENCE
        self.stacking_check_ = {
            "decision": "stack" if helps else "no stacking",
            "models": candidates,
            "stacker": None if stacker is None else stacker[0],
            "level1_score": first_score,
            "level2_score": second_score,
            "level2_wins": wins,
            "check_rows": len(check_rows),
        }
        self._log(1, f"stacking check on {len(check_rows)} held-out rows: level 1 "
                     f"{first_score:.4f}, level 2 {second_score:.4f}, higher in "
                     f"{wins:.0%} of resamples -> {self.stacking_check_['decision']}")
        return helps

    def _keep_helpful_levels(self, layers, y, sample_weight, plan, settings):
        """The levels kept, the same with the last one pruned to its ensemble, and its selector.

        The top level is kept, or dropped when its ensemble selects no better than one on
        the level below (which then becomes the last level, without passthrough).

        The check before level 2 runs with few models and little time; the level fitted
        after it may still end up worse (starved of time, or a check that was wrong by
        chance). Both levels' ensembles are scored on the same out-of-fold rows; the upper
        one's score is optimistic (it stacks on predictions of those rows), so when it is
        not even higher, it cannot help on new rows and is dropped.
        """
        # Two selections share the time left: the first may take half of it.
        upper, top = self._selection_among(layers[-1], None, y, sample_weight, plan, settings,
                                           share=0.5)
        lower = layers[-2]
        lower.set_params(passthrough=False)
        trial, below = self._selection_among(lower, None, y, sample_weight, plan, settings)
        kept = top.ensemble_score_ > below.ensemble_score_
        self.stacking_check_ = dict(self.stacking_check_ or {},
                                    top_oof_score=top.ensemble_score_,
                                    below_oof_score=below.ensemble_score_,
                                    top_kept=kept)
        self._log(1, f"level {len(layers)} ensemble OOF {top.ensemble_score_:.4f}, level "
                     f"{len(layers) - 1} {below.ensemble_score_:.4f}"
                     + ("" if kept else f": level {len(layers)} dropped"))
        if kept:
            lower.set_params(passthrough=self.passthrough)
            return layers, layers[:-1] + [upper], top
        return layers[:-1], layers[:-2] + [trial], below

    def _check_time(self):
        if not self._budget.limited:
            return math.inf
        level_share = (self._budget.remaining() - self._budget.reserve()) / 2
        return max(0.0, min(_CHECK_SHARE * self.time_limit, level_share))

    def _check_candidates(self, first, settings):
        """The best three first-level models whose refit (two levels on 8/9 of the rows)
        fits, and the ``(name, estimator, cost)`` of the second level's first model, or None.

        A model too slow for the check gives its place to the next best that fits: a second
        level over one model tests little more than its calibration.
        """
        allowed = self._check_time()
        ranked = sorted(first.oof_scores_, key=lambda name: -first.oof_scores_[name])
        chosen, cost = [], 0.0
        for name in ranked:
            # Two levels, each on 8/9 of the rows: about 1.8 times the model's own bag.
            model_cost = 1.8 * first.fit_times_[name]
            if cost + model_cost <= allowed:
                chosen.append(name)
                cost += model_cost
            if len(chosen) == 3:
                break
        above = self._estimators(settings, level=2)
        if not above:
            return chosen, None
        name, estimator = above[0]
        below = name.removesuffix("_l2")
        if not chosen or below in chosen or below not in first.fit_times_:
            return chosen, None
        # One level on 8/9 of the rows, priced at its first-level bag's time.
        if cost + 0.9 * first.fit_times_[below] > allowed:
            return chosen, None
        return chosen, (name, estimator, first.fit_times_[below])

    def _check_predictions(self, layer, y, sample_weight, check_features):
        """Holdout predictions of the ensemble selected on ``layer``'s OOF predictions."""
        selector = self._selector().fit(layer._oof_predictions(), y, sample_weight=sample_weight)
        if hasattr(selector, "predict_proba"):
            return selector.predict_proba(check_features)
        return selector.predict(check_features)

    # ---- ensemble ------------------------------------------------------------------------

    def _selector(self, combiner="weighted", until=None):
        """A selector; ``until`` (a :func:`time.monotonic` value) ends its greedy steps."""
        time_left = None
        if combiner == "auto" and self._budget.limited:
            time_left = max(0.0, self._budget.remaining() - 0.2)
        return GreedyEnsembleSelector(
            task=self._task,
            scoring=self._scoring(),
            n_iterations=self.n_iterations,
            combiner=combiner,
            combiner_time_limit=time_left,
            time_limit=None if until is None else max(0.0, until - time.monotonic()),
            random_state=self._seeds.randint(_SEED_MAX),
        )

    def _select(self, layer, y, sample_weight, plan, settings, prune=None, share=1.0):
        """Caruana selection on the last level's OOF predictions, then pruning.

        ``share``: the part of the time left that the selection may take. The candidates are
        cut to what fits in it; should the selection still run late (a busy machine), its
        greedy steps stop at the end of it.
        """
        prune = self.prune if prune is None else prune
        rows = slice(None) if plan is None else plan[0][1]
        until = None
        if self._budget.limited:
            allowed = share * max(self._budget.remaining() - 0.5, 0.5 * self._budget.reserve())
            until = time.monotonic() + allowed
            self._fit_selection_in_time(layer, y[rows], rows, allowed)
        features = layer._oof_predictions()
        features, y_sel = features.iloc[rows], y[rows]
        w_sel = None if sample_weight is None else sample_weight[rows]
        # The combiner is chosen once, on the final candidates (its check refits 6 times):
        # with pruning, after the candidates are cut to the models the selection uses.
        selector = self._selector("weighted" if prune else self.combiner, until)
        selector.fit(features, y_sel, sample_weight=w_sel)
        used = [name for name, weight in selector.weights_.items() if weight > 0]
        if prune and (len(used) < len(layer.estimators_) or self.combiner != "weighted"):
            # Refit on the used models only: greedy selection picks the same counts among
            # them, and the pipeline then predicts with those models alone.
            layer._keep(used)
            features = features[layer.get_feature_names_out()]
            selector = self._selector(self.combiner, until).fit(features, y_sel,
                                                                 sample_weight=w_sel)
        if selector.combiner_scores_ is not None:
            scores = selector.combiner_scores_
            self._log(1, f"combiner {selector.combiner_}: cross-validated linear "
                         f"{scores['linear']:.4f}, weighted average {scores['weighted']:.4f}")
        return selector

    def _fit_selection_in_time(self, layer, y, rows, allowed):
        """Keep only the best models by OOF score when selecting among all would overrun.

        Greedy selection scores every candidate at every step; one step's blend and score
        are timed and the candidates are cut so that the selection fits in ``allowed``
        seconds (at least the reserve's half, so a fit that ran late still selects among
        a few models).
        """
        if len(layer.estimators_) <= 1:
            return
        best = max(layer.oof_scores_, key=layer.oof_scores_.get)
        score = prediction_scorer(self._scoring(), None, y,
                                  classes=getattr(layer, "classes_", None))
        values = layer.named_estimators_[best].oof_pred_[rows]
        timings = []
        for _ in range(3):  # the fastest of three: a first call pays one-off set-up costs
            start = time.perf_counter()
            score(blend_response(self._task, (values + values) / 2))  # as a step does
            timings.append(time.perf_counter() - start)
        per_call = max(min(timings), 1e-4) + 1e-4  # bookkeeping
        # Each step scores every candidate; x3 for the pruned refit and the rest.
        affordable = max(1, int(allowed / (3 * self.n_iterations * per_call)))
        if affordable < len(layer.estimators_):
            ranked = sorted(layer.oof_scores_, key=lambda name: -layer.oof_scores_[name])
            self._log(1, f"selection among the best {affordable} of "
                         f"{len(ranked)} models, to stay within the time limit")
            layer._keep(ranked[:affordable])

    # ---- inference time --------------------------------------------------------------------

    def _meet_infer_limit(self, X, y, sample_weight, plan, settings, encoder, layers):
        """The layers and selector of the best ensemble found within ``infer_limit``.

        The kept ensemble is timed on ``infer_limit_batch_size`` training rows. A stack
        that is too slow falls back to its first level (each upper model needs every model
        below it). Then every bag's time is measured once, and while the ensemble's
        estimate (the sum of its parts) is over the limit, the model whose removal saves
        the most time leaves the candidates and the ensemble is selected again among the
        rest. The kept ensemble is always pruned.
        """
        if len(layers) > 1:
            trial, selector = self._selection_among(layers[-1], None, y, sample_weight, plan,
                                                    settings)
            stacked = layers[:-1] + [trial]
            batch = measurement_rows(X, self._measurement_batch(
                X, _pipeline(encoder, stacked, selector)))
            per_row = time_per_row(_pipeline(encoder, stacked, selector), batch)
            if per_row <= self.infer_limit:
                self.infer_time_per_row_ = per_row
                return stacked, selector
            self._log(1, f"infer_limit: the stack takes {per_row:.2e} s per row; "
                         "level 1 alone")
            layers = layers[:1]
            layers[0].set_params(passthrough=False)
        layer = layers[0]
        candidates = list(layer.named_estimators_)
        trial, selector = self._selection_among(layer, candidates, y, sample_weight, plan,
                                                settings)
        batch = measurement_rows(X, self._measurement_batch(
            X, _pipeline(encoder, [trial], selector)))
        costs = InferenceCosts(encoder, layer, batch)
        while costs.estimate(list(trial.named_estimators_)) > self.infer_limit and len(
                candidates) > 1:
            slowest = costs.slowest(list(trial.named_estimators_))
            self._log(1, f"infer_limit: leaving out {slowest}")
            candidates.remove(slowest)
            trial, selector = self._selection_among(layer, candidates, y, sample_weight, plan,
                                                    settings)
        self.infer_time_per_row_ = time_per_row(_pipeline(encoder, [trial], selector), batch)
        if self.infer_time_per_row_ > self.infer_limit:
            warnings.warn(
                f"No ensemble meets infer_limit={self.infer_limit:g} s per row: the fastest "
                f"model takes {self.infer_time_per_row_:.3g} s. Try refit=True (one model per "
                "bag instead of one per fold) or a larger infer_limit_batch_size.",
                UserWarning, stacklevel=3)
        return [trial], selector

    def _selection_among(self, layer, names, y, sample_weight, plan, settings, share=1.0):
        """A pruned copy of ``layer`` (to the models ``names``, None: all) and its selector.

        The copy is shallow: the bags are shared, ``layer`` keeps all of its models.
        """
        trial = copy.copy(layer)
        if names is not None:
            trial._keep(names)
        return trial, self._select(trial, y, sample_weight, plan, settings, prune=True,
                                   share=share)

    def _measurement_batch(self, X, pipeline):
        """``infer_limit_batch_size``, cut so that timing it fits in the time left."""
        size = self.infer_limit_batch_size
        if not self._budget.limited or size <= 100:
            return size
        probe = time_per_row(pipeline, measurement_rows(X, 100))
        # Timed about three times: the ensemble, its parts, the ensemble kept.
        allowed = max(self._budget.remaining(), 0.5 * self._budget.reserve())
        return int(max(1, min(size, allowed / (3 * probe))))

    def _finish_records(self, layers, selector):
        weights = selector.weights_
        last = len(layers)
        for record in self.records_:
            if record.level == last and record.status == "ok":
                record.weight = weights.get(record.name, 0.0)
        self.ensemble_score_ = selector.ensemble_score_

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

    def score(self, X, y, sample_weight=None):
        """Accuracy for the classifier, R² for the regressor, like scikit-learn's mixins.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
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
        return default_score(self._task == "classification", y, self.predict(X),
                             sample_weight)

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
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        y = _check_y(y, y_numeric=self._task == "regression", estimator=self)
        check_consistent_length(X, y)
        encoder = self.pipeline_["encoder"]
        features = X if encoder == "passthrough" else encoder.transform(X)
        fit_params = {} if sample_weight is None else {
            "sample_weight": _check_sample_weight(sample_weight, X)}
        for name, layer in self.pipeline_.steps[1:-1]:
            first_bag = layer.estimators_[0]
            if len(first_bag.oof_pred_) != len(y):
                raise ValueError(f"refit_full needs the {len(first_bag.oof_pred_)} training "
                                 f"rows given to fit; got {len(y)}.")
            codes = y
            if hasattr(layer, "classes_"):
                if not np.isin(y, layer.classes_).all():
                    raise ValueError("y holds classes that fit did not see: refit_full needs "
                                     "the training rows given to fit.")
                codes = np.searchsorted(layer.classes_, y)
            for bag in layer.estimators_:
                bag._add_full_model(features, codes, dict(fit_params))
            features = _oof_frame(layer, features)  # what the next level trained on
        self.settings_["refit_full"] = True
        return self


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
            ``interrupted``, ``infer_time_per_row``.
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
        }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.target_tags.required = True
        return tags


class _Trainer:
    """The ``fit_member`` of one level: deadlines, skips, failures and the records."""

    def __init__(self, auto, level, level_deadline, names, fallback=False, refold=False,
                 kept=None, tiers=None):
        self.auto = auto
        self.level = level
        self.level_deadline = level_deadline
        # The models of a tier share the time as if the later tiers were absent.
        self.tiers = tiers or {}
        self.left = Counter(self.tiers.get(name, 0) for name in names)  # tier -> not started
        self.n_fitted = 0
        self.fallback = fallback  # the last resort: no deadline, errors raise
        self.refold = refold  # whether a model's starved folds may ask for fewer folds
        self.kept = kept or {}  # name -> bag fitted before, returned as it is
        self.fitted = {}  # name -> bag fitted by this trainer or kept
        # family -> the first-fold times seen in this level, by every trainer of the level:
        # a second pass must not retry a model whose first fold alone outlasts its time.
        self.first_folds = auto._first_folds.setdefault(level, {})

    def _check_folds(self, name, bag):
        """Raise :class:`_Refold` when the level's first timed model starved for time.

        Boosting times its rounds (``time_shortfall_``). When its folds had under half of
        the time they need to converge even at the highest raised learning rate, the
        models after it would train far from convergence too; with ``k / shortfall`` folds
        (at least 2) each fold gets about the time it needs. Checked once, on the level's
        first model that timed its rounds: refitting it is the price, paid only when its
        folds starved.
        """
        shortfalls = [model.time_shortfall_ for model in bag.estimators_
                      if getattr(model, "time_shortfall_", None) is not None]
        if not shortfalls:
            return
        self.refold = False
        shortfall = float(np.median(shortfalls))
        n_folds = len(bag.estimators_)
        fewer = max(2, int(n_folds / shortfall))
        if shortfall >= _STARVED and fewer < n_folds:
            raise _Refold(fewer, f"{n_folds} folds gave {name} 1/{shortfall:.1f} of the time "
                                 "it needs per fold")

    def _saw_first_fold(self, family, seconds):
        if seconds is not None:
            self.first_folds.setdefault(family, []).append(seconds)

    def _no_time_for(self, family):
        """No time left in the level, or less than a first fold of this family took.

        The family's longest first fold so far (a model of another family: the shortest of
        any) must fit in the level's remaining time, or the model would overrun it.
        """
        budget = self.auto._budget
        if budget.exhausted(self.level_deadline):
            return True
        if family in self.first_folds:
            needed = max(self.first_folds[family])
        elif self.first_folds:
            needed = min(min(times) for times in self.first_folds.values())
        else:
            return False
        return self.level_deadline - time.monotonic() < needed

    def __call__(self, name, estimator, fit):
        if name in self.kept:
            bag = self.kept[name]
            self.left[self.tiers.get(name, 0)] -= 1
            self.n_fitted += 1
        else:
            bag = self._train(name, estimator, fit)
        if bag is not None:
            self.fitted[name] = bag
        self.auto._progress.advance(None if bag is None else bag.oof_score_)
        return bag

    def _train(self, name, estimator, fit):
        auto, budget = self.auto, self.auto._budget
        tier = self.tiers.get(name, 0)
        models_left = self.left[tier]  # of its tier, this one included
        self.left[tier] -= 1
        record = auto._record(name, self.level)
        if auto.interrupted_:
            record.status = "skipped: interrupted"
            return None
        family = _family_name(estimator)
        if not self.fallback and budget.limited and self._no_time_for(family):
            record.status = "skipped: no time left"
            return None
        if not self.fallback and budget.limited and _family(estimator).loading():
            # Waiting for the import would spend this model's time on it.
            record.status = "skipped: its libraries were still loading"
            auto._log(2, f"  {name}: skipped (its libraries were still loading)")
            return None
        deadline = budget.model_deadline(self.level_deadline, models_left)
        start = time.monotonic()
        try:
            bag = fit(deadline, budget.model_limit(self.level_deadline, deadline))
        except KeyboardInterrupt:
            auto._interrupt()
            record.status = "skipped: interrupted"
            return None
        except BudgetExceeded as error:
            self._saw_first_fold(family, error.first_fold_time)
            record.status = f"skipped: {error}"
            record.fit_time = time.monotonic() - start
            auto._log(2, f"  {name}: skipped ({error})")
            return None
        except Exception as error:
            if self.fallback:
                raise
            record.status = f"failed: {type(error).__name__}: {error}"
            record.fit_time = time.monotonic() - start
            auto._log(1, f"  {name}: failed ({type(error).__name__}: {error})")
            warnings.warn(f"Model {name!r} failed and is left out: "
                          f"{type(error).__name__}: {error}", UserWarning, stacklevel=2)
            return None
        self._saw_first_fold(family, bag.fold_fit_times_[0])
        if self.refold:
            self._check_folds(name, bag)
        self.n_fitted += 1
        record.status = "ok"
        record.repeats = bag.n_repeats if bag.cv is None and not bag._native_fit else 1
        record.family = family
        record.oof_score = bag.oof_score_
        record.fit_time = bag.fit_time_
        auto._log(1, f"  {name}: OOF {bag.oof_score_:.4f} in {bag.fit_time_:.1f} s")
        return bag


class _Repeater:
    """``fit_member`` of the repeats: a bag repeats only with the time its last one took.

    A repeat is given up to twice the time of the bag's average repeat so far (at least
    ``_MIN_REPEAT_TIME`` when that much is left); a bag with
    less time than one and a half of those left before ``deadline`` is passed over, so
    that a repeat never trains shorter models than the first one did.
    """

    def __init__(self, auto, level, deadline):
        self.auto = auto
        self.level = level
        self.deadline = deadline
        self.n_fitted = 0

    def __call__(self, name, bag, fit):
        fitted = self._repeat(name, fit)
        self.auto._progress.advance(None if fitted is None else fitted.oof_score_)
        return fitted

    def _repeat(self, name, fit):
        auto = self.auto
        record = auto._record(name, self.level)
        if auto.interrupted_:
            return None
        per_repeat = record.fit_time / record.repeats
        left = self.deadline - time.monotonic()
        if left < 1.5 * per_repeat:
            return None
        try:
            bag = fit(time.monotonic() + min(left, max(2.0 * per_repeat, _MIN_REPEAT_TIME)))
        except KeyboardInterrupt:
            auto._interrupt()
            return None
        except BudgetExceeded as error:
            auto._log(2, f"  {name}: no repeat ({error})")
            return None
        except Exception as error:  # noqa: BLE001 - it fitted once: keep that bag
            auto._log(1, f"  {name}: repeat failed ({type(error).__name__}: {error})")
            return None
        self.n_fitted += 1
        record.repeats += 1
        record.oof_score = bag.oof_score_
        record.fit_time = bag.fit_time_
        auto._log(2, f"  {name}: repeat {record.repeats}, OOF {bag.oof_score_:.4f}")
        return bag


def _share_of_wins(score, y, sample_weight, first, second, seed):
    """Share of bootstrap resamples of the rows on which ``second`` scores above ``first``.

    ``score(y, values, sample_weight=...)`` scores predictions. Resamples the metric
    cannot score (a single class for ROC AUC) are left out; ties count half.
    """
    rng = np.random.RandomState(seed)
    y = np.asarray(y)
    outcomes = []
    for _ in range(_CHECK_RESAMPLES):
        rows = rng.randint(len(y), size=len(y))
        weight = None if sample_weight is None else np.asarray(sample_weight)[rows]
        try:
            low = score(y[rows], first[rows], sample_weight=weight)
            high = score(y[rows], second[rows], sample_weight=weight)
        except ValueError:
            continue
        if np.isfinite(low) and np.isfinite(high):
            outcomes.append(1.0 if high > low else 0.5 if high == low else 0.0)
    return float(np.mean(outcomes)) if outcomes else 0.0


def _pipeline(encoder, layers, selector):
    return Pipeline([("encoder", encoder)]
                    + [(f"layer{i}", layer) for i, layer in enumerate(layers, start=1)]
                    + [("selector", selector)])


def pick(data, rows):
    """Rows of ``data`` (None stays None)."""
    return None if data is None else _safe_indexing(data, rows)


def _oof_frame(layer, X):
    """The layer's training output as a named frame, as its ``transform`` gives new rows."""
    out = layer._oof_output(X)
    if hasattr(out, "columns"):
        return out
    index = X.index if hasattr(X, "index") else None
    return pd.DataFrame(out, columns=layer.get_feature_names_out(), index=index)


def _family(model):
    """The :class:`~skstack.families.Family` of a portfolio model (a FamilyModel) or another."""
    return family_of(getattr(model, "estimator", model))


def _family_name(model):
    """The family of a portfolio model (a FamilyModel), or the class name of another."""
    family = _family(model).name
    return type(getattr(model, "estimator", model)).__name__ if family == "generic" else family


class _DeadlineMember:
    """``fit_member`` of the stacking check: models share the time to ``deadline`` in
    proportion to their ``costs`` (name -> seconds); any problem aborts, except that the
    ``optional`` models are left out when they run out of time."""

    def __init__(self, auto, deadline, costs, optional=()):
        self.auto = auto
        self.deadline = None if math.isinf(deadline) else deadline
        self.costs = dict(costs)  # the models not yet fitted
        self.optional = set(optional)

    def __call__(self, name, estimator, fit):
        cost = self.costs.pop(name, 0.0)
        deadline = self.deadline
        if deadline is not None:
            now = time.monotonic()
            if now >= deadline:
                raise BudgetExceeded("the stacking check ran out of time")
            share = cost / (cost + sum(self.costs.values())) if cost > 0 else 1.0
            deadline = now + (deadline - now) * share
        try:
            return fit(deadline)
        except KeyboardInterrupt:
            self.auto._interrupt()
            raise _Interrupted from None
        except BudgetExceeded:
            if name in self.optional:
                return None
            raise


class AutoStackClassifier(ClassifierMixin, _BaseAutoStack):
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
        ``infer_limit_batch_size`` training rows at the end of the fit. A slower stack
        falls back to its first level, then the models whose removal saves the most time
        are dropped (the ensemble selected again each time) until it is fast enough; a
        warning says when even one model is too slow. None: no limit.

    infer_limit_batch_size : int, default=10000
        Rows per prediction call that ``infer_limit`` is about: 1 for online single-row
        serving (where fixed costs dominate), large for batch scoring. Cut to what the
        time left can measure when ``time_limit`` is set.

    random_state : int, RandomState instance or None, default=None
        Seeds the folds, the models and the selection.

    n_jobs : int, default=None
        Folds fitted in parallel; each gets its share of the CPUs.

    verbose : int, default=0
        0 is silent, 1 reports levels and models, 2 also the skipped ones.

    Attributes
    ----------
    pipeline_ : Pipeline
        The fitted encoder, stack levels and selector.

    classes_ : ndarray of shape (n_classes,)
        Class labels.

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

    fit_time_ : float
        Seconds the fit took.

    infer_time_per_row_ : float or None
        Seconds per row the kept ensemble took on ``infer_limit_batch_size`` rows; None
        without ``infer_limit``.

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
    score = _BaseAutoStack.score  # ahead of ClassifierMixin's, whose docs link into sklearn's

    @property
    def classes_(self):
        """Class labels."""
        return self.pipeline_[-1].classes_

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


class AutoStackRegressor(RegressorMixin, _BaseAutoStack):
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
    random_state : int, RandomState instance or None, default=None
        Seeds everything random.
    n_jobs : int, default=None
        Folds fitted in parallel.
    verbose : int, default=0
        Verbosity.

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
    fit_time_ : float
        Seconds the fit took.
    infer_time_per_row_ : float or None
        Seconds per row of the kept ensemble, with ``infer_limit``.
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
    score = _BaseAutoStack.score  # ahead of RegressorMixin's, whose docs link into sklearn's
