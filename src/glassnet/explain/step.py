"""One step of learning, traced number by number: the backward pass neuron by neuron and the SGD update.

What it is: :func:`explain_step` (the loss, ``delta = dL/dz`` for every neuron from the output down
through each activation's own ``backprop``, ``dW``, ``db`` and ``-lr * dW``) and the plain data it
returns (:class:`StepTrace`, a :class:`LayerStep` per Dense layer). It equals one batch of ``fit``
with plain SGD, in float64.

What it is not: training (the network is not changed unless you call :meth:`StepTrace.apply`),
momentum or Adam (their updates are not ``-lr * dW``), dropout (taken as off).
"""

from dataclasses import dataclass, field

import numpy as np

from .. import losses
from .._validation import as_float_array, check_params, check_X
from .forward import (
    activate,
    activation_name,
    back_through,
    forward_values,
    neuron_groups,
    output_head,
    weights_and_biases,
)
from .text import render_step
from .trace import layer_name


@dataclass
class LayerStep:
    """One Dense layer during a step: ``delta = dL/dz``, ``dW = delta.T @ x``, ``db = sum(delta)``.

    Per sample ``delta_j = f'(z_j) * sum_k W_next[k, j] delta_next_k`` (the chain rule, one layer down).
    ``update_W = -lr * dW`` is what plain SGD adds to ``W``; ``new_W = W + update_W``. For the output,
    ``a`` is what the loss turns into a number: the probabilities when it fuses a softmax (``activation``
    then ends in ``"softmax (in the loss)"``).
    """

    layer: int            # index in net.layers
    name: str
    activation: str
    x: np.ndarray         # (n_samples, n_in) the inputs
    z: np.ndarray         # (n_samples, n_out)
    a: np.ndarray         # (n_samples, n_out) after the activation
    delta: np.ndarray     # (n_samples, n_out) dL/dz
    dW: np.ndarray        # (n_out, n_in)
    db: np.ndarray        # (n_out,)
    W: np.ndarray = field(repr=False, default=None)
    b: np.ndarray = field(repr=False, default=None)
    lr: float = 0.1

    @property
    def update_W(self):
        return -self.lr * self.dW

    @property
    def update_b(self):
        return -self.lr * self.db

    @property
    def new_W(self):
        return self.W + self.update_W

    @property
    def new_b(self):
        return self.b + self.update_b

    def to_dict(self):
        return {"layer": self.layer, "name": self.name, "activation": self.activation, "x": self.x.tolist(),
                "z": self.z.tolist(), "a": self.a.tolist(), "delta": self.delta.tolist(), "dW": self.dW.tolist(),
                "db": self.db.tolist(), "update_W": self.update_W.tolist(), "update_b": self.update_b.tolist()}


@dataclass
class StepTrace:
    """One SGD step on a batch, traced; see :func:`explain_step`."""

    loss_name: str
    loss: float
    lr: float
    y: np.ndarray
    outputs: np.ndarray        # (n_samples, n_out) what the loss was computed on (logits for cross-entropy)
    output_delta: np.ndarray   # dL/d(outputs)
    layers: list               # LayerStep per Dense layer, input side first

    def apply(self, net):
        """Add the update to ``net``'s weights and biases (in the network's dtype); returns ``net``."""
        for step in self.layers:
            layer = net.layers[step.layer]
            layer.params["weights"][...] = step.new_W
            layer.params["biases"][...] = step.new_b
        return net

    def to_dict(self):
        return {"loss_name": self.loss_name, "loss": self.loss, "lr": self.lr, "y": self.y.tolist(),
                "outputs": self.outputs.tolist(), "output_delta": self.output_delta.tolist(),
                "layers": [s.to_dict() for s in self.layers]}

    def __str__(self):
        return render_step(self)


def explain_step(net, X, y, *, loss=None, lr=0.1):
    """Trace one step of learning on ``(X, y)``: the backward pass neuron by neuron, and the SGD update.

    Forward in float64, the loss, then ``delta = dL/dz`` for every neuron from the output down,
    ``dW = delta.T @ x``, ``db = sum_n delta`` and the update ``-lr * dW``. This is exactly one step
    of ``net.fit(X, y, optimizer=SGD(lr), batch_size=len(X), shuffle=False, epochs=1)``
    (dropout is taken as off; the network is not changed, use :meth:`StepTrace.apply`).

    Args:
        X: one sample ``(n_features,)`` or a small batch ``(n_samples, n_features)``.
        y: its label(s) (or targets for ``loss="mse"``).
        loss: loss name or object; default the network's loss or cross-entropy.
        lr: learning rate of the step.

    Example:
        >>> import glassnet as gn
        >>> net = gn.Network.mlp([3, 4, 2], seed=0)
        >>> step = explain_step(net, [[1.0, 0.0, 2.0]], [1], lr=0.1)
        >>> step.layers[0].dW.shape, step.layers[1].delta.shape
        ((4, 3), (1, 2))
    """
    check_params("explain_step", {"lr": ("float", 0.0, None, True)}, {"lr": lr})
    loss = losses.get(loss or net.loss_ or "cross_entropy")
    X = as_float_array(X, name="X", dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    X = check_X(X, net.n_features, dtype=np.float64)
    y, _ = losses.prepare_targets(y if np.ndim(y) else [y], len(X), net.n_outputs, loss)

    groups = neuron_groups(net)
    values = forward_values(net, X)
    last = len(groups) - 1
    chains = [[net.layers[i] for i in acts] for _, acts in groups]
    if loss.fused_head is not None and isinstance(net.layers[-1], loss.fused_head):
        chains[last] = chains[last][:-1]      # the loss takes the values before the final softmax / sigmoid
    out = activate(chains[last], values[last][0])
    value = loss.value(out, y)
    delta_out = loss.gradient(out, np.asarray(y))

    steps = []
    delta = delta_out                                          # dL/d(value of the current group)
    for g in range(last, 0, -1):
        dense, acts = groups[g]
        z, a = values[g]
        delta = back_through(chains[g], z, delta)              # dL/dz
        W, b = weights_and_biases(net.layers[dense])
        x_in = values[g - 1][1]
        activation = " → ".join(activation_name(net.layers[i]) for i in acts) or "identity"
        if g == last:
            activation, a = _output_as_the_loss_sees_it(net, loss, activation, a)
        steps.append(LayerStep(dense, layer_name(g, len(groups)), activation, x_in, z, a, delta, delta.T @ x_in,
                               delta.sum(axis=0), W=W, b=b, lr=float(lr)))
        delta = delta @ W                                      # dL/d(inputs of this layer)
    steps.reverse()
    return StepTrace(loss.name, float(value), float(lr), np.asarray(y), out, delta_out, steps)


def _output_as_the_loss_sees_it(net, loss, activation, a):
    """The output's activation and values with the softmax (sigmoid) the loss applies inside, if it does."""
    head = output_head(net, loss)
    if head is None or head.where != "in the loss":
        return activation, a
    return (head.label if activation == "identity" else f"{activation} → {head.label}"), head.function(a)


trace_backward = explain_step


__all__ = ["LayerStep", "StepTrace", "explain_step", "trace_backward"]
