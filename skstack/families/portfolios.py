"""Portfolios: ordered model configurations, as data.

A portfolio is a list of :class:`PortfolioEntry` ``(family, params, priority)``; higher
priority trains first under a time budget. :func:`build_estimators` turns one into the
``(name, estimator)`` list a :class:`~skstack.StackLayer` takes, each estimator a
:class:`~skstack.families.FamilyModel` bringing its family's preprocessing and early stopping.

How ``DEFAULT`` was chosen: the library defaults of every family (the strongest single
configurations in AutoGluon's and TabRepo's published studies are close to them), boosting
at learning rate 0.05 with up to 10,000 rounds cut by early stopping on each fold's holdout,
plus one more regularised and one larger LightGBM, a two-layer MLP (early-stopped on
the fold holdout, patience 10 epochs) and two neighbour weightings. The linear model and
the two KNN models come first: they take a fraction of a second (KNN through leave-one-out)
and add diversity under any time budget. It is a first version. ``LARGE`` (for the
best-quality preset) adds variants that spread each family over its important parameters
(tree size, learning rate, feature and row sampling, regularisation; network width,
dropout and learning rate; neighbours; penalty strength), within the ranges AutoGluon's
published portfolio uses. ``benchmarks/bench_portfolio.py`` measures a zero-shot order for
it on shared datasets (``benchmarks/results/portfolio.md``); ranked on 8 small ones, that
order was inconclusive against this one (``best_quality`` at 60 s on 12 of them, better on
five and worse on five), so this one stays until the ranking covers larger tables.
"""

import warnings
from dataclasses import dataclass, field

from ._base import FamilyModel, family_of
from ._registry import BUILTIN_FAMILIES

__all__ = ["DEFAULT", "LARGE", "PortfolioEntry", "build_estimators"]

_FAMILIES = {family.name: family for family in BUILTIN_FAMILIES}


@dataclass(frozen=True)
class PortfolioEntry:
    """One model configuration of a portfolio.

    Parameters
    ----------
    family : str or estimator
        A built-in family name (``"lightgbm"``, ``"xgboost"``, ``"catboost"``,
        ``"random_forest"``, ``"extra_trees"``, ``"knn"``, ``"linear"``), or any
        scikit-learn estimator instance (a custom family; cloned, ``params`` set on it).
    params : dict, default={}
        Parameters of the family's estimator.
    priority : float, default=0
        Training order: higher first.
    name : str, default=None
        Model name; defaults to the family name (numbered when repeated).
    classification, regression : dict, default={}
        Parameters for one task only (e.g. ``C`` of ``LogisticRegression`` and ``alpha`` of
        ``Ridge``), added to ``params``.
    tier : int, default=0
        Under a time limit, the models of a level share its time tier by tier: those of the
        lowest tier as if the others were absent, each later tier only the time the earlier
        ones left. Tiers train in increasing order, each in priority order. ``LARGE`` puts
        its variants in tier 1, so that a short limit trains ``DEFAULT``'s models as well as
        the high-quality preset does, and a long one trains the variants too.
    """

    family: object
    params: dict = field(default_factory=dict)
    priority: float = 0.0
    name: str = None
    classification: dict = field(default_factory=dict)
    regression: dict = field(default_factory=dict)
    tier: int = 0


_BOOST = {"learning_rate": 0.05}
# A forest's trees stop at this many leaves, as AutoGluon's do: uncapped, a tree grows a leaf
# per few rows, so a forest's memory (and its prediction time) grows with the table (GBs at a
# million rows); tables of under some 15,000 rows per tree never reach the cap.
_FOREST = {"n_estimators": 300, "max_leaf_nodes": 15_000}

DEFAULT = [
    PortfolioEntry("lightgbm", {**_BOOST, "n_estimators": 10_000}, 100),
    PortfolioEntry("catboost", {**_BOOST, "iterations": 10_000}, 90),
    PortfolioEntry("xgboost", {**_BOOST, "n_estimators": 10_000, "max_depth": 6}, 80),
    PortfolioEntry("lightgbm", {**_BOOST, "n_estimators": 10_000, "extra_trees": True,
                                "num_leaves": 15}, 75, name="lightgbm_xt"),
    PortfolioEntry("random_forest", {**_FOREST, "max_features": "sqrt"}, 70),
    PortfolioEntry("extra_trees", {**_FOREST, "max_features": "sqrt"}, 65),
    PortfolioEntry("lightgbm", {"learning_rate": 0.03, "n_estimators": 10_000,
                                "num_leaves": 128, "min_child_samples": 5,
                                "colsample_bytree": 0.9}, 60, name="lightgbm_large"),
    PortfolioEntry("mlp", {"hidden_sizes": (256, 128), "dropout": 0.1, "max_epochs": 200,
                           "patience": 10}, 50),
    # Cheap and diverse: trained first, so that even a tight time budget has them
    # (AutoGluon trains its KNN models first for the same reason).
    PortfolioEntry("linear", {}, 110),
    PortfolioEntry("knn", {"n_neighbors": 10, "weights": "uniform"}, 105, name="knn_uniform"),
    PortfolioEntry("knn", {"n_neighbors": 10, "weights": "distance"}, 104,
                   name="knn_distance"),
]


def _large():
    """DEFAULT plus variants that spread each family over its important parameters.

    The variants are tier 1: they train with the time DEFAULT's models leave.
    """
    entries = list(DEFAULT)
    rounds = {"n_estimators": 10_000}
    for i, (leaves, rate, colsample, min_child) in enumerate([
        (31, 0.1, 0.8, 20), (63, 0.05, 0.7, 10), (255, 0.02, 0.6, 3), (7, 0.1, 1.0, 50),
        (127, 0.03, 0.5, 30), (15, 0.05, 0.9, 5),
    ]):
        entries.append(PortfolioEntry("lightgbm", {
            **rounds, "num_leaves": leaves, "learning_rate": rate, "colsample_bytree": colsample,
            "min_child_samples": min_child, "reg_lambda": 1.0}, 48 - i, name=f"lightgbm_v{i}",
            tier=1))
    for i, (depth, rate, l2) in enumerate([(4, 0.1, 3), (8, 0.03, 5), (6, 0.1, 1), (10, 0.02, 10)]):
        entries.append(PortfolioEntry("catboost", {
            "iterations": 10_000, "depth": depth, "learning_rate": rate, "l2_leaf_reg": l2},
            47 - i, name=f"catboost_v{i}", tier=1))
    for i, (depth, rate, child, colsample) in enumerate([
        (4, 0.1, 1, 0.8), (8, 0.03, 5, 0.6), (10, 0.02, 1, 0.5), (3, 0.1, 10, 1.0),
    ]):
        entries.append(PortfolioEntry("xgboost", {
            **rounds, "max_depth": depth, "learning_rate": rate, "min_child_weight": child,
            "colsample_bytree": colsample}, 46 - i, name=f"xgboost_v{i}", tier=1))
    for family in ("random_forest", "extra_trees"):
        for i, (features, leaf) in enumerate([(0.5, 1), (1.0, 1), ("log2", 2), (0.3, 5)]):
            entries.append(PortfolioEntry(family, {
                **_FOREST, "max_features": features, "min_samples_leaf": leaf},
                45 - i, name=f"{family}_v{i}", tier=1))
    for i, (sizes, dropout, rate) in enumerate([
        ((512, 256, 128), 0.2, 1e-3), ((128, 64), 0.0, 3e-3), ((256,), 0.3, 1e-3),
    ]):
        entries.append(PortfolioEntry("mlp", {
            "hidden_sizes": sizes, "dropout": dropout, "learning_rate": rate,
            "max_epochs": 200, "patience": 10}, 44 - i, name=f"mlp_v{i}", tier=1))
    for i, k in enumerate((3, 25, 50)):
        entries.append(PortfolioEntry("knn", {"n_neighbors": k, "weights": "distance"},
                                      24 - i, name=f"knn_k{k}", tier=1))
    for i, strength in enumerate((0.1, 10.0)):
        entries.append(PortfolioEntry("linear", {}, 39 - i, name=f"linear_v{i}",
                                      classification={"C": 1.0 / strength},
                                      regression={"alpha": strength}, tier=1))
    return entries


def _estimator_for(entry, classification):
    from sklearn.base import clone

    if not isinstance(entry.family, str):
        return clone(entry.family).set_params(**entry.params)
    family = _FAMILIES[entry.family]
    params = dict(entry.params)
    params.update(entry.classification if classification else entry.regression)
    if family.name == "linear" and classification:
        params.setdefault("max_iter", 1000)
    return family.estimator_class(classification)(**params)


def build_estimators(portfolio=None, *, task, excluded_families=()):
    """The ``(name, FamilyModel)`` list of a portfolio: by tier, highest priority first.

    Parameters
    ----------
    portfolio : list of PortfolioEntry or tuple, default=None
        Entries, or ``(family, params, priority)`` tuples; None means ``DEFAULT``.
    task : {"classification", "regression"}
        Which estimator of each family to build.
    excluded_families : iterable of str, default=()
        Family names to leave out.

    Returns
    -------
    estimators : list of (str, FamilyModel)
        Uniquely named models, ready for a :class:`~skstack.StackLayer`; by tier, then
        priority.

    Examples
    --------
    >>> from skstack.families import build_estimators
    >>> names = [name for name, _ in build_estimators(
    ...     task="regression", excluded_families=["catboost", "xgboost", "mlp"])]
    >>> names[:5]
    ['linear', 'knn_uniform', 'knn_distance', 'lightgbm', 'lightgbm_xt']
    """
    return [(name, model) for name, model, _ in _tiered_estimators(
        portfolio, task=task, excluded_families=excluded_families)]


def _tiered_estimators(portfolio=None, *, task, excluded_families=()):
    """:func:`build_estimators`' list with each model's tier: ``(name, model, tier)``."""
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression'; got {task!r}.")
    entries = [e if isinstance(e, PortfolioEntry) else PortfolioEntry(*e)
               for e in (DEFAULT if portfolio is None else portfolio)]
    for entry in entries:
        if isinstance(entry.family, str) and entry.family not in _FAMILIES:
            raise ValueError(f"Unknown family {entry.family!r}; known: {sorted(_FAMILIES)}.")
    excluded = set(excluded_families)
    estimators, seen, missing = [], {}, set()
    for entry in sorted(entries, key=lambda e: (e.tier, -e.priority)):
        if entry.family in excluded:
            continue
        if isinstance(entry.family, str) and not _FAMILIES[entry.family].available():
            missing.add(entry.family)
            continue
        estimator = _estimator_for(entry, task == "classification")
        family = family_of(estimator)
        if family.name in excluded:
            continue
        base = entry.name or (entry.family if isinstance(entry.family, str)
                              else type(entry.family).__name__.lower())
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base}_{seen[base]}"
        # Boosting early-stops on a 10% holdout when it is fitted outside of a bag.
        early_stopping = True if family.early_stopping else "auto"
        model = FamilyModel(estimator, early_stopping=early_stopping, max_rows=family.max_rows)
        estimators.append((name, model, entry.tier))
    if missing:
        needs = {name: _FAMILIES[name].requires for name in sorted(missing)}
        warnings.warn(f"Families left out of the portfolio, their packages are not installed: "
                      f"{needs}. Install the matching skstack extra.", UserWarning, stacklevel=3)
    return estimators


LARGE = _large()
