"""Small estimators and portfolios that the tests of several modules share."""

import time

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from skstack import AutoStackClassifier, AutoStackRegressor
from skstack.auto._budget import TimeBudget
from skstack.auto._progress import Progress
from skstack.auto._run import FitRun
from skstack.families.portfolios import PortfolioEntry

# Three fast families: a resumed linear solver, leave-one-out KNN, an out-of-bag forest.
TINY = [PortfolioEntry("linear", {}, 3),
        PortfolioEntry("knn", {"n_neighbors": 5}, 2),
        PortfolioEntry("random_forest", {"n_estimators": 20}, 1)]


class Slow(DummyClassifier):
    """A model that cannot be interrupted and takes ``delay`` seconds per fit."""

    def __init__(self, delay=1.0, strategy="prior"):
        self.delay = delay
        super().__init__(strategy=strategy)

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.delay)
        return super().fit(X, y, sample_weight=sample_weight)


class Exploding(ClassifierMixin, BaseEstimator):
    """A model that raises at fit: the AutoStack fit must go on without it."""

    def fit(self, X, y):
        raise RuntimeError("boom")

    def predict(self, X):  # pragma: no cover - never fitted
        raise RuntimeError("boom")


class Interrupting(DummyClassifier):
    """Ctrl-C in the middle of the fit."""

    def fit(self, X, y, sample_weight=None):
        raise KeyboardInterrupt


class SlowToPredict(LogisticRegression):
    """A good model that takes ``delay`` seconds per prediction call."""

    def __init__(self, delay=0.05, C=1.0):
        self.delay = delay
        super().__init__(C=C)

    def predict_proba(self, X):
        time.sleep(self.delay)
        return super().predict_proba(X)


def make_run(time_limit=100, task="classification", n_samples=1000, **params):
    """The :class:`FitRun` an AutoStack fit with ``params`` starts, for unit tests of its parts."""
    auto = (AutoStackClassifier if task == "classification" else AutoStackRegressor)(
        time_limit=time_limit, **params)
    budget = TimeBudget(time_limit)
    return FitRun(task, auto.get_params(deep=False), auto._settings(n_samples), budget,
                  Progress(verbose=0, start=budget.start))


class WhereFitted(DummyClassifier):
    """Records the process that fitted it (``pid_``)."""

    def fit(self, X, y, sample_weight=None):
        import os

        self.pid_ = os.getpid()
        return super().fit(X, y, sample_weight=sample_weight)
