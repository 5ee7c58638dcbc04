"""Fitted models of the built-in families as ONNX models: each family's ``Family.onnx``.

A converter takes a fitted estimator of its family (the ``estimator_`` of a fold model)
and the width of its input, and gives a :class:`Converted` model: one input, ``X``, of
the model's preprocessed columns, and an output of its class probabilities (in the order
of the estimator's ``classes_``, no ZipMap) or its predicted values. onnxmltools converts
XGBoost, skl2onnx scikit-learn's forests and linear models, and CatBoost exports itself;
LightGBM's trees, the KNN search and the MLP's kept weights are written out here.
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
    or float64, shape ``(n_rows, n_features)``) and writes ``output_name``;
    ``renormalise``: its probabilities are float32, which a bag divides by their sum in
    float64 (``skstack._bagging.predict_aligned``)."""

    model: object
    input_name: str
    dtype: type
    output_name: str
    renormalise: bool = False


def _outputs(model, classifier):
    """The name of the probabilities (classifiers) or values output of a converted model."""
    names = [output.name for output in model.graph.output]
    if not classifier:
        return names[0]
    return next(name for name in names if "prob" in name)


def lightgbm_onnx(estimator, n_features):
    """LightGBM's trees with their thresholds in float64, as LightGBM compares them.

    LightGBM reads features as float64, unlike XGBoost and scikit-learn's trees (float32):
    float32 thresholds (onnxmltools') would send a value within 1e-7 of one the other
    way. The trees are read from ``dump_model`` (the early-stopped iteration), as one
    ``TreeEnsembleRegressor`` of raw scores over float64 input, and the objective's link
    applied in float64.
    """
    from onnx import TensorProto, helper

    dump = estimator.booster_.dump_model()
    objective = dump["objective"].split()
    n_scores = dump["num_class"]
    if dump.get("average_output") or objective[0] not in _LIGHTGBM_LINKS:
        raise NotConvertible(f"LightGBM's objective {dump['objective']!r} does not convert.")
    trees = _TreeTable()
    for index, tree in enumerate(dump["tree_info"]):
        trees.add_lightgbm(index, tree["tree_structure"], index % n_scores)
    nodes = [trees.node("X", "raw", n_scores),
             helper.make_node("Cast", ["raw"], ["raw64"], to=TensorProto.DOUBLE)]
    nodes += _LIGHTGBM_LINKS[objective[0]](objective, "raw64", "out")
    return _written(nodes, [], n_features, np.float64)


def _written(nodes, initializers, n_features, dtype):
    """The Converted model of ``nodes``, written here: input ``X`` of ``dtype``, float64
    output ``out``."""
    from onnx import TensorProto, helper

    element = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    graph = helper.make_graph(
        nodes, "model", [helper.make_tensor_value_info("X", element, [None, n_features])],
        [helper.make_tensor_value_info("out", TensorProto.DOUBLE, None)],
        initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                    helper.make_opsetid("ai.onnx.ml", ML_OPSET)])
    return Converted(model, "X", dtype, "out")


def _constant(name, value):
    """A Constant node holding the float64 ``value``."""
    from onnx import helper, numpy_helper

    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(
        np.asarray(value, np.float64), name))


def _sigmoid(objective, raw, out):
    """Binary: ``[1 - p, p]`` with ``p = sigmoid(s * raw)`` (the objective's ``sigmoid:s``)."""
    from onnx import helper

    scale = next((float(part.split(":")[1]) for part in objective
                  if part.startswith("sigmoid:")), 1.0)
    return [_constant("scale", [scale]), _constant("one", [1.0]),
            helper.make_node("Mul", [raw, "scale"], ["scaled"]),
            helper.make_node("Sigmoid", ["scaled"], ["positive"]),
            helper.make_node("Sub", ["one", "positive"], ["negative"]),
            helper.make_node("Concat", ["negative", "positive"], [out], axis=1)]


def _one_op(op_type, **attributes):
    """A link of one operator: ``op_type(raw)``."""

    def link(objective, raw, out):
        from onnx import helper

        return [helper.make_node(op_type, [raw], [out], **attributes)]

    return link


# Raw scores -> what the estimator predicts, by LightGBM objective.
_LIGHTGBM_LINKS = {
    "binary": _sigmoid, "multiclass": _one_op("Softmax", axis=1),
    **{name: _one_op("Identity") for name in ("regression", "regression_l1", "huber", "fair",
                                              "quantile", "mape")},
    **{name: _one_op("Exp") for name in ("poisson", "gamma", "tweedie")},
}


class _TreeTable:
    """The attributes of one ``TreeEnsembleRegressor``, node by node, thresholds and leaf
    values in float64."""

    def __init__(self):
        self.attributes = {key: [] for key in (
            "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes",
            "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
            "target_treeids", "target_nodeids", "target_ids")}
        self.values, self.weights = [], []
        self._next = 0  # the next node id within the tree being added

    def _new(self, tree, mode, feature=0, value=0.0, missing_true=False):
        node_id, self._next = self._next, self._next + 1
        a = self.attributes
        a["nodes_treeids"].append(tree)
        a["nodes_nodeids"].append(node_id)
        a["nodes_featureids"].append(feature)
        a["nodes_modes"].append(mode)
        a["nodes_truenodeids"].append(0)
        a["nodes_falsenodeids"].append(0)
        a["nodes_missing_value_tracks_true"].append(int(missing_true))
        self.values.append(float(value))
        return len(self.values) - 1  # the node's position, to set its children

    def _children(self, position, true_id, false_id):
        self.attributes["nodes_truenodeids"][position] = true_id
        self.attributes["nodes_falsenodeids"][position] = false_id

    def add_lightgbm(self, tree, structure, target):
        """Add the LightGBM tree ``structure`` (from ``dump_model``) as tree ``tree``,
        whose leaves add to the score ``target``."""
        self._next = 0
        self._lightgbm_node(tree, structure, target)

    def _lightgbm_node(self, tree, node, target):
        if "split_feature" not in node:
            position = self._new(tree, "LEAF")
            node_id = self.attributes["nodes_nodeids"][position]
            self.attributes["target_treeids"].append(tree)
            self.attributes["target_nodeids"].append(node_id)
            self.attributes["target_ids"].append(target)
            self.weights.append(float(node["leaf_value"]))
            return node_id
        feature = int(node["split_feature"])
        missing = node.get("missing_type", "None")
        if missing == "Zero":
            raise NotConvertible("LightGBM trained with zero_as_missing does not convert.")
        if node["decision_type"] == "==":
            return self._categorical(tree, node, target, feature, missing)
        threshold = float(node["threshold"])
        position = self._new(tree, "BRANCH_LEQ", feature, threshold,
                             missing_true=bool(node.get("default_left", True))
                             if missing == "NaN" else threshold >= 0.0)  # else NaN reads 0
        left = self._lightgbm_node(tree, node["left_child"], target)
        right = self._lightgbm_node(tree, node["right_child"], target)
        self._children(position, left, right)
        return self.attributes["nodes_nodeids"][position]

    def _categorical(self, tree, node, target, feature, missing):
        """A set of categories as a chain of equality tests, each sending a match left.

        As LightGBM decides: a value in the set goes left, any other right; NaN goes
        right when missing values were seen, else it is read as category 0.
        """
        categories = [float(c) for c in str(node["threshold"]).split("||")]
        chain = [self._new(tree, "BRANCH_EQ", feature, category,
                           missing_true=missing != "NaN" and category == 0.0)
                 for category in categories]
        left = self._lightgbm_node(tree, node["left_child"], target)
        right = self._lightgbm_node(tree, node["right_child"], target)
        ids = [self.attributes["nodes_nodeids"][position] for position in chain]
        for k, position in enumerate(chain):
            self._children(position, left, ids[k + 1] if k + 1 < len(chain) else right)
        return ids[0]

    def node(self, input_name, output_name, n_targets):
        """The ``TreeEnsembleRegressor`` node of the table (raw scores, float32)."""
        from onnx import helper, numpy_helper

        return helper.make_node(
            "TreeEnsembleRegressor", [input_name], [output_name], domain="ai.onnx.ml",
            n_targets=n_targets, aggregate_function="SUM", post_transform="NONE",
            nodes_values_as_tensor=numpy_helper.from_array(np.asarray(self.values,
                                                                      np.float64)),
            target_weights_as_tensor=numpy_helper.from_array(np.asarray(self.weights,
                                                                        np.float64)),
            **self.attributes)


def xgboost_onnx(estimator, n_features):
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    with _each_node_numbered_once():
        model = convert_xgboost(estimator, target_opset=OPSET,
                                initial_types=[("X", FloatTensorType([None, n_features]))])
    classifier = hasattr(estimator, "classes_")
    return Converted(model, "X", np.float32, _outputs(model, classifier), renormalise=classifier)


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


def sklearn_onnx(estimator, n_features, dtype):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    tensor = FloatTensorType if dtype == np.float32 else DoubleTensorType
    classifier = hasattr(estimator, "classes_")
    model = convert_sklearn(estimator, initial_types=[("X", tensor([None, n_features]))],
                            target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
                            options={id(estimator): {"zipmap": False}} if classifier else None)
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
    """A neighbour search written out, as scikit-learn's KNN predicts (euclidean).

    skl2onnx's KNN weights neighbours otherwise than scikit-learn (``weights="distance"``
    differs by 0.4 in probability) and loops in a subgraph. Here the distances of a batch
    to every kept row are expanded (``|x|^2 - 2 x.t + |t|^2``, one product) to find
    twice ``n_neighbors`` candidates, whose exact distances then choose the neighbours and
    weigh them (all the weight to rows at distance 0, as scikit-learn gives it).
    """
    from onnx import helper, numpy_helper

    metric = getattr(estimator, "effective_metric_", None)
    if metric != "euclidean" or estimator.weights not in ("uniform", "distance"):
        raise NotConvertible("only KNN with the euclidean metric and uniform or distance "
                             "weights converts.")
    train = np.asarray(estimator._fit_X, dtype=np.float64)
    k = int(estimator.n_neighbors)
    candidates = min(len(train), 2 * k)
    classifier = hasattr(estimator, "classes_")
    targets = (np.eye(len(estimator.classes_))[estimator._y] if classifier
               else np.asarray(estimator._y, dtype=np.float64).reshape(len(train), -1))
    constants = {"T": train, "Tt": train.T.copy(), "Tsq": (train ** 2).sum(axis=1)[None, :],
                 "Y": targets, "two": np.array([2.0]),
                 "K1": np.array([candidates], np.int64), "K": np.array([k], np.int64),
                 "ax1": np.array([1], np.int64), "ax2": np.array([2], np.int64)}
    node = helper.make_node
    nodes = [
        node("Mul", ["X", "X"], ["x2"]), node("ReduceSum", ["x2", "ax1"], ["xsq"], keepdims=1),
        node("MatMul", ["X", "Tt"], ["cross"]), node("Mul", ["cross", "two"], ["cross2"]),
        node("Sub", ["xsq", "cross2"], ["d2a"]), node("Add", ["d2a", "Tsq"], ["d2"]),
        node("TopK", ["d2", "K1"], ["_", "cand"], axis=1, largest=0, sorted=1),
        node("Gather", ["T", "cand"], ["tc"], axis=0),
        node("Unsqueeze", ["X", "ax1"], ["xu"]), node("Sub", ["tc", "xu"], ["diff"]),
        node("Mul", ["diff", "diff"], ["sq"]),
        node("ReduceSum", ["sq", "ax2"], ["dsq"], keepdims=0), node("Sqrt", ["dsq"], ["dist"]),
        node("TopK", ["dist", "K"], ["dk", "pos"], axis=1, largest=0, sorted=1),
        node("GatherElements", ["cand", "pos"], ["idx"], axis=1),
        node("Gather", ["Y", "idx"], ["yk"], axis=0),  # (rows, k, outputs)
    ]
    if estimator.weights == "uniform":
        nodes.append(node("ReduceMean", ["yk"], ["out"], axes=[1], keepdims=0))
    else:
        constants["zero"] = np.array([0.0])
        nodes += [node("Equal", ["dk", "zero"], ["at0"]), node("Cast", ["at0"], ["at0f"], to=11),
                  node("ReduceMax", ["at0f"], ["any0"], axes=[1], keepdims=1),
                  node("Greater", ["any0", "zero"], ["some0"]),
                  node("Reciprocal", ["dk"], ["inv"]),
                  node("Where", ["some0", "at0f", "inv"], ["w"]),
                  node("Unsqueeze", ["w", "ax2"], ["wu"]), node("Mul", ["yk", "wu"], ["weighted"]),
                  node("ReduceSum", ["weighted", "ax1"], ["num"], keepdims=0),
                  node("ReduceSum", ["w", "ax1"], ["den"], keepdims=1),
                  node("Div", ["num", "den"], ["out"])]
    return _written(nodes, [numpy_helper.from_array(np.asarray(value), name)
                            for name, value in constants.items()], n_features, np.float64)


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
    return _written(nodes, initializers, n_features, np.float32)
