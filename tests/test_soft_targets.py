"""SoftTargetClassifier: a classifier learnt from class probabilities."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression

from skstack import SoftTargetClassifier


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=400, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)


def test_it_learns_the_probabilities_it_is_given(data):
    X, y = data
    teacher = LogisticRegression(max_iter=1000).fit(X, y).predict_proba(X)
    student = SoftTargetClassifier(RandomForestRegressor(n_estimators=50, random_state=0))
    student.fit(X, y, soft_targets=teacher)
    proba = student.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.abs(proba - teacher).mean() < 0.05  # the soft targets, not the labels
    hard = SoftTargetClassifier(RandomForestRegressor(n_estimators=50, random_state=0))
    assert np.abs(hard.fit(X, y).predict_proba(X) - teacher).mean() > 0.1
    # Binary targets: one regressor, of classes_[1].
    binary = SoftTargetClassifier().fit(X, np.where(y == 0, "a", "b"))
    assert len(binary.regressors_) == 1 and list(binary.classes_) == ["a", "b"]


def test_bad_soft_targets_are_refused(data):
    X, y = data
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_classes\) = \(400, 3\)"):
        SoftTargetClassifier().fit(X, y, soft_targets=np.ones((400, 2)) / 2)
    with pytest.raises(ValueError, match=r"probabilities, in \[0, 1\]"):
        SoftTargetClassifier().fit(X, y, soft_targets=np.full((400, 3), 2.0))
