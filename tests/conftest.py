import os

import numpy as np
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
