import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skstack import BaggedOOFEstimator, StackLayer


def _layer(**kwargs):
    return StackLayer(
        [("tree", DecisionTreeClassifier(max_depth=3)), ("lr", LogisticRegression())],
        n_folds=4, random_state=0, **kwargs,
    )


def test_fit_transform_is_oof_and_transform_is_fold_average(binary_data):
    X, y = binary_data
    layer = _layer()
    oof = layer.fit_transform(X, y)
    bags = layer.named_estimators_
    np.testing.assert_allclose(oof[:, 0], bags.tree.oof_pred_[:, 1])
    np.testing.assert_allclose(oof[:, 1], bags.lr.oof_pred_[:, 1])
    np.testing.assert_allclose(layer.transform(X)[:, 1], bags.lr.predict_proba(X)[:, 1])
    # Every model is bagged over the same folds, and matches a bag fitted alone.
    alone = BaggedOOFEstimator(LogisticRegression(), n_folds=4, random_state=0).fit(X, y)
    np.testing.assert_allclose(oof[:, 1], alone.oof_pred_[:, 1])


def test_fit_then_transform_matches_fit_transform_models(binary_data):
    X, y = binary_data
    a = _layer().fit(X, y).transform(X)
    b = _layer()
    b.fit_transform(X, y)
    np.testing.assert_allclose(a, b.transform(X))


def test_multiclass_has_a_column_per_class_and_model(multiclass_data):
    X, y = multiclass_data
    layer = _layer()
    out = layer.fit_transform(X, y)
    assert out.shape == (len(y), 6)
    assert layer.get_feature_names_out().tolist() == [
        "tree__0", "tree__1", "tree__2", "lr__0", "lr__1", "lr__2"
    ]


def test_regression_and_passthrough(regression_data):
    X, y = regression_data
    layer = StackLayer([("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3))],
                       passthrough=True, random_state=0)
    out = layer.fit_transform(X, y)
    assert out.shape == (len(y), 2 + X.shape[1])
    np.testing.assert_array_equal(out[:, 2:], X)
    assert layer.get_feature_names_out().tolist()[:3] == ["ridge", "tree", "x0"]
    assert layer.oof_scores_["ridge"] > layer.oof_scores_["tree"]
    assert set(layer.fit_times_) == {"ridge", "tree"}


def test_pandas_output_keeps_passthrough_dtypes(binary_data):
    X, y = binary_data
    frame = pd.DataFrame(X, columns=list("abcdef"))
    frame["cat"] = pd.Categorical(np.where(y == 1, "u", "v"))
    from sklearn.ensemble import HistGradientBoostingClassifier

    layer = StackLayer([("hgb", HistGradientBoostingClassifier(max_iter=5,
                                                               categorical_features="from_dtype"))],
                       passthrough=True, n_folds=3, random_state=0).set_output(transform="pandas")
    out = layer.fit_transform(frame, y)
    assert list(out.columns) == ["hgb__1", *frame.columns]
    assert out["cat"].dtype == "category"
    assert list(layer.transform(frame).columns) == list(out.columns)


def test_nested_params_and_drop(binary_data):
    X, y = binary_data
    layer = _layer()
    layer.set_params(tree__max_depth=1, lr="drop")
    assert layer.get_params()["tree__max_depth"] == 1
    out = layer.fit_transform(X, y)
    assert out.shape == (len(y), 1)
    assert list(layer.named_estimators_) == ["tree"]


def test_invalid_estimator_lists(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="non-empty"):
        StackLayer([]).fit(X, y)
    with pytest.raises(ValueError, match="all classifiers or all regressors"):
        StackLayer([("a", LogisticRegression()), ("b", Ridge())]).fit(X, y)
    with pytest.raises(ValueError, match="'drop'"):
        StackLayer([("a", "drop")]).fit(X, y)
    with pytest.raises(ValueError, match="unique"):
        StackLayer([("a", Ridge()), ("a", Ridge())]).fit(X, y)


def test_transform_checks_features(binary_data):
    X, y = binary_data
    layer = _layer().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        layer.transform(X[:, :2])


def test_sparse_input_and_passthrough(binary_data):
    from scipy import sparse

    X, y = binary_data
    X_sparse = sparse.csr_matrix(np.where(np.abs(X) > 1, X, 0.0))
    layer = StackLayer([("lr", LogisticRegression())], passthrough=True, n_folds=3,
                       random_state=0)
    out = layer.fit_transform(X_sparse, y)
    assert sparse.issparse(out) and out.shape == (len(y), 1 + X.shape[1])
    np.testing.assert_allclose(out[:, 1:].toarray(), X_sparse.toarray())
    assert sparse.issparse(layer.transform(X_sparse))


def test_auto_calls_only_the_documented_private_methods_of_the_blocks():
    """skstack.auto builds on StackLayer and BaggedOOFEstimator through their public API
    and the small semi-private interface each module documents (``AUTO_INTERFACE``)."""
    import ast
    from pathlib import Path

    from skstack import _bagging, _stacking

    private = {name for cls in (StackLayer, BaggedOOFEstimator)
               for name, value in vars(cls).items()
               if name.startswith("_") and not name.startswith("__") and callable(value)}
    allowed = set(_stacking.AUTO_INTERFACE) | set(_bagging.AUTO_INTERFACE)
    assert allowed <= private  # every declared method exists
    auto = Path(_stacking.__file__).parent / "auto"
    used = {}
    for path in sorted(auto.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in private
                    and not (isinstance(node.value, ast.Name) and node.value.id == "self")):
                used.setdefault(node.attr, path.name)
    assert set(used) <= allowed, {name: used[name] for name in set(used) - allowed}


def test_a_holdout_plan_computes_wide_preprocessing_per_block_with_the_same_result(
        monkeypatch):
    """Under one holdout split, a one-hot output is computed for the training block and
    the held-out block as models read them, not for every row at once: the same numbers."""
    from sklearn.neighbors import KNeighborsClassifier

    from skstack import _bagging
    from skstack.families import FamilyModel, _preprocessing

    rng = np.random.RandomState(0)
    X = pd.DataFrame({"x": rng.normal(size=600), "z": rng.normal(size=600),
                      "city": rng.choice(["paris", "rome", "oslo", "kyiv"], size=600)})
    y = (X["x"] + (X["city"] == "rome") + rng.normal(scale=0.5, size=600) > 0.5).astype(int)
    plan = [(np.arange(0, 600, 2)[:250], np.arange(1, 600, 2))]  # some rows in neither
    models = [("linear", FamilyModel(LogisticRegression())),
              ("knn", FamilyModel(KNeighborsClassifier(5)))]
    taken = []
    original_take = _bagging.RowsOnDemand.take
    monkeypatch.setattr(_bagging.RowsOnDemand, "take",
                        lambda self, rows: taken.append(len(rows)) or original_take(self, rows))

    def fitted(sample_rows):
        monkeypatch.setattr(_preprocessing, "_FIT_SAMPLE_ROWS", sample_rows)
        layer = StackLayer(models, cv=plan, scoring="neg_log_loss")
        return layer, layer.fit_transform(X, y)

    layer, oof = fitted(sample_rows=100)  # "large": fitted on a sample, rows on demand
    # Each model reads its training rows, its held-out rows, then the 300 rows that no
    # fold held out (predicted by the model that saw them).
    assert taken == [250, 300, 300] * 2
    taken.clear()
    monkeypatch.setattr(_preprocessing._FramePreprocessor, "rows_on_demand",
                        lambda self, n_rows: False)
    eager_layer, eager_oof = fitted(sample_rows=100)
    assert taken == []  # the whole output, computed at once
    np.testing.assert_array_equal(np.asarray(oof), np.asarray(eager_oof))
    np.testing.assert_array_equal(layer.transform(X.iloc[:50]), eager_layer.transform(X.iloc[:50]))


def test_a_model_with_max_rows_reads_the_rows_it_keeps_only(monkeypatch):
    from sklearn.neighbors import KNeighborsClassifier

    from skstack import _bagging
    from skstack.families import FamilyModel, _preprocessing

    rng = np.random.RandomState(0)
    X = pd.DataFrame({"x": rng.normal(size=600),
                      "city": rng.choice(["paris", "rome", "oslo", "kyiv"], size=600)})
    y = (X["x"] + (X["city"] == "rome") > 0.5).astype(int)
    plan = [(np.arange(0, 500), np.arange(500, 600))]
    models = [("knn", FamilyModel(KNeighborsClassifier(5), max_rows=120))]
    taken = []
    original_take = _bagging.RowsOnDemand.take
    monkeypatch.setattr(_bagging.RowsOnDemand, "take",
                        lambda self, rows: taken.append(len(rows)) or original_take(self, rows))
    monkeypatch.setattr(_preprocessing, "_FIT_SAMPLE_ROWS", 100)  # rows on demand
    layer = StackLayer(models, cv=plan, scoring="neg_log_loss").fit(X, y)
    # The sample of the training rows is drawn before their one-hot block is computed;
    # then the held-out rows, and the rows no fold held out (predicted by the model).
    assert taken == [120, 100, 500]
    assert layer.estimators_[0].estimators_[0].estimator_.n_samples_fit_ == 120
