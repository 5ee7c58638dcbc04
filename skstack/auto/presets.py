"""Presets: the settings of each quality level, as one table.

Each row of :data:`PRESETS` is a :class:`Preset`; :func:`resolve_preset` turns one into the
settings of a fit of ``n_samples`` rows. Explicit parameters of
:class:`~skstack.auto.AutoStackClassifier` override the row. The same table is rendered in
the user guide.

========================  ========  =============  ==========  =========  ===============
preset                    bagging   stack levels   portfolio   refit      inference
========================  ========  =============  ==========  =========  ===============
``medium_quality``        holdout   0              DEFAULT     no         one model each
``good_quality``          k-fold    0              DEFAULT     yes        one model each
``high_quality``          k-fold    auto           DEFAULT     yes        one model each
``best_quality``          k-fold    auto           LARGE       no         k fold models
========================  ========  =============  ==========  =========  ===============

``auto`` stack levels are 0 below 750 rows and 1 from there (AutoGluon's default); a second
level is kept only when the stacked-overfitting check finds that it helps. k-fold bagging
uses ``min(8, max(5, n_samples // 10))`` folds; the holdout is 10% of the rows (at least
one per class, at most 2,500 rows).

Under a ``time_limit``, the bagged presets train a table too large to bag in the time on
one holdout split, without stacking: when one pass, over every row, of the costs each of
the first level's first-tier models pays at every fold (converting and binning the fold's
rows, predicting the held-out ones) takes more than 5% of the first level's time
(:meth:`~skstack.auto._budget.TimeBudget.fold_plan`); not below 25,000 rows. With
best_quality's 11 first-tier models, 100,000 rows x 12 columns are bagged at 300 s and
trained on a holdout at 60 s; 500,000 such rows on a holdout at every limit up to 300 s.
``settings_`` records the plan the fit used.
"""

from dataclasses import dataclass

from ..families.portfolios import DEFAULT, LARGE

__all__ = ["PRESETS", "Preset", "resolve_preset"]


@dataclass(frozen=True)
class Preset:
    """One quality level.

    Parameters
    ----------
    name : str
        The preset's name.
    bagging : bool
        k-fold bagging (True) or one holdout split (False).
    n_stack_levels : int or "auto"
        Stack levels above the base models; ``"auto"`` is 0 below 750 rows, else 1.
    portfolio : list of PortfolioEntry
        The model configurations, trained in priority order.
    refit_full : bool
        Refit every selected model on all rows, for one model per learner at predict time.
    description : str
        One line for the docs and the command line's help.
    """

    name: str
    bagging: bool
    n_stack_levels: object
    portfolio: list
    refit_full: bool
    description: str


PRESETS = {
    preset.name: preset
    for preset in [
        Preset("medium_quality", bagging=False, n_stack_levels=0, portfolio=DEFAULT,
               refit_full=False,
               description="Fast: the default portfolio on one holdout split, no stacking."),
        Preset("good_quality", bagging=True, n_stack_levels=0, portfolio=DEFAULT,
               refit_full=True,
               description="Bagged default portfolio, refitted on all rows for fast "
                           "inference."),
        Preset("high_quality", bagging=True, n_stack_levels="auto", portfolio=DEFAULT,
               refit_full=True,
               description="Bagged and stacked default portfolio, refitted for fast "
                           "inference."),
        Preset("best_quality", bagging=True, n_stack_levels="auto", portfolio=LARGE,
               refit_full=False,
               description="Bagged and stacked large portfolio: the most accurate."),
    ]
}

STACKING_MIN_ROWS = 750


def resolve_preset(name, n_samples):
    """The settings of preset ``name`` for a fit on ``n_samples`` rows.

    Parameters
    ----------
    name : str
        A key of :data:`PRESETS`.
    n_samples : int
        Training rows.

    Returns
    -------
    settings : dict
        ``bagging``, ``n_stack_levels`` (an int), ``portfolio`` and ``refit_full``.

    Examples
    --------
    >>> from skstack.auto import resolve_preset
    >>> resolve_preset("high_quality", 500)["n_stack_levels"]
    0
    >>> resolve_preset("high_quality", 5000)["n_stack_levels"]
    1
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
    preset = PRESETS[name]
    levels = preset.n_stack_levels
    if levels == "auto":
        levels = 0 if n_samples < STACKING_MIN_ROWS else 1
    return {
        "bagging": preset.bagging,
        "n_stack_levels": levels,
        "portfolio": preset.portfolio,
        "refit_full": preset.refit_full,
    }
