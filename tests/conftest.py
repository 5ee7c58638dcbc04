import os

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression

os.environ.setdefault("HF_HUB_OFFLINE", "1")


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
