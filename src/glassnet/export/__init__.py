"""Graduate without retraining: move a trained network, unchanged, to ONNX Runtime or PyTorch.

- :func:`to_onnx` writes an ONNX model (serve it anywhere ONNX Runtime runs); extra ``onnx``.
- :func:`to_torch` gives a ``torch.nn.Sequential`` with the same weights, :func:`from_torch`
  brings one back, :func:`save_torch` writes a ``.pt`` state dict plus readable Python that
  rebuilds the module (to keep training on GPUs), :func:`to_torch_optimizer` carries the
  optimizer and its state over to ``torch.optim``; extra ``torch``.

Every export is run before it is trusted: the exported model and glassnet see the same real
inputs and must agree to 1e-5 (a :class:`ParityReport`, or :class:`ParityError`). A layer
with no equivalent (a custom ``Layer`` subclass) raises :class:`UnsupportedLayerError`
naming it. Importing this package needs only NumPy; ONNX and torch are imported when used.

Not here: importing ONNX files, TorchScript, learning-rate schedules.
"""

from ._common import (
    SUPPORTED_LAYERS,
    TOLERANCE,
    ExportError,
    ParityError,
    ParityReport,
    UnsupportedLayerError,
    parity_inputs,
)
from .onnx import DEFAULT_OPSET, to_onnx, to_onnx_bytes
from .torch import from_torch, save_torch, to_torch, to_torch_optimizer, torch_parity, torch_source

__all__ = ["to_onnx", "to_onnx_bytes", "to_torch", "from_torch", "save_torch", "torch_source", "torch_parity",
           "to_torch_optimizer", "ParityReport", "ParityError", "ExportError", "UnsupportedLayerError", "parity_inputs",
           "DEFAULT_OPSET", "TOLERANCE", "SUPPORTED_LAYERS"]
