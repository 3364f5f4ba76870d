"""One step of learning, traced number by number: the backward pass neuron by neuron and the SGD update.

What it is: :func:`explain_step` (the loss, ``delta = dL/dz`` for every neuron from the output down,
``dW``, ``db`` and ``-lr * dW``) and the plain data it returns (:class:`StepTrace`, a :class:`LayerStep`
per Dense layer). The passes are the layers' own ``forward`` and ``backward`` (``Dense``: ``dW = delta.T @ x``,
``db = sum(delta)``, ``delta @ W``; an activation: its ``backprop``) run on float64 copies of the layers
(``explain.forward.layer_copies``), and the loss's own ``value`` and ``gradient``; the layers that feed
the loss are ``Network.body``'s. It equals one batch of ``fit`` with plain SGD, in float64.

What it is not: training (the network is not changed unless you call :meth:`StepTrace.apply`),
momentum or Adam (their updates are not ``-lr * dW``), dropout (taken as off).
"""

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from .. import losses, views
from .._validation import as_float_array, check_params, check_X
from ..layers import Dense
from .forward import activation_name, group_values, layer_copies, layer_outputs, neuron_groups, output_head
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
    W: np.ndarray | None = field(repr=False, default=None)
    b: np.ndarray | None = field(repr=False, default=None)
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

    def __repr__(self):
        return (f"LayerStep(layer {self.layer} {self.name}, {self.activation}: dW {self.dW.shape}, "
                f"largest |dW| {views.number(float(abs(self.dW).max(initial=0.0)))}, lr {self.lr:g})")

    def to_dict(self) -> dict:
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
    head: str | None = None    # the softmax / sigmoid the loss applies to ``outputs`` itself (by name), or None

    def apply(self, net):
        """Add the update to ``net``'s weights and biases (in the network's dtype); returns ``net``."""
        for step in self.layers:
            layer = net.layers[step.layer]
            layer.params["weights"][...] = step.new_W
            layer.params["biases"][...] = step.new_b
        return net

    def to_dict(self) -> dict:
        return {"loss_name": self.loss_name, "loss": self.loss, "lr": self.lr, "y": self.y.tolist(),
                "outputs": self.outputs.tolist(), "output_delta": self.output_delta.tolist(), "head": self.head,
                "layers": [s.to_dict() for s in self.layers]}

    def __str__(self):
        return render_step(self)

    def __repr__(self):
        return views.step_text(self)

    def _repr_html_(self):
        """In a notebook: the loss and, per layer, the largest gradients and updates (``glassnet.views``)."""
        return views.step_html(self)


def explain_step(net, X: ArrayLike, y: ArrayLike, *, loss: losses.Loss | str | None = None,
                 lr: float = 0.1) -> StepTrace:
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
    layers = layer_copies(net)                                 # float64, run with each layer's own passes
    outputs = layer_outputs(layers, X)
    values = group_values(groups, X, outputs)
    upto = net.body(loss)                                      # the loss takes the logits when it fuses the softmax
    out = outputs[upto - 1] if upto else X
    value = loss.value(out, y)
    delta_out = loss.gradient(out, np.asarray(y))

    deltas = {}                                                # dL/dz of each Dense layer
    delta = delta_out                                          # dL/d(output of layer i)
    for i in range(upto - 1, -1, -1):
        if isinstance(layers[i], Dense):
            deltas[i] = delta
        delta = layers[i].backward(delta)                      # Dense: fills dW, db; returns delta @ W

    steps = []
    last = len(groups) - 1
    for g in range(1, last + 1):
        dense, acts = groups[g]
        z, a = values[g]
        activation = " → ".join(activation_name(net.layers[i]) for i in acts) or "identity"
        if g == last:
            activation, a = _output_as_the_loss_sees_it(net, loss, activation, a)
        params, grads = layers[dense].params, layers[dense].grads
        steps.append(LayerStep(dense, layer_name(g, len(groups)), activation, values[g - 1][1], z, a, deltas[dense],
                               grads["weights"], grads["biases"], W=params["weights"], b=params["biases"],
                               lr=float(lr)))
    return StepTrace(loss.name, float(value), float(lr), np.asarray(y), out, delta_out, steps,
                     head=_head_in_the_loss(net, loss, upto))


def _head_in_the_loss(net, loss, upto):
    """The name of the softmax (sigmoid) the loss applies itself to what it reads: the network's own final
    one that it skips, or the one of :func:`output_head` ``"in the loss"``; None when there is none."""
    if upto < len(net.layers):
        return net.layers[-1].name
    head = output_head(net, loss)
    return head.name if head is not None and head.where == "in the loss" else None


def _output_as_the_loss_sees_it(net, loss, activation, a):
    """The output's activation and values with the softmax (sigmoid) the loss applies inside, if it does."""
    head = output_head(net, loss)
    if head is None or head.where != "in the loss":
        return activation, a
    return (head.label if activation == "identity" else f"{activation} → {head.label}"), head.function(a)


trace_backward = explain_step


__all__ = ["LayerStep", "StepTrace", "explain_step", "trace_backward"]
