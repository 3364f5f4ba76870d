"""Activations: the non-linear function each neuron applies to its weighted sum.

Without them a stack of layers is one big linear map. Each activation is a layer with no
parameters, and this module is the one place where each one is defined: its function
``a = f(z)`` and its derivative ``f'(z)``, written once as the pure methods ``function(z)`` and
``derivative(z)``, plus what everything else needs to know about it (its name, its formula as
text, the initializer that suits it, its ONNX and PyTorch equivalents). ``forward`` and
``backward`` are built from those two methods; so are ``explain``, ``gradcheck``, the app's
maths, saving, loading and both exporters, which loop over :data:`ACTIVATIONS` and never name
an activation themselves.

How to add an activation (the only files to touch are this one and its tests):

1. Write one class here: ``class Mish(Activation)`` with ``name = "mish"``, ``formula``,
   ``derivative_formula``, ``default_init``, ``function(z)`` and ``derivative(z, a=None)`` (any float
   dtype in, the same dtype out), ``onnx(graph, x)`` (the ONNX operators that compute it) and
   ``torch_name`` (its ``torch.nn`` class; override ``torch_module``/``from_torch_module`` if it has
   settings). Add it to :data:`ACTIVATIONS` at the bottom.
2. Add one line to ``REFERENCES`` in ``tests/test_activation_registry.py`` (an independent formula):
   that module then checks everything an activation must support, for every entry of the registry
   (derivative against finite differences, float32 against float64, gradcheck, save and load,
   ``explain``'s exact sums, ONNX Runtime and PyTorch parity, the CLI and ``Network.mlp``).

Not here: attention, normalisation, activations with learned parameters (PReLU), approximate
forms (GELU's tanh approximation).

Size: near 600 lines and growing by one class (about 40 lines) per activation, on purpose: every
activation, and the float64 error function GELU needs, in one place.
"""

import inspect
import math
from typing import Any, Self

import numpy as np

from ._validation import check_params
from .layers import Buffers, Layer


class Activation(Layer):
    """Base class of every activation: ``a = f(z)`` element-wise; ``backward`` multiplies by ``f'(z)``.

    Subclasses set the class attributes and write ``function`` and ``derivative``; ``forward``,
    ``infer`` and ``backward`` come from those (ReLU adds its fast lines beside them).

    Attributes:
        name: the registry key (``"relu"``): what ``Network.mlp(activation=...)``, the CLI and the app take.
        formula: ``a = f(z)`` as text, for the app's maths and the docs.
        derivative_formula: ``da/dz`` as text.
        default_init: the weight initializer ``Network.mlp`` uses before this activation.
        elementwise: False only for softmax, whose Jacobian is not diagonal (``derivative`` returns None).
        hidden: offered for hidden layers by :func:`names` (False for softmax).
        outputs_probabilities: True when ``a`` is a probability (softmax, sigmoid).
        torch_name: the ``torch.nn`` module that computes the same function.
        on_when_positive: True when a neuron is "on" for ``z > 0`` and "off" (``a <= 0``) otherwise
            (ReLU, leaky ReLU): explain counts the active ones, ``plots.activation_stats`` those that never fire.
        can_die: True when an "off" neuron passes no gradient, so one that is off for every input has
            stopped learning for good (ReLU); the diagnostics count such dead neurons.
        output_range: ``(low, high)`` for an activation bounded on both sides (sigmoid, tanh), where a
            neuron can *saturate*; None otherwise.
    """

    name: str | None = None
    formula = ""
    derivative_formula = ""
    default_init = "he"
    elementwise = True
    hidden = True
    outputs_probabilities = False
    torch_name: str | None = None
    on_when_positive = False
    can_die = False
    output_range: tuple[float, float] | None = None

    def __init__(self) -> None:
        super().__init__()
        self.z: np.ndarray | None = None             # the input of the last forward pass: backward needs f'(z)

    # -- the definition: pure, any float dtype, reads only the settings ----------------------------------
    def function(self, z: np.ndarray) -> np.ndarray:
        """``a = f(z)``, element-wise, in ``z``'s dtype."""
        raise NotImplementedError

    def derivative(self, z: np.ndarray, a: np.ndarray | None = None) -> np.ndarray | None:
        """``da/dz = f'(z)``, element-wise, in ``z``'s dtype; ``a``: ``f(z)`` when already known (saves work)."""
        raise NotImplementedError

    def backprop(self, z: np.ndarray, delta: np.ndarray, a: np.ndarray | None = None) -> np.ndarray:
        """``dL/dz`` from ``delta = dL/da`` at ``z``: ``delta * f'(z)`` (softmax: its Jacobian times delta). Pure."""
        return delta * self.derivative(z, a)

    # -- the layer: forward and backward, built from the definition -------------------------------------
    def forward(self, x: np.ndarray, training: bool = False, buffers: Buffers | None = None) -> np.ndarray:
        self.z = x                                   # backward needs f'(z)
        self.output = self.function(x)
        return self.output

    def infer(self, x: np.ndarray) -> np.ndarray:
        return self.function(x)                      # a prediction: a = f(z), nothing kept

    def backward(self, delta: np.ndarray, buffers: Buffers | None = None) -> np.ndarray:
        return self.backprop(self.z, delta, self.output)  # type: ignore[arg-type]  # z: set by forward

    # -- what the explainers and the exporters need ------------------------------------------------------
    def label(self) -> str | None:
        """Short name with the settings, as the app and ``explain`` show it: ``"relu"``, ``"leaky_relu(0.01)"``."""
        settings = ", ".join(f"{v:g}" for v in self.get_config().values())
        return f"{self.name}({settings})" if settings else self.name

    def onnx(self, graph: Any, x: str) -> str:
        """Emit the ONNX nodes computing ``a = f(x)`` through ``graph``; returns the output's name.

        ``graph`` is the exporter's small builder (this module never imports onnx):
        ``graph.node(op_type, inputs, **attributes)`` adds one node and returns its output's name,
        ``graph.constant(value)`` a float32 scalar's name, ``graph.opset`` the opset being written.
        """
        raise NotImplementedError

    def torch_module(self) -> tuple[str | None, dict]:
        """``(torch.nn class name, keyword arguments)`` of the module computing the same function."""
        return self.torch_name, {}

    @classmethod
    def from_torch_module(cls, module: Any) -> Self:
        """This activation for a ``torch.nn`` module of class ``torch_name``; ValueError (the reason) if it differs."""
        return cls()


class Identity(Activation):
    """``a = z``; ``da/dz = 1``. For linear outputs (regression) or to mark "no activation"."""

    name = "identity"
    formula = "a = z"
    derivative_formula = "da/dz = 1"
    default_init = "lecun"
    torch_name = "Identity"

    def function(self, z: np.ndarray) -> np.ndarray:
        return z

    def derivative(self, z: np.ndarray, a: np.ndarray | None = None) -> np.ndarray | None:
        return np.ones_like(z)

    def backprop(self, z: np.ndarray, delta: np.ndarray, a: np.ndarray | None = None) -> np.ndarray:
        return delta                                 # delta * 1

    def onnx(self, graph: Any, x: str) -> str:
        return graph.node("Identity", [x])


class ReLU(Activation):
    """Rectified linear unit: ``a = max(0, z)``; ``da/dz = 1 if z > 0 else 0``.

    Example:
        >>> ReLU().forward(np.array([[-1.0, 2.0]]))
        array([[0., 2.]])
    """

    name = "relu"
    on_when_positive = True
    can_die = True
    formula = "a = max(0, z)"
    derivative_formula = "da/dz = 1 if z > 0 else 0"
    default_init = "he"
    torch_name = "ReLU"

    def function(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0)

    def derivative(self, z: np.ndarray, a: np.ndarray | None = None) -> np.ndarray | None:
        return (z > 0).astype(z.dtype)

    def forward(self, x: np.ndarray, training: bool = False, buffers: Buffers | None = None) -> np.ndarray:
        if buffers is None:
            self.active = x > 0                      # f'(z) as a mask: which neurons fired
            self.output = self.function(x)
        else:                                        # fast path: the same, into reused buffers
            self.active = np.greater(x, 0, out=buffers.array("active", x.shape, bool))
            self.output = np.maximum(x, 0, out=buffers.array("a", x.shape, x.dtype))
        return self.output

    def backward(self, delta: np.ndarray, buffers: Buffers | None = None) -> np.ndarray:
        if buffers is None:
            return delta * self.active               # delta * f'(z)
        return np.multiply(delta, self.active, out=delta)  # fast path: delta is a training buffer, in place

    def onnx(self, graph: Any, x: str) -> str:
        return graph.node("Relu", [x])


class LeakyReLU(Activation):
    """``a = z if z > 0 else alpha * z``; ``da/dz = 1 if z > 0 else alpha`` (never fully dead).

    Args:
        alpha: slope for negative inputs, in ``[0, 1]`` (1 makes it the identity).
    """

    name = "leaky_relu"
    on_when_positive = True                          # off below 0, but it leaks: never dead
    formula = "a = z if z > 0 else alpha * z"
    derivative_formula = "da/dz = 1 if z > 0 else alpha"
    default_init = "he"
    torch_name = "LeakyReLU"
    _limits = {"alpha": ("float", 0.0, 1.0, False)}

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        check_params("LeakyReLU", self._limits, {"alpha": alpha})
        self.alpha = float(alpha)

    def function(self, z: np.ndarray) -> np.ndarray:
        return z * self.derivative(z)                # z * 1 or z * alpha

    def derivative(self, z: np.ndarray, a: np.ndarray | None = None) -> np.ndarray | None:
        return np.where(z > 0, 1.0, self.alpha).astype(z.dtype)

    def get_config(self) -> dict:
        return {"alpha": self.alpha}

    def onnx(self, graph: Any, x: str) -> str:
        return graph.node("LeakyRelu", [x], alpha=self.alpha)

    def torch_module(self) -> tuple[str | None, dict]:
        return self.torch_name, {"negative_slope": self.alpha}

    @classmethod
    def from_torch_module(cls, module: Any) -> Self:
        slope = float(module.negative_slope)
        if not 0.0 <= slope <= 1.0:
            raise ValueError(f"glassnet's LeakyReLU expected a slope in [0, 1], received negative_slope={slope}")
        return cls(slope)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` computed without overflow for large ``|z|``."""
    e = np.exp(-np.abs(z))                           # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def row_max(z: np.ndarray) -> np.ndarray:
    """Each row's largest entry, as a column ``(n, 1)``: ``z.max(axis=1, keepdims=True)`` (the textbook line).

    Fast line, for many short rows (a batch of 10 scores): NumPy reduces a contiguous row one row at a
    time, which for rows of 10 costs more than the comparisons (94 us for 1024 rows); comparing the
    columns of the transposed copy does the same comparisons a whole column at a time (7.5 us). The
    maximum is exact whatever the order, so the numbers are the same.

    Example:
        >>> row_max(np.array([[1.0, 3.0], [4.0, 2.0]]))
        array([[3.],
               [4.]])
    """
    if z.ndim != 2 or z.shape[0] < 16 or z.shape[1] > 64:
        return z.max(axis=1, keepdims=True)
    return np.maximum.reduce(np.ascontiguousarray(z.T), axis=0)[:, None]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise ``exp(z_k) / sum_j exp(z_j)``, shifted by the row maximum so ``exp`` never overflows."""
    e = np.exp(z - row_max(z))
    e /= e.sum(axis=1, keepdims=True)
    return e


class Sigmoid(Activation):
    """Logistic function: ``a = 1 / (1 + exp(-z))``; ``da/dz = a (1 - a)``."""

    name = "sigmoid"
    output_range = (0.0, 1.0)
    formula = "a = 1 / (1 + exp(-z))"
    derivative_formula = "da/dz = a (1 - a)"
    default_init = "glorot"
    outputs_probabilities = True
    torch_name = "Sigmoid"

    def function(self, z: np.ndarray) -> np.ndarray:
        return sigmoid(z)

    def derivative(self, z: np.ndarray, a: np.ndarray | None = None) -> np.ndarray | None:
        a = sigmoid(z) if a is None else a
        return a * (1 - a)

    def onnx(self, graph: Any, x: str) -> str:
        return graph.node("Sigmoid", [x])


class Tanh(Activation):
    """Hyperbolic tangent: ``a = tanh(z)``; ``da/dz = 1 - a^2``."""

    name = "tanh"
    output_range = (-1.0, 1.0)
    formula = "a = tanh(z)"
    derivative_formula = "da/dz = 1 - a^2"
    default_init = "glorot"
    torch_name = "Tanh"

    def function(self, z: np.ndarray) -> np.ndarray:
        return np.tanh(z)

    def derivative(self, z: np.ndarray, a: np.ndarray | None = None) -> np.ndarray | None:
        a = np.tanh(z) if a is None else a
        return 1 - a * a

    def onnx(self, graph: Any, x: str) -> str:
        return graph.node("Tanh", [x])


class Softmax(Activation):
    """Turns a row of scores into probabilities: ``a_k = exp(z_k) / sum_j exp(z_j)``.

    Not element-wise: each ``a_k`` depends on the whole row, so ``derivative`` is None and
    ``backprop`` is the Jacobian times delta: ``dz = a * (delta - sum_k delta_k a_k)``.
    Before a cross-entropy loss the network skips this and uses the fused, exact
    gradient ``softmax(z) - y`` from the logits instead.
    """

    name = "softmax"
    formula = "a_k = exp(z_k) / sum_j exp(z_j)"
    derivative_formula = "da_k/dz_j = a_k (1[k = j] - a_j)"
    default_init = "glorot"
    elementwise = False
    hidden = False
    outputs_probabilities = True
    torch_name = "Softmax"

    def function(self, z: np.ndarray) -> np.ndarray:
        return softmax(z)

    def derivative(self, z: np.ndarray, a: np.ndarray | None = None) -> np.ndarray | None:
        return None                                  # not element-wise: see backprop

    def backprop(self, z: np.ndarray, delta: np.ndarray, a: np.ndarray | None = None) -> np.ndarray:
        a = softmax(z) if a is None else a
        return a * (delta - np.sum(delta * a, axis=1, keepdims=True))

    def onnx(self, graph: Any, x: str) -> str:
        return graph.node("Softmax", [x], axis=-1)  # per row (the meaning since opset 13)

    def torch_module(self) -> tuple[str | None, dict]:
        return self.torch_name, {"dim": 1}

    @classmethod
    def from_torch_module(cls, module: Any) -> Self:
        if module.dim not in (1, -1, None):
            raise ValueError(f"expected Softmax over the features (dim=1 or -1), received dim={module.dim}")
        return cls()


# -- GELU, and the error function it needs ---------------------------------------------------------------
# NumPy has no vectorised erf (math.erf takes one number at a time), so here is one, to double precision
# (tested against math.erf and math.erfc over -30..30, the tails, +-0, +-inf and nan):
# - |x| < 0.75: the Taylor series erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1)), 17 terms;
# - |x| >= 0.75: erfc(x) = exp(-x^2) g(x), where g(x) = exp(x^2) erfc(x) is smooth and slowly varying,
#   so a ratio of two degree-7 polynomials follows it to 16 digits: in s = x - 1.375 on [0.75, 2), in
#   v = 1/x^2 (times 1/x) from 2 on. The coefficients were fitted for glassnet to 40-digit values of g
#   (mpmath), by relative least squares on Chebyshev nodes, iterated on the denominator (Sanathanan-Koerner).
_SQRT_PI = math.sqrt(math.pi)
_ERF_SERIES = tuple(2 / _SQRT_PI * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(17))
_ERFC_NEAR = ((0.3432958898621254, 0.4391503541079175, 0.25101473630299664, 0.0806287838542107,  # numerator
               0.015258805459801898, 0.001607686566270655, 7.359975345235952e-05, -9.32144770600243e-11),
              (1.0, 1.816117939346672, 1.4445009795349038, 0.6530105162256707, 0.1814374612762979,   # denominator
               0.03102836969622237, 0.0030289755419867868, 0.00013044792404878904))
_ERFC_FAR = ((0.5641895835477563, 16.805799644675385, 179.8515459191169, 866.79988142597, 1930.9126871591272,
              1823.8259590807793, 566.7720974838978, 24.73498508942174),
             (1.0, 30.287504297751347, 333.172317304578, 1682.1083182150364, 4063.8551212033844,
              4458.461161471956, 1885.437631527572, 198.79050567951117))


def _polynomial(coefficients, s):
    """``sum_k c_k s^k`` by Horner's rule, in place after the first product."""
    acc = s * coefficients[-1]
    for c in coefficients[-2:0:-1]:
        acc += c
        acc *= s
    acc += coefficients[0]
    return acc


def _exp_minus_square(x):
    """``exp(-x^2)`` as ``exp(-hi^2) exp(-(x - hi)(x + hi))``: ``hi`` (x to float32's 24 bits) squares exactly.

    Why: ``x * x`` is rounded, and an error of one unit in its last place grows to ``x^2`` units in
    ``exp(-x^2)`` (2e-15 at x = 4); split this way, no digit is lost.
    """
    hi = x.astype(np.float32).astype(np.float64)
    e = np.multiply(hi, hi)
    np.negative(e, out=e)
    np.exp(e, out=e)
    lo = np.subtract(hi, x)
    hi += x
    lo *= hi                                         # -(x - hi)(x + hi), small
    np.exp(lo, out=lo)
    e *= lo
    return e


def _erfc_from(x):
    """``erfc(x)`` for ``x >= 0.75`` (or nan), float64, 1-D: ``exp(-x^2) g(x)``."""
    out = np.empty_like(x)
    near, far = np.flatnonzero(x < 2.0), np.flatnonzero(~(x < 2.0))
    xn = x[near]
    s = xn - 1.375
    g = _polynomial(_ERFC_NEAR[0], s)
    g /= _polynomial(_ERFC_NEAR[1], s)
    out[near] = g * _exp_minus_square(xn)
    xf = np.minimum(x[far], 30.0)                    # erfc(30) = 3e-393 is 0 in float64 already
    v = xf * xf
    np.reciprocal(v, out=v)
    g = _polynomial(_ERFC_FAR[0], v)
    g /= _polynomial(_ERFC_FAR[1], v)
    g /= xf
    out[far] = g * _exp_minus_square(xf)
    return out


def _erf_parts(x):
    """What ``erf`` and ``erfc`` are made of: the series where ``|x| < 0.75``, ``erfc(|x|)`` elsewhere."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    small = np.abs(flat) < 0.75
    near, far = np.flatnonzero(small), np.flatnonzero(~small)
    xn = flat[near]
    series = _polynomial(_ERF_SERIES, xn * xn)
    series *= xn
    xf = flat[far]
    return near, series, far, xf, _erfc_from(np.abs(xf))


def erf(x):
    """The error function ``erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt``, element-wise, float64.

    Within 5e-16 (relative) of ``math.erf`` everywhere.

    Example:
        >>> float(erf(0.5)), math.erf(0.5)
        (0.5204998778130465, 0.5204998778130465)
    """
    shape = np.shape(x)
    near, series, far, xf, tail = _erf_parts(x)
    out = np.empty(shape).reshape(-1)
    out[near] = series
    out[far] = np.copysign(1.0 - tail, xf)           # erf(x) = sign(x) (1 - erfc(|x|))
    return out.reshape(shape)


def erfc(x):
    """``erfc(x) = 1 - erf(x)``, element-wise, float64, without losing the digits of a tiny result.

    Within 1e-15 (relative) of ``math.erfc`` wherever ``erfc(x)`` is a normal float64 (``x < 26.5``).
    """
    shape = np.shape(x)
    near, series, far, xf, tail = _erf_parts(x)
    out = np.empty(shape).reshape(-1)
    out[near] = 1.0 - series
    out[far] = np.where(xf > 0, tail, 2.0 - tail)    # erfc(-x) = 2 - erfc(x)
    return out.reshape(shape)


class GELU(Activation):
    """Gaussian error linear unit (exact): ``a = z Phi(z) = z (1 + erf(z / sqrt 2)) / 2``.

    ``Phi`` is the standard normal distribution function: the neuron passes ``z`` weighted by how
    likely a standard normal value is to be below ``z``. ``da/dz = Phi(z) + z phi(z)`` with the
    normal density ``phi(z) = exp(-z^2 / 2) / sqrt(2 pi)``. Computed in float64 (erf above), then
    returned in ``z``'s dtype; about ten times the cost of ``tanh``, so a GELU network trains slower
    than a ReLU one. Not here: the tanh approximation (``approximate="tanh"`` in PyTorch).

    Example:
        >>> GELU().function(np.array([-1.0, 0.0, 1.0]))
        array([-0.15865525,  0.        ,  0.84134475])
    """

    name = "gelu"
    formula = "a = z Phi(z) = z (1 + erf(z / sqrt 2)) / 2"
    derivative_formula = "da/dz = Phi(z) + z exp(-z^2 / 2) / sqrt(2 pi)"
    default_init = "he"
    torch_name = "GELU"

    @staticmethod
    def _cdf(z):
        """``Phi(z) = erfc(-z / sqrt 2) / 2`` in float64 (erfc keeps the digits of the tiny left tail)."""
        return 0.5 * erfc(np.asarray(z, dtype=np.float64) * -math.sqrt(0.5))

    def function(self, z: np.ndarray) -> np.ndarray:
        a = self._cdf(z)
        np.multiply(a, z, out=a, where=a != 0)       # z Phi(z); where Phi is 0 (z = -inf too) a stays 0
        return a.astype(np.result_type(z), copy=False)

    def derivative(self, z: np.ndarray, a: np.ndarray | None = None) -> np.ndarray | None:
        x = np.clip(np.asarray(z, dtype=np.float64), -40.0, 40.0)   # beyond +-40 z phi(z) is 0 in float64
        d = np.exp(-0.5 * x * x)
        d *= x / math.sqrt(2 * math.pi)              # z phi(z)
        d += self._cdf(z)                            #   + Phi(z)
        return d.astype(np.result_type(z), copy=False)

    def onnx(self, graph: Any, x: str) -> str:
        if graph.opset >= 20:                        # ONNX has the exact GELU as one operator since opset 20
            return graph.node("Gelu", [x], approximate="none")
        t = graph.node("Mul", [x, graph.constant(math.sqrt(0.5))])      # z / sqrt 2
        t = graph.node("Erf", [t])
        t = graph.node("Add", [t, graph.constant(1.0)])                 # 1 + erf(z / sqrt 2)
        t = graph.node("Mul", [x, t])
        return graph.node("Mul", [t, graph.constant(0.5)])

    def torch_module(self) -> tuple[str | None, dict]:
        return self.torch_name, {"approximate": "none"}

    @classmethod
    def from_torch_module(cls, module: Any) -> Self:
        if module.approximate != "none":
            raise ValueError(f"glassnet's GELU is the exact one, z (1 + erf(z / sqrt 2)) / 2: expected "
                             f"approximate='none', received approximate={module.approximate!r}")
        return cls()


class SiLU(Activation):
    """Sigmoid linear unit, also called swish: ``a = z sigmoid(z)``; ``da/dz = s + a (1 - s)`` with ``s = sigmoid(z)``.

    Like ReLU for large ``|z|`` (``a`` near ``z`` or 0), but smooth, and slightly negative (down to
    -0.278 at z = -1.278) for negative ``z``. ``sigmoid`` is the stable one above, so no ``exp`` overflows.

    Example:
        >>> SiLU().function(np.array([-1.0, 0.0, 2.0]))
        array([-0.26894142,  0.        ,  1.76159416])
    """

    name = "silu"
    formula = "a = z sigmoid(z) = z / (1 + exp(-z))"
    derivative_formula = "da/dz = s + a (1 - s), s = sigmoid(z)"
    default_init = "he"
    torch_name = "SiLU"

    def function(self, z: np.ndarray) -> np.ndarray:
        a = sigmoid(z)
        np.multiply(a, z, out=a, where=a != 0)       # z sigmoid(z); where sigmoid is 0 (z = -inf too) a stays 0
        return a

    def derivative(self, z: np.ndarray, a: np.ndarray | None = None) -> np.ndarray | None:
        s = sigmoid(z)
        a = self.function(z) if a is None else a
        t = 1 - s
        np.multiply(t, a, out=t, where=t != 0)       # a (1 - s); where s is 1 (z = +inf too) the term is 0
        return s + t                                 # d(z s)/dz = s + z s (1 - s)

    def onnx(self, graph: Any, x: str) -> str:
        return graph.node("Mul", [x, graph.node("Sigmoid", [x])])


class Softplus(Activation):
    """A smooth ReLU: ``a = log(1 + exp(z))``; ``da/dz = sigmoid(z)``.

    Computed as ``max(z, 0) + log(1 + exp(-|z|))``: the same number, and ``exp`` never overflows.
    Always positive and never flat, so no neuron dies. He initialisation, as for ReLU: for ``z`` around
    0 it passes about half of the gradient (``sigmoid(0) = 1/2``) and grows like ``z`` above.
    PyTorch's ``nn.Softplus`` returns ``z`` itself above ``threshold=20``; the exact value differs from
    that by ``log(1 + exp(-z)) < 2.1e-9``, far inside the exports' parity tolerance.

    Example:
        >>> Softplus().function(np.array([-1.0, 0.0, 1.0]))
        array([0.31326169, 0.69314718, 1.31326169])
    """

    name = "softplus"
    formula = "a = log(1 + exp(z))"
    derivative_formula = "da/dz = sigmoid(z) = 1 / (1 + exp(-z))"
    default_init = "he"
    torch_name = "Softplus"

    def function(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))

    def derivative(self, z: np.ndarray, a: np.ndarray | None = None) -> np.ndarray | None:
        return sigmoid(z)

    def onnx(self, graph: Any, x: str) -> str:
        return graph.node("Softplus", [x])

    def torch_module(self) -> tuple[str | None, dict]:
        return self.torch_name, {"beta": 1.0, "threshold": 20.0}

    @classmethod
    def from_torch_module(cls, module: Any) -> Self:
        if module.beta != 1 or module.threshold < 20:
            raise ValueError(f"glassnet's Softplus is log(1 + exp(z)): expected beta=1 and threshold >= 20 (above "
                             f"which torch returns z, within 2.1e-9 of it), received beta={module.beta}, "
                             f"threshold={module.threshold}")
        return cls()


# -- the registry: every activation, once ----------------------------------------------------------------
#: Every activation by name, in the order users see them (hidden-layer choices first).
ACTIVATIONS = {cls.name: cls for cls in (ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, Identity, GELU, SiLU, Softplus)}

#: Other spellings accepted by :func:`get` (never shown as choices).
ALIASES = {"linear": "identity", "swish": "silu"}

#: Every activation by class name, as saved model files name their layers.
LAYER_TYPES = {cls.__name__: cls for cls in ACTIVATIONS.values()}


def names(hidden: bool = True) -> list[str]:
    """The activation names a user can pick: for hidden layers (default), or all of them (``hidden=False``).

    Examples:
        >>> names()[:4]
        ['relu', 'leaky_relu', 'sigmoid', 'tanh']
    """
    return [name for name, cls in ACTIVATIONS.items() if cls.hidden or not hidden]


def canonical(name: str) -> str:
    """The registry name for ``name`` (case, ``-`` or ``_``, and aliases do not matter); ValueError if unknown."""
    key = str(name).lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in ACTIVATIONS:
        known = sorted([*ACTIVATIONS, *ALIASES])
        raise ValueError(f"activation expected one of {known}, received {name!r}")
    return key


def get(name: str, **settings: float) -> Activation:
    """A new activation layer for ``name`` (``"relu"``, ``"tanh"``, ...), with its ``settings`` (``alpha=0.1``).

    Example:
        >>> get("leaky-relu", alpha=0.2)
        LeakyReLU(alpha=0.2)
        >>> get("gelu", alpha=0.2)
        Traceback (most recent call last):
        TypeError: activation gelu expected no settings, received alpha
    """
    cls = ACTIVATIONS[canonical(name)]
    takes = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(settings) - set(takes))
    if unknown:
        raise TypeError(f"activation {cls.name} expected {'settings ' + ', '.join(takes) if takes else 'no settings'}, "
                        f"received {', '.join(unknown)}")
    return cls(**settings)


def default_init(name: str) -> str:
    """The weight initializer that suits activation ``name`` (He for ReLU-like, Glorot for tanh/sigmoid)."""
    return ACTIVATIONS[canonical(name)].default_init


__all__ = ["Activation", "ACTIVATIONS", "ALIASES", "LAYER_TYPES", "names", "canonical", "get", "default_init",
           "sigmoid", "softmax", "row_max", "erf", "erfc", *(cls.__name__ for cls in ACTIVATIONS.values())]
