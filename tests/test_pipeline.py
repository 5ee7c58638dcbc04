"""The blocks as ordinary scikit-learn citizens: Pipeline, search, CV, clone, pickle, joblib."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skstack import GreedyEnsembleSelector, StackLayer

lightgbm = pytest.importorskip("lightgbm")


def _two_layer_stack():
    return make_pipeline(
        StackLayer(
            [
                ("lgbm", lightgbm.LGBMClassifier(n_estimators=20, verbose=-1)),
                ("rf", RandomForestClassifier(n_estimators=20)),
                ("lr", make_pipeline(StandardScaler(), LogisticRegression())),
            ],
            n_folds=3, passthrough=True, random_state=0,
        ),
        StackLayer(
            [("lgbm", lightgbm.LGBMClassifier(n_estimators=20, verbose=-1)),
             ("et", ExtraTreesClassifier(n_estimators=20))],
            n_folds=3, random_state=0,
        ),
        GreedyEnsembleSelector(scoring="neg_log_loss", random_state=0),
    )


def test_two_layer_stack_in_cross_val_score_is_stratified(binary_data):
    X, y = binary_data
    stack = _two_layer_stack()
    assert is_classifier(stack)
    scores = cross_val_score(stack, X, y, cv=3)
    assert scores.mean() > 0.8
    # cross_val_score stratifies because the pipeline is a classifier before fit:
    from sklearn.model_selection import check_cv

    assert isinstance(check_cv(3, y, classifier=is_classifier(stack)), StratifiedKFold)


def test_grid_search_over_nested_params(binary_data):
    X, y = binary_data
    search = GridSearchCV(_two_layer_stack(), {"stacklayer-1__lgbm__num_leaves": [7, 15]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["stacklayer-1__lgbm__num_leaves"] in (7, 15)
    assert search.best_estimator_[0].named_estimators_.lgbm.estimators_[0].num_leaves in (7, 15)


def test_clone_and_pickle_round_trip(multiclass_data):
    X, y = multiclass_data
    stack = _two_layer_stack().fit(X, y)
    fresh = clone(stack)
    assert not hasattr(fresh[-1], "weights_")
    restored = pickle.loads(pickle.dumps(stack))
    np.testing.assert_array_equal(restored.predict_proba(X), stack.predict_proba(X))
    assert stack.predict_proba(X).shape == (len(y), 3)


def test_string_labels_through_the_stack(string_labels):
    X, y = string_labels
    stack = make_pipeline(
        StackLayer([("tree", DecisionTreeClassifier(max_depth=3)), ("lr", LogisticRegression())],
                   random_state=0),
        GreedyEnsembleSelector(task="classification", random_state=0),
    ).fit(X, y)
    assert set(stack.predict(X)) <= {"no", "yes"}


def test_regression_stack(regression_data):
    X, y = regression_data
    stack = make_pipeline(
        StackLayer([("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=4))],
                   passthrough=True, random_state=0),
        StackLayer([("ridge", Ridge())], random_state=0),
        GreedyEnsembleSelector(task="regression", random_state=0),
    )
    assert cross_val_score(stack, X, y, cv=3).mean() > 0.8


def test_sample_weight_through_pipeline(binary_data):
    X, y = binary_data
    stack = make_pipeline(StackLayer([("lr", LogisticRegression())], random_state=0),
                          GreedyEnsembleSelector(task="classification"))
    weights = np.where(y == 1, 5.0, 1.0)
    stack.fit(X, y, stacklayer__sample_weight=weights,
              greedyensembleselector__sample_weight=weights)
    assert stack.predict(X).mean() > 0.5


def test_dask_backend_gives_the_same_layer(binary_data):
    joblib = pytest.importorskip("joblib")
    distributed = pytest.importorskip("distributed")
    X, y = binary_data

    def layer():
        return StackLayer([("tree", DecisionTreeClassifier(max_features=2)),
                           ("lr", LogisticRegression())], n_folds=4, n_jobs=-1, random_state=0)

    local = layer()
    local_oof = local.fit_transform(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream, joblib.parallel_config("dask"):
            remote = layer()
            remote_oof = remote.fit_transform(X, y)
        assert len(stream.data) >= 8  # the fold fits really ran on the cluster
    np.testing.assert_array_equal(remote_oof, local_oof)
    np.testing.assert_array_equal(remote.transform(X), local.transform(X))
