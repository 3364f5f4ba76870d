"""One prediction explained: the traced layers, the winner against the runner-up, and maps over the input.

What it is: :func:`explain` (and the :class:`Explanation` it returns), :func:`effective_affine`
(the network as the affine map ``logits = W_eff x + b_eff`` of the path one sample takes, from each
activation's own derivative) and the maps built on it: contribution, contrast, saliency.

What it is not: the forward pass itself (``explain.forward``), the per-neuron records
(``explain.trace``), the nearest examples (``explain.reference``), text (``explain.text``), or
pictures (``glassnet.plots``).
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .. import losses, views
from .._validation import as_float_array, check_params, describe
from .forward import jacobian, layer_copies, layer_outputs, logits_index, neuron_groups
from .reference import Reference, reference_pair
from .text import render_explanation
from .trace import terms, trace_layers

IMAGE_SHAPES = {784: (28, 28)}   # inputs that are shown as pictures, by number of features


@dataclass
class Margin:
    """Why ``winner`` beat ``runner_up``: ``difference = sum(terms) + bias``, term by term.

    ``difference = z_win - z_run = sum_i a_i (W[win, i] - W[run, i]) + (b_win - b_run)`` over the
    neurons ``a`` of the layer before the output. ``for_winner`` are the largest positive terms,
    ``for_runner_up`` the largest negative ones (``Term.w`` is the weight difference).
    """

    winner: int
    runner_up: int
    difference: float
    bias: float
    positive: float
    negative: float
    for_winner: list
    for_runner_up: list

    def to_dict(self) -> dict:
        return {"winner": self.winner, "runner_up": self.runner_up, "difference": self.difference,
                "bias": self.bias, "positive": self.positive, "negative": self.negative,
                "for_winner": [t.to_dict() for t in self.for_winner],
                "for_runner_up": [t.to_dict() for t in self.for_runner_up]}


@dataclass
class Explanation:
    """The trace of one prediction; see :func:`explain`. Plain data; ``to_dict()`` for JSON."""

    x: np.ndarray
    layers: list
    logits: np.ndarray
    probabilities: np.ndarray
    prediction: int
    runner_up: int
    margin: Margin
    effective_weights: np.ndarray
    effective_bias: np.ndarray
    maps: dict
    image_shape: tuple | None = None
    label: int | None = None
    neighbours: list | None = None
    forward_check: float = 0.0      # largest |difference| between these probabilities and net.predict_proba's
    top: int = 5

    @property
    def correct(self):
        return None if self.label is None else self.prediction == self.label

    @property
    def output(self):
        return self.layers[-1]

    def to_dict(self, full: bool = False) -> dict:
        """JSON-ready: lists and numbers. ``full=True`` adds every layer's full term matrix."""
        return {
            "prediction": self.prediction, "runner_up": self.runner_up, "label": self.label, "correct": self.correct,
            "probabilities": self.probabilities.tolist(), "logits": self.logits.tolist(),
            "margin": self.margin.to_dict(), "image_shape": list(self.image_shape) if self.image_shape else None,
            "x": self.x.tolist(), "layers": [layer.to_dict(full) for layer in self.layers],
            "maps": {name: m.tolist() for name, m in self.maps.items()},
            "effective_bias": self.effective_bias.tolist(), "neighbours": self.neighbours,
            "forward_check": self.forward_check, "top": self.top,
        }

    def __str__(self):
        return render_explanation(self)

    def __repr__(self):
        return views.explanation_text(self)

    def _repr_html_(self):
        """In a notebook: the prediction, the probabilities, the maps, the layers folded (``glassnet.views``)."""
        return views.explanation_html(self)


def explain(net, x: ArrayLike, *, top: int = 5, reference: tuple[ArrayLike, ArrayLike] | Reference | None = None,
            neighbours: int = 5, label: int | None = None, image_shape: tuple[int, ...] | None = None) -> Explanation:
    """Trace one prediction through ``net``, neuron by neuron; returns an :class:`Explanation`.

    Every neuron: ``z_j = sum_i w_ji x_i + b_j`` (its strongest terms and exact sums), ``a_j = f(z_j)``
    with the layer's own ``f``. Output: the logits ``z``, the probabilities (``softmax(z)`` when the
    softmax is in the loss rather than in the network), and the winner's logit minus the runner-up's
    split into terms. Input: the contribution map ``x * W_eff[c]`` (``sum + b_eff[c] == logit_c``) and
    the saliency ``dp_c/dx``.

    Args:
        net: a :class:`~glassnet.Network` of Dense and activation layers.
        x: one sample: ``(n_features,)``, ``(1, n_features)`` or an image such as ``(28, 28)``.
        top: how many inputs per neuron to list each way (up and down).
        reference: ``(X_train, y_train)`` (or a :class:`Reference`) for the nearest training examples.
        neighbours: how many nearest examples to list per layer.
        label: the true class, if known (shows whether the prediction is right and its neighbours).
        image_shape: shape to show the input as; default ``(28, 28)`` for 784 inputs.

    Example:
        >>> import glassnet as gn
        >>> net = gn.Network.mlp([4, 3, 2], seed=0)
        >>> e = explain(net, [1.0, 0.5, -0.5, 2.0])
        >>> n = e.layers[1].neurons[0]
        >>> abs(n.positive + n.negative + n.bias - n.z) < 1e-12
        True
        >>> e.output.activation, round(float(e.output.a.sum()), 12)
        ('softmax (in the loss)', 1.0)
    """
    check_params("explain", {"top": ("int", 1, None, False), "neighbours": ("int", 1, None, False)},
                 {"top": top, "neighbours": neighbours})
    check_classifier(net)
    x = one_sample(net, x)
    image_shape = _image_shape(net, image_shape)
    if label is not None:
        label = _check_label(label, net.n_outputs)
    if reference is not None and not isinstance(reference, Reference):
        reference = Reference(net, *reference_pair(reference))
    if isinstance(reference, Reference) and reference.net is not net:
        raise ValueError("explain: the Reference was built for another network; build it with this one")

    layers, values = trace_layers(net, x, top)
    logits = layers[logits_index(net)].z
    probabilities = layers[-1].a                  # the output as it really is: after the softmax, wherever it is
    prediction, runner_up = winner_and_runner_up(probabilities)
    margin = _margin(layers[-1], prediction, runner_up, top)
    W_eff, b_eff = effective_affine(net, x)
    maps = _maps(x, W_eff, probabilities, prediction, runner_up, image_shape)
    explanation = Explanation(x, layers, logits, probabilities, prediction, runner_up, margin, W_eff, b_eff, maps,
                              image_shape=image_shape, label=label, top=top,
                              forward_check=_forward_check(net, x, probabilities))
    if reference is not None:
        explanation.neighbours = reference.nearest(values, prediction, label, neighbours)
    return explanation


def check_classifier(net):
    """Refuse a regression network (one output trained on real values): it has no classes to explain."""
    loss = net.loss_
    if net.n_outputs == 1 and loss is not None and not isinstance(loss, (losses.CrossEntropy,
                                                                         losses.BinaryCrossEntropy)):
        raise ValueError(f"explain expected a classifier, received a network with one output trained with the "
                         f"{getattr(loss, 'name', loss)} loss (a regression: it predicts a value, not a class); "
                         f"explain_step and effective_affine still trace it")


def one_sample(net, x) -> np.ndarray:
    """``x`` as one float64 sample ``(n_features,)``, or an error naming the shape it has."""
    arr = as_float_array(x, name="x", dtype=np.float64)
    if arr.size != net.n_features or (arr.ndim == 2 and arr.shape[0] != 1 and arr.shape[1] == net.n_features):
        raise ValueError(f"explain expected one sample of {net.n_features} features (shape ({net.n_features},), "
                         f"(1, {net.n_features}) or an image with {net.n_features} pixels), received shape "
                         f"{arr.shape}" + ("; explain one row at a time: X[i]"
                                          if arr.ndim == 2 and arr.shape[1] == net.n_features else ""))
    return arr.reshape(-1)


def _image_shape(net, image_shape):
    if image_shape is None:
        return IMAGE_SHAPES.get(net.n_features)
    try:
        shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError):
        raise TypeError(f"explain: image_shape expected sizes such as (28, 28), "
                        f"received {describe(image_shape)}") from None
    if int(np.prod(shape)) != net.n_features:
        raise ValueError(f"explain: image_shape expected {net.n_features} pixels in all, received {shape}")
    return shape


def _check_label(label, n_outputs):
    n_classes = max(n_outputs, 2)
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) or not 0 <= label < n_classes:
        raise ValueError(f"explain: label expected a class in [0, {n_classes - 1}], received {label!r}")
    return int(label)


def winner_and_runner_up(probabilities):
    """The most and the second most probable class (one output: class 1 if ``p >= 0.5``, else class 0)."""
    if len(probabilities) == 1:
        winner = int(probabilities[0] >= 0.5)
        return winner, 1 - winner
    order = np.argsort(-probabilities, kind="stable")
    return int(order[0]), int(order[1])


def _margin(output, winner, runner_up, top):
    """The winner's logit minus the runner-up's, as terms over the layer before the output."""
    W, b, a_prev = output.weights, output.bias, output.inputs
    if len(W) == 1:                           # one output: its logit z decides (z >= 0 -> class 1)
        sign = 1.0 if winner == 1 else -1.0
        w, bias = sign * W[0], sign * b[0]
    else:
        w, bias = W[winner] - W[runner_up], b[winner] - b[runner_up]
    T = w * a_prev
    order = np.argsort(T, kind="stable")
    k = min(top, len(T))
    return Margin(winner, runner_up, float(T.sum() + bias), float(bias),
                  float(T[T > 0].sum()), float(T[T < 0].sum()),
                  terms(a_prev, w, [i for i in order[::-1][:k] if T[i] > 0]),
                  terms(a_prev, w, [i for i in order[:k] if T[i] < 0]))


def effective_affine(net, x, layer=None):
    """``(W_eff, b_eff)`` with ``logits = W_eff @ x + b_eff`` exactly, for the path ``x`` takes.

    The values ``z`` and ``f(z)`` at ``x`` are the layers' own forward pass (float64 copies, as in
    :func:`explain`). Each activation is replaced by its tangent at ``x``: ``f(z) = s z + c``, ``s = f'(z)``
    (the layer's own ``derivative``), ``c = f(z) - s z`` (ReLU: ``s`` in {0, 1}, ``c = 0``). Then the network is
    the composition of the affine maps ``v -> W v + b`` and ``v -> diag(s) v + c`` (a softmax inside the network:
    its full Jacobian instead of ``diag(s)``), composed from the output side. Shapes ``(n_logits, n_features)``
    and ``(n_logits,)``; the logits are the last Dense layer's ``z`` (before a final softmax). ``layer=g``:
    the same for the weighted sums ``z`` of array ``g`` of neurons (1 = the first hidden layer): what drives
    each of its neurons, as one weight per input, for this ``x``.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    layers = layer_copies(net)                # float64; the values z, a are each layer's own forward
    outputs = [out[0] for out in layer_outputs(layers, x[None, :])]
    last = logits_index(net)
    if layer is not None:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 1 <= layer <= last:
            raise ValueError(f"effective_affine: layer expected an array of neurons 1 to {last}, received {layer!r}")
        last = int(layer)
    maps = []                                 # each step as v -> P v + q, input first (P a vector: diag(P))
    for g, (dense, acts) in enumerate(neuron_groups(net)):
        if dense is not None:
            maps.append((layers[dense].params["weights"], layers[dense].params["biases"]))
        if g == last:
            break
        for i in acts:
            z, a = outputs[i - 1] if i else x, outputs[i]
            J = jacobian(layers[i], z)        # element-wise: the vector s (J = diag(s)); a softmax: the matrix
            maps.append((J, a - (J * z if J.ndim == 1 else J @ z)))
    # Composed from the output side: M = P_last ... P_k, b_eff = sum_k P_last ... P_(k+1) q_k. Few rows (the
    # logits) times each matrix: the same map as composing from the input, at a fraction of the cost.
    M, b_eff = None, 0.0
    for P, q in reversed(maps):
        b_eff = b_eff + (q if M is None else M @ q)
        if M is None:
            M = np.diag(P) if P.ndim == 1 else P.copy()
        else:
            M = M * P[None, :] if P.ndim == 1 else M @ P
    return M, np.asarray(b_eff, dtype=np.float64)


def _maps(x, W_eff, probabilities, prediction, runner_up, image_shape):
    """Contribution, contrast, effective-weight and saliency maps over the input.

    ``saliency = dp_c/dx`` fades to 0 when the network is sure (``p_c`` near 1);
    ``log_saliency = d log p_c / dx = W_eff[c] - sum_k p_k W_eff[k]`` keeps its size.
    """
    if len(W_eff) == 1:                        # one output: the logit's own map, signed toward the prediction
        sign = 1.0 if prediction == 1 else -1.0
        w, contrast = sign * W_eff[0], sign * W_eff[0]
        p = probabilities[0]
        saliency = sign * p * (1 - p) * W_eff[0]
        log_saliency = sign * ((1 - p) if prediction == 1 else p) * W_eff[0]
    else:
        w, contrast = W_eff[prediction], W_eff[prediction] - W_eff[runner_up]
        # d p_c / dx = p_c (dz_c/dx - sum_k p_k dz_k/dx), and dz/dx = W_eff
        log_saliency = W_eff[prediction] - probabilities @ W_eff        # d log p_c / dx: never saturates
        saliency = probabilities[prediction] * log_saliency
    maps = {"contribution": x * w, "contribution_vs_runner_up": x * contrast, "effective_weights": w,
            "saliency": saliency, "log_saliency": log_saliency}
    shape = image_shape or (len(x),)
    return {name: m.reshape(shape) for name, m in maps.items()}


def _forward_check(net, x, probabilities):
    """Largest |difference| between this float64 trace's probabilities and ``net.predict_proba`` (net's dtype).

    ``predict_proba`` is the library's one prediction path; a difference beyond rounding means the
    network holds a layer this trace does not follow.
    """
    library = np.asarray(net.predict_proba(x[None, :].astype(net.dtype)), dtype=np.float64)[0]
    diff = float(np.max(np.abs(library - probabilities)))
    tolerance = (1e-3 if net.dtype == np.float32 else 1e-9) * (1.0 + float(np.max(np.abs(probabilities))))
    if not diff <= tolerance:
        raise RuntimeError(f"explain: the traced probabilities differ from net.predict_proba by {diff:.3g} "
                           f"(tolerance {tolerance:.3g}); the network holds a layer the trace does not follow")
    return diff


__all__ = ["Explanation", "Margin", "check_classifier", "effective_affine", "explain", "one_sample",
           "winner_and_runner_up"]
