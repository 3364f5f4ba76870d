"""Backpropagation as nudges: one SGD step on one labelled example, ranked by importance.

What it is: :func:`nudges`, which reads :func:`~glassnet.explain.explain_step`'s numbers (no second
copy of the backward pass) and ranks them for a reader, going backwards from the loss:

- the outputs: how much each one should move (``move = -delta``: the loss falls fastest when ``z_k``
  moves against its ``delta = dL/dz_k``), largest ``|delta|`` first;
- every array of neurons below the output, output side first: the neurons that should go up
  (``delta < 0``) or down (``delta > 0``), largest ``|delta|`` first (a neuron with ``delta = 0``,
  such as a ReLU that is off, is not ranked);
- the weights that change most: the largest ``|dW[j, i]|`` of each array, with their input (a pixel
  as ``(row, col)`` for a first layer that reads an image) and their update ``-lr * dW[j, i]``;
- the effect of the step on this example: the loss before, the loss after (exactly: the forward pass
  and the loss recomputed in float64 with ``W - lr dW``, ``b - lr db``), their difference, and the
  first-order estimate ``-lr * sum(dW**2 + db**2)`` that the gradient promises for a small step.

For a softmax output read by cross-entropy the probability of the true class is also given with its
complement ``1 - p`` computed as the sum of the others' probabilities (so a sure network reads
``p = 1 - 2.9e-06``, not ``1``).

What it is not: training (the network is not changed), momentum or Adam, text or pictures (the app
and ``str()`` of :class:`Nudges`).
"""

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from .. import losses, views
from .forward import layer_copies, layer_outputs
from .prediction import IMAGE_SHAPES, check_classifier, one_sample
from .step import explain_step


@dataclass
class OutputNudge:
    """Output ``k``: its value (the probability when the loss applies the softmax), its target, ``delta = dL/dz_k``
    and ``move = -delta``, the direction (and relative size) it should move to lower the loss."""

    k: int
    value: float
    target: float
    delta: float

    @property
    def move(self):
        return -self.delta

    def to_dict(self) -> dict:
        return {"k": self.k, "value": self.value, "target": self.target, "delta": self.delta, "move": self.move}


@dataclass
class NeuronNudge:
    """Neuron ``j`` of array ``layer``: ``delta = dL/dz_j``; it should go ``"up"`` when ``delta < 0``."""

    layer: int
    j: int
    delta: float
    z: float
    a: float

    @property
    def direction(self):
        return "up" if self.delta < 0 else "down" if self.delta > 0 else "stay"

    def to_dict(self) -> dict:
        return {"layer": self.layer, "j": self.j, "delta": self.delta, "z": self.z, "a": self.a,
                "direction": self.direction}


@dataclass
class WeightNudge:
    """Weight ``W[j, i]`` of array ``layer``: ``dW = delta_j * x_i``, its update ``-lr * dW``; ``pixel`` is
    ``(row, col)`` of input ``i`` when the array reads an image, else None."""

    layer: int
    j: int
    i: int
    x: float
    delta: float
    dW: float
    update: float
    pixel: tuple | None = None

    def to_dict(self) -> dict:
        return {"layer": self.layer, "j": self.j, "i": self.i, "x": self.x, "delta": self.delta, "dW": self.dW,
                "update": self.update, "pixel": None if self.pixel is None else list(self.pixel)}


@dataclass
class LayerNudges:
    """One array of neurons during the step: every ``delta``, ``db`` and ``dW`` (explain_step's arrays),
    the ``top`` neurons by ``|delta|`` and the ``top`` weights by ``|dW|``."""

    index: int                 # array of neurons: 1 = first hidden ... the output last
    name: str
    activation: str
    delta: np.ndarray          # (n_out,)
    db: np.ndarray             # (n_out,)
    dW: np.ndarray = field(repr=False)      # (n_out, n_in)
    neurons: list = field(default_factory=list)
    weights: list = field(default_factory=list)

    def __repr__(self):
        return f"LayerNudges({self.name}, {self.activation}: {len(self.delta)} neurons; top {len(self.neurons)} ranked)"

    def to_dict(self, full: bool = False) -> dict:
        d = {"index": self.index, "name": self.name, "activation": self.activation, "delta": self.delta.tolist(),
             "db": self.db.tolist(), "neurons": [n.to_dict() for n in self.neurons],
             "weights": [w.to_dict() for w in self.weights]}
        if full:
            d["dW"] = self.dW.tolist()
        return d


@dataclass
class Nudges:
    """One SGD step on one example as ranked nudges; see :func:`nudges`. ``layers`` go backwards (output first)."""

    label: int
    lr: float
    loss_name: str
    head: str | None           # the softmax / sigmoid the loss applies itself, or None
    loss_before: float
    loss_after: float
    linear_change: float       # -lr * sum(dW**2) - lr * sum(db**2): the first-order estimate of the change
    p_label: float | None      # the true class's probability (None when the loss reads no probabilities)
    p_others: float | None     # 1 - p_label as the sum of the other probabilities (exact when p is near 1)
    outputs: list              # OutputNudge, largest |delta| first
    layers: list               # LayerNudges, output first, then back towards the input
    image_shape: tuple | None = None
    top: int = 10

    @property
    def loss_change(self):
        return self.loss_after - self.loss_before

    def to_dict(self, full: bool = False) -> dict:
        return {"label": self.label, "lr": self.lr, "loss_name": self.loss_name, "head": self.head,
                "loss_before": self.loss_before, "loss_after": self.loss_after, "loss_change": self.loss_change,
                "linear_change": self.linear_change, "p_label": self.p_label, "p_others": self.p_others,
                "outputs": [o.to_dict() for o in self.outputs],
                "layers": [layer.to_dict(full) for layer in self.layers],
                "image_shape": None if self.image_shape is None else list(self.image_shape), "top": self.top}

    def __str__(self):
        lines = [f"one SGD step (lr {self.lr:g}) on this example, true label {self.label}: {self.loss_name} "
                 f"{self.loss_before:.6g} -> {self.loss_after:.6g} (change {self.loss_change:+.3g}; "
                 f"first-order estimate {self.linear_change:+.3g})"]
        lines.append("outputs, largest |delta| first: " + ", ".join(
            f"{o.k} should move {o.move:+.3g}" for o in self.outputs[:5]))
        for layer in self.layers:
            lines.append(f"{layer.name}: " + ", ".join(
                f"{n.j} {n.direction} ({n.delta:+.3g})" for n in layer.neurons[:5]))
            lines.append("  largest |dW|: " + ", ".join(
                f"W[{w.j},{'(%d,%d)' % w.pixel if w.pixel else w.i}] {w.dW:+.3g}" for w in layer.weights[:5]))
        return "\n".join(lines)

    def __repr__(self):
        return views.nudges_text(self)

    def _repr_html_(self):
        """In a notebook: the loss before and after, the outputs, each array's nudges folded (``glassnet.views``)."""
        return views.nudges_html(self)


def nudges(net, x: ArrayLike, label: int, *, lr: float = 0.1, top: int = 10,
           image_shape: tuple[int, ...] | None = None) -> Nudges:
    """One SGD step of ``lr`` on ``(x, label)``, as ranked nudges: returns :class:`Nudges`.

    Every number is :func:`explain_step`'s (``delta``, ``dW``, ``db``, the loss); ``loss_after`` is the loss of
    this example recomputed after the step (float64 copies of the layers with ``W - lr dW``, ``b - lr db``).

    Args:
        net: a classifier :class:`~glassnet.Network` of Dense and activation layers.
        x: one sample (``(n_features,)``, ``(1, n_features)`` or an image).
        label: its true class.
        lr: the learning rate of the step.
        top: how many neurons and weights to rank per array.
        image_shape: the input's picture shape; default ``(28, 28)`` for 784 inputs.

    Example:
        >>> import glassnet as gn
        >>> net = gn.Network.mlp([4, 3, 2], seed=0)
        >>> n = nudges(net, [1.0, 0.5, -0.5, 2.0], 1, lr=0.1)
        >>> n.loss_after < n.loss_before, [layer.name for layer in n.layers]
        (True, ['output', 'hidden 1'])
    """
    check_classifier(net)
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"nudges: top expected an integer of at least 1, received {top!r}")
    x = one_sample(net, x)
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) \
            or not 0 <= label < max(net.n_outputs, 2):
        raise ValueError(f"nudges: label expected a class in [0, {max(net.n_outputs, 2) - 1}], received {label!r}")
    shape = IMAGE_SHAPES.get(net.n_features) if image_shape is None else tuple(int(s) for s in image_shape)
    if shape is not None and int(np.prod(shape)) != net.n_features:
        raise ValueError(f"nudges: image_shape expected {net.n_features} pixels in all, received {shape}")
    step = explain_step(net, x[None, :], [int(label)], lr=lr)
    out = step.layers[-1]
    values, target = out.a[0], step.y[0] if np.ndim(step.y[0]) else _one_hot(int(label), out.a.shape[1])
    outputs = [OutputNudge(int(k), float(values[k]), float(target[k]), float(step.output_delta[0][k]))
               for k in _largest(step.output_delta[0], len(values))]
    layers = [_layer(step, g, shape if g == 0 else None, top) for g in range(len(step.layers) - 1, -1, -1)]
    p_label = p_others = None
    if step.head is not None and len(values) > 1:
        p_label = float(values[label])
        p_others = float(np.delete(values, label).sum())
    linear = -step.lr * sum(float(np.sum(s.dW ** 2) + np.sum(s.db ** 2)) for s in step.layers)
    return Nudges(int(label), step.lr, step.loss_name, step.head, step.loss, _loss_after(net, step, x), linear,
                  p_label, p_others, outputs, layers, image_shape=shape, top=int(top))


def _one_hot(label, n):
    t = np.zeros(n)
    t[label if n > 1 else 0] = 1.0 if n > 1 else float(label)
    return t


def _largest(values, k, nonzero=False):
    """Indices of the ``k`` largest ``|values|``, largest first (ties: the lower index first); with
    ``nonzero``, only those that are not 0 (a neuron that is off has nothing to nudge)."""
    order = np.argsort(-np.abs(values), kind="stable")[:k]
    return [i for i in order if values[i] != 0] if nonzero else order


def _layer(step, g, shape, top):
    s = step.layers[g]
    delta, x = s.delta[0], s.x[0]
    neurons = [NeuronNudge(g + 1, int(j), float(delta[j]), float(s.z[0][j]), float(s.a[0][j]))
               for j in _largest(delta, top, nonzero=True)]
    flat = _largest(s.dW.ravel(), top, nonzero=True)
    weights = []
    for f in flat:
        j, i = divmod(int(f), s.dW.shape[1])
        pixel = None if shape is None or len(shape) != 2 else tuple(int(v) for v in divmod(i, shape[1]))
        weights.append(WeightNudge(g + 1, j, i, float(x[i]), float(delta[j]), float(s.dW[j, i]),
                                   float(s.update_W[j, i]), pixel))
    return LayerNudges(g + 1, s.name, s.activation, delta, s.db, s.dW, neurons, weights)


def _loss_after(net, step, x):
    """The loss of this example after the step: float64 copies of the layers with the new weights, their own
    forward pass, and the loss's own ``value`` (the same layers and loss ``explain_step`` read)."""
    loss = losses.get(step.loss_name)
    layers = layer_copies(net)
    for s in step.layers:
        layers[s.layer].params["weights"] = s.new_W
        layers[s.layer].params["biases"] = s.new_b
    upto = net.body(loss)
    outputs = layer_outputs(layers, x[None, :])
    out = outputs[upto - 1] if upto else x[None, :]
    return float(loss.value(out, step.y))


__all__ = ["LayerNudges", "NeuronNudge", "Nudges", "OutputNudge", "WeightNudge", "nudges"]
