"""Export a network to ONNX, to serve it anywhere ONNX Runtime runs.

The graph is the network written out in ONNX operators, layer by layer::

    Dense            Gemm(x, W, b, transB=1)     # Z = X W^T + b; W stays (n_out, n_in)
    Dropout          Identity                     # dropout does nothing at inference
    an activation    what its ``onnx(graph, x)`` writes: ReLU -> Relu, LeakyReLU(a) -> LeakyRelu(alpha=a),
                     Sigmoid / Tanh -> Sigmoid / Tanh, Softmax -> Softmax(axis=-1) (per row), ...

This module names no activation: each one, in ``glassnet.activations``, writes its own nodes
through a small builder (:class:`_Graph`), so a new activation exports without a change here.

Input ``"input"`` is float32 ``(batch, n_features)`` and output ``"output"`` float32
``(batch, n_outputs)``; the batch axis is dynamic. Weights are stored as initializers
named like glassnet's parameters (``"0.weights"``, ``"0.biases"``, ...). Default opset:
:data:`DEFAULT_OPSET` (17); any opset from 13 on works (Softmax's per-row meaning is fixed
since 13). Needs the ``onnx`` extra (``onnx`` and ``onnxruntime``, which checks every export).

Not here: importing ONNX files into glassnet, quantisation, other dtypes than float32.
"""

import json
import os
from pathlib import Path

import numpy as np

from .._io import atomic_write_bytes
from .._version import __version__
from ..activations import Sigmoid, Softmax
from ..errors import require
from ..layers import Dense, Dropout
from ..network import Network
from ._common import (
    TOLERANCE,
    ParityReport,
    check_layers,
    check_output_paths,
    compare,
    parity_inputs,
    reference_outputs,
)

#: The ONNX opset written unless ``opset=`` says otherwise.
DEFAULT_OPSET = 17
#: The oldest opset accepted (Softmax over the last axis of a 2-D input since opset 13).
MIN_OPSET = 13

def to_onnx(net: Network, path: str | os.PathLike[str], *, softmax: bool = False, opset: int = DEFAULT_OPSET,
            tolerance: float = TOLERANCE) -> ParityReport:
    """Write ``net`` as an ONNX model to ``path`` and check it in ONNX Runtime; returns a ``ParityReport``.

    Before anything is written the model passes ``onnx.checker`` and runs in ONNX Runtime on a
    batch of real inputs; the file is only written (atomically) if its outputs match glassnet's
    (max absolute difference at most ``tolerance * max(1, largest |output|)``), otherwise
    :class:`ParityError` is raised.

    Args:
        net: a ``Network`` of Dense, Dropout and activation layers.
        path: the ``.onnx`` file to write.
        softmax: add a final Softmax (a Sigmoid for a single output) so the model returns what
            ``net.predict_proba`` returns; nothing is added if the network already ends in one.
            Default ``False``: the model returns ``net.forward``'s outputs (logits).
        opset: ONNX opset version, from 13 on (default 17).
        tolerance: largest absolute difference accepted by the parity check (for outputs up to 1;
            scaled by the largest |output| above that, see :class:`ParityReport`).

    Raises:
        UnsupportedLayerError: a layer has no ONNX equivalent (e.g. a custom ``Layer`` subclass).
        ParityError: ONNX Runtime's outputs differ from glassnet's by more than allowed.

    Example (needs ``pip install "glassnet[onnx]"``)::

        report = gn.export.to_onnx(net, "model.onnx")
        print(report)   # parity OK (model.onnx): onnxruntime and glassnet agree on 256 bundled digits ...
    """
    check_output_paths("to_onnx", path)
    data, report = _export(net, softmax=softmax, opset=opset, tolerance=tolerance, path=path)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)
    return report


def to_onnx_bytes(net: Network, *, softmax: bool = False, opset: int = DEFAULT_OPSET,
                  tolerance: float = TOLERANCE) -> tuple[bytes, ParityReport]:
    """``(serialized ONNX model, ParityReport)`` without writing a file (same checks as :func:`to_onnx`)."""
    return _export(net, softmax=softmax, opset=opset, tolerance=tolerance, path=None)


def _export(net, *, softmax, opset, tolerance, path):
    onnx = require("onnx", "onnx")
    ort = require("onnxruntime", "onnx")
    check_layers(net, "to_onnx")
    max_opset = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= max_opset:
        raise ValueError(f"to_onnx: opset expected an integer from {MIN_OPSET} to {max_opset} (the newest this "
                         f"onnx knows), received {opset!r}")
    if not isinstance(softmax, (bool, np.bool_)):
        raise TypeError(f"to_onnx: softmax expected a bool, received {softmax!r}")
    model = build_model(net, softmax=bool(softmax), opset=int(opset))
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    X, inputs = parity_inputs(net)
    (received,) = session.run(None, {"input": X})
    expected = reference_outputs(net, X, probabilities=bool(softmax))
    return data, compare("onnxruntime", expected, received, inputs, tolerance, path)


class _Graph:
    """The small builder layers write their ONNX nodes through (so ``activations.py`` never imports onnx).

    ``node(op_type, inputs, **attributes)`` adds one node and returns its output's name;
    ``constant(value)`` adds a float32 scalar and returns its name; ``opset`` is the opset being written.
    Names start with the layer's (``"3.GELU"``, ``"3.GELU.2"``), so the graph reads like the network.
    """

    def __init__(self, onnx, opset):
        self.helper, self.numpy_helper = onnx.helper, onnx.numpy_helper
        self.opset = opset
        self.nodes, self.initializers = [], []
        self.prefix, self.count = "", 0

    def layer(self, prefix):
        """Name what follows after ``prefix`` (a layer's index and class); returns the builder."""
        self.prefix, self.count = prefix, 0
        return self

    def _name(self):
        self.count += 1
        return self.prefix if self.count == 1 else f"{self.prefix}.{self.count}"

    def node(self, op_type, inputs, **attributes):
        name = self._name()
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [name], name=name, **attributes))
        return name

    def constant(self, value):
        name = self._name()
        self.initializers.append(self.numpy_helper.from_array(np.array(value, dtype=np.float32), name))
        return name

    def initializer(self, array, name):
        self.initializers.append(self.numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name


def _layer_nodes(graph, i, layer, x):
    """Write layer ``i``'s nodes and return the name of its output; an activation writes its own (``layer.onnx``)."""
    graph.layer(f"{i}.{type(layer).__name__}")
    if isinstance(layer, Dense):                     # Z = X W^T + b, W kept as glassnet's (n_out, n_in)
        W, b = graph.initializer(layer.weights, f"{i}.weights"), graph.initializer(layer.biases, f"{i}.biases")
        return graph.node("Gemm", [x, W, b], transB=1)
    if isinstance(layer, Dropout):
        return graph.node("Identity", [x])           # dropout does nothing at inference
    return layer.onnx(graph, x)


def build_model(net, *, softmax=False, opset=DEFAULT_OPSET):
    """The ONNX ``ModelProto`` for ``net`` (not checked or run: :func:`to_onnx` does that)."""
    onnx = require("onnx", "onnx")
    helper = onnx.helper
    check_layers(net, "to_onnx")
    graph = _Graph(onnx, opset)
    x = "input"
    for i, layer in enumerate(net.layers):
        x = _layer_nodes(graph, i, layer, x)
    if softmax and not net.outputs_probabilities():  # what predict_proba adds: a sigmoid for one output
        head = Sigmoid() if net.n_outputs == 1 else Softmax()
        x = head.onnx(graph.layer(f"probabilities.{type(head).__name__}"), x)
    graph.nodes.append(helper.make_node("Identity", [x], ["output"], name="output"))

    float32 = onnx.TensorProto.FLOAT
    onnx_graph = helper.make_graph(
        graph.nodes, "glassnet",
        inputs=[helper.make_tensor_value_info("input", float32, ["batch", net.n_features])],
        outputs=[helper.make_tensor_value_info("output", float32, ["batch", net.n_outputs])],
        initializer=graph.initializers)
    opsets = [helper.make_opsetid("", opset)]
    what = "probabilities (softmax)" if softmax else "network outputs (logits unless the network ends in softmax)"
    model = helper.make_model(
        onnx_graph, opset_imports=opsets, producer_name="glassnet", producer_version=__version__,
        ir_version=helper.find_min_ir_version_for(opsets),
        doc_string=f"glassnet network: input (batch, {net.n_features}) float32 -> output (batch, "
                   f"{net.n_outputs}) float32, {what}")
    helper.set_model_props(model, {"glassnet.architecture": json.dumps(net.get_config())})
    return model
