"""PyTorch export and import: the same network as a ``torch.nn.Sequential``, and back.

Each glassnet layer becomes one torch module, in the same position, so parameter names
line up (glassnet ``"0.weights"`` is torch ``"0.weight"``)::

    Dense(n_in, n_out)   nn.Linear(n_in, n_out)      # weight (n_out, n_in): the same layout, a plain copy
    Dropout(p)           nn.Dropout(p)
    an activation        its torch_module(): ReLU -> nn.ReLU(), LeakyReLU(alpha) -> nn.LeakyReLU(negative_slope=alpha),
                         Softmax -> nn.Softmax(dim=1), ...; and back through its from_torch_module(module)

This module names no activation: each one, in ``glassnet.activations``, declares its torch
equivalent both ways, so a new activation exports and imports without a change here.

``to_torch(net)`` returns that module (in eval mode, float32 or float64 like the network);
``from_torch(module)`` reads a ``Sequential`` of those modules (plus a ``Flatten`` at the
start) into a glassnet ``Network``; ``save_torch(net, "model.pt")`` writes the state dict and
a short Python file that rebuilds the module, so training can go on in PyTorch (GPUs,
``DistributedDataParallel``). Every export is run against glassnet on real inputs first
(see :class:`~glassnet.export.ParityReport`). Needs the ``torch`` extra.

``to_torch_optimizer`` carries a glassnet optimizer (settings and state) over to ``torch.optim``.

Not here: other torch modules (convolutions, normalisation...), TorchScript, learning-rate schedules.
"""

import io
import json
import keyword
import os
import re
import types
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_bytes, atomic_write_text
from .._version import __version__
from ..activations import ACTIVATIONS
from ..errors import require
from ..layers import Dense, Dropout
from ..network import Network
from ..optimizers import SGD, Adam, AdamW
from ._common import (
    TOLERANCE,
    ExportError,
    ParityReport,
    UnsupportedLayerError,
    check_layers,
    check_output_paths,
    compare,
    parity_inputs,
    reference_outputs,
)

_TORCH_DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}


def _torch():
    return require("torch", "torch")


# -- glassnet -> torch ---------------------------------------------------------------------
def _module_for(layer, torch, dtype):
    """The torch module that computes what ``layer`` computes (a Linear's weights are left uninitialised)."""
    nn = torch.nn
    if isinstance(layer, Dense):   # skip_init: no random init, so torch's global random state is left alone
        return torch.nn.utils.skip_init(nn.Linear, layer.n_in, layer.n_out, dtype=dtype)
    if isinstance(layer, Dropout):
        return nn.Dropout(p=layer.p)
    name, settings = layer.torch_module()            # an activation names its own torch equivalent
    return getattr(nn, name)(**settings)


def to_torch(net: Network, *, tolerance: float = TOLERANCE) -> Any:  # a torch.nn.Sequential (torch: an extra)
    """A ``torch.nn.Sequential`` computing what ``net`` computes, with a copy of its weights.

    The module is in eval mode (call ``.train()`` to keep training) and has the network's dtype.
    Before it is returned, its outputs are compared with glassnet's on a batch of real inputs.

    Raises:
        UnsupportedLayerError: a layer has no torch equivalent (e.g. a custom ``Layer`` subclass).
        ParityError: the module's outputs differ from glassnet's by more than allowed.

    Example (needs torch)::

        module = gn.export.to_torch(net)          # Sequential(Linear(784, 128), ReLU(), ...)
        module(torch.from_numpy(X)).argmax(1)     # the same predictions as net.predict(X)
    """
    module = _build_module(net)
    torch_parity(net, module, tolerance=tolerance)
    return module


def _build_module(net):
    torch = _torch()
    check_layers(net, "to_torch")
    if net.dtype not in _TORCH_DTYPES:
        raise ExportError(f"to_torch: expected a float32 or float64 network, received {net.dtype}")
    dtype = getattr(torch, _TORCH_DTYPES[net.dtype])
    module = torch.nn.Sequential(*(_module_for(layer, torch, dtype) for layer in net.layers))
    with torch.no_grad():
        for i, layer in enumerate(net.layers):
            if isinstance(layer, Dense):     # the same (n_out, n_in) layout: a plain copy, no transpose
                module[i].weight.copy_(torch.from_numpy(np.array(layer.weights)))
                module[i].bias.copy_(torch.from_numpy(np.array(layer.biases)))
    return module.eval()


def torch_parity(net: Network, module, *, tolerance: float = TOLERANCE,
                 path: str | os.PathLike[str] | None = None) -> ParityReport:
    """Run ``module`` (in eval mode) and ``net`` on the same real inputs; returns a ``ParityReport``.

    Raises ``ParityError`` when the largest absolute difference is above
    ``tolerance * max(1, largest |output|)``.
    """
    torch = _torch()
    X, inputs = parity_inputs(net)
    was_training = module.training
    module.eval()
    try:
        param = next(module.parameters(), None)
        dtype = param.dtype if param is not None else torch.float32
        device = param.device if param is not None else "cpu"
        with torch.no_grad():
            received = module(torch.from_numpy(X).to(device=device, dtype=dtype)).cpu().numpy()
    finally:
        module.train(was_training)
    return compare("torch", reference_outputs(net, X), received, inputs, tolerance, path)


def to_torch_optimizer(optimizer, module) -> Any:  # a torch.optim optimizer
    """The ``torch.optim`` optimizer with ``optimizer``'s settings *and state*, for ``module``'s parameters.

    So training can continue in PyTorch exactly where glassnet stopped: SGD becomes
    ``torch.optim.SGD`` (its velocities become ``momentum_buffer``), Adam and AdamW become
    ``torch.optim.Adam``/``AdamW`` (moments ``m``, ``v`` become ``exp_avg``, ``exp_avg_sq``, and the
    step count carries over). ``module`` must be ``to_torch(net)`` of the network the optimizer
    trained. A learning-rate schedule is not carried over: torch gets the rate the next glassnet
    step would have used (attach a ``torch.optim.lr_scheduler`` for the rest).
    """
    torch = _torch()
    params = list(module.parameters())
    kind = type(optimizer)
    if kind not in (SGD, Adam, AdamW):
        raise ExportError(f"to_torch_optimizer: expected a glassnet SGD, Adam or AdamW, received {kind.__name__}")
    for i, bufs in optimizer.state.items():
        for name, buf in bufs.items():
            if i >= len(params) or tuple(params[i].shape) != buf.shape:
                raise ExportError(f"to_torch_optimizer: optimizer state {i}.{name} of shape {buf.shape} does not fit "
                                  f"the module's parameters; pass the module made by to_torch from the same network")
    lr = optimizer.lr
    if kind is SGD:
        torch_opt = torch.optim.SGD(params, lr=lr, momentum=optimizer.momentum, nesterov=optimizer.nesterov,
                                    weight_decay=optimizer.weight_decay)
    else:
        cls = torch.optim.Adam if kind is Adam else torch.optim.AdamW
        torch_opt = cls(params, lr=lr, betas=(optimizer.beta1, optimizer.beta2), eps=optimizer.eps,
                        weight_decay=optimizer.weight_decay)
    for i, bufs in optimizer.state.items():
        p = params[i]
        if kind is SGD:
            if "velocity" in bufs:
                torch_opt.state[p] = {"momentum_buffer": _tensor_like(bufs["velocity"], p)}
        else:   # glassnet's step t = iterations + 1, torch adds 1 to its count before the step: the same t
            torch_opt.state[p] = {"step": torch.tensor(float(optimizer.iterations)),
                                  "exp_avg": _tensor_like(bufs["m"], p), "exp_avg_sq": _tensor_like(bufs["v"], p)}
    return torch_opt


def _tensor_like(array, p):
    """A copy of ``array`` as a tensor on ``p``'s device, in ``p``'s dtype."""
    return _torch().from_numpy(np.array(array)).to(device=p.device, dtype=p.dtype)


# -- torch -> glassnet ---------------------------------------------------------------------
def _flatten(module, prefix=""):
    """``[(name, module)]`` with nested ``Sequential`` containers opened up."""
    nn = _torch().nn
    out = []
    for name, child in module.named_children():
        if type(child) is nn.Sequential:
            out += _flatten(child, f"{prefix}{name}.")
        else:
            out.append((f"{prefix}{name}", child))
    return out


def _parameter(tensor, where):
    """A NumPy copy of a float32/float64 tensor (from any device)."""
    torch = _torch()
    if tensor.dtype not in (torch.float32, torch.float64):
        raise ExportError(f"from_torch: {where} expected float32 or float64 parameters, received {tensor.dtype}; "
                          f"convert the module first, e.g. module.float()")
    return np.array(tensor.detach().cpu().numpy(), copy=True)


def from_torch(module) -> Network:
    """A glassnet ``Network`` from a ``torch.nn.Sequential``, with a copy of its weights.

    Understood: ``Linear`` (with or without bias), ``Dropout``, nested ``Sequential``, a ``Flatten`` at
    the start (glassnet then takes flattened inputs: ``X.reshape(len(X), -1)``), and the torch module
    of every glassnet activation (``ReLU``, ``LeakyReLU`` with its slope, ``Sigmoid``, ``Tanh``,
    ``Softmax`` over dim 1, ``Identity``, ...: see ``glassnet.activations.ACTIVATIONS``).

    Raises:
        UnsupportedLayerError: any other module, named with its position.
        TypeError: ``module`` is not a ``Sequential``.
    """
    torch = _torch()
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"from_torch expected a torch.nn.Sequential, received {type(module).__name__}; "
                        f"wrap a single layer as nn.Sequential(layer)")
    children = _flatten(module)
    linears = [m for _, m in children if type(m) is nn.Linear]
    if not linears:
        raise ExportError("from_torch: the Sequential has no Linear layer, so the number of inputs is unknown; "
                          "glassnet networks start from Linear (Dense) layers")
    dtypes = {m.weight.dtype for m in linears}
    if len(dtypes) > 1:
        raise ExportError(f"from_torch: expected one dtype for every Linear layer, received {sorted(map(str, dtypes))}")
    dtype = np.float64 if dtypes.pop() == torch.float64 else np.float32
    layers = []
    for position, (name, child) in enumerate(children):
        layer = _layer_for(child, name, position, nn, dtype)
        if layer is not None:
            layers.append(layer)
    return Network(layers, n_features=linears[0].in_features)


def _layer_for(child, name, position, nn, dtype):
    """The glassnet layer for one torch module (``None`` for a leading ``Flatten``)."""
    kind = type(child)
    where = f"module {name} ({child!r})"
    if kind is nn.Flatten:
        if position != 0 or child.start_dim != 1 or child.end_dim != -1:
            raise UnsupportedLayerError(f"from_torch: {where}: Flatten is only understood as the first module, "
                                        f"flattening everything after the batch axis (start_dim=1, end_dim=-1)")
        return None
    if kind is nn.Linear:
        layer = Dense(child.in_features, child.out_features, init="zeros", dtype=dtype)
        layer.weights = _parameter(child.weight, where)          # (out, in): the same layout
        if child.bias is not None:                                # no bias: biases stay 0, the same maths
            layer.biases = _parameter(child.bias, where)
        return layer
    if kind is nn.Dropout:
        return Dropout(float(child.p))
    activations = {getattr(nn, cls.torch_name): cls for cls in ACTIVATIONS.values()}
    if kind in activations:                          # the activation reads its own settings off the module
        try:
            return activations[kind].from_torch_module(child)
        except (TypeError, ValueError) as exc:
            raise UnsupportedLayerError(f"from_torch: {where}: {exc}") from None
    supported = ", ".join(["Linear", *(cls.torch_name for cls in ACTIVATIONS.values()), "Dropout", "Sequential",
                           "Flatten (first)"])
    raise UnsupportedLayerError(f"from_torch: {where} at position {position} has no glassnet equivalent; "
                                f"supported modules: {supported}")


# -- a state dict plus the Python that rebuilds the module -----------------------------------------
def save_torch(net: Network, path: str | os.PathLike[str], *, tolerance: float = TOLERANCE) -> ParityReport:
    """Write ``path`` (a ``.pt`` state dict) and, beside it, ``.py`` code that rebuilds the module.

    The ``.pt`` file holds tensors only (``torch.load(path, weights_only=True)`` reads it). The
    Python file defines ``build()`` (the ``nn.Sequential``) and ``load()`` (``build()`` with the
    saved weights). Before anything is written, the generated code is run, loads the state dict
    and is compared with glassnet on real inputs. Returns the ``ParityReport``.
    """
    torch = _torch()
    path = Path(path)
    if path.suffix != ".pt":
        raise ValueError(f"save_torch: expected a path ending in .pt, received {str(path)!r}")
    code_path = path.with_suffix(".py")
    check_output_paths("save_torch", path, code_path)
    state = _build_module(net).state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    weights = buffer.getvalue()
    source = torch_source(net, weights_file=path.name)

    # Run the code exactly as the user will, before writing anything.
    namespace = types.ModuleType(_module_name(code_path))
    namespace.__file__ = str(code_path)
    exec(compile(source, str(code_path), "exec"), namespace.__dict__)
    module = namespace.build()
    module.load_state_dict(torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True))
    report = torch_parity(net, module, tolerance=tolerance, path=path)

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, weights)
    atomic_write_text(code_path, source)
    return report


def _module_name(path):
    """A valid Python module name from a file name (``digits-v2.py`` -> ``digits_v2``)."""
    name = re.sub(r"\W", "_", path.stem) or "model"
    return f"_{name}" if name[0].isdigit() or keyword.iskeyword(name) else name


def _torch_line(layer):
    """One ``nn.Sequential`` entry as source text."""
    if isinstance(layer, Dense):
        return f"nn.Linear({layer.n_in}, {layer.n_out})"
    if isinstance(layer, Dropout):
        return f"nn.Dropout(p={layer.p!r})"
    name, settings = layer.torch_module()
    return f"nn.{name}({', '.join(f'{key}={value!r}' for key, value in settings.items())})"


def torch_source(net: Network, weights_file: str = "model.pt") -> str:
    """The Python code that rebuilds ``net`` as an ``nn.Sequential`` and loads ``weights_file`` into it."""
    check_layers(net, "to_torch")
    entries = [_torch_line(layer) for layer in net.layers]
    width = max(len(e) for e in entries) + 1
    body = "\n".join(f"        {(e + ','):<{width}}  # {i}: glassnet {layer.summary_name()}"
                     for i, (e, layer) in enumerate(zip(entries, net.layers)))
    to_dtype = ".to(torch.float64)" if net.dtype == np.float64 else ""
    rand_dtype = ", dtype=torch.float64" if net.dtype == np.float64 else ""
    ends_in_probabilities = net.outputs_probabilities()
    outputs = "probabilities" if ends_in_probabilities else "logits (softmax gives probabilities)"
    loss_hint = ("# glassnet's cross_entropy takes the logits, like nn.CrossEntropyLoss" if not ends_in_probabilities
                 else "# the network ends in a probability layer: drop it and use nn.CrossEntropyLoss on logits")
    return f'''"""A glassnet network as a PyTorch module (generated by glassnet {__version__}).

Input: (n_samples, {net.n_features}) {_TORCH_DTYPES[net.dtype]}; output: (n_samples, {net.n_outputs}) {outputs}.
The trained weights are in {weights_file} next to this file, a state dict of tensors only
(torch.load(path, weights_only=True) reads it without running any code).

    from {_module_name(Path(weights_file))} import load
    model = load()                      # the trained network, in eval mode
    model(torch.rand(1, {net.n_features}{rand_dtype}))

To keep training, for example on several GPUs with DistributedDataParallel
(launched with torchrun; see https://pytorch.org/docs/stable/notes/ddp.html):

    torch.distributed.init_process_group("nccl")
    rank = torch.distributed.get_rank()
    model = load(map_location=f"cuda:{{rank}}").train()
    model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[rank])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()   {loss_hint}
    for X, y in loader:                  # a DataLoader with a DistributedSampler
        optimizer.zero_grad()
        loss_fn(model(X.to(rank)), y.to(rank)).backward()
        optimizer.step()
"""

from pathlib import Path

import torch
from torch import nn

WEIGHTS = Path(__file__).with_name({json.dumps(weights_file)})


def build():
    """The architecture, with new (untrained) weights."""
    return nn.Sequential(
{body}
    ){to_dtype}


def load(path=WEIGHTS, map_location="cpu"):
    """``build()`` with the trained weights from ``path``, in eval mode."""
    model = build()
    model.load_state_dict(torch.load(path, map_location=map_location, weights_only=True))
    return model.to(map_location).eval()


if __name__ == "__main__":
    print(load())
'''
