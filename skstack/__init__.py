"""skstack: AutoGluon-style stack ensembling as conformant scikit-learn estimators.

Data flows one way: :class:`StackLayer` bags models over shared folds and outputs their
out-of-fold predictions, and :class:`GreedyEnsembleSelector` blends the last layer's
predictions. :class:`BaggedOOFEstimator` is the bag inside every layer, usable on its own.
:class:`AutoStackClassifier` and :class:`AutoStackRegressor` compose them under presets and a
time limit.
"""

from ._bagging import BaggedOOFEstimator
from ._selection import GreedyEnsembleSelector
from ._soft_targets import SoftTargetClassifier
from ._stacking import StackLayer
from .auto import AutoStackClassifier, AutoStackRegressor

__all__ = [
    "AutoStackClassifier",
    "AutoStackRegressor",
    "BaggedOOFEstimator",
    "GreedyEnsembleSelector",
    "SoftTargetClassifier",
    "StackLayer",
]
__version__ = "0.1.0.dev0"
