"""The time budget of one AutoStack fit: every deadline it sets, and every number it uses.

How the time is split:

- a **reserve** at the end for the ensemble selection and the bookkeeping after it (5% of the
  limit, at least 0.5 s and at most 30 s);
- the rest goes to the **levels** in turn, each getting its share of what is left when it
  starts (a level that finishes early leaves its time to the next): the first level counts
  twice, the ones above it once each. The first level's models are the foundation every
  later level stacks on, and under a tight limit they are the ones that train too few
  rounds; the level above it is kept only when a check shows that it helps;
- within a level, each **model** in priority order may run until ``allowance`` of the
  level's remaining time: twice its fair share, and at least a fifth, so that a large
  portfolio still trains its first models well rather than every model a little;
- the bag of each model gets its deadline: boosting, forests and networks stop training
  at their share of it, and a bag whose first fold projects past it is skipped
  (:class:`~skstack._utils.BudgetExceeded`) or, for those that stop, shortened; unless
  the projection ends within its **limit**: a model may borrow a quarter of the level's
  time beyond its allowance. A model whose preprocessing and predictions cost more than
  its training (a linear model on thousands of stacked columns) would otherwise be
  skipped for a fraction of a second, as AutoGluon, which lets each model use all the
  time left, would not;
- the **stacking check** before level 2 may take a tenth of the limit (at most half of the
  time left for the levels); the **selections** share what is left after the levels, and
  k-fold **repeats** of the last level's bags take only the time they are sure to finish
  in.

All times are :func:`time.monotonic` values; a budget without a limit gives no deadlines.

Memory (:class:`MemoryBudget`): before a model starts, its peak is projected from the shape
of its input (bytes per cell of its family's preprocessing, plus a forest's trees); a model
projected past the memory left is skipped, a forest shrunk to the trees that fit.
"""

import math
import os
import time

__all__ = ["MemoryBudget", "MemoryWatch", "TimeBudget", "available_memory", "process_memory"]

# Levels and models.
FIRST_LEVEL_WEIGHT = 2.0
BORROWED_SHARE = 0.25
RESERVE_SHARE, RESERVE_MIN, RESERVE_MAX = 0.05, 0.5, 30.0
# Level 1 is refitted with fewer folds when its first timed model had under 1/STARVED of
# the time its folds need (see ``TimeBudget.fewer_folds``).
STARVED = 2.0

# The fold plan of a large table. Every model pays, at every fold, costs that its deadline
# cannot cut (converting and binning the fold's rows, predicting the held-out ones), and a
# fold's training costs about ten times those again: FIXED_SECONDS_PER_CELL per cell (row x
# column) and model (LightGBM, XGBoost and CatBoost stopped at once spent 0.8 to 1.2 s on
# each fold of 437,500 rows x 12 columns, two cores). When one pass of those costs over every
# row, for each of the first level's first-tier models, takes more than HOLDOUT_SHARE of the
# first level's time, the fit trains on one holdout split instead of k folds: measured from
# 10,000 to 5 million rows (benchmarks/results/scale.md), k-fold bagging then trained every
# model far from convergence and scored below the holdout (1 million rows at 300 s: ROC AUC
# 0.813 with 5 folds, 0.836 on a holdout). Not below HOLDOUT_MIN_ROWS rows, whose holdout
# (10%, at most 2,500 rows) would be too small to select on: there the folds that starve
# are cut as the level goes (``fewer_folds``).
FIXED_SECONDS_PER_CELL = 1.7e-7
HOLDOUT_SHARE = 0.05
HOLDOUT_MIN_ROWS = 25_000

# A model whose share of the level is below STARVED_PASSES passes of those fixed costs over
# its rows cannot get near convergence in it (a million rows at 30 s: 11 models of 4.8 s
# each, LightGBM's first fit scoring far below its defaults trained for 11 s). It then gets
# up to STARVED_MODEL_SHARE of the level's time left instead, as AutoGluon gives each model
# the time left: the first models, the portfolio's best, converge, and the last are skipped.
STARVED_PASSES = 4.0
STARVED_MODEL_SHARE = 0.5

# Seconds per input cell of the preprocessing a level's models of one kind share (one-hot
# encoding and scaling, LightGBM's native frame, ordinal codes), paid by the first model of
# that kind and not cut by its deadline: measured on 1 million rows x 12 columns on two
# cores (3.6 s, 1.6 s and 1.0 s). Before that model starts, the level must have that time
# left, with its first fold.
PREPARATION_SECONDS_PER_CELL = {"onehot": 3e-7, "native": 1.5e-7, "ordinal": 1e-7}

# The stacked-overfitting check may use this share of the time limit; each of its two
# levels half of it. Its models are priced at their first-level bag's time: two levels on
# 8/9 of the rows cost about CHECK_TWO_LEVELS times that bag, one level CHECK_ONE_LEVEL.
CHECK_SHARE = 0.1
CHECK_TWO_LEVELS, CHECK_ONE_LEVEL = 1.8, 0.9
CHECK_LEVEL1_SHARE = 0.5  # of the check's time, for its first level

# The embedding of the training rows (text and image columns) may take this share of the
# time limit; a probe fit on EMBED_WARM_ROWS then timed on EMBED_TIMED_ROWS projects it.
EMBEDDING_SHARE = 1 / 3
EMBED_WARM_ROWS, EMBED_TIMED_ROWS = 8, 32

# Selection. It keeps SELECTION_MARGIN seconds for what follows it, but always gets at least
# SELECTION_FLOOR of the reserve (a fit that ran late still selects among a few models); a
# greedy step is timed and counted SELECTION_PASSES times per iteration (the pruned refit
# and the combiner's choice come after it). The linear combiner's check stops
# COMBINER_MARGIN seconds before the end.
SELECTION_MARGIN = 0.5
SELECTION_FLOOR = 0.5
SELECTION_PASSES = 3
COMBINER_MARGIN = 0.2
# Two selections compare the top two levels: the first may take this share of the time.
FIRST_OF_TWO_SELECTIONS = 0.5
# A greedy step is timed as the fastest of STEP_TIMINGS calls (a first call pays one-off
# set-up costs), at least STEP_MIN_SECONDS, plus STEP_BOOKKEEPING seconds.
STEP_TIMINGS = 3
STEP_MIN_SECONDS = STEP_BOOKKEEPING = 1e-4
# Timing infer_limit's candidates: the ensemble, its parts and the ensemble kept.
INFER_TIMINGS = 3
# Batches of at most this many rows time infer_limit's candidates without a first probe.
UNPROBED_BATCH = 100
# The decision threshold's search may run this long even when the time is spent.
THRESHOLD_MIN_SECONDS = 0.2

# The second pass over a level's skipped models ends this share of the way to the reserve:
# it is the last training before the selection, and a model may overrun its deadline by the
# bag's slack (a tenth of its time) and by what max_time does not count.
LAST_PASS_SHARE = 0.9

# Most k-fold repeats that the time left may give a bag (n_repeats="auto"). AutoGluon
# allows 20; each repeat adds k fold models to every prediction, and the gain in variance
# shrinks with each one.
MAX_AUTO_REPEATS = 3

# A model's libraries start importing in the background this many models before its turn
# (torch takes seconds to import and about 0.5 GB to hold): far enough ahead to hide the
# import behind the models before it, late enough that a fit which never reaches the model
# (a large table, a short limit) never pays for it.
PRELOAD_AHEAD = 4
# A repeat is given up to REPEAT_ALLOWANCE times the bag's average repeat so far (at least
# MIN_REPEAT_TIME: a bag of models that fit in milliseconds would otherwise be passed over
# whenever the machine is busy for a moment); a bag with less than REPEAT_MIN_LEFT of its
# repeats left before the deadline is passed over, so that a repeat never trains shorter
# models than the first one did.
REPEAT_ALLOWANCE = 2.0
MIN_REPEAT_TIME = 1.0
REPEAT_MIN_LEFT = 1.5


class TimeBudget:
    """Deadlines of one fit that started at ``start`` and may last ``time_limit`` seconds.

    Parameters
    ----------
    time_limit : float or None
        Seconds for the whole fit; None means no limit.
    start : float, default=None
        :func:`time.monotonic` value at the start of the fit (default: now).
    """

    def __init__(self, time_limit, start=None):
        self.time_limit = time_limit
        self.start = time.monotonic() if start is None else start
        self.end = math.inf if time_limit is None else self.start + time_limit

    @property
    def limited(self):
        return self.time_limit is not None

    def elapsed(self):
        return time.monotonic() - self.start

    def remaining(self):
        return self.end - time.monotonic()

    def reserve(self):
        """Seconds kept for the ensemble selection and what follows it."""
        if not self.limited:
            return 0.0
        return min(RESERVE_MAX, max(RESERVE_MIN, RESERVE_SHARE * self.time_limit))

    def level_deadline(self, levels_left, first=False):
        """End of the level starting now: its share of the time left before the reserve.

        ``levels_left`` counts this level; the ``first`` level weighs twice the others.
        """
        if not self.limited:
            return None
        now = time.monotonic()
        weight = FIRST_LEVEL_WEIGHT if first else 1.0
        share = weight / (weight + max(0, levels_left - 1))
        return now + max(0.0, self.end - self.reserve() - now) * share

    def last_pass_deadline(self):
        """End of the second pass over skipped models: short of the reserve by a margin."""
        if not self.limited:
            return None
        now = time.monotonic()
        return now + LAST_PASS_SHARE * max(0.0, self.end - self.reserve() - now)

    def model_deadline(self, level_deadline, models_left, shape=None):
        """End of the next model's fit, within ``level_deadline``.

        A model gets twice its even share of the level's time left (at least a fifth of
        it), or, when that is under ``STARVED_PASSES`` passes of the fixed costs over the
        level's input of ``shape`` (rows, columns), up to ``STARVED_MODEL_SHARE`` of it.
        """
        if level_deadline is None:
            return None
        now = time.monotonic()
        left = max(0.0, level_deadline - now)
        allowance = max(2.0 * left / max(1, models_left), 0.2 * left)
        if shape is not None and allowance < STARVED_PASSES * self.pass_seconds(*shape):
            allowance = max(allowance, STARVED_MODEL_SHARE * left)
        return now + min(left, allowance)

    @staticmethod
    def pass_seconds(n_rows, n_columns):
        """Seconds of one pass of a model's fixed costs over ``n_rows x n_columns``."""
        return FIXED_SECONDS_PER_CELL * n_rows * n_columns

    @staticmethod
    def preparation_seconds(kind, n_rows, n_columns):
        """Seconds of the shared preprocessing of ``kind`` on ``n_rows x n_columns``."""
        return PREPARATION_SECONDS_PER_CELL.get(kind, 0.0) * n_rows * n_columns

    def model_limit(self, level_deadline, model_deadline):
        """How late a model that projects past ``model_deadline`` may still end."""
        if level_deadline is None:
            return None
        return model_deadline + BORROWED_SHARE * max(0.0, level_deadline - model_deadline)

    def exhausted(self, deadline=None):
        """Whether no useful time is left before ``deadline`` (or the budget's end)."""
        end = self.end - self.reserve() if deadline is None else deadline
        return time.monotonic() >= end - 0.01

    def fold_plan(self, n_rows, n_columns, n_models, n_folds, *, refit=False, levels=1):
        """The preset's ``n_folds``, or 1 for a table too large to bag in the time.

        Parameters
        ----------
        n_rows, n_columns : int
            The encoded training table's shape.
        n_models : int
            The first level's first-tier models (the ones that share its time first).
        n_folds : int
            The folds the preset would use.
        refit : bool, default=False
            Whether every bag also refits on all rows (one more pass).
        levels : int, default=1
            Levels the fit will train (the first gets its share, see ``level_deadline``).

        Returns
        -------
        n_folds : int
            ``n_folds``, or 1: train on one holdout split.
        """
        if not self.limited or n_rows < HOLDOUT_MIN_ROWS:
            return n_folds
        weight = FIRST_LEVEL_WEIGHT / (FIRST_LEVEL_WEIGHT + max(0, levels - 1))
        allowed = HOLDOUT_SHARE * weight * max(0.0, self.remaining() - self.reserve())
        one_pass = self.pass_seconds(n_rows, n_columns) * n_models
        return n_folds if one_pass * (1 + refit) <= allowed else 1

    @staticmethod
    def fewer_folds(shortfall, n_folds):
        """The folds for a level whose first timed model had 1/``shortfall`` of the time
        its ``n_folds`` folds need, or None to keep them.

        With ``k / shortfall`` folds (at least 2) each fold gets about the time it needs.
        """
        fewer = max(2, int(n_folds / shortfall))
        return fewer if shortfall >= STARVED and fewer < n_folds else None

    # ---- the stacking check ----------------------------------------------------------

    def check_time(self):
        """Seconds the stacked-overfitting check may take (inf without a limit)."""
        if not self.limited:
            return math.inf
        level_share = (self.remaining() - self.reserve()) / 2
        return max(0.0, min(CHECK_SHARE * self.time_limit, level_share))

    @staticmethod
    def check_cost(level1_fit_time, levels=2):
        """Seconds a model whose level-1 bag took ``level1_fit_time`` costs the check."""
        return (CHECK_TWO_LEVELS if levels == 2 else CHECK_ONE_LEVEL) * level1_fit_time

    # ---- selection and what follows it --------------------------------------------------

    def selection_time(self, share=1.0):
        """Seconds a selection may take: ``share`` of the time left (see SELECTION_FLOOR)."""
        return share * max(self.remaining() - SELECTION_MARGIN,
                           SELECTION_FLOOR * self.reserve())

    def affordable_candidates(self, allowed, n_iterations, seconds_per_step):
        """How many models a greedy selection of ``n_iterations`` can score in ``allowed``."""
        per_iteration = SELECTION_PASSES * n_iterations * seconds_per_step
        return max(1, int(allowed / per_iteration))

    def combiner_time(self):
        """Seconds the linear combiner's check may take, or None without a limit."""
        if not self.limited:
            return None
        return max(0.0, self.remaining() - COMBINER_MARGIN)

    def threshold_deadline(self):
        """When the decision threshold's search ends: the time left, at least
        THRESHOLD_MIN_SECONDS (a handful of candidates), or never without a limit."""
        if not self.limited:
            return None
        return time.monotonic() + max(self.remaining() - SELECTION_MARGIN,
                                      THRESHOLD_MIN_SECONDS)

    def measurement_time(self):
        """Seconds for timing ``infer_limit``'s candidates (at least half the reserve)."""
        return max(self.remaining(), SELECTION_FLOOR * self.reserve())

    @staticmethod
    def measurement_rows(size, seconds_per_row, allowed):
        """The batch of at most ``size`` rows that the timings can afford in ``allowed``."""
        return int(max(1, min(size, allowed / (INFER_TIMINGS * seconds_per_row))))

    # ---- repeats ------------------------------------------------------------------------

    @staticmethod
    def repeat_deadline(deadline, seconds_per_repeat):
        """End of one more k-fold repeat of a bag whose repeats took ``seconds_per_repeat``,
        or None when it cannot finish before ``deadline``."""
        now = time.monotonic()
        left = deadline - now
        if left < REPEAT_MIN_LEFT * seconds_per_repeat:
            return None
        return now + min(left, max(REPEAT_ALLOWANCE * seconds_per_repeat, MIN_REPEAT_TIME))


# ---- memory -------------------------------------------------------------------------------
# Peak bytes a model adds per cell (row x input column) of the rows it trains on, by the
# preprocessing of its family, measured on two cores (benchmarks/results/scale.md): the
# one-hot families hold their wide float64 input and a fold's copy of it (linear, KNN: 90;
# the MLP: 120), the boosting libraries a float64 code array and their bins (40 to 70), the
# forests float32 copies (35 to 60) before their trees.
MEMORY_PER_CELL = {"onehot": 120, "native": 70, "ordinal": 60, "none": 40}
# A forest's tree on m rows has at most 2 m / min_samples_leaf nodes (2 max_leaf_nodes when
# capped) of 64 bytes, and 8 bytes per class for the leaf values of a classifier.
TREE_NODE_BYTES, TREE_CLASS_BYTES = 64, 8
# At most this share of the memory left goes to one model.
MODEL_MEMORY_SHARE = 0.8


def process_memory():
    """Resident bytes of this process (0 where ``/proc`` is not available)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _read_bytes(path):
    try:
        with open(path) as file:
            value = file.read().strip()
    except OSError:
        return None
    return None if not value.isdigit() else int(value)


def available_memory():
    """Bytes this process may still take: the machine's available memory, or what its
    control group (a container's limit) leaves, whichever is smaller; None if unknown."""
    found = []
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_bytes(limit), _read_bytes(usage)
        if limit is not None and usage is not None and limit < 2**60:
            found.append(max(0, limit - usage))
    return min(found) if found else None


class MemoryBudget:
    """The memory of one fit: ``memory_limit`` gigabytes for the process, or (None) what it
    holds at the start plus what the machine or its container has available.

    Parameters
    ----------
    memory_limit : float or None
        Gigabytes of resident memory the process may hold during the fit.
    """

    def __init__(self, memory_limit=None):
        if memory_limit is not None:
            self.limit = memory_limit * 2**30
        else:
            available = available_memory()
            self.limit = None if available is None else process_memory() + available

    def left(self):
        """Bytes the next model may take (inf when the limit is unknown)."""
        if self.limit is None:
            return math.inf
        return max(0.0, self.limit - process_memory())

    @staticmethod
    def projected(kind, n_rows, n_columns, n_classes=None, forest=None):
        """Peak bytes a model would add.

        Parameters
        ----------
        kind : {"onehot", "native", "ordinal", "none"}
            Its family's preprocessing.
        n_rows, n_columns : int
            The shape of its input (before the family's preprocessing).
        n_classes : int, default=None
            Classes of a classifier.
        forest : dict, default=None
            ``n_estimators``, ``min_samples_leaf``, ``max_samples`` (a count, None: all
            rows) and ``max_leaf_nodes`` (None: no cap) of a forest, whose trees are
            counted too.
        """
        data = MEMORY_PER_CELL.get(kind, MEMORY_PER_CELL["none"]) * n_rows * n_columns
        return data + (0 if forest is None else forest["n_estimators"]
                       * MemoryBudget.tree_bytes(n_rows, n_classes, forest))

    @staticmethod
    def tree_bytes(n_rows, n_classes, forest):
        """Most bytes one tree of ``forest`` (see :meth:`projected`) takes on ``n_rows``."""
        sample = forest.get("max_samples") or n_rows
        leaf = forest.get("min_samples_leaf") or 1
        leaf = leaf if isinstance(leaf, int) else max(1, int(leaf * sample))
        leaves = sample / leaf
        if forest.get("max_leaf_nodes"):
            leaves = min(leaves, forest["max_leaf_nodes"])
        node = TREE_NODE_BYTES + TREE_CLASS_BYTES * (n_classes or 1)
        return 2 * leaves * node


class MemoryWatch:
    """The peak resident memory of the process, sampled every ``interval`` seconds.

    ``peak`` is the peak since :meth:`start`, ``interval_peak`` since the last
    :meth:`mark` (the model training now).
    """

    def __init__(self, interval=0.05):
        import threading

        self.interval = interval
        self.start_memory = self.peak = self.interval_peak = process_memory()
        self.mark_memory = self.start_memory
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="skstack-memory",
                                        daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(self.interval):
            now = process_memory()
            self.peak = max(self.peak, now)
            self.interval_peak = max(self.interval_peak, now)

    def mark(self):
        """Start a new interval; ``added()`` is then its peak above its start."""
        self.mark_memory = self.interval_peak = process_memory()

    def added(self):
        """Bytes above the start of the interval at its peak so far."""
        return max(0, self.interval_peak - self.mark_memory)

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.peak = max(self.peak, process_memory())
