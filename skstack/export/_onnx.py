"""A fitted ensemble as one ONNX model, scored without Python or skstack.

The graph follows the prediction path of the fitted pipeline: the raw columns come in as
two matrices (``numbers`` and ``categories``); each level applies every distinct
preprocessing of its bags once, runs every fold model (or the one refitted model) of
every bag and averages them with their class columns aligned, and hands its prediction
columns (and, with ``passthrough``, its own input columns) to the next level; the
selector's weighted blend (or its linear combiner) gives the probabilities, and the
decision threshold, if any, the labels.
"""

import json

import numpy as np
from sklearn.pipeline import Pipeline

from .._stacking import StackLayer
from ..families._base import FamilyModel, family_of
from ..families._onnx import NotConvertible, sklearn_onnx
from ..families._preprocessing import as_strings
from ._graph import Graph
from ._preprocessing import _MISSING, Column, categorical_names, preprocessed

__all__ = ["NotConvertible", "export_onnx", "onnx_inputs"]

_FLOAT, _DOUBLE, _STRING, _INT64 = 1, 11, 8, 7  # onnx.TensorProto element types


def export_onnx(estimator, path=None, *, X=None, tolerance=1e-5):
    """Export a fitted ensemble to ONNX: its predictions without Python or skstack.

    The model reads two inputs, as :func:`onnx_inputs` makes them from a frame:
    ``numbers``, float64 of shape ``(n_rows, n_numeric)`` (NaN missing), and
    ``categories``, strings of shape ``(n_rows, n_categorical)`` (each value as ``str``
    spells it; the empty string is missing); the model's metadata (``numbers_columns``,
    ``categories_columns``, JSON lists) names their columns. A classifier's outputs are
    ``label`` and ``probabilities`` (float64, in the order of ``classes_``), a
    regressor's ``prediction`` (float64).

    Models without weight in the ensemble are left out. Members of the families
    LightGBM, XGBoost, random forest, extra trees, linear, KNN and MLP convert, and
    CatBoost trained without categorical columns; so do the encoder's passed-through and
    dropped columns. Others (CatBoost on categories, text, image or datetime columns)
    raise :class:`NotConvertible`, naming every such member: leave them out of the
    portfolio (``excluded_families``) or refit without them.

    One level alone predicts as the estimator does within float32 rounding. Two caveats,
    which the check measures: KNN's neighbours at equal distances from a row are the
    runtime's choice, not necessarily scikit-learn's; and in a stack, a first-level
    probability that the runtime rounds differently in its last float32 bit can cross a
    threshold of an upper-level tree, which changes the prediction of a few rows in a
    thousand (by up to 0.006 in probability on the shared tables).

    Parameters
    ----------
    estimator : AutoStackClassifier, AutoStackRegressor or Pipeline
        A fitted AutoStack, or a fitted pipeline of its shape (an encoder or
        ``"passthrough"``, :class:`~skstack.StackLayer` steps, then a
        :class:`~skstack.GreedyEnsembleSelector`).
    path : str or path-like, default=None
        Where to write the model; None only returns it.
    X : DataFrame or array-like, default=None
        Rows to check the export on: the exported model's probabilities (or values)
        must match the estimator's within ``tolerance``, else a ValueError says by how
        much they differ.
    tolerance : float, default=1e-5
        The largest difference the check allows: absolute for probabilities; for values,
        relative to those above 1 (the trees run in float32, as their libraries do).

    Returns
    -------
    model : onnx.ModelProto
        The exported model.

    Examples
    --------
    >>> import pandas as pd
    >>> import onnxruntime
    >>> from skstack import AutoStackClassifier
    >>> from skstack.export import export_onnx, onnx_inputs
    >>> from skstack.families import PortfolioEntry
    >>> X = pd.DataFrame({"n": range(200), "city": ["a", "b", "c", "d"] * 50})
    >>> y = (X["n"] % 3 == 0).astype(int)
    >>> clf = AutoStackClassifier(portfolio=[PortfolioEntry("lightgbm", {"n_estimators": 20})],
    ...                           random_state=0).fit(X, y)
    >>> model = export_onnx(clf, X=X)
    >>> session = onnxruntime.InferenceSession(model.SerializeToString())
    >>> label, proba = session.run(None, onnx_inputs(model, X.iloc[:3]))
    >>> bool((label == clf.predict(X.iloc[:3])).all())
    True
    """
    pipeline, classes, threshold = _pipeline_of(estimator)
    graph = Graph()
    columns, inputs, metadata = _inputs(graph, pipeline)
    layers = [step for _, step in pipeline.steps[1:-1]]
    selector = pipeline.steps[-1][1]
    used = _used_models(selector)
    failures = []
    for level, layer in enumerate(layers, start=1):
        last = level == len(layers)
        columns = _layer(graph, layer, level, columns, failures,
                         only=used if last else None)
    if failures:
        listed = "; ".join(f"level {level} {name!r}: {why.rstrip('.')}"
                           for level, name, why in failures)
        raise NotConvertible(
            f"Models of the ensemble that do not convert to ONNX: {listed}. Leave their "
            "families out (excluded_families) or fit without them.")
    blend = _blend(graph, selector, used, columns)
    outputs = _outputs(graph, blend, classes, threshold)
    model = graph.model(inputs, outputs, metadata)
    if X is not None:
        _check(model, estimator, X, classes is not None, tolerance)
    if path is not None:
        with open(path, "wb") as file:
            file.write(model.SerializeToString())
    return model


def onnx_inputs(model, X):
    """The inputs of an exported model (:func:`export_onnx`) for the rows ``X``.

    Parameters
    ----------
    model : onnx.ModelProto
        An exported model (its metadata names its columns).
    X : DataFrame or array-like of shape (n_samples, n_features)
        Rows with the columns seen at fit (arrays: in that order).

    Returns
    -------
    inputs : dict
        ``{"numbers": float64 array, "categories": str array}``, the inputs the model
        has, ready for ``onnxruntime.InferenceSession.run``.
    """
    import pandas as pd

    meta = {prop.key: prop.value for prop in model.metadata_props}
    numbers, categories = (json.loads(meta[key])
                           for key in ("numbers_columns", "categories_columns"))
    if not hasattr(X, "columns"):
        array = np.asarray(X)
        X = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    inputs = {}
    if numbers:
        inputs["numbers"] = X[numbers].to_numpy(dtype=np.float64, na_value=np.nan)
    if categories:
        inputs["categories"] = np.column_stack(
            [as_strings(X[column]).fillna(_MISSING).to_numpy(dtype=object)
             for column in categories]).astype(str)
    return inputs


# ---- the parts -----------------------------------------------------------------------------


def _pipeline_of(estimator):
    """The pipeline, classes (None: a regressor) and decision threshold to export."""
    pipeline = getattr(estimator, "pipeline_", estimator)
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) < 3 or not all(
            isinstance(step, StackLayer) for _, step in pipeline.steps[1:-1]):
        raise TypeError("export_onnx takes a fitted AutoStackClassifier or AutoStackRegressor "
                        "or a fitted pipeline of an encoder, StackLayers and a selector; got "
                        f"{type(estimator).__name__}.")
    selector = pipeline.steps[-1][1]
    if not hasattr(selector, "task_"):
        raise ValueError("export_onnx needs a fitted ensemble.")
    classes = selector.classes_ if selector.task_ == "classification" else None
    return pipeline, classes, getattr(estimator, "decision_threshold_", None)


def _raw_columns(pipeline):
    """The names of the columns the encoder hands the first level, in order."""
    encoder, layer = pipeline.steps[0][1], pipeline.steps[1][1]
    if isinstance(encoder, str) and encoder == "passthrough":
        names = getattr(layer, "feature_names_in_", None)
        return ([f"x{i}" for i in range(layer.n_features_in_)] if names is None
                else [str(name) for name in names])
    fed = [str(name) for name in encoder.feature_names_in_]
    out = []
    for name, transformer, selected in encoder.transformers_:
        selected = [fed[c] if isinstance(c, (int, np.integer)) else str(c)
                    for c in np.atleast_1d(selected)] if len(np.atleast_1d(selected)) else []
        if not selected or (isinstance(transformer, str) and transformer == "drop"):
            continue
        if _passes_through(transformer):
            out += selected
            continue
        raise NotConvertible(f"The column encoder's {name!r} branch (columns {selected}) "
                             "does not convert to ONNX.")
    return out


def _passes_through(transformer):
    """Whether an encoder branch passes its columns on as they are (scikit-learn fits a
    ``"passthrough"`` remainder as an identity FunctionTransformer)."""
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(transformer, str):
        return transformer == "passthrough"
    return isinstance(transformer, FunctionTransformer) and transformer.func is None


def _inputs(graph, pipeline):
    """The first level's columns, the model's inputs, and the metadata that names them."""
    used = _raw_columns(pipeline)
    categorical = {name for bag in pipeline.steps[1][1].estimators_
                   for name in categorical_names(bag.preprocessor_)}
    numbers = [name for name in used if name not in categorical]
    categories = [name for name in used if name in categorical]
    inputs, columns = [], {}
    for input_name, names, element in (("numbers", numbers, _DOUBLE),
                                       ("categories", categories, _STRING)):
        if not names:
            continue
        inputs.append((input_name, element, [None, len(names)]))
        for j, name in enumerate(names):
            columns[name] = Column(name, element == _STRING, graph.op(
                "Gather", [input_name, graph.const([j], np.int64)], axis=1, hint=name))
    metadata = {"numbers_columns": json.dumps(numbers),
                "categories_columns": json.dumps(categories)}
    return [columns[name] for name in used], inputs, metadata


def _used_models(selector):
    """Positions of the last level's models that the selector's output depends on."""
    if selector.linear_ is not None:
        return sorted(set(np.asarray(selector._columns) // selector._width))
    return list(np.flatnonzero(np.asarray(selector._weights) > 0))


def _layer(graph, layer, level, columns, failures, only=None):
    """The columns that ``layer`` outputs: its predictions, then its input (passthrough).

    ``only``: the positions of the models to export (None: all); the others are left
    out of the graph, and of its columns.
    """
    n_classes = len(layer.classes_) if hasattr(layer, "classes_") else None
    width = 1 if n_classes in (None, 2) else n_classes
    inputs, outputs = {}, []
    for position, (name, bag) in enumerate(layer.named_estimators_.items()):
        if only is not None and position not in only:
            continue
        try:
            key = id(bag.preprocessor_)
            if key not in inputs:
                inputs[key] = preprocessed(graph, bag.preprocessor_, columns)
            prediction = _bag(graph, bag, inputs[key], n_classes)
        except NotConvertible as error:
            failures.append((level, name, str(error)))
            continue
        names = layer._names_of_predictions([name])
        first = n_classes - width if n_classes else 0  # binary: the positive class only
        for j, column in enumerate(names):
            outputs.append(Column(column, False, graph.op(
                "Gather", [prediction, graph.const([first + j], np.int64)], axis=1)))
    return outputs + (list(columns) if layer.passthrough else [])


def _bag(graph, bag, features, n_classes):
    """The mean of a bag's predicting models, ``(n_rows, n_classes or 1)`` float64."""
    if n_classes is not None and bag.oof_method_ != "predict_proba":
        raise NotConvertible("only bags that average probabilities convert.")
    total = None
    models = bag._models()
    for model in models:
        prediction = _model(graph, model, features, n_classes)
        total = prediction if total is None else graph.op("Add", [total, prediction])
    return graph.op("Mul", [total, graph.const([1.0 / len(models)])])


def _model(graph, model, features, n_classes):
    """One fitted fold model's probabilities over all class codes, or its values."""
    if not isinstance(model, FamilyModel) or model.preprocessor_ is not None:
        raise NotConvertible(f"{type(model).__name__} is not a fold model of a family.")
    family = family_of(model.estimator)
    if family.onnx is None:
        raise NotConvertible(f"the {family.name} family has no ONNX converter.")
    converted = family.onnx(model.estimator_, model.n_features_in_)
    fed = features if converted.dtype == np.float64 else graph.cast(features, _FLOAT)
    out = graph.inline(converted.model, {converted.input_name: fed})[converted.output_name]
    out = graph.op("Cast", [out], to=_DOUBLE)
    if n_classes is None:
        return graph.op("Reshape", [out, graph.const([-1, 1], np.int64)])
    if converted.renormalise:
        out = graph.op("Div", [out, graph.op("ReduceSum", [out, graph.const([1], np.int64)],
                                             keepdims=1)])
    if len(model.classes_) == n_classes:
        return out
    # A fold that lacked a class: its columns spread over all the codes (missing ones 0).
    spread = np.zeros((len(model.classes_), n_classes))
    spread[np.arange(len(model.classes_)), model.classes_] = 1.0
    return graph.op("MatMul", [out, graph.const(spread)])


def _blend(graph, selector, used, columns):
    """The selector's output: probabilities ``(n_rows, n_classes)`` or values ``(n_rows, 1)``.

    ``columns`` are those of the models ``used`` (positions among the selector's), in
    their order.
    """
    stacked = graph.op("Concat", [column.tensor for column in columns], axis=1)
    classification = selector.task_ == "classification"
    width = selector._width
    if selector.linear_ is not None:
        position = {m: k for k, m in enumerate(used)}
        selected = [position[c // width] * width + c % width for c in selector._columns]
        return _linear_combiner(graph, selector, stacked, selected)
    weights = np.zeros((len(used) * width, width))
    for k, m in enumerate(used):
        weights[k * width:(k + 1) * width] = selector._weights[m] * np.eye(width)
    blend = graph.op("MatMul", [stacked, graph.const(weights)])
    if not classification:
        return blend
    if width == 1:
        positive = graph.op("Clip", [blend, graph.const(0.0), graph.const(1.0)])
        return graph.op("Concat", [graph.op("Sub", [graph.const([1.0]), positive]), positive],
                        axis=1)
    clipped = graph.op("Relu", [blend])
    sums = graph.op("ReduceSum", [clipped, graph.const([1], np.int64)], keepdims=1)
    share = graph.op("Div", [clipped, graph.op("Max", [sums, graph.const([1e-300])])])
    # A row of all-zero probabilities carries no preference: uniform (broadcast).
    uniform = graph.const(np.full((1, width), 1.0 / width))
    return graph.op("Where", [graph.op("Greater", [sums, graph.const([0.0])]), share, uniform])


def _linear_combiner(graph, selector, stacked, columns):
    selected = graph.op("Gather", [stacked, graph.const(columns, np.int64)], axis=1)
    model = selector.linear_
    converted = sklearn_onnx(model, len(columns), np.float64)
    out = graph.inline(converted.model, {converted.input_name: selected})[converted.output_name]
    out = graph.op("Cast", [out], to=_DOUBLE)
    if selector.task_ != "classification":
        return graph.op("Reshape", [out, graph.const([-1, 1], np.int64)])
    if len(model.classes_) == len(selector.classes_):
        return out
    spread = np.zeros((len(model.classes_), len(selector.classes_)))
    spread[np.arange(len(model.classes_)),
           np.searchsorted(selector.classes_, model.classes_)] = 1.0
    return graph.op("MatMul", [out, graph.const(spread)])


def _outputs(graph, blend, classes, threshold):
    """Rename the blend into the model's outputs; their specifications."""
    if classes is None:
        graph.nodes.append(_identity(graph, graph.op("Reshape", [blend, graph.const(
            [-1], np.int64)]), "prediction"))
        return [("prediction", _DOUBLE, [None])]
    if threshold is None:
        index = graph.op("ArgMax", [blend], axis=1, keepdims=0)
    else:
        positive = graph.op("Gather", [blend, graph.const(1, np.int64)], axis=1)
        index = graph.op("Cast", [graph.op("Greater", [positive, graph.const(
            float(threshold))])], to=_INT64)
    labels, element = _class_constant(classes)
    graph.nodes.append(_identity(graph, graph.op("Gather", [graph.const(labels), index]),
                                 "label"))
    graph.nodes.append(_identity(graph, blend, "probabilities"))
    return [("label", element, [None]), ("probabilities", _DOUBLE, [None, len(classes)])]


def _identity(graph, tensor, name):
    from onnx import helper

    return helper.make_node("Identity", [tensor], [name], name=graph.name("output"))


def _class_constant(classes):
    """The classes as an ONNX constant: int64, float64 or strings; and its element type."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64), _INT64
    if classes.dtype.kind == "f":
        return classes.astype(np.float64), _DOUBLE
    return np.asarray([str(label) for label in classes], dtype=object), _STRING


def _check(model, estimator, X, classification, tolerance):
    """Raise unless the exported model predicts ``X`` as ``estimator`` does."""
    import onnxruntime

    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    outputs = dict(zip([output.name for output in session.get_outputs()],
                       session.run(None, onnx_inputs(model, X))))
    if classification:
        expected, got = estimator.predict_proba(X), outputs["probabilities"]
        scale = 1.0
    else:
        expected, got = estimator.predict(X), outputs["prediction"]
        scale = np.maximum(1.0, np.abs(expected))  # float32 trees: relative on large values
    gaps = np.abs(np.asarray(expected, dtype=np.float64) - got) / scale
    gaps = gaps.reshape(len(gaps), -1).max(axis=1)
    if not gaps.max() <= tolerance:
        raise ValueError(
            f"The exported model's predictions differ from the estimator's by up to "
            f"{gaps.max():.3g} (tolerance {tolerance:g}"
            + ("" if classification else ", relative above 1")
            + f"), on {int((gaps > tolerance).sum())} of {len(gaps)} rows.")

