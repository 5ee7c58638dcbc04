"""Small estimators that the tests of several modules share."""

import time

from sklearn.dummy import DummyClassifier


class Slow(DummyClassifier):
    """A model that cannot be interrupted and takes ``delay`` seconds per fit."""

    def __init__(self, delay=1.0, strategy="prior"):
        self.delay = delay
        super().__init__(strategy=strategy)

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.delay)
        return super().fit(X, y, sample_weight=sample_weight)
