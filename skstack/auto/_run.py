"""One AutoStack fit: :class:`FitRun` holds its state and trains the levels.

The estimator builds a run per :meth:`~skstack.auto.AutoStackClassifier.fit` and keeps
only what the run produced (the fitted layers become ``pipeline_``; the records, the
settings and the stacking check become fitted attributes): no fit-time state is left on
the estimator, whether the fit ends, fails or is interrupted.
"""

import time
import warnings
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from sklearn.utils import check_random_state

from .._cluster import data_sent_once
from .._folds import default_n_folds, held_out_rows, holdout_plan, make_fold_plan, restrict_plan
from .._stacking import StackLayer
from .._utils import SEED_MAX, pick
from ..families import build_estimators
from ..families.portfolios import PortfolioEntry, _tiered_estimators
from ._budget import MAX_AUTO_REPEATS, MemoryBudget, MemoryWatch
from ._members import Records, Refold, Repeater, Trainer, preprocessing_kind
from ._stacking_check import stacking_check

__all__ = ["DEFAULT_SCORING", "FitRun", "Level"]

DEFAULT_SCORING = {"classification": "neg_log_loss", "regression": "neg_root_mean_squared_error"}


@dataclass
class Level:
    """The rows one level trains on: their input, target, weights, groups and fold plan.

    ``plan`` is None under the built-in k folds (each layer draws its own, every row
    held out once per repeat), or the ``(train, test)`` pairs every model of the level
    shares (a holdout split, or a user's ``cv``). ``rows``: their indices among the
    fit's rows (None: all of them).
    """

    X: object
    y: np.ndarray
    sample_weight: np.ndarray = None
    groups: np.ndarray = None
    plan: list = None
    rows: np.ndarray = None

    @property
    def n_rows(self):
        return len(self.y)

    def held_out(self):
        """Positions of the rows with out-of-fold predictions (a slice: all of them)."""
        return slice(None) if self.plan is None else held_out_rows(self.plan)

    def missing_classes(self, classes):
        """The ``classes`` that none of the rows held out holds (sorted)."""
        held = set(np.unique(self.y[self.held_out()]).tolist())
        return sorted(label for label in np.asarray(classes).tolist() if label not in held)

    def fit_rows(self, positions):
        """The indices among the fit's rows of this level's rows ``positions``."""
        if self.rows is None:
            return np.arange(self.n_rows)[positions]
        return self.rows[positions]

    def positions(self, fit_rows):
        """The positions in this level of the fit's rows ``fit_rows`` (sorted, all here)."""
        return fit_rows if self.rows is None else np.searchsorted(self.rows, fit_rows)

    def subset(self, positions):
        """This level restricted to its rows ``positions`` (sorted), folds included."""
        plan = None if self.plan is None else restrict_plan(self.plan, positions)
        return Level(pick(self.X, positions), pick(self.y, positions),
                     pick(self.sample_weight, positions), pick(self.groups, positions),
                     plan, self.fit_rows(positions))

    def above(self, layer):
        """The next level's rows: the OOF predictions of ``layer`` (fitted on this level)
        with its passthrough, for the rows it held out.

        A plan that never holds out some rows (the first ones of a time-ordered split)
        leaves them without out-of-fold predictions: the levels above never see them,
        and keep every fold's boundaries among the rest.
        """
        stacked = Level(layer._oof_frame(self.X), self.y, self.sample_weight, self.groups,
                        self.plan, self.rows)
        held = self.held_out()
        return (stacked if isinstance(held, slice) or len(held) == self.n_rows
                else stacked.subset(held))


class FitRun:
    """The state of one fit and its level loop.

    Parameters
    ----------
    task : {"classification", "regression"}
        The estimator's task.
    params : dict
        The estimator's parameters (``get_params(deep=False)``), read as ``options``.
    settings : dict
        The preset's settings for the data, with the explicit parameters laid over them.
    budget : TimeBudget
        The fit's time budget.
    progress : Progress
        Log lines and progress bars.
    n_classes : int, default=None
        Classes of a classification target.

    Attributes
    ----------
    records : Records
        The leaderboard records and whether Ctrl-C stopped the fit.
    fitted_settings : dict
        The settings as the fit used them (``settings_``).
    stacking_check : dict or None
        The stacked-overfitting check's record (``stacking_check_``).
    inference_front : DataFrame or None
        With ``infer_limit``: the ensembles it chose among (``inference_front_``).
    """

    def __init__(self, task, params, settings, budget, progress, n_classes=None):
        self.task = task
        self.n_classes = n_classes
        self.options = SimpleNamespace(**params)
        self.settings = settings
        self.fitted_settings = {k: v for k, v in settings.items() if k != "portfolio"}
        self.budget = budget
        self.memory = MemoryBudget(self.options.memory_limit)
        self.memory_watch = MemoryWatch()
        self.progress = progress
        self.records = Records(self.log)
        self.stacking_check = None
        self.inference_front = None
        self.seeds = check_random_state(self.options.random_state)
        self.n_folds = self.options.n_folds
        self.first_folds = {}  # level -> family -> the first-fold times seen
        self.large_table = False  # set when the table is too large for the preset's folds
        self.tiers = {}  # model name -> its portfolio tier, every level's
        self.plan = None
        self.levels = []  # the Level of every fitted layer

    # ---- small helpers --------------------------------------------------------------

    @property
    def classifier(self):
        return self.task == "classification"

    @property
    def scoring(self):
        scoring = self.options.scoring
        return scoring if scoring is not None else DEFAULT_SCORING[self.task]

    @property
    def user_cv(self):
        """Whether the folds are the user's ``cv``."""
        return self.options.cv is not None

    def log(self, level, message):
        self.progress.log(level, message)

    def seed(self):
        """The next seed of the fit's random state."""
        return self.seeds.randint(SEED_MAX)

    def estimators(self, level=1):
        """The portfolio's ``(name, model)`` list of ``level``."""
        return [(name, model) for name, model, _ in self.level_models(level)]

    def level_models(self, level):
        """The portfolio's ``(name, model, tier)``; above level 1 the names say the level
        (``lightgbm_l2``), so that their prediction columns never clash with the ones they
        stack on."""
        models = _tiered_estimators(self.settings["portfolio"], task=self.task,
                                    excluded_families=self.options.excluded_families or ())
        if self.large_table:
            # Cheap on small tables, first for that, the one-hot families cost the most per
            # row on a large one: within each tier they train after the others.
            models.sort(key=lambda entry: (entry[2], preprocessing_kind(entry[1]) == "onehot"))
        if level == 1:
            return models
        return [(f"{name}_l{level}", model, tier) for name, model, tier in models]

    def layer(self, estimators, plan, seed, refit_full=None):
        """An unfitted layer of ``estimators`` with the fit's folds, scoring and threads."""
        options = self.options
        layer = StackLayer(
            estimators,
            n_folds=self.n_folds,
            n_repeats=1 if options.n_repeats == "auto" else options.n_repeats,
            cv=plan,
            passthrough=options.passthrough,
            scoring=self.scoring,
            refit_full=self.settings["refit_full"] if refit_full is None else refit_full,
            n_jobs=options.n_jobs,
            random_state=seed,
        )
        return layer.set_output(transform="pandas")

    @staticmethod
    def fit_layer(layer, X, y, sample_weight, groups, fit_member):
        """``layer`` fitted through ``fit_member`` (see :meth:`StackLayer._fit`)."""
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

    # ---- the plan --------------------------------------------------------------------

    def make_plan(self, X, y, groups):
        """The first level's fold plan: k-fold (None, each layer draws it), the user's
        ``cv`` split once, or a holdout.

        Under a time limit, a table too large for the preset's folds gets fewer, or one
        holdout split (see :meth:`TimeBudget.fold_plan`).
        """
        if self.user_cv:
            plan = make_fold_plan(X, y, classifier=self.classifier, cv=self.options.cv,
                                  groups=groups)
            missing = (Level(X, y, plan=plan).missing_classes(np.unique(y))
                       if self.classifier else [])
            if missing:
                raise ValueError(
                    f"cv={self.options.cv!r} never holds out a row of the classes "
                    f"{missing}: the ensemble is selected on the rows held out, which "
                    "must hold every class. Use a splitter whose held-out rows do.")
            return plan
        if self.settings["bagging"] and self.n_folds == "auto" and self.budget.limited:
            self._size_folds(len(y), X.shape[1])
        if self.settings["bagging"]:
            return None
        plan = holdout_plan(y, classifier=self.classifier,
                            fraction=self.options.holdout_fraction,
                            random_state=self.seed(), groups=groups)
        if plan is None:
            warnings.warn("No holdout split holds every class (too few rows or groups of "
                          "some class): bagging over k folds instead.", UserWarning,
                          stacklevel=4)
            self.settings["bagging"] = self.fitted_settings["bagging"] = True
        return plan

    def _size_folds(self, n_rows, n_columns):
        default = default_n_folds(n_rows)
        first_tier = sum(1 for *_, tier in self.level_models(1) if tier == 0)
        folds = self.budget.fold_plan(n_rows, n_columns, max(1, first_tier), default,
                                      refit=bool(self.settings["refit_full"]),
                                      levels=self.settings["n_stack_levels"] + 1)
        if folds == default:
            return
        self.large_table = True
        shape = f"{n_rows} rows x {n_columns} columns"
        for key, value in (("bagging", False), ("n_stack_levels", 0)):
            self.settings[key] = self.fitted_settings[key] = value
        self.log(1, f"{shape}: one holdout split instead of {default} folds (and no "
                    "stacking), to fit the time limit")

    # ---- the levels ------------------------------------------------------------------

    def fit_levels(self, X, y, sample_weight, groups, layers=None):
        """The fitted layers, level after level, until the levels, the time or Ctrl-C end.

        ``layers``: the fitted layers of an earlier fit to continue (a warm start); their
        last level first fits the models that fit skipped, then the levels go on.
        Time the levels leave unused (stacking not kept, a level finished early) goes to
        the last level's models that were skipped for time, then to more k-fold repeats.
        """
        layers = [] if layers is None else layers
        try:
            with data_sent_once():  # on a Dask cluster: for the levels and their repeats
                self._fit_levels(Level(X, y, sample_weight, groups, self.plan), layers)
        except KeyboardInterrupt:
            self.records.interrupt()
        finally:
            self.progress.close()
        return layers

    def _fit_levels(self, data, layers):
        self.levels = [data]  # the Level of layers[i] is levels[i]
        for layer in layers[:-1]:
            self.levels.append(self.levels[-1].above(layer))
        levels = self.settings["n_stack_levels"] + 1
        if layers:  # continued: the models skipped last time, before a level stacks on them
            more = levels - len(layers)  # levels that may follow, which share the time
            deadline = (self.budget.level_deadline(more + 1, first=len(layers) == 1)
                        if more else None)
            self._retry_skipped(layers[-1], len(layers), self.levels[-1], deadline)
        for level in range(len(layers) + 1, levels + 1):
            if self.records.interrupted:
                break
            if level == 2 and not self._stacks(layers[0]):
                break
            data = self.levels[-1].above(layers[-1]) if layers else self.levels[0]
            if self.classifier and data.missing_classes(np.unique(self.levels[0].y)):
                # A time-ordered split's later folds can miss a class of its first rows.
                self.log(1, f"level {level}: its held-out rows miss a class; not stacking")
                break
            layer = self._fit_level(level, levels - level + 1, data)
            if layer is None:
                break
            layers.append(layer)
            if len(self.levels) < len(layers):
                self.levels.append(data)
        if layers and not self.records.interrupted:
            self._retry_skipped(layers[-1], len(layers), self.levels[-1])
        if layers and not self.records.interrupted:
            self._repeat_bags(layers[-1], len(layers), self.levels[-1])

    def _stacks(self, first):
        """Whether to fit level 2: the stacking check's decision, made once per model (a
        continued fit keeps the one the earlier fit measured)."""
        if self.stacking_check is not None and "level2_wins" in self.stacking_check:
            return self.stacking_check["decision"] == "stack"
        record = stacking_check(self, self.levels[0], first)
        if record is None:  # interrupted
            return False
        self.stacking_check = record
        return record["decision"] == "stack"

    def _fit_level(self, level, levels_left, data):
        """Fit one level's portfolio under the budget; None when no model finished."""
        models = self.level_models(level)
        estimators = [(name, model) for name, model, _ in models]
        self.tiers.update((name, tier) for name, _, tier in models)
        level_deadline = self.budget.level_deadline(levels_left, first=level == 1)
        self.log(1, f"level {level}: {len(estimators)} models"
                    + ("" if level_deadline is None else
                       f", {level_deadline - time.monotonic():.1f} s"))
        kept = {}
        while True:
            layer = self.layer(estimators, data.plan, self.seed())
            self.progress.open(f"level {level}", len(estimators), level_deadline)
            refold = (level == 1 and self.settings["bagging"] and self.n_folds == "auto"
                      and self.budget.limited and not self.user_cv)
            trainer = Trainer(self, level, level_deadline, estimators, refold=refold, kept=kept,
                              tiers=self.tiers, shape=data.X.shape)
            try:
                return self._fit_members(layer, data, trainer)
            except Refold as fewer:
                # The bags fitted before the starved one keep their folds: every bag's
                # OOF predictions stay out-of-fold, whatever folds made them.
                kept = trainer.fitted
                self.first_folds.pop(level, None)  # times of larger folds than the next
                self.n_folds = self.fitted_settings["n_folds"] = fewer.n_folds
                self.log(1, f"level {level}: {fewer}; it and the models after it get "
                            f"{fewer.n_folds} folds")
            finally:
                self.progress.close()

    def _fit_members(self, layer, data, trainer):
        """The layer fitted through ``trainer``, or None when the trainer fitted no model."""
        try:
            return self.fit_layer(layer, data.X, data.y, data.sample_weight, data.groups,
                                  trainer)
        except ValueError:
            if trainer.n_fitted == 0:  # every model failed or was skipped: the layer gave up
                return None
            raise

    def _retry_skipped(self, layer, level, data, deadline=None):
        """Fit the level's models that were skipped for time with the time still left
        (until ``deadline``; None: all but a margin of it)."""
        skipped = {r.name for r in self.records.records  # for time: not "skipped for memory"
                   if r.level == level and r.status.startswith("skipped:")}
        missing = [(name, est) for name, est in layer.estimators
                   if name in skipped and name not in layer.named_estimators_]
        if not missing or self.budget.exhausted():
            return
        level_deadline = deadline or self.budget.last_pass_deadline()
        self.log(1, f"level {level}, second pass: {len(missing)} skipped models")
        self.progress.open(f"level {level}, again", len(missing), level_deadline)
        extra = self.layer(missing, data.plan, layer.random_state)
        trainer = Trainer(self, level, level_deadline, missing,
                          tiers=self.tiers, shape=data.X.shape)
        fitted = self._fit_members(extra, data, trainer)
        self.progress.close()
        if fitted is not None:
            layer._merge(extra)

    def _repeat_bags(self, layer, level, data):
        """Spend the time still left on more k-fold repeats of the last level's bags.

        AutoGluon's bag sets: each repeat shuffles the rows into new folds, so every row
        gets one more out-of-fold prediction and every bag k more fold models, which lowers
        the variance of both. Repeats go round the bags, best OOF score first, up to
        ``MAX_AUTO_REPEATS`` each (``n_repeats="auto"`` only). They are for bags that predict
        with their fold models: a refitted bag predicts with one model on all rows, and an
        ``infer_limit`` asks for fewer models, not more.
        """
        options = self.options
        if (options.n_repeats != "auto" or not self.budget.limited
                or not self.settings["bagging"] or self.settings["refit_full"]
                or options.infer_limit is not None or self.user_cv):
            return
        deadline = self.budget.level_deadline(1)
        # Each fit adds up to MAX_AUTO_REPEATS - 1 repeats (a continued one, more).
        done = max((record.repeats for record in self.records.records
                    if record.level == level and record.fitted), default=1)
        for repeat in range(done + 1, done + MAX_AUTO_REPEATS):
            if self.records.interrupted or self.budget.exhausted():
                return
            names = sorted(layer.oof_scores_, key=lambda name: -layer.oof_scores_[name])
            self.progress.open(f"level {level}, repeat {repeat}", len(names), deadline)
            member = Repeater(self, level, deadline)
            layer._add_repeat(data.X, data.y, data.sample_weight, data.groups, member, names,
                              self.seed())
            self.progress.close()
            self.log(1, f"level {level}, repeat {repeat}: {member.n_fitted} of "
                        f"{len(names)} models")
            if member.n_fitted == 0:
                return

    def fallback(self, X, y, sample_weight, groups):
        """A fast linear model when no portfolio model finished in time."""
        warnings.warn(
            "No model of the portfolio finished within time_limit="
            f"{self.options.time_limit}; fitting a fast linear model instead. Raise "
            "time_limit for a real ensemble.",
            UserWarning,
            stacklevel=4,
        )
        portfolio = [PortfolioEntry("linear", name="fallback_linear")]
        layer = self.layer(build_estimators(portfolio, task=self.task), self.plan,
                           self.seed(), refit_full=False)
        trainer = Trainer(self, 1, None, layer.estimators, fallback=True)
        layer = self.fit_layer(layer, X, y, sample_weight, groups, trainer)
        self.levels = [Level(X, y, sample_weight, groups, self.plan)]
        return layer

    # ---- the rows of the ensemble ------------------------------------------------------

    def selection_rows(self, layer=None):
        """The rows the ensemble is selected on, as positions in the rows ``layer`` was
        fitted on (None: the fit's rows).

        Every row under the built-in k folds, the validation rows of a holdout split, and
        under a user's ``cv`` the rows the top fitted level held out (a subset of every
        lower level's): the ensembles of two levels are compared on the same rows.
        """
        if not self.user_cv:
            return slice(None) if self.plan is None else self.plan[0][1]
        top = self.levels[-1]
        rows = top.fit_rows(top.held_out())
        if layer is None:
            return rows
        # The levels' rows are nested subsets, so their number tells which level it is.
        n_rows = len(layer.estimators_[0].oof_pred_)
        level = next(level for level in self.levels if level.n_rows == n_rows)
        return level.positions(rows)

