"""A small builder of one ONNX graph, into which converted models are inlined.

The exported ensemble is one graph: the preprocessing, every fold model, the stacking and
the blend. The model converters (onnxmltools, skl2onnx, CatBoost's own) each give a whole
model; :meth:`Graph.inline` copies one in under fresh names, wired to tensors already in
the graph, so that all of them share one set of inputs and run in one session.
"""

import numpy as np

from ..families._onnx import ML_OPSET, OPSET

__all__ = ["ML_DOMAIN", "Graph"]

ML_DOMAIN = "ai.onnx.ml"


class Graph:
    """Nodes, initializers and opsets of the graph being built, under unique names."""

    def __init__(self):
        self.nodes, self.initializers = [], []
        self.opsets = {"": OPSET, ML_DOMAIN: ML_OPSET}
        self._count = 0
        self._casts = {}

    def name(self, hint):
        """A tensor name not used before."""
        self._count += 1
        return f"{hint}_{self._count}"

    def op(self, op_type, inputs, n_outputs=1, domain="", hint=None, **attributes):
        """Add one node; the name of its output (a list when ``n_outputs`` > 1)."""
        from onnx import helper

        outputs = [self.name(hint or op_type.lower()) for _ in range(n_outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs,
                                           name=self.name(f"node_{op_type}"),
                                           domain=domain, **attributes))
        return outputs[0] if n_outputs == 1 else outputs

    def cast(self, tensor, to):
        """``tensor`` cast to the element type ``to``, once however often it is asked
        for (every fold model of a bag reads its input as float32)."""
        if (tensor, to) not in self._casts:
            self._casts[(tensor, to)] = self.op("Cast", [tensor], to=to)
        return self._casts[(tensor, to)]

    def const(self, value, dtype=None, hint="const"):
        """A constant tensor, stored as an initializer."""
        from onnx import numpy_helper

        array = np.asarray(value, dtype=dtype)
        if array.dtype.kind in "OU":
            array = array.astype(object)
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def inline(self, model, feeds):
        """Copy the graph of ``model`` (a ModelProto) in; its outputs' names here.

        ``feeds`` maps each of its input names to a tensor of this graph. Every other name
        it uses gets a prefix of its own, so that two inlined models never collide.
        """
        from onnx import helper

        graph = model.graph
        prefix = self.name("model") + "/"
        rename = {inp.name: feeds[inp.name] for inp in graph.input
                  if inp.name not in {init.name for init in graph.initializer}}

        def renamed(name):
            return "" if not name else rename.get(name, prefix + name)

        for initializer in graph.initializer:
            copy = type(initializer)()
            copy.CopyFrom(initializer)
            copy.name = prefix + initializer.name
            self.initializers.append(copy)
        for node in graph.node:
            if any(attribute.g.node or attribute.graphs for attribute in node.attribute):
                raise ValueError(f"A converted model holds a subgraph ({node.op_type}), "
                                 "which cannot be inlined.")
            self.nodes.append(helper.make_node(
                node.op_type, [renamed(name) for name in node.input],
                [renamed(name) for name in node.output],
                name=prefix + (node.name or self.name(node.op_type)), domain=node.domain))
            self.nodes[-1].attribute.extend(node.attribute)
        for opset in model.opset_import:
            domain = opset.domain or ""
            self.opsets[domain] = max(self.opsets.get(domain, 0), opset.version)
        return {output.name: renamed(output.name) for output in graph.output}

    def model(self, inputs, outputs, metadata):
        """The ModelProto of the graph.

        ``inputs`` and ``outputs``: ``(name, element type, shape)``; ``metadata``: the
        ``metadata_props`` (str to str) that say how to feed it.
        """
        from onnx import checker, helper

        graph = helper.make_graph(
            self.nodes, "skstack",
            [helper.make_tensor_value_info(*spec) for spec in inputs],
            [helper.make_tensor_value_info(*spec) for spec in outputs],
            initializer=self.initializers)
        model = helper.make_model(graph, producer_name="skstack", opset_imports=[
            helper.make_opsetid(domain, version) for domain, version in self.opsets.items()])
        model.ir_version = min(model.ir_version, 8)  # what onnxruntime of 2022 on reads
        helper.set_model_props(model, metadata)
        checker.check_model(model)
        return model
