import os

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _pin_xdist_worker():
    """Give each pytest-xdist worker its own CPU.

    Two workers each running OpenMP models with every CPU oversubscribe the machine, and
    spinning OpenMP threads then slow fits down a hundredfold. skstack sizes its threads from
    the CPUs the process may use, so pinning each worker to one CPU keeps them apart.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not hasattr(os, "sched_setaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[int(worker[2:]) % len(cpus)]})


_pin_xdist_worker()


@pytest.fixture
def binary_data():
    return make_classification(n_samples=200, n_features=6, n_informative=4, random_state=0)


@pytest.fixture
def multiclass_data():
    return make_classification(
        n_samples=240, n_features=6, n_informative=4, n_classes=3, random_state=0
    )


@pytest.fixture
def regression_data():
    return make_regression(n_samples=200, n_features=6, noise=10.0, random_state=0)


@pytest.fixture
def string_labels(binary_data):
    X, y = binary_data
    return X, np.array(["no", "yes"])[y]


@pytest.fixture
def mixed_frame():
    """A frame of every column kind AutoStack types (numbers with NaN, strings, categories,
    booleans, dates with NaT) and a string label."""
    rng = np.random.RandomState(0)
    n = 300
    X = pd.DataFrame({
        "num": rng.normal(size=n),
        "num_nan": np.where(rng.rand(n) < 0.2, np.nan, rng.normal(size=n)),
        "city": pd.Series(rng.choice(["paris", "rome", None], size=n), dtype="str"),
        "kind": pd.Categorical(rng.choice(["a", "b", "c"], size=n)),
        "flag": rng.rand(n) < 0.5,
        "when": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.randint(0, 500, n), "D"),
    })
    X.loc[::17, "when"] = pd.NaT
    logit = X["num"] + (X["city"] == "rome") * 1.5 + X["flag"] - (X["when"].dt.month > 6)
    y = np.where(logit + rng.normal(scale=0.5, size=n) > 0.5, "yes", "no")
    return X, y
