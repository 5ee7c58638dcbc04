"""ONNX export: the exported model predicts what the fitted ensemble predicts."""

import json

import numpy as np
import pandas as pd
import pytest

from skstack import AutoStackClassifier, AutoStackRegressor
from skstack.families import PortfolioEntry

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")
pytest.importorskip("lightgbm")
pytest.importorskip("xgboost")

from skstack.export import NotConvertible, export_onnx, onnx_inputs  # noqa: E402

CONVERTIBLE = [
    PortfolioEntry("lightgbm", {"n_estimators": 30}, 6),
    PortfolioEntry("xgboost", {"n_estimators": 30}, 5),
    PortfolioEntry("random_forest", {"n_estimators": 20}, 4),
    PortfolioEntry("extra_trees", {"n_estimators": 20}, 3),
    PortfolioEntry("linear", {}, 2),
    PortfolioEntry("knn", {"n_neighbors": 5}, 1),
]


def _table(n_rows=300, seed=0):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame({
        "a": rng.normal(size=n_rows),
        "b": rng.normal(size=n_rows),
        "city": rng.choice(["paris", "rome", "oslo", "kyiv", None], size=n_rows),
        "flag": rng.choice([True, False], size=n_rows),
    })
    X.loc[::7, "a"] = np.nan
    return X


def _new_rows():
    """Rows the fit never saw: a new city, missing values of every kind."""
    return pd.DataFrame({"a": [np.nan, 0.3, -1.0], "b": [0.1, np.nan, 2.0],
                         "city": ["lima", None, "rome"], "flag": [True, False, True]})


def _run(model, X):
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, onnx_inputs(model, X))))


def _stacked(estimator_class, portfolio=CONVERTIBLE, **params):
    """Two levels bagged over 3 folds, the upper one with the inputs passed through."""
    return estimator_class(portfolio=portfolio, presets="good_quality", n_folds=3,
                           n_stack_levels=1, dynamic_stacking=False, random_state=0, **params)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_a_stacked_classifier_exports_with_the_same_probabilities_and_labels(task):
    X = _table()
    y = ((X["a"].fillna(0) + (X["city"] == "rome")) > 0.3).astype(int)
    if task == "multiclass":
        y = np.where(X["b"] > 0.5, 2, y)
    clf = _stacked(AutoStackClassifier).fit(X, y)
    assert sum(name.startswith("layer") for name, _ in clf.pipeline_.steps) == 2
    model = clf.export_onnx(X=X)  # checked on the training rows within 1e-5
    for rows in (X, _new_rows()):
        out = _run(model, rows)
        np.testing.assert_allclose(out["probabilities"], clf.predict_proba(rows), atol=1e-5)
        np.testing.assert_array_equal(out["label"], clf.predict(rows))


def test_a_regressor_with_a_linear_combiner_and_refitted_models_exports():
    X = _table()
    y = X["b"].fillna(0) * 2 + (X["city"] == "rome") + X["flag"]
    reg = _stacked(AutoStackRegressor, combiner="linear", refit=True).fit(X, y)
    assert reg.pipeline_[-1].combiner_ == "linear"
    model = export_onnx(reg, X=X)
    for rows in (X, _new_rows()):
        np.testing.assert_allclose(_run(model, rows)["prediction"], reg.predict(rows),
                                   atol=1e-5)


def test_string_labels_and_the_decision_threshold_carry_over(tmp_path):
    X = _table()
    y = np.where((X["a"].fillna(0) + (X["city"] == "rome")) > 0.8, "yes", "no")
    clf = AutoStackClassifier(portfolio=CONVERTIBLE[:1], decision_threshold=0.2,
                              random_state=0).fit(X, y)
    path = tmp_path / "model.onnx"
    export_onnx(clf, path, X=X)
    model = onnx.load(path)
    out = _run(model, X)
    np.testing.assert_array_equal(out["label"], clf.predict(X))
    assert (clf.predict(X) != clf.classes_[clf.predict_proba(X).argmax(axis=1)]).any()
    meta = {prop.key: json.loads(prop.value) for prop in model.metadata_props}
    assert meta == {"numbers_columns": ["a", "b"], "categories_columns": ["city", "flag"]}


def test_catboost_converts_on_numbers_and_is_named_when_it_cannot():
    pytest.importorskip("catboost")
    X = _table()
    y = ((X["a"].fillna(0) + (X["city"] == "rome")) > 0.3).astype(int)
    catboost = [PortfolioEntry("catboost", {"iterations": 30}, 1)]
    numeric = X[["a", "b"]]
    clf = AutoStackClassifier(portfolio=catboost, random_state=0).fit(numeric, y)
    export_onnx(clf, X=numeric)
    clf = AutoStackClassifier(portfolio=catboost + CONVERTIBLE[:1], random_state=0).fit(X, y)
    with pytest.raises(NotConvertible, match="level 1 'catboost': CatBoost exports"):
        export_onnx(clf)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_the_mlp_exports_from_its_weights(task):
    pytest.importorskip("skorch")
    X = _table()
    y = X["b"].fillna(0) * 2 + (X["city"] == "rome")
    estimator_class = AutoStackRegressor
    if task == "multiclass":
        y, estimator_class = np.digitize(y, [-1.0, 1.0]), AutoStackClassifier
    mlp = [PortfolioEntry("mlp", {"max_epochs": 5, "hidden_sizes": (16,)}, 1)]
    model = estimator_class(portfolio=mlp, random_state=0).fit(X, y)
    export_onnx(model, X=X)


def _converted_prediction(estimator, X):
    from skstack.families import family_of

    converted = family_of(estimator).onnx(estimator, X.shape[1])
    session = onnxruntime.InferenceSession(converted.model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run([converted.output_name], {"X": X.astype(converted.dtype)})[0]


@pytest.mark.parametrize("objective", ["binary", "multiclass", "regression", "poisson"])
def test_lightgbm_converts_its_categories_and_missing_values_in_float64(objective):
    import lightgbm

    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 3))
    X[:, 2] = rng.randint(0, 12, size=2000)
    X[::5, 0], X[::9, 2] = np.nan, np.nan
    y = (np.nan_to_num(X[:, 0]) > 0) ^ np.isin(X[:, 2], [1, 4, 7])
    y = y + (X[:, 1] > 0.5) * (objective == "multiclass")
    new = X[:200].copy()
    new[::3, 1], new[::4, 2] = np.nan, 30  # missing where the fit saw none; unseen codes
    if objective in ("binary", "multiclass"):
        model = lightgbm.LGBMClassifier(n_estimators=60, verbose=-1)
        model.fit(X, y, categorical_feature=[2])
        expected = model.predict_proba(new)
    else:
        model = lightgbm.LGBMRegressor(n_estimators=60, objective=objective, verbose=-1)
        model.fit(X, np.exp(y + X[:, 1]), categorical_feature=[2])
        expected = model.predict(new)[:, None]
    np.testing.assert_allclose(_converted_prediction(model, new), expected, rtol=1e-6,
                               atol=1e-7)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_converts_as_scikit_learn_weighs_its_neighbours(weights):
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(300, 4)), rng.randint(0, 3, size=300)
    rows = np.vstack([rng.normal(size=(50, 4)), X[:10]])  # some at distance 0
    classifier = KNeighborsClassifier(7, weights=weights).fit(X, y)
    np.testing.assert_allclose(_converted_prediction(classifier, rows),
                               classifier.predict_proba(rows), atol=1e-12)
    regressor = KNeighborsRegressor(7, weights=weights).fit(X, y * 1.5)
    np.testing.assert_allclose(_converted_prediction(regressor, rows).ravel(),
                               regressor.predict(rows), atol=1e-12)


def test_an_array_fit_exports_on_its_columns():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = X[:, 0] - X[:, 1]
    reg = AutoStackRegressor(portfolio=CONVERTIBLE[:1] + CONVERTIBLE[4:5],
                             random_state=0).fit(X, y)
    model = export_onnx(reg, X=X)
    np.testing.assert_allclose(_run(model, X)["prediction"], reg.predict(X), atol=1e-5)


def test_what_does_not_convert_says_what_and_the_check_can_fail():
    X = _table().assign(when=pd.date_range("2024-01-01", periods=300, freq="D"))
    y = (X["b"] > 0).astype(int)
    clf = AutoStackClassifier(portfolio=CONVERTIBLE[:1], random_state=0).fit(X, y)
    with pytest.raises(NotConvertible, match="'datetime' branch"):
        export_onnx(clf)
    clf = AutoStackClassifier(portfolio=CONVERTIBLE[:1], random_state=0).fit(
        X.drop(columns="when"), y)
    with pytest.raises(ValueError, match="differ from the estimator's by up to"):
        export_onnx(clf, X=X.drop(columns="when"), tolerance=-1.0)
    with pytest.raises(TypeError, match="takes a fitted AutoStack"):
        export_onnx(clf.pipeline_[-1])
