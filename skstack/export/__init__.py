"""Export of fitted ensembles to run without the training stack.

:func:`export_onnx` writes a fitted AutoStack (or a pipeline of its shape) as one ONNX
model, which ``onnxruntime`` (or any ONNX runtime, in any language) scores without Python,
scikit-learn or the model libraries; :func:`onnx_inputs` makes its inputs from a frame.
Needs the ``onnx`` extra (``pip install skstack[onnx]``).
"""

from ..families._onnx import NotConvertible
from ._onnx import export_onnx, onnx_inputs

__all__ = ["NotConvertible", "export_onnx", "onnx_inputs"]
