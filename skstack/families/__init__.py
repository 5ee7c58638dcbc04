"""Model families and portfolios: one adapter shape for every family, configurations as data.

:class:`FamilyModel` wraps an estimator with the preprocessing, thread setting and early
stopping its :class:`Family` declares; :mod:`skstack.families.portfolios` holds ordered
configurations and builds the ``(name, estimator)`` lists that stack layers take.
"""

from ._base import (
    EarlyStopping,
    Family,
    FamilyModel,
    NativeOOF,
    PreparedInput,
    family_of,
    register_family,
)
from ._mlp import MLPClassifier, MLPRegressor
from ._preprocessing import CategoryDtypeEncoder
from .portfolios import DEFAULT, LARGE, PortfolioEntry, build_estimators

__all__ = [
    "DEFAULT",
    "LARGE",
    "CategoryDtypeEncoder",
    "EarlyStopping",
    "Family",
    "FamilyModel",
    "MLPClassifier",
    "MLPRegressor",
    "NativeOOF",
    "PortfolioEntry",
    "PreparedInput",
    "build_estimators",
    "family_of",
    "register_family",
]
