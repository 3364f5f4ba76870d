"""The forward pass that the explanations read: each layer's own definition, in float64, on copies of the layers.

What it is: the network's layers grouped into arrays of neurons (a ``Dense`` layer and the
activations after it); :func:`layer_copies`, float64 copies of the layers (each one's own ``astype``)
that explain runs with the layers' own ``forward`` and ``backward`` (``Dense``: ``z = x @ W.T + b``,
``dW = delta.T @ x``, ``db = sum(delta)``, ``dx = delta @ W``; an activation: its ``function`` and
``backprop``), so the network's own layers and their caches are never touched; the values of every
array of neurons for a batch; the way back through an activation with its own ``derivative``; the
softmax (or sigmoid) that ``predict_proba`` or the loss applies when the network has no such final
layer (:func:`output_head`), and how an array's activation is named for a reader
(:func:`shown_activation`). A new activation in ``glassnet.activations`` is followed here with no change.

What it is not: a second copy of any layer's maths (there is none: ``Dense.forward`` / ``backward``
and ``layer.function`` are the one definition), training (``Network.forward`` caches what its own
``backward`` needs; here only the copies cache anything), or prediction for users (``Network.predict_proba``).
"""

import copy
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


def shown_activation(net, g, where=False):
    """How array ``g`` of ``net``'s neurons names its activation, the one rule for every reader (explain's
    traces, the app's diagram and views): its activations' names joined by ``" → "`` (``"identity"`` for
    none); the output of a network whose probabilities come from an :func:`output_head` adds that head:
    its name (``"softmax"``) in place of ``"identity"``, after the others otherwise (``"tanh → softmax"``),
    and with ``where=True`` its label, as explain's traces show it (``"softmax (in the loss)"``).

    Example:
        >>> import glassnet as gn
        >>> net = gn.Network.mlp([4, 3, 2], seed=0)
        >>> shown_activation(net, 1), shown_activation(net, 2), shown_activation(net, 2, where=True)
        ('relu', 'softmax', 'softmax (in the loss)')
    """
    groups = neuron_groups(net)
    names = [activation_name(net.layers[i]) for i in groups[g][1]]
    head = output_head(net) if g == len(groups) - 1 else None
    if head is not None:
        names.append(head.label if where else head.name)
    return " → ".join(names) or "identity"


def logits_index(net):
    """Index of the group whose ``z`` are the logits: the last Dense layer's group."""
    groups = neuron_groups(net)
    if groups[-1][0] is None:
        raise ValueError("explain expected a network with at least one Dense layer, received none")
    return len(groups) - 1


def weights_and_biases(layer, dtype=np.float64):
    """``(W, b)`` of a Dense layer as new arrays in ``dtype`` (float64: the sums below are then exact to rounding)."""
    return layer.params["weights"].astype(dtype), layer.params["biases"].astype(dtype)


def layer_copies(net, dtype=np.float64):
    """Copies of ``net``'s layers with every parameter in ``dtype`` (each layer's own ``astype``), for
    explain to run with the layers' own ``forward`` and ``backward``, in float64 where it promises exact sums.

    Each copy has its own new parameter and gradient arrays; what a pass caches (``Dense.x``, an
    activation's ``z``) is set on the copy, so ``net``'s layers, and a forward pass of theirs waiting
    for its backward pass, are left as they are. Only the settings are shared (a shallow copy: a deep
    one would also copy the last training batch a layer caches, while the app may be training it).
    """
    return [_copy_of(layer, dtype) for layer in net.layers]


def _copy_of(layer, dtype):
    twin = copy.copy(layer)              # the settings; a pass reassigns its caches on the copy only
    twin.params = dict(layer.params)     # its own dict: astype puts new arrays in it, net's keep theirs
    return twin.astype(dtype)


def layer_outputs(layers, X):
    """Each layer's output for the batch ``X``, in order: each one's own ``forward`` (not training: dropout
    is off), so each layer keeps what its ``backward`` needs. Run it on :func:`layer_copies`."""
    outputs = []
    a = X
    for layer in layers:
        a = layer.forward(a)
        outputs.append(a)
    return outputs


def group_values(groups, X, outputs):
    """``[(None, X or its activation), (z1, a1), ...]`` per array of neurons (:func:`neuron_groups`)
    from the batch ``X`` and the layers' outputs (:func:`layer_outputs`)."""
    values = []
    for dense, acts in groups:
        z = None if dense is None else outputs[dense]
        last = acts[-1] if acts else dense
        values.append((z, X if last is None else outputs[last]))
    return values


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
    """Every group's ``(z, a)`` for a batch, from the layers' own ``forward`` run on copies in ``dtype``:
    ``[(None, X), (z1, a1), ...]``.

    ``z`` is the Dense layer's weighted sum (None for the input), ``a`` the value after its activations
    (the network's own output for the last group: logits when it has no final softmax).
    """
    groups = neuron_groups(net)
    X = np.asarray(X, dtype=dtype)
    return group_values(groups, X, layer_outputs(layer_copies(net, dtype), X))


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


__all__ = ["OutputHead", "activate", "activation_name", "back_through", "forward_values", "group_values",
           "jacobian", "layer_copies", "layer_outputs", "logits_index", "neuron_groups", "output_head",
           "shown_activation", "weights_and_biases"]
