"""Explain one prediction neuron by neuron, and one step of learning number by number.

How it works, in short:

- :func:`explain` runs the sample through the network again, in float64, from each layer's
  own parameters (it never reads values cached by an earlier pass). For every neuron of every
  layer it keeps the weighted sum ``z_j = sum_i w_ji x_i + b_j`` as its terms: the inputs that
  pushed the neuron up most and down most, and the exact sums of the positive and negative
  terms, so ``z_j == positive + negative + b_j``. Then the activation ``a_j = f(z_j)``.
- For the output it gives the probabilities and why the winner beat the runner-up: the
  difference of their logits, ``sum_i a_i (w_win,i - w_run,i) + (b_win - b_run)``, term by term.
- Each activation is replaced by its tangent line at this sample, ``f(z) = s z + c`` with slope
  ``s = f'(z)`` (for ReLU ``s`` is 1 or 0 and ``c`` is 0). The network is then exactly an affine
  map of the input: ``logits = W_eff x + b_eff``, with ``W_eff`` the *effective weight matrix*
  of the path this sample takes. ``x * W_eff[c]`` is the contribution map: its pixels add up to
  the logit of class ``c`` minus ``b_eff[c]``, exactly. For ReLU networks ``W_eff`` is the matrix
  of the active paths and ``b_eff`` carries only the biases; for smooth activations ``b_eff``
  also carries the tangents' intercepts.
- The saliency map is ``d p_c / d x``: how the predicted probability changes with each pixel
  (and ``log_saliency``, ``d log p_c / d x``, the same direction without fading when ``p_c`` is near 1).
- With ``reference=(X_train, y_train)`` it finds the training examples nearest to the sample
  in every layer's representation ("your digit looks like these"), and the nearest examples of
  the class it chose (with a wrong prediction: the neighbours behind the mistake).
- :func:`explain_step` traces the backward pass of one plain SGD step on a labelled example or
  small batch: ``delta = dL/dz`` per neuron, ``dW``, ``db`` and the update ``-lr * dW``.

Everything returned is plain data (NumPy arrays and numbers), with ``to_dict()`` for JSON and
``str()`` for a terminal. Not here: pictures (``glassnet.plot``), convolutional or recurrent
layers, attribution methods that need a baseline (integrated gradients, SHAP).
"""

from dataclasses import dataclass, field

import numpy as np

from . import losses
from ._validation import as_float_array, check_params, check_X, describe
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh, sigmoid, softmax
from .layers import Dense, Dropout

IMAGE_SHAPES = {784: (28, 28)}   # inputs that are shown as pictures, by number of features
_REFERENCE_CHUNK = 2048          # samples per forward pass over the reference set


# -- the layer-by-layer forward pass, in float64, from the parameters ------------------------------------
def activation_name(layer):
    """Short lower-case name of an activation (or dropout) layer: ``"relu"``, ``"leaky_relu(0.01)"``..."""
    if isinstance(layer, LeakyReLU):
        return f"leaky_relu({layer.alpha:g})"
    if isinstance(layer, Dropout):
        return "dropout (off)"
    names = {ReLU: "relu", Sigmoid: "sigmoid", Tanh: "tanh", Softmax: "softmax", Identity: "identity"}
    for cls, name in names.items():
        if isinstance(layer, cls):
            return name
    raise TypeError(f"explain supports Dense, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, Identity and Dropout "
                    f"layers, received {describe(layer)}")


def apply_activation(layer, z):
    """``(a, slope)``: ``a = f(z)`` and ``f'(z)``, element-wise (``slope`` is None for softmax).

    Pure: reads the layer's settings, never its cached state. Dropout is off (prediction mode).
    """
    if isinstance(layer, ReLU):
        return np.maximum(z, 0.0), (z > 0).astype(z.dtype)
    if isinstance(layer, LeakyReLU):
        slope = np.where(z > 0, 1.0, layer.alpha).astype(z.dtype)
        return z * slope, slope
    if isinstance(layer, Sigmoid):
        a = sigmoid(z)
        return a, a * (1.0 - a)
    if isinstance(layer, Tanh):
        a = np.tanh(z)
        return a, 1.0 - a * a
    if isinstance(layer, Softmax):
        return softmax(z), None
    if isinstance(layer, (Identity, Dropout)):
        return z, np.ones_like(z)
    activation_name(layer)        # raises the "unsupported layer" error


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


def forward_values(net, X, dtype=np.float64):
    """Every group's ``(z, a)`` for a batch, computed from the parameters: ``[(None, X), (z1, a1), ...]``.

    ``z`` is the Dense layer's weighted sum (None for the input), ``a`` the value after its activations.
    """
    a = np.asarray(X, dtype=dtype)
    values = []
    for dense, acts in neuron_groups(net):
        z = None
        if dense is not None:
            layer = net.layers[dense]
            z = a @ layer.params["weights"].astype(dtype).T + layer.params["biases"].astype(dtype)
            a = z
        for i in acts:
            a, _ = apply_activation(net.layers[i], a)
        values.append((z, a))
    return values


def logits_index(net):
    """Index of the group whose ``z`` are the logits: the last Dense layer's group."""
    groups = neuron_groups(net)
    if groups[-1][0] is None:
        raise ValueError("explain expected a network with at least one Dense layer, received none")
    return len(groups) - 1


def _probabilities(net, out):
    """As ``Network.predict_proba``: the output if it already is a probability, else softmax/sigmoid of it."""
    if isinstance(net.layers[-1], (Softmax, Sigmoid)):
        return out
    return softmax(out) if out.shape[1] > 1 else sigmoid(out)


# -- the explanation's parts ----------------------------------------------------------------------
@dataclass
class Term:
    """One term ``w * x`` of a weighted sum: input ``input`` with value ``x`` times weight ``w``."""

    input: int
    x: float
    w: float
    term: float

    def to_dict(self):
        return {"input": self.input, "x": self.x, "w": self.w, "term": self.term}

    def __str__(self):
        return f"[{self.input}] {self.x:.3g}×{self.w:+.3g} = {self.term:+.3g}"


def _terms(x, w, order):
    return [Term(int(i), float(x[i]), float(w[i]), float(w[i] * x[i])) for i in order]


@dataclass
class NeuronTrace:
    """Neuron ``j``: ``z = positive + negative + bias`` (exactly), then ``a = f(z)``.

    ``up``/``down``: the inputs whose terms ``w_i x_i`` pushed ``z`` most up / most down.
    """

    neuron: int
    z: float
    a: float
    bias: float
    positive: float
    negative: float
    up: list
    down: list

    def to_dict(self):
        return {"neuron": self.neuron, "z": self.z, "a": self.a, "bias": self.bias, "positive": self.positive,
                "negative": self.negative, "up": [t.to_dict() for t in self.up],
                "down": [t.to_dict() for t in self.down]}


@dataclass
class LayerTrace:
    """One array of neurons: the input (index 0), a hidden layer, or the output.

    ``z = W @ x_prev + b`` (None for the input), ``a`` = the neurons' values after ``activation``.
    ``weights`` (float64 ``(n_out, n_in)``) and ``inputs`` are kept for :meth:`terms`.
    """

    index: int
    name: str
    activation: str
    a: np.ndarray
    z: np.ndarray = None
    bias: np.ndarray = None
    weights: np.ndarray = field(default=None, repr=False)
    inputs: np.ndarray = field(default=None, repr=False)
    neurons: list = field(default_factory=list)
    layers: list = field(default_factory=list)     # indices in net.layers this array of neurons comes from

    @property
    def n(self):
        return len(self.a)

    def terms(self):
        """The full term matrix ``T[j, i] = W[j, i] * x[i]``: ``T.sum(axis=1) + b == z``."""
        if self.weights is None:
            raise ValueError("the input layer has no weighted sums; terms() is for hidden and output layers")
        return self.weights * self.inputs

    def to_dict(self, full=False):
        d = {"index": self.index, "name": self.name, "activation": self.activation, "n": self.n,
             "layers": list(self.layers), "a": self.a.tolist(),
             "z": None if self.z is None else self.z.tolist(),
             "bias": None if self.bias is None else self.bias.tolist(),
             "neurons": [n.to_dict() for n in self.neurons]}
        if full and self.weights is not None:
            d["terms"] = self.terms().tolist()
        return d


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

    def to_dict(self):
        return {"winner": self.winner, "runner_up": self.runner_up, "difference": self.difference,
                "bias": self.bias, "positive": self.positive, "negative": self.negative,
                "for_winner": [t.to_dict() for t in self.for_winner],
                "for_runner_up": [t.to_dict() for t in self.for_runner_up]}


def _neuron_traces(W, b, x, z, a, top):
    """A :class:`NeuronTrace` per row of ``W``: exact sums, and the ``top`` terms each way."""
    T = W * x                                        # T[j, i] = w_ji x_i
    positive = np.where(T > 0, T, 0.0).sum(axis=1)
    negative = np.where(T < 0, T, 0.0).sum(axis=1)
    k = min(top, T.shape[1])
    traces = []
    for j in range(len(W)):
        row = T[j]
        order = np.argsort(row, kind="stable")
        up = [i for i in order[::-1][:k] if row[i] > 0]
        down = [i for i in order[:k] if row[i] < 0]
        traces.append(NeuronTrace(j, float(z[j]), float(a[j]), float(b[j]), float(positive[j]), float(negative[j]),
                                  _terms(x, W[j], up), _terms(x, W[j], down)))
    return traces


# -- the explanation ------------------------------------------------------------------------------
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
    image_shape: tuple = None
    label: int = None
    neighbours: list = None
    forward_check: float = 0.0      # largest |difference| between this trace and net.forward (net's dtype)
    top: int = 5

    @property
    def correct(self):
        return None if self.label is None else self.prediction == self.label

    @property
    def output(self):
        return self.layers[-1]

    def to_dict(self, full=False):
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
        return _render(self)


def explain(net, x, *, top=5, reference=None, neighbours=5, label=None, image_shape=None):
    """Trace one prediction through ``net``, neuron by neuron; returns an :class:`Explanation`.

    Every neuron: ``z_j = sum_i w_ji x_i + b_j`` (its strongest terms and exact sums), ``a_j = f(z_j)``.
    Output: probabilities, and the winner's logit minus the runner-up's split into terms. Input:
    the contribution map ``x * W_eff[c]`` (``sum + b_eff[c] == logit_c``) and the saliency ``dp_c/dx``.

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
    """
    check_params("explain", {"top": ("int", 1, None, False), "neighbours": ("int", 1, None, False)},
                 {"top": top, "neighbours": neighbours})
    _check_classifier(net)
    x = _one_sample(net, x)
    image_shape = _image_shape(net, image_shape)
    if label is not None:
        label = _check_label(label, net.n_outputs)
    if reference is not None and not isinstance(reference, Reference):
        reference = Reference(net, *_reference_pair(reference))
    if isinstance(reference, Reference) and reference.net is not net:
        raise ValueError("explain: the Reference was built for another network; build it with this one")

    groups = neuron_groups(net)
    values = forward_values(net, x[None, :])
    last = logits_index(net)
    layers = []
    for g, ((dense, acts), (z, a)) in enumerate(zip(groups, values)):
        name = "input" if g == 0 else "output" if g == len(groups) - 1 else f"hidden {g}"
        activation = " → ".join(activation_name(net.layers[i]) for i in acts) or "identity"
        trace = LayerTrace(g, name, activation, a[0], layers=([dense] if dense is not None else []) + acts)
        if dense is not None:
            W = net.layers[dense].params["weights"].astype(np.float64)
            b = net.layers[dense].params["biases"].astype(np.float64)
            x_prev = values[g - 1][1][0]
            trace.z, trace.bias, trace.weights, trace.inputs = z[0], b, W, x_prev
            trace.neurons = _neuron_traces(W, b, x_prev, z[0], a[0], top)
        layers.append(trace)

    logits = layers[last].z
    out = values[-1][1]
    probabilities = _probabilities(net, out)[0]
    prediction, runner_up = _winner_and_runner_up(probabilities)
    margin = _margin(layers[last], prediction, runner_up, top)
    W_eff, b_eff = effective_affine(net, x)
    maps = _maps(x, W_eff, logits, probabilities, prediction, runner_up, image_shape)
    explanation = Explanation(x, layers, logits, probabilities, prediction, runner_up, margin, W_eff, b_eff, maps,
                              image_shape=image_shape, label=label, top=top,
                              forward_check=_forward_check(net, x, out[0]))
    if reference is not None:
        explanation.neighbours = reference.nearest(values, prediction, label, neighbours)
    return explanation


def _check_classifier(net):
    """Refuse a regression network (one output trained on real values): it has no classes to explain."""
    loss = net.loss_
    if net.n_outputs == 1 and loss is not None and not isinstance(loss, (losses.CrossEntropy,
                                                                         losses.BinaryCrossEntropy)):
        raise ValueError(f"explain expected a classifier, received a network with one output trained with the "
                         f"{getattr(loss, 'name', loss)} loss (a regression: it predicts a value, not a class); "
                         f"explain_step and effective_affine still trace it")


def _one_sample(net, x):
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


def _winner_and_runner_up(probabilities):
    if len(probabilities) == 1:               # one output: class 1 if p >= 0.5, else class 0
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
                  _terms(a_prev, w, [i for i in order[::-1][:k] if T[i] > 0]),
                  _terms(a_prev, w, [i for i in order[:k] if T[i] < 0]))


def effective_affine(net, x):
    """``(W_eff, b_eff)`` with ``logits = W_eff @ x + b_eff`` exactly, for the path ``x`` takes.

    Each activation is replaced by its tangent at ``x``: ``f(z) = s z + c``, ``s = f'(z)``,
    ``c = f(z) - s z`` (ReLU: ``s`` in {0, 1}, ``c = 0``). Then layer by layer
    ``W_eff <- diag(s) W W_eff`` and ``b_eff <- s * (W b_eff + b) + c``. Shapes ``(n_logits, n_features)``
    and ``(n_logits,)``; the logits are the last Dense layer's ``z`` (before a final softmax).
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    n = len(x)
    W_eff, b_eff = np.eye(n), np.zeros(n)
    a = x
    last = logits_index(net)
    for g, (dense, acts) in enumerate(neuron_groups(net)):
        if dense is not None:
            W = net.layers[dense].params["weights"].astype(np.float64)
            b = net.layers[dense].params["biases"].astype(np.float64)
            W_eff, b_eff = W @ W_eff, W @ b_eff + b
            a = W @ a + b
        if g == last:
            break
        for i in acts:
            z = a
            a, s = apply_activation(net.layers[i], z)
            if s is None:                     # softmax inside the network: its full Jacobian J = diag(a) - a a^T
                J = np.diag(a) - np.outer(a, a)
                W_eff, b_eff = J @ W_eff, J @ b_eff + (a - J @ z)
            else:
                W_eff, b_eff = s[:, None] * W_eff, s * b_eff + (a - s * z)
    return W_eff, b_eff


def _maps(x, W_eff, logits, probabilities, prediction, runner_up, image_shape):
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


def _forward_check(net, x, out64):
    """Largest |difference| between this float64 trace and ``net.forward`` in the network's dtype.

    A difference beyond rounding means the network holds a layer this module does not follow.
    """
    out = np.asarray(net._infer(x[None, :].astype(net.dtype)), dtype=np.float64)[0]   # infer caches nothing
    diff = float(np.max(np.abs(out - out64)))
    tolerance = (1e-3 if net.dtype == np.float32 else 1e-9) * (1.0 + float(np.max(np.abs(out64))))
    if not diff <= tolerance:
        raise RuntimeError(f"explain: the traced outputs differ from net.forward by {diff:.3g} (tolerance "
                           f"{tolerance:.3g}); the network holds a layer the trace does not follow")
    return diff


# -- nearest training examples -------------------------------------------------------------------
def _reference_pair(reference):
    if not isinstance(reference, (tuple, list)) or len(reference) != 2:
        raise TypeError(f"explain: reference expected a pair (X_train, y_train) or a Reference, received "
                        f"{describe(reference)}")
    return reference


class Reference:
    """Training examples and their representation in every layer, for nearest-neighbour look-ups.

    Build once and pass to several :func:`explain` calls: ``Reference(net, X_train, y_train)``.
    """

    def __init__(self, net, X, y):
        X = check_X(X, net.n_features, name="reference X", dtype=np.float64)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X) or y.dtype.kind not in "iu":
            raise ValueError(f"explain: reference y expected {len(X)} integer labels (shape ({len(X)},)), "
                             f"received {describe(y)}")
        self.net, self.y = net, y.astype(np.int64)
        chunks = [forward_values(net, X[s:s + _REFERENCE_CHUNK]) for s in range(0, len(X), _REFERENCE_CHUNK)]
        self.representations = [np.concatenate([c[g][1] for c in chunks]) for g in range(len(chunks[0]))]

    def __len__(self):
        return len(self.y)

    def nearest(self, values, prediction, label, k):
        """Per layer: the ``k`` nearest examples, their label votes, and the nearest of the predicted/true class."""
        names = ["input"] + [f"hidden {g}" for g in range(1, len(values) - 1)] + ["output"]
        result = []
        for name, R, (_, a) in zip(names, self.representations, values):
            distance = np.sqrt(np.sum((R - a[0]) ** 2, axis=1))
            entry = {"layer": name, "nearest": self._listing(distance, np.arange(len(R)), k)}
            entry["votes"] = {str(c): int(n) for c, n in
                              zip(*np.unique([e["label"] for e in entry["nearest"]], return_counts=True))}
            entry["predicted_class"] = self._listing(distance, np.flatnonzero(self.y == prediction), k)
            if label is not None:
                entry["true_class"] = self._listing(distance, np.flatnonzero(self.y == label), k)
            result.append(entry)
        return result

    def _listing(self, distance, candidates, k):
        order = candidates[np.argsort(distance[candidates], kind="stable")[:k]]
        return [{"index": int(i), "label": int(self.y[i]), "distance": float(distance[i])} for i in order]


# -- one step of learning, traced -----------------------------------------------------------------
@dataclass
class LayerStep:
    """One Dense layer during a step: ``delta = dL/dz``, ``dW = delta.T @ x``, ``db = sum(delta)``.

    Per sample ``delta_j = f'(z_j) * sum_k W_next[k, j] delta_next_k`` (the chain rule, one layer down).
    ``update_W = -lr * dW`` is what plain SGD adds to ``W``; ``new_W = W + update_W``.
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
        return _render_step(self)


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
    from .network import prepare_targets

    check_params("explain_step", {"lr": ("float", 0.0, None, True)}, {"lr": lr})
    loss = losses.get(loss or net.loss_ or "cross_entropy")
    X = as_float_array(X, name="X", dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    X = check_X(X, net.n_features, dtype=np.float64)
    y, _ = prepare_targets(y if np.ndim(y) else [y], len(X), net.n_outputs, loss)

    groups = neuron_groups(net)
    values = forward_values(net, X)
    head = loss.fused_head
    fused = head is not None and isinstance(net.layers[-1], head)
    last_dense, last_acts = groups[-1]
    out = values[-1][1]
    if fused:                     # the loss takes the logits before the final softmax / sigmoid
        acts = [i for i in last_acts if i != len(net.layers) - 1]
        out = values[-1][0]
        for i in acts:
            out, _ = apply_activation(net.layers[i], out)
    value = loss.value(out, y)
    delta_out = loss.gradient(out, np.asarray(y))

    steps = []
    delta = delta_out                                          # dL/d(value of the current group)
    for g in range(len(groups) - 1, 0, -1):
        dense, acts = groups[g]
        z, a = values[g]
        chain = acts if not (fused and g == len(groups) - 1) else [i for i in acts if i != len(net.layers) - 1]
        delta = _back_through_activations(net, chain, z, delta)  # dL/dz
        layer = net.layers[dense]
        W = layer.params["weights"].astype(np.float64)
        b = layer.params["biases"].astype(np.float64)
        x_in = values[g - 1][1]
        name = "output" if g == len(groups) - 1 else f"hidden {g}"
        activation = " → ".join(activation_name(net.layers[i]) for i in acts) or "identity"
        steps.append(LayerStep(dense, name, activation, x_in, z, a, delta, delta.T @ x_in, delta.sum(axis=0),
                               W=W, b=b, lr=float(lr)))
        delta = delta @ W                                      # dL/d(inputs of this layer)
    steps.reverse()
    return StepTrace(loss.name, float(value), float(lr), np.asarray(y), out, delta_out, steps)


trace_backward = explain_step


def _back_through_activations(net, chain, z, delta):
    """``dL/dz`` from ``dL/da`` through the activations in ``chain`` (applied in order to ``z``)."""
    inputs = []
    a = z
    for i in chain:
        inputs.append(a)
        a, _ = apply_activation(net.layers[i], a)
    for i, a_in in zip(reversed(chain), reversed(inputs)):
        out, slope = apply_activation(net.layers[i], a_in)
        if slope is None:                                      # softmax: J^T delta = a * (delta - sum(delta a))
            delta = out * (delta - np.sum(delta * out, axis=1, keepdims=True))
        else:
            delta = delta * slope
    return delta


# -- text -------------------------------------------------------------------------------------------
def _fmt(v):
    return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"


def _render(e):
    lines = []
    p = e.probabilities
    head = f"prediction: {e.prediction} (p = {p[e.prediction] if len(p) > 1 else max(p[0], 1 - p[0]):.3f})"
    head += f"; runner-up: {e.runner_up}"
    if e.label is not None:
        head += f"; true label: {e.label} ({'right' if e.correct else 'WRONG'})"
    lines.append(head)
    x = e.x
    shape = f" ({e.image_shape[0]}x{e.image_shape[1]} image)" if e.image_shape and len(e.image_shape) == 2 else ""
    lines.append(f"input: {len(x)} neurons{shape}, {int(np.count_nonzero(x))} non-zero, "
                 f"from {_fmt(x.min())} to {_fmt(x.max())}")
    for layer in e.layers[1:]:
        lines.append("")
        lines += _render_layer(layer, e.top, e.probabilities if layer is e.layers[-1] else None)
    m = e.margin
    prev = e.layers[-2].name
    lines += ["", f"why {m.winner} and not {m.runner_up}: logit difference {_fmt(m.difference)} = "
                  f"{_fmt(m.positive)} (for {m.winner}) {_fmt(m.negative)} (for {m.runner_up}) "
                  f"{m.bias:+.3g} (biases)",
              f"  terms a_i × (w_{m.winner},i - w_{m.runner_up},i) over the {prev} neurons:"]
    lines.append(f"  for {m.winner}: " + (", ".join(f"#{t.input} {_fmt(t.x)}×{t.w:+.3g}={t.term:+.3g}"
                                                    for t in m.for_winner) or "-"))
    lines.append(f"  for {m.runner_up}: " + (", ".join(f"#{t.input} {_fmt(t.x)}×{t.w:+.3g}={t.term:+.3g}"
                                                        for t in m.for_runner_up) or "-"))
    c = e.maps["contribution"]
    k = 0 if len(e.logits) == 1 else e.prediction
    sign = -1.0 if len(e.logits) == 1 and e.prediction == 0 else 1.0   # one output: class 0 is the logit's minus
    lines += ["", f"contribution map (input × effective weight toward {e.prediction}): sum {_fmt(c.sum())} + "
                  f"effective bias {_fmt(sign * e.effective_bias[k])} = {'-' if sign < 0 else ''}logit "
                  f"{_fmt(sign * e.logits[k])}"]
    if e.image_shape and len(e.image_shape) == 2:
        lines += _ascii_map(c)
    if e.neighbours:
        lines += ["", "nearest training examples (label:distance), per layer:"]
        for entry in e.neighbours:
            near = "  ".join(f"{n['label']}:{n['distance']:.2f}" for n in entry["nearest"])
            lines.append(f"  {entry['layer']:>9}: {near}")
        if e.correct is False:
            lines.append(f"  behind the mistake: nearest {e.prediction}s in the last hidden layer: " + "  ".join(
                f"#{n['index']}:{n['distance']:.2f}" for n in e.neighbours[-2]["predicted_class"]))
    return "\n".join(lines)


def _render_layer(layer, top, probabilities=None):
    lines = []
    n_active = int(np.sum(layer.a > 0))
    what = f"{layer.name}: {layer.n} neurons, {layer.activation}"
    if probabilities is not None and layer.activation == "identity" and len(probabilities) > 1:
        what += " (z are the logits; p = softmax(z))"
    if layer.activation.startswith(("relu", "leaky")):
        what += f"; {n_active} active (z > 0), {layer.n - n_active} silent"
    lines.append(what)
    if layer.name == "output" and layer.n <= 20:
        shown = list(range(layer.n))
    else:
        shown = list(np.argsort(-layer.a, kind="stable")[:top])
        lines.append(f"  the {len(shown)} neurons with the largest values (every neuron in to_dict / --json):")
    p_head = f"  {'p':>6}" if probabilities is not None and len(probabilities) == layer.n else ""
    lines.append(f"  {'neuron':>6}  {'z = Σ(w·x>0) + Σ(w·x<0) + b':>30}  {'a':>8}{p_head}  "
                 f"pushed up most by [input]term / down most by")
    for j in shown:
        n = layer.neurons[j]
        sums = f"{_fmt(n.z)} = {_fmt(n.positive)} {n.negative:+.3g} {n.bias:+.3g}"
        up = ", ".join(f"[{t.input}]{t.term:+.2g}" for t in n.up[:3]) or "-"
        down = ", ".join(f"[{t.input}]{t.term:+.2g}" for t in n.down[:3]) or "-"
        p = f"  {probabilities[j]:>6.3f}" if p_head else ""
        lines.append(f"  {'#' + str(j):>6}  {sums:>30}  {_fmt(n.a):>8}{p}  {up} / {down}")
    return lines


def _ascii_map(m, levels=" .:-=+*#%@"):
    """A small text picture of a 2-D map: ``+``-side shading for positive, lower-case for negative."""
    scale = float(np.max(np.abs(m))) or 1.0
    rows = []
    for r in range(0, m.shape[0], 2):                  # two pixel rows per text row keeps it square-ish
        row = ""
        for v in m[r]:
            level = int(min(abs(v) / scale, 0.999) * 5)
            row += " " if level == 0 else ("+" if v > 0 else "-") if level < 3 else ("#" if v > 0 else "=")
        rows.append("  |" + row + "|")
    return rows + ["  (+ and # push toward the prediction, # strongly; - and = push away from it)"]


def _render_step(s):
    lines = [f"one SGD step (lr {s.lr:g}) on {len(s.y)} example(s): {s.loss_name} loss {s.loss:.6g}",
             f"dL/d(output) = {np.array2string(s.output_delta[0], precision=4, max_line_width=110)}"
             + (" (first example)" if len(s.y) > 1 else "")]
    for step in reversed(s.layers):
        d = step.delta.sum(axis=0)
        order = np.argsort(-np.abs(d), kind="stable")[:5]
        lines.append(f"{step.name} ({step.activation}): delta = dL/dz summed over the batch, largest: "
                     + ", ".join(f"#{j} {d[j]:+.3g}" for j in order))
        j, i = np.unravel_index(np.argmax(np.abs(step.dW)), step.dW.shape)
        lines.append(f"  dW = delta.T @ x: largest dW[{j},{i}] = {step.dW[j, i]:+.3g}, so W[{j},{i}] moves "
                     f"{step.W[j, i]:+.4g} -> {step.new_W[j, i]:+.4g}; |dW| = {np.linalg.norm(step.dW):.3g}, "
                     f"|db| = {np.linalg.norm(step.db):.3g}")
    return "\n".join(lines)


__all__ = ["Explanation", "LayerTrace", "NeuronTrace", "Term", "Margin", "Reference", "StepTrace", "LayerStep",
           "explain", "explain_step", "trace_backward", "effective_affine", "forward_values"]
