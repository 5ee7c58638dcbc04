"""Prediction time of a fitted AutoStack pipeline, for ``infer_limit``.

A pipeline's time per row is the column encoder, each distinct preprocessing its last layer's
bags share (applied once per prediction, see :class:`~skstack.StackLayer`), and each bag's own
models. Measured once per part, the time of any subset of the bags is a sum, so models can
be dropped on the estimate without re-timing the pipeline after every choice.
"""

import time

import numpy as np
from sklearn.utils import _safe_indexing

__all__ = ["InferenceCosts", "measurement_rows", "time_per_row"]


def measurement_rows(X, batch_size):
    """``batch_size`` rows of ``X`` (repeated when it has fewer): the batch to time."""
    n_rows = len(X) if hasattr(X, "iloc") else X.shape[0]
    return _safe_indexing(X, np.resize(np.arange(n_rows), batch_size))


def _timed(function, n_rows, repeats):
    """The fastest of ``repeats`` calls, in seconds per row, and the call's result."""
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best / n_rows, result


def _repeats(n_rows):
    return 5 if n_rows < 100 else 1  # small batches are noisy and cheap to repeat


def time_per_row(pipeline, X):
    """Seconds per row that ``pipeline`` takes to predict the batch ``X``."""
    method = "predict_proba" if hasattr(pipeline[-1], "predict_proba") else "predict"
    return _timed(lambda: getattr(pipeline, method)(X), len(X), _repeats(len(X)))[0]


class InferenceCosts:
    """Seconds per row of the parts of a one-level pipeline, measured on the batch ``X``.

    Parameters
    ----------
    encoder : transformer or "passthrough"
        The fitted column encoder.
    layer : StackLayer
        The fitted (last and only) layer.
    X : DataFrame or ndarray
        The raw rows to time.
    """

    def __init__(self, encoder, layer, X):
        n_rows, repeats = len(X), _repeats(len(X))
        self.encoder, features = _timed(
            lambda: X if encoder == "passthrough" else encoder.transform(X), n_rows, repeats)
        self.preprocessing, self.models, self.uses = {}, {}, {}
        encoded = {}
        for name, bag in layer.named_estimators_.items():
            key = id(bag.preprocessor_)
            if key not in encoded:
                self.preprocessing[key], encoded[key] = _timed(
                    lambda bag=bag: bag._preprocess(features), n_rows, repeats)
            self.models[name], _ = _timed(
                lambda bag=bag, key=key: bag._average_models(encoded[key], bag._models()),
                n_rows, repeats)
            self.uses[name] = key

    def estimate(self, names):
        """Seconds per row of a pipeline predicting with the bags ``names``."""
        shared = {self.uses[name] for name in names}
        return (self.encoder + sum(self.preprocessing[key] for key in shared)
                + sum(self.models[name] for name in names))

    def slowest(self, names):
        """The bag whose removal saves the most time."""
        total = self.estimate(names)
        return max(names, key=lambda name: total - self.estimate(
            [other for other in names if other != name]))
