"""Fitted models of the built-in families as ONNX models: each family's ``Family.onnx``.

A converter takes a fitted estimator of its family (the ``estimator_`` of a fold model)
and the width of its input, and gives a :class:`Converted` model: one input, ``X``, of
the model's preprocessed columns, and an output of its class probabilities (in the order
of the estimator's ``classes_``, no ZipMap) or its predicted values. onnxmltools converts
LightGBM and XGBoost, skl2onnx scikit-learn's forests, linear models and KNN, CatBoost
exports itself, and the MLP's kept weights are written out.
"""

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

__all__ = ["ML_OPSET", "OPSET", "Converted", "NotConvertible"]

# The versions every converter is asked for, and that an exported model imports: opset 15
# is the newest that onnxmltools' LightGBM and XGBoost converters support.
OPSET = 15
ML_OPSET = 3


class NotConvertible(ValueError):
    """A model, preprocessing or encoder that has no ONNX form."""


@dataclass
class Converted:
    """A converted model: ``model`` (ModelProto) reads ``input_name`` (``dtype`` float32
    or float64, shape ``(n_rows, n_features)``) and writes ``output_name``."""

    model: object
    input_name: str
    dtype: type
    output_name: str


def _outputs(model, classifier):
    """The name of the probabilities (classifiers) or values output of a converted model."""
    names = [output.name for output in model.graph.output]
    if not classifier:
        return names[0]
    return next(name for name in names if "prob" in name)


def lightgbm_onnx(estimator, n_features):
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    model = convert_lightgbm(estimator, initial_types=[("X", FloatTensorType([None, n_features]))],
                             zipmap=False, target_opset=OPSET)
    return Converted(model, "X", np.float32, _outputs(model, hasattr(estimator, "classes_")))


def xgboost_onnx(estimator, n_features):
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    with _each_node_numbered_once():
        model = convert_xgboost(estimator, target_opset=OPSET,
                                initial_types=[("X", FloatTensorType([None, n_features]))])
    return Converted(model, "X", np.float32, _outputs(model, hasattr(estimator, "classes_")))


@contextmanager
def _each_node_numbered_once():
    """onnxmltools' XGBoost converter, numbering each tree node once.

    It writes a categorical split as a chain of equality tests whose nodes share their
    children, then numbers the nodes by walking every path from the root: exponential
    in the categories a tree splits on (76 s for one fold model of 192 trees on 9,000
    nodes). Walking each node once gives the same numbers (the first visit numbers a
    node, later ones number nothing new).
    """
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import XGBConverter

    def numbered(tree, remap=None):
        remap = {} if remap is None else remap
        stack = [tree]
        while stack:
            node = stack.pop()
            if node["nodeid"] in remap:
                continue
            remap[node["nodeid"]] = len(remap)
            stack.extend(reversed(node.get("children", [])))
        return remap

    original = XGBConverter.__dict__.get("_remap_nodeid")
    XGBConverter._remap_nodeid = staticmethod(numbered)
    try:
        yield
    finally:
        if original is not None:
            XGBConverter._remap_nodeid = original


def catboost_onnx(estimator, n_features):
    """CatBoost's own export, its ZipMap of probabilities taken out.

    CatBoost encodes categorical columns by target statistics, which its ONNX export does
    not write: a model trained with categorical columns does not convert.
    """
    import os
    import tempfile

    import onnx

    if estimator.get_cat_feature_indices():
        raise NotConvertible("CatBoost exports to ONNX only models trained without "
                             "categorical columns.")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.onnx")
        estimator.save_model(path, format="onnx")
        model = onnx.load(path)
    classifier = hasattr(estimator, "classes_")
    output = model.graph.output[0].name
    if classifier:
        zipmap = next(node for node in model.graph.node if node.op_type == "ZipMap")
        output = zipmap.input[0]  # the probabilities tensor the ZipMap reads
        model.graph.node.remove(zipmap)
        kept = [out for out in model.graph.output if out.name != zipmap.output[0]]
        del model.graph.output[:]
        model.graph.output.extend(kept)
        model.graph.output.append(onnx.helper.make_tensor_value_info(
            output, onnx.TensorProto.FLOAT, None))
    return Converted(model, model.graph.input[0].name, np.float32, output)


def sklearn_onnx(estimator, n_features, dtype, **options):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    tensor = FloatTensorType if dtype == np.float32 else DoubleTensorType
    classifier = hasattr(estimator, "classes_")
    options = {**options, **({"zipmap": False} if classifier else {})}
    model = convert_sklearn(estimator, initial_types=[("X", tensor([None, n_features]))],
                            target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
                            options={id(estimator): options} if options else None)
    return Converted(model, "X", dtype, _outputs(model, classifier))


def forest_onnx(estimator, n_features):
    """skl2onnx's forest, with the branch each tree sends missing values down.

    scikit-learn's trees learn, per split, whether missing values go left
    (``missing_go_to_left``); skl2onnx writes every split as sending them right. The
    ONNX tree attribute ``nodes_missing_value_tracks_true`` (true is the left, ``<=``
    branch) is set from the trees, node by node.
    """
    from onnx import helper

    converted = sklearn_onnx(estimator, n_features, np.float32)
    left = [tree.tree_.missing_go_to_left for tree in estimator.estimators_]
    for node in converted.model.graph.node:
        if not node.op_type.startswith("TreeEnsemble"):
            continue
        attributes = {attribute.name: attribute for attribute in node.attribute}
        tracks = [int(left[tree][index]) for tree, index in
                  zip(attributes["nodes_treeids"].ints, attributes["nodes_nodeids"].ints)]
        if "nodes_missing_value_tracks_true" in attributes:
            node.attribute.remove(attributes["nodes_missing_value_tracks_true"])
        node.attribute.append(helper.make_attribute("nodes_missing_value_tracks_true", tracks))
    return converted


def linear_onnx(estimator, n_features):
    return sklearn_onnx(estimator, n_features, np.float64)


def knn_onnx(estimator, n_features):
    # The distances through onnxruntime's CDist, not a Scan over the training rows: a
    # subgraph that cannot be inlined, and slower.
    return sklearn_onnx(estimator, n_features, np.float64, optim="cdist")


def mlp_onnx(estimator, n_features):
    """The network from its kept weights: ReLU layers in float64 on the float32 input (as
    its ``predict`` reads it), then the softmax or the target's scale."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, initializers = [helper.make_node("Cast", ["X"], ["h0"], to=TensorProto.DOUBLE)], []
    layers = list(zip(estimator.coefs_, estimator.intercepts_))
    hidden = "h0"
    for i, (coef, intercept) in enumerate(layers):
        initializers += [numpy_helper.from_array(np.asarray(coef, np.float64), f"w{i}"),
                         numpy_helper.from_array(np.asarray(intercept, np.float64), f"b{i}")]
        nodes += [helper.make_node("MatMul", [hidden, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"])]
        hidden = f"a{i}"
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [hidden], [f"r{i}"]))
            hidden = f"r{i}"
    if hasattr(estimator, "classes_"):
        nodes.append(helper.make_node("Softmax", [hidden], ["out"], axis=1))
    else:
        initializers += [numpy_helper.from_array(np.asarray([estimator._y_scale], np.float64),
                                                 "scale"),
                         numpy_helper.from_array(np.asarray([estimator._y_mean], np.float64),
                                                 "mean")]
        nodes += [helper.make_node("Mul", [hidden, "scale"], ["scaled"]),
                  helper.make_node("Add", ["scaled", "mean"], ["out"])]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("out", TensorProto.DOUBLE, None)], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    return Converted(model, "X", np.float32, "out")
