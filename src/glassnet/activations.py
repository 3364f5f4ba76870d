"""Activations: the non-linear function each neuron applies to its weighted sum.

Without them a stack of layers is one big linear map. Each activation is a layer
with no parameters: ``forward`` computes ``a = f(z)`` element-wise (softmax: per row)
and ``backward`` multiplies the incoming ``delta = dL/da`` by ``f'(z)``.

Not here: attention, GELU/Swish and other activations outside the textbook set.
"""

import numpy as np

from ._validation import check_params
from .layers import Layer


class Identity(Layer):
    """``a = z``; ``da/dz = 1``. For linear outputs (regression) or to mark "no activation"."""

    def forward(self, x, training=False, buffers=None):
        self.output = x
        return x

    def backward(self, delta, buffers=None):
        return delta


class ReLU(Layer):
    """Rectified linear unit: ``a = max(0, z)``; ``da/dz = 1 if z > 0 else 0``.

    Example:
        >>> ReLU().forward(np.array([[-1.0, 2.0]]))
        array([[0., 2.]])
    """

    def forward(self, x, training=False, buffers=None):
        if buffers is None:
            self.active = x > 0                      # backward needs which neurons fired
            self.output = np.maximum(x, 0)
        else:                                        # fast path: the same, into reused buffers
            self.active = np.greater(x, 0, out=buffers.array("active", x.shape, bool))
            self.output = np.maximum(x, 0, out=buffers.array("a", x.shape, x.dtype))
        return self.output

    def infer(self, x):
        return np.maximum(x, 0)                      # a = max(0, z), without the mask backward needs

    def backward(self, delta, buffers=None):
        if buffers is None:
            return delta * self.active
        return np.multiply(delta, self.active, out=delta)  # fast path: delta is a training buffer, in place


class LeakyReLU(Layer):
    """``a = z if z > 0 else alpha * z``; ``da/dz = 1 if z > 0 else alpha`` (never fully dead).

    Args:
        alpha: slope for negative inputs, in ``[0, 1]`` (1 makes it the identity).
    """

    _limits = {"alpha": ("float", 0.0, 1.0, False)}

    def __init__(self, alpha=0.01):
        super().__init__()
        check_params("LeakyReLU", self._limits, {"alpha": alpha})
        self.alpha = float(alpha)

    def forward(self, x, training=False, buffers=None):
        self.slope = np.where(x > 0, 1.0, self.alpha).astype(x.dtype)  # da/dz, kept for backward
        self.output = x * self.slope
        return self.output

    def backward(self, delta, buffers=None):
        return delta * self.slope

    def get_config(self):
        return {"alpha": self.alpha}


def sigmoid(z):
    """``1 / (1 + exp(-z))`` computed without overflow for large ``|z|``."""
    e = np.exp(-np.abs(z))                           # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def softmax(z):
    """Row-wise ``exp(z_k) / sum_j exp(z_j)``, shifted by the row maximum so ``exp`` never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


class Sigmoid(Layer):
    """Logistic function: ``a = 1 / (1 + exp(-z))``; ``da/dz = a (1 - a)``."""

    def forward(self, x, training=False, buffers=None):
        self.output = sigmoid(x)
        return self.output

    def backward(self, delta, buffers=None):
        a = self.output
        return delta * a * (1 - a)


class Tanh(Layer):
    """Hyperbolic tangent: ``a = tanh(z)``; ``da/dz = 1 - a^2``."""

    def forward(self, x, training=False, buffers=None):
        self.output = np.tanh(x)
        return self.output

    def backward(self, delta, buffers=None):
        a = self.output
        return delta * (1 - a * a)


class Softmax(Layer):
    """Turns a row of scores into probabilities: ``a_k = exp(z_k) / sum_j exp(z_j)``.

    ``backward``: ``dz = a * (delta - sum_k delta_k a_k)`` (the softmax Jacobian times delta).
    Before a cross-entropy loss the network skips this and uses the fused, exact
    gradient ``softmax(z) - y`` from the logits instead.
    """

    def forward(self, x, training=False, buffers=None):
        self.output = softmax(x)
        return self.output

    def backward(self, delta, buffers=None):
        a = self.output
        return a * (delta - np.sum(delta * a, axis=1, keepdims=True))


ACTIVATIONS = {
    "relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh,
    "softmax": Softmax, "identity": Identity, "linear": Identity,
}


def get(name):
    """Return a new activation layer for ``name`` (``"relu"``, ``"tanh"``, ...)."""
    key = str(name).lower().replace("-", "_")
    if key not in ACTIVATIONS:
        raise ValueError(f"activation expected one of {sorted(ACTIVATIONS)}, received {name!r}")
    return ACTIVATIONS[key]()
