"""The forward pass that the explanations read: each layer's own definition, in float64, caching nothing.

What it is: the network's layers grouped into arrays of neurons (a ``Dense`` layer and the
activations after it), their values for a batch computed from each layer's parameters and its own
``function`` (``a = f(z)``), the way back through an activation with its own ``derivative``, and
the softmax (or sigmoid) that ``predict_proba`` or the loss applies when the network has no such
final layer. A new activation in ``glassnet.activations`` is followed here with no change.

What it is not: a second copy of the activations (there is none: ``layer.function`` is the one
definition), training (``Network.forward`` keeps what ``backward`` needs; this keeps nothing and
never touches a layer's caches), or prediction for users (``Network.predict_proba``).
"""

from dataclasses import dataclass

import numpy as np

from .. import activations, losses
from .._validation import describe
from ..activations import Activation
from ..layers import Dense, Dropout


# -- which layers make which array of neurons -----------------------------------------------------
def activation_name(layer):
    """Short lower-case name of an activation (or dropout) layer: ``"relu"``, ``"leaky_relu(0.01)"``...

    The activation's registry name, with its settings in brackets. Raises ``TypeError`` for a layer
    explain cannot follow (anything but ``Dense``, ``Dropout`` and the activations).
    """
    if isinstance(layer, Dropout):
        return "dropout (off)"
    if isinstance(layer, Activation):
        return layer.label()
    raise TypeError(f"explain supports Dense and Dropout layers and the activations of glassnet.activations "
                    f"({', '.join(sorted(activations.ACTIVATIONS))}), received {describe(layer)}")


def neuron_groups(net):
    """Group the layers into arrays of neurons: ``[(dense_index or None, [activation indices]), ...]``.

    Group 0 is the input (with any activation applied to it); each later group is one ``Dense``
    layer and the activation / dropout layers that follow it.
    """
    groups = [(None, [])]
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Dense):
            groups.append((i, []))
        else:
            activation_name(layer)            # unsupported layers fail here, before any work
            groups[-1][1].append(i)
    return groups


def logits_index(net):
    """Index of the group whose ``z`` are the logits: the last Dense layer's group."""
    groups = neuron_groups(net)
    if groups[-1][0] is None:
        raise ValueError("explain expected a network with at least one Dense layer, received none")
    return len(groups) - 1


def weights_and_biases(layer, dtype=np.float64):
    """``(W, b)`` of a Dense layer as new arrays in ``dtype`` (float64: the sums below are then exact to rounding)."""
    return layer.params["weights"].astype(dtype), layer.params["biases"].astype(dtype)


# -- forward and back through a chain of activations ----------------------------------------------
def activate(layers, z):
    """``a`` after the activation / dropout ``layers`` (in order) from ``z``: each one's own ``function``.

    Dropout is off, as in prediction. Pure: reads the layers' settings, never their cached state.
    """
    a = z
    for layer in layers:
        if not isinstance(layer, Dropout):
            a = layer.function(a)
    return a


def back_through(layers, z, delta):
    """``dL/dz`` from ``delta = dL/da`` through the activation / dropout ``layers`` applied in order to ``z``.

    Each activation's own ``backprop`` (pure: ``delta * f'(z)``, or softmax's Jacobian times delta),
    so the network's layers keep their caches. Dropout is off: it passes ``delta`` on.
    """
    passes = []                                              # (input, output) of each layer, in order
    for layer in layers:
        passes.append((z, activate([layer], z)))
        z = passes[-1][1]
    for layer, (z_in, a_out) in zip(reversed(layers), reversed(passes)):
        if not isinstance(layer, Dropout):
            delta = layer.backprop(z_in, delta, a_out)       # dL/dz = dL/da * da/dz (a given: saves work)
    return delta


def jacobian(layer, z):
    """``da/dz`` of one activation / dropout layer at one sample ``z``, from the layer's own definition.

    The vector ``f'(z)`` for an element-wise activation (the diagonal of its Jacobian), else the full
    matrix ``J[k, j] = da_k/dz_j`` (from the layer's own ``backprop``, one unit vector at a time).
    """
    if isinstance(layer, Dropout):
        return np.ones_like(z)
    if layer.elementwise:
        return layer.derivative(z[None, :])[0]
    n = len(z)
    return back_through([layer], np.repeat(z[None, :], n, axis=0), np.eye(n))   # row k: e_k^T J = J[k]


# -- the values of every neuron --------------------------------------------------------------------
def forward_values(net, X, dtype=np.float64):
    """Every group's ``(z, a)`` for a batch, computed from the parameters: ``[(None, X), (z1, a1), ...]``.

    ``z`` is the Dense layer's weighted sum (None for the input), ``a`` the value after its activations
    (the network's own output for the last group: logits when it has no final softmax).
    """
    a = np.asarray(X, dtype=dtype)
    values = []
    for dense, acts in neuron_groups(net):
        z = None
        if dense is not None:
            W, b = weights_and_biases(net.layers[dense], dtype)
            z = a @ W.T + b
            a = z
        a = activate([net.layers[i] for i in acts], a)
        values.append((z, a))
    return values


# -- the softmax that is not a layer ----------------------------------------------------------------
@dataclass(frozen=True)
class OutputHead:
    """The softmax (sigmoid for one output) that turns a network's outputs into probabilities when the
    network has no such final layer: ``predict_proba`` applies it, and a loss that fuses it
    (cross-entropy) applies it inside. ``layer`` is that activation, from the registry."""

    layer: Activation
    where: str                 # "in the loss" or "in predict_proba"

    @property
    def name(self):
        return self.layer.name

    @property
    def label(self):
        """``"softmax (in the loss)"``."""
        return f"{self.layer.name} ({self.where})"

    def function(self, out):
        return self.layer.function(out)


def output_head(net, loss=None):
    """The :class:`OutputHead` that ``predict_proba`` applies to ``net``'s outputs, or None when the
    network already ends in a softmax / sigmoid layer (its outputs are then the probabilities)."""
    if net.outputs_probabilities():
        return None
    layer = activations.get("softmax" if net.n_outputs > 1 else "sigmoid")      # as predict_proba
    loss = losses.get(loss or net.loss_ or "cross_entropy")
    fused = loss.fused_head is not None and isinstance(layer, loss.fused_head)
    return OutputHead(layer, "in the loss" if fused else "in predict_proba")


__all__ = ["OutputHead", "activate", "activation_name", "back_through", "forward_values", "logits_index",
           "jacobian", "neuron_groups", "output_head", "weights_and_biases"]
