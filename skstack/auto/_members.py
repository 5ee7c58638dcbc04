"""How an AutoStack fit trains each model of a layer: the ``fit_member`` callables.

:meth:`StackLayer._fit` and :meth:`StackLayer._add_repeat` hand every model's fit to a
``fit_member(name, estimator, fit)``, which decides whether and until when it runs and
returns the fitted bag, or None to leave the model out. Three kinds:

- :class:`Trainer`: a level's models under the budget: deadlines, skips, failures, records;
- :class:`Repeater`: one more k-fold repeat of a bag, only with the time its last one took;
- :class:`DeadlineMember`: the stacking check's models, sharing its time by their cost.
"""

import math
import time
import warnings
from collections import Counter

import numpy as np

from .._utils import BudgetExceeded, release_freed_memory
from ..families import family_of
from ..families._base import preload_families
from ._budget import MODEL_MEMORY_SHARE, PRELOAD_AHEAD, MemoryBudget, TimeBudget
from ._report import ModelRecord

__all__ = ["DeadlineMember", "Interrupted", "Refold", "Repeater", "Trainer", "family_name"]


class Interrupted(Exception):
    """Raised inside the fit when Ctrl-C asked it to stop; the fit keeps what finished."""


class Refold(Exception):
    """Raised after the first model of level 1 when its folds starved: fit with fewer."""

    def __init__(self, n_folds, reason):
        super().__init__(reason)
        self.n_folds = n_folds


def family(model):
    """The :class:`~skstack.families.Family` of a portfolio model (a FamilyModel) or another."""
    return family_of(getattr(model, "estimator", model))


def family_name(model):
    """The family of a portfolio model (a FamilyModel), or the class name of another."""
    name = family(model).name
    return type(getattr(model, "estimator", model)).__name__ if name == "generic" else name


class Records:
    """The leaderboard records of one fit, and whether Ctrl-C stopped it."""

    def __init__(self, log):
        self.log = log
        self.records = []
        self.interrupted = False

    def get(self, name, level):
        """The record of a model: a new one, or the one of its earlier attempt."""
        for record in self.records:
            if record.name == name and record.level == level:
                return record
        record = ModelRecord(name=name, level=level)
        self.records.append(record)
        return record

    def interrupt(self):
        if not self.interrupted:
            warnings.warn("Fit interrupted: ensembling the models that finished.",
                          UserWarning, stacklevel=4)
        self.interrupted = True


class Trainer:
    """The ``fit_member`` of one level: deadlines, skips, failures and the records.

    Parameters
    ----------
    run : FitRun
        The fit (its budget, progress, records and the level's first-fold times).
    level : int
        The level trained.
    level_deadline : float or None
        Its end.
    estimators : list of (str, estimator)
        The models it will be asked to fit, in their order: for the count of models left
        per tier, and to import the libraries of the next ones ahead of their turn.
    fallback : bool, default=False
        The last resort: no deadline, and errors raise.
    refold : bool, default=False
        Whether a model's starved folds may ask for fewer folds (:class:`Refold`).
    kept : dict, default=None
        ``name -> bag`` fitted before (by a trainer that refolded), returned as it is.
    tiers : dict, default=None
        ``name -> tier``: the models of a tier share the time as if the later tiers
        were absent.
    shape : tuple of int, default=None
        ``(rows, columns)`` of the level's input: a model projected to need more memory
        than is left is skipped, a forest shrunk to the trees that fit.
    """

    def __init__(self, run, level, level_deadline, estimators, fallback=False, refold=False,
                 kept=None, tiers=None, shape=None):
        self.run = run
        self.estimators = list(estimators)
        self.order = {name: i for i, (name, _) in enumerate(self.estimators)}
        names = list(self.order)
        self.shape = shape  # (rows, columns) of the level's input, for memory projections
        self.level = level
        self.level_deadline = level_deadline
        self.tiers = tiers or {}
        self.left = Counter(self.tiers.get(name, 0) for name in names)  # tier -> not started
        self.n_fitted = 0
        self.fallback = fallback
        self.refold = refold
        self.kept = kept or {}
        self.fitted = {}  # name -> bag fitted by this trainer or kept
        # family -> the first-fold times seen in this level, by every trainer of the level:
        # a second pass must not retry a model whose first fold alone outlasts its time.
        self.first_folds = run.first_folds.setdefault(level, {})
        self.prepared = set()  # kinds of shared preprocessing this trainer's layer computed

    def _check_folds(self, name, bag):
        """Raise :class:`Refold` when the level's first timed model starved for time.

        Boosting times its rounds (``time_shortfall_``). When its folds had under half of
        the time they need to converge even at the highest raised learning rate, the
        models after it would train far from convergence too (see
        :meth:`TimeBudget.fewer_folds`). Checked once, on the level's first model that
        timed its rounds: refitting it is the price, paid only when its folds starved.
        """
        shortfalls = [model.time_shortfall_ for model in bag.estimators_
                      if getattr(model, "time_shortfall_", None) is not None]
        if not shortfalls:
            return
        self.refold = False
        shortfall = float(np.median(shortfalls))
        n_folds = len(bag.estimators_)
        fewer = TimeBudget.fewer_folds(shortfall, n_folds)
        if fewer is not None:
            raise Refold(fewer, f"{n_folds} folds gave {name} 1/{shortfall:.1f} of the time "
                                "it needs per fold")

    def _saw_first_fold(self, family, seconds):
        if seconds is not None:
            self.first_folds.setdefault(family, []).append(seconds)

    def _no_time_for(self, family, preparing=0.0):
        """No time left in the level, or less than a first fold of this family took.

        The family's longest first fold so far (a model of another family: the shortest of
        any), after ``preparing`` seconds of shared preprocessing, must fit in the level's
        remaining time, or the model would overrun it.
        """
        if self.run.budget.exhausted(self.level_deadline):
            return True
        needed = 0.0
        if family in self.first_folds:
            needed = max(self.first_folds[family])
        elif self.first_folds:
            needed = min(min(times) for times in self.first_folds.values())
        return self.level_deadline - time.monotonic() < needed + preparing

    def _preparation(self, estimator):
        """``(kind, seconds)`` of the model's shared preprocessing; 0 seconds once this
        trainer's layer computed that kind (its later models reuse it)."""
        kind = preprocessing_kind(estimator)
        if self.shape is None or kind in self.prepared:
            return kind, 0.0
        return kind, TimeBudget.preparation_seconds(kind, *self.shape)

    def _preload_ahead(self, name):
        """Import, in the background, the libraries of this model and the next few.

        Only under a time limit, where an import inside a model's fit would spend its
        time; the libraries of models the fit never reaches are never imported.
        """
        if not self.run.budget.limited or name not in self.order:
            return
        start = self.order[name]
        preload_families(family(estimator) for _, estimator
                         in self.estimators[start:start + PRELOAD_AHEAD + 1])

    def __call__(self, name, estimator, fit):
        if name in self.kept:
            bag = self.kept[name]
            self.left[self.tiers.get(name, 0)] -= 1
            self.n_fitted += 1
        else:
            bag = self._train(name, estimator, fit)
        if bag is not None:
            self.fitted[name] = bag
        self.run.progress.advance(None if bag is None else bag.oof_score_)
        return bag

    def _train(self, name, estimator, fit):
        run, budget = self.run, self.run.budget
        tier = self.tiers.get(name, 0)
        models_left = self.left[tier]  # of its tier, this one included
        self.left[tier] -= 1
        record = run.records.get(name, self.level)
        if run.records.interrupted:
            record.status = "skipped: interrupted"
            return None
        if not budget.exhausted(self.level_deadline):
            self._preload_ahead(name)
        family_label = family_name(estimator)
        kind, preparing = self._preparation(estimator)
        if not self.fallback and budget.limited and self._no_time_for(family_label, preparing):
            record.status = "skipped: no time left"
            return None
        if not self.fallback and budget.limited and family(estimator).loading():
            # Waiting for the import would spend this model's time on it.
            record.status = "skipped: its libraries were still loading"
            run.log(2, f"  {name}: skipped (its libraries were still loading)")
            return None
        shrink, too_large = self._memory_plan(estimator)
        if too_large is not None and not self.fallback:
            record.status = f"skipped for memory: {too_large}"  # no second pass retries it
            run.log(1, f"  {name}: skipped for memory ({too_large})")
            return None
        deadline = budget.model_deadline(self.level_deadline, models_left, self.shape)
        start = time.monotonic()
        run.memory_watch.mark()
        try:
            bag = fit(deadline, budget.model_limit(self.level_deadline, deadline), shrink)
        except KeyboardInterrupt:
            run.records.interrupt()
            record.status = "skipped: interrupted"
            return None
        except BudgetExceeded as error:
            self._saw_first_fold(family_label, error.first_fold_time)
            record.status = f"skipped: {error}"
            record.fit_time = time.monotonic() - start
            run.log(2, f"  {name}: skipped ({error})")
            return None
        except Exception as error:
            if self.fallback:
                raise
            # MemoryError too: what the model held is freed, the others go on.
            record.status = f"failed: {type(error).__name__}: {error}"
            record.fit_time = time.monotonic() - start
            run.log(1, f"  {name}: failed ({type(error).__name__}: {error})")
            warnings.warn(f"Model {name!r} failed and is left out: "
                          f"{type(error).__name__}: {error}", UserWarning, stacklevel=2)
            return None
        finally:
            # What the model's training freed, kept or failed, goes back before the next one.
            release_freed_memory()
        self._saw_first_fold(family_label, bag.fold_fit_times_[0])
        self.prepared.add(kind)
        if self.refold:
            self._check_folds(name, bag)
        self.n_fitted += 1
        record.status = _fitted_status(bag, shrink)
        record.peak_memory = _megabytes(run.memory_watch.added())
        record.repeats = bag.n_repeats if bag.cv is None and not bag._native_fit else 1
        record.family = family_label
        record.oof_score = bag.oof_score_
        record.fit_time = bag.fit_time_
        run.log(1, f"  {name}: OOF {bag.oof_score_:.4f} in {bag.fit_time_:.1f} s")
        return bag


    def _memory_plan(self, estimator):
        """``(params, None)`` to fit, shrunk by ``params`` (None: as it is), or ``(None,
        reason)`` to skip a model projected to need more memory than is left."""
        left = MODEL_MEMORY_SHARE * self.run.memory.left()
        if self.shape is None or math.isinf(left):
            return None, None
        n_rows, n_columns = self.shape
        kind, forest = memory_profile(estimator)
        n_classes = self.run.n_classes
        needed = MemoryBudget.projected(kind, n_rows, n_columns, n_classes, forest)
        if needed <= left:
            return None, None
        if forest is not None:
            data = MemoryBudget.projected(kind, n_rows, n_columns)
            trees = int((left - data) // MemoryBudget.tree_bytes(n_rows, n_classes, forest))
            if trees >= 1:
                return {"estimator__n_estimators": trees}, None
        return None, (f"needs about {_gigabytes(needed)} of memory, {_gigabytes(left)} "
                      "left (memory_limit)")


def preprocessing_kind(estimator):
    """The kind of shared preprocessing a portfolio model trains on (``"onehot"``,
    ``"native"``, ``"ordinal"``), or ``"none"``."""
    return estimator._kind() if hasattr(estimator, "_kind") else "none"


def memory_profile(estimator):
    """The preprocessing of a portfolio model, and its forest parameters (None: no forest)."""
    kind = preprocessing_kind(estimator)
    if family(estimator).name not in ("random_forest", "extra_trees"):
        return kind, None
    params = estimator.estimator.get_params()
    return kind, {key: params.get(key)
                  for key in ("n_estimators", "min_samples_leaf", "max_samples",
                              "max_leaf_nodes")}


def _fitted_status(bag, shrink):
    """``"ok"``, or what the fit shrank to meet its time or memory."""
    notes = []
    if shrink:
        notes.append(f"{shrink['estimator__n_estimators']} trees, for memory")
    model, n_rows = bag.estimators_[0], len(bag.oof_pred_)
    cap = getattr(bag.estimator, "max_rows", None)
    if cap is not None and n_rows > cap:
        notes.append(f"trained on at most {cap} of {n_rows} rows (max_rows)")
    kept = getattr(model, "fit_rows_", None)
    if kept is not None and len(kept) < min(cap or n_rows, n_rows):
        notes.append(f"kept {len(kept)} rows of {n_rows}, for time")
    samples = getattr(getattr(model, "estimator_", None), "max_samples", None)
    configured = getattr(getattr(bag.estimator, "estimator", None), "max_samples", None)
    if isinstance(samples, int) and configured is None:
        notes.append(f"bootstrap samples of {samples} rows, for time")
    return "ok" if not notes else "ok: " + "; ".join(notes)


def _gigabytes(n_bytes):
    return f"{n_bytes / 2**30:.1f} GB"


def _megabytes(n_bytes):
    return max(0.0, n_bytes / 2**20)


class Repeater:
    """``fit_member`` of the repeats: a bag repeats only with the time its last one took
    (see :meth:`TimeBudget.repeat_deadline`)."""

    def __init__(self, run, level, deadline):
        self.run = run
        self.level = level
        self.deadline = deadline
        self.n_fitted = 0

    def __call__(self, name, bag, fit):
        fitted = self._repeat(name, fit)
        self.run.progress.advance(None if fitted is None else fitted.oof_score_)
        return fitted

    def _repeat(self, name, fit):
        run = self.run
        record = run.records.get(name, self.level)
        if run.records.interrupted:
            return None
        deadline = TimeBudget.repeat_deadline(self.deadline, record.fit_time / record.repeats)
        if deadline is None:
            return None
        try:
            bag = fit(deadline)
        except KeyboardInterrupt:
            run.records.interrupt()
            return None
        except BudgetExceeded as error:
            run.log(2, f"  {name}: no repeat ({error})")
            return None
        except Exception as error:  # noqa: BLE001 - it fitted once: keep that bag
            run.log(1, f"  {name}: repeat failed ({type(error).__name__}: {error})")
            return None
        self.n_fitted += 1
        record.repeats += 1
        record.oof_score = bag.oof_score_
        record.fit_time = bag.fit_time_
        run.log(2, f"  {name}: repeat {record.repeats}, OOF {bag.oof_score_:.4f}")
        return bag


class DeadlineMember:
    """``fit_member`` of the stacking check: models share the time to ``deadline`` in
    proportion to their ``costs`` (name -> seconds); any problem aborts, except that the
    ``optional`` models are left out when they run out of time."""

    def __init__(self, records, deadline, costs, optional=()):
        self.records = records
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
            self.records.interrupt()
            raise Interrupted from None
        except BudgetExceeded:
            if name in self.optional:
                return None
            raise
