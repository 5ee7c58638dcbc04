"""The time budget of one AutoStack fit: deadlines per level and per model.

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
  (:class:`~skstack._bagging.BudgetExceeded`) or, for those that stop, shortened; unless
  the projection ends within its **limit**: a model may borrow a quarter of the level's
  time beyond its allowance. A model whose preprocessing and predictions cost more than
  its training (a linear model on thousands of stacked columns) would otherwise be
  skipped for a fraction of a second, as AutoGluon, which lets each model use all the
  time left, would not.

All times are :func:`time.monotonic` values; a budget without a limit gives no deadlines.
"""

import math
import time

__all__ = ["TimeBudget"]

FIRST_LEVEL_WEIGHT = 2.0
BORROWED_SHARE = 0.25


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
        return min(30.0, max(0.5, 0.05 * self.time_limit))

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

    def model_deadline(self, level_deadline, models_left):
        """End of the next model's fit, within ``level_deadline``."""
        if level_deadline is None:
            return None
        now = time.monotonic()
        left = max(0.0, level_deadline - now)
        allowance = min(left, max(2.0 * left / max(1, models_left), 0.2 * left))
        return now + allowance

    def model_limit(self, level_deadline, model_deadline):
        """How late a model that projects past ``model_deadline`` may still end."""
        if level_deadline is None:
            return None
        return model_deadline + BORROWED_SHARE * max(0.0, level_deadline - model_deadline)

    def exhausted(self, deadline=None):
        """Whether no useful time is left before ``deadline`` (or the budget's end)."""
        end = self.end - self.reserve() if deadline is None else deadline
        return time.monotonic() >= end - 0.01
