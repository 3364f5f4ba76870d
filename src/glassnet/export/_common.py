"""What every export shares: the parity check, its report, and the errors.

An export is only trusted once it has been *run*: the exported model and the glassnet
network see the same batch of inputs (256 bundled MNIST digits when the network takes
784 inputs, seeded random inputs otherwise) and the largest absolute difference between
their outputs must stay within ``tolerance`` (1e-5 in float32 by default).

Why the tolerance grows with outputs above 1: float32 keeps about 7 significant digits, so a
logit of 44 (a confident, trained network) is only known to about 5e-6 and two correct float32
engines, summing in different orders, differ by a few of those steps. The check therefore
allows ``tolerance * max(1, largest |output|)``: exactly ``tolerance`` for probabilities and
outputs up to 1, the same *relative* precision for larger ones.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..activations import ACTIVATIONS
from ..datasets import load_digits
from ..errors import GlassnetError
from ..layers import Dense, Dropout
from ..network import Network

#: The largest absolute difference an export may show against glassnet (float32).
TOLERANCE = 1e-5

#: How many samples the parity check runs.
PARITY_SAMPLES = 256

#: The layer types every export understands (exact types: a subclass may behave differently): Dense,
#: Dropout and every registered activation, which carries its own ONNX and PyTorch equivalents.
SUPPORTED_LAYERS = (Dense, Dropout, *ACTIVATIONS.values())


class ExportError(GlassnetError, ValueError):
    """A network cannot be exported (or imported) as asked."""


class UnsupportedLayerError(ExportError, TypeError):
    """A layer (or a torch module) has no equivalent on the other side."""


class ParityError(ExportError):
    """The exported model's outputs differ from glassnet's by more than the tolerance.

    Attributes:
        report: the :class:`ParityReport` that failed.
    """

    def __init__(self, report):
        super().__init__(f"{report}; nothing was written. Unless the tolerance was set very low, the exported model "
                         f"does not compute what the glassnet network computes: please report this as a bug in "
                         f"glassnet's export, with the model")
        self.report = report


@dataclass(frozen=True)
class ParityReport:
    """How closely an exported model reproduces the glassnet network.

    ``max_abs_diff = max |exported(X) - net(X)|`` over every output of every sample; the export
    passes when it is at most ``allowed = tolerance * max(1, max_abs_output)``.
    """

    target: str            # "onnxruntime", "torch", ...
    inputs: str            # "bundled digits" or "seeded random inputs"
    n_samples: int
    max_abs_diff: float
    max_abs_output: float  # the scale of the outputs, to judge the difference against
    tolerance: float = TOLERANCE
    path: str | None = None  # the file written, if any

    @property
    def allowed(self):
        """The largest difference accepted: ``tolerance``, scaled by the outputs' size above 1."""
        return self.tolerance * max(1.0, self.max_abs_output)

    @property
    def passed(self):
        return bool(self.max_abs_diff <= self.allowed)

    def to_dict(self) -> dict:
        return {"target": self.target, "inputs": self.inputs, "n_samples": self.n_samples,
                "max_abs_diff": self.max_abs_diff, "max_abs_output": self.max_abs_output,
                "tolerance": self.tolerance, "allowed": self.allowed, "passed": self.passed, "path": self.path}

    def __str__(self):
        verdict = "OK" if self.passed else "FAILED"
        where = f" ({self.path})" if self.path else ""
        return (f"parity {verdict}{where}: {self.target} and glassnet agree on {self.n_samples} {self.inputs} "
                f"to max |difference| = {self.max_abs_diff:.3g} (allowed {self.allowed:.3g}: tolerance "
                f"{self.tolerance:g} x max(1, largest |output| {self.max_abs_output:.3g}))")


def check_layers(net, what):
    """Refuse, before any work, a network holding a layer ``what`` cannot express; names the layer."""
    if not isinstance(net, Network):
        hint = " (a scikit-learn estimator: pass its network, estimator.net_)" if hasattr(net, "net_") else ""
        raise TypeError(f"{what} expected a glassnet Network, received {type(net).__name__}{hint}")
    for i, layer in enumerate(net.layers):
        if type(layer) not in SUPPORTED_LAYERS:
            names = ", ".join(cls.__name__ for cls in SUPPORTED_LAYERS)
            raise UnsupportedLayerError(
                f"{what}: layer {i} {layer!r} (type {type(layer).__module__}.{type(layer).__qualname__}) has no "
                f"{what.split('_')[-1]} equivalent; supported layers are {names}")


def check_output_paths(what, *paths):
    """Refuse, before any work, an output path that is an existing folder or lies inside a file."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            raise ExportError(f"{what}: expected a file path to write, received {str(path)!r}, an existing folder")
        file = next((parent for parent in path.parents if parent.exists() and not parent.is_dir()), None)
        if file is not None:
            raise ExportError(f"{what}: expected a file path to write, received {str(path)!r}, inside {file}, "
                              f"which is a file")


def parity_inputs(net: Network, n_samples: int = PARITY_SAMPLES, seed: int = 0) -> tuple[np.ndarray, str]:
    """``(X, description)``: bundled test digits for a 784-input network, else seeded normal inputs (float32)."""
    if net.n_features == 784:
        return load_digits().X_test[:n_samples].astype(np.float32), "bundled digits"
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_samples, net.n_features)).astype(np.float32), "seeded random inputs"


def reference_outputs(net, X, probabilities=False):
    """What glassnet computes for ``X`` (prediction mode), optionally as probabilities like ``predict_proba``."""
    return net.predict_proba(X) if probabilities else net.forward(X.astype(net.dtype, copy=False))


def compare(target, expected, received, inputs, tolerance=TOLERANCE, path=None):
    """A :class:`ParityReport` for two output arrays; raises :class:`ParityError` if they differ too much."""
    expected, received = np.asarray(expected), np.asarray(received)
    if expected.shape != received.shape:
        raise ExportError(f"parity: {target} returned outputs of shape {received.shape}, glassnet {expected.shape}")
    diff = np.abs(expected.astype(np.float64) - received.astype(np.float64))
    max_diff = float(diff.max()) if diff.size else 0.0
    if not np.isfinite(max_diff):
        max_diff = float("inf")
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    report = ParityReport(target, inputs, len(expected), max_diff, scale, tolerance,
                          None if path is None else str(path))
    if not report.passed:
        raise ParityError(report)
    return report
