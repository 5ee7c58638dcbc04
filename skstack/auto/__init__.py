"""AutoStack: presets, a time budget and a leaderboard around skstack's blocks."""

from ._estimators import AutoStackClassifier, AutoStackRegressor
from ._report import ModelRecord
from .presets import PRESETS, Preset, resolve_preset

__all__ = [
    "PRESETS",
    "AutoStackClassifier",
    "AutoStackRegressor",
    "ModelRecord",
    "Preset",
    "resolve_preset",
]
