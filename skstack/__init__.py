"""skstack: AutoGluon-style stack ensembling as conformant scikit-learn estimators.

Data flows one way: :class:`StackLayer` bags models over shared folds and outputs their
out-of-fold predictions, and :class:`GreedyEnsembleSelector` blends the last layer's
predictions. :class:`BaggedOOFEstimator` is the bag inside every layer, usable on its own.
"""

from ._bagging import BaggedOOFEstimator
from ._selection import GreedyEnsembleSelector
from ._stacking import StackLayer

__all__ = ["BaggedOOFEstimator", "GreedyEnsembleSelector", "StackLayer"]
__version__ = "0.1.0.dev0"
