"""One prediction, array of neurons by array of neurons: each neuron's weighted sum as its terms.

What it is: the plain-data records of a traced forward pass (:class:`LayerTrace` per array of
neurons, :class:`NeuronTrace` per neuron, :class:`Term` per ``w * x``, :class:`Margin` for the
winner against the runner-up) and :func:`trace_layers`, which fills them from the float64 forward
pass of ``explain.forward``. The output array is shown as it really is: its ``z`` are the logits,
and its ``a`` the probabilities when a softmax follows outside the network (in the loss and in
``predict_proba``), with ``activation`` saying so: ``"softmax (in the loss)"``.

What it is not: the maps over the input or the nearest examples (``explain.prediction``,
``explain.reference``), nor text (``explain.text``).
"""

from dataclasses import dataclass, field

import numpy as np

from .. import views
from .forward import (
    OutputHead,
    group_values,
    layer_copies,
    layer_outputs,
    neuron_groups,
    output_head,
    shown_activation,
)


@dataclass
class Term:
    """One term ``w * x`` of a weighted sum: input ``input`` with value ``x`` times weight ``w``."""

    input: int
    x: float
    w: float
    term: float

    def to_dict(self) -> dict:
        return {"input": self.input, "x": self.x, "w": self.w, "term": self.term}

    def __str__(self):
        return f"[{self.input}] {self.x:.3g}×{self.w:+.3g} = {self.term:+.3g}"


def terms(x, w, order):
    """The :class:`Term` ``w[i] * x[i]`` for each ``i`` in ``order``."""
    return [Term(int(i), float(x[i]), float(w[i]), float(w[i] * x[i])) for i in order]


@dataclass
class NeuronTrace:
    """Neuron ``j``: ``z = positive + negative + bias`` (exactly), then ``a = f(z)``.

    ``up``/``down``: the inputs whose terms ``w_i x_i`` pushed ``z`` most up / most down.
    For the output with a softmax outside the network, ``a`` is the probability ``p_j = softmax(z)_j``.
    """

    neuron: int
    z: float
    a: float
    bias: float
    positive: float
    negative: float
    up: list
    down: list

    def to_dict(self) -> dict:
        return {"neuron": self.neuron, "z": self.z, "a": self.a, "bias": self.bias, "positive": self.positive,
                "negative": self.negative, "up": [t.to_dict() for t in self.up],
                "down": [t.to_dict() for t in self.down]}


def neuron_traces(W, b, x, z, a, top, first=0):
    """A :class:`NeuronTrace` per row of ``W`` (neurons ``first``, ``first + 1``...): exact sums, and the
    ``top`` terms each way."""
    T = W * x                                        # T[j, i] = w_ji x_i
    positive = np.where(T > 0, T, 0.0).sum(axis=1)
    negative = np.where(T < 0, T, 0.0).sum(axis=1)
    k = min(top, T.shape[1])
    ups, downs = _top_k(T, k, high_first=True), _top_k(-T, k, high_first=False)
    traces = []
    for j in range(len(W)):
        row = T[j]
        up = [i for i in ups[j] if row[i] > 0]
        down = [i for i in downs[j] if row[i] < 0]
        traces.append(NeuronTrace(first + j, float(z[j]), float(a[j]), float(b[j]), float(positive[j]),
                                  float(negative[j]), terms(x, W[j], up), terms(x, W[j], down)))
    return traces


def _top_k(T, k, high_first):
    """Per row of ``T``, the indices of its ``k`` largest values, largest first; equal values: the higher index
    first when ``high_first``, else the lower: exactly what a stable ascending sort gives read backwards (or
    forwards, for ``-T``), without sorting every row. The k-th largest value of each row by one partition,
    the values above it, then as many of those equal to it as are needed (by index, as the sort takes them)."""
    n_rows, n = T.shape
    if k < n:
        kth = -np.partition(-T, k - 1, axis=1)[:, k - 1:k]
        above, equal = T > kth, T == kth
        ranked = np.cumsum(equal[:, ::-1], axis=1)[:, ::-1] if high_first else np.cumsum(equal, axis=1)
        take = above | (equal & (ranked <= k - above.sum(axis=1, keepdims=True)))
        part = np.nonzero(take)[1].reshape(n_rows, k)
    else:
        part = np.broadcast_to(np.arange(n), T.shape)
    values = np.take_along_axis(T, part, axis=1)
    order = np.lexsort((-part if high_first else part, -values), axis=-1)
    return np.take_along_axis(part, order, axis=1)


@dataclass
class LayerTrace:
    """One array of neurons: the input (index 0), a hidden layer, or the output.

    ``z = W @ x_prev + b`` (None for the input), ``a`` = the neurons' values after ``activation``.
    ``weights`` (float64 ``(n_out, n_in)``) and ``inputs`` are kept for :meth:`terms`. ``head`` is the
    softmax (or sigmoid) applied outside the network, for the output of a network without a final one:
    then ``z`` are the logits, ``a`` the probabilities and ``activation`` ends in ``"softmax (in the loss)"``.
    """

    index: int
    name: str
    activation: str
    a: np.ndarray
    z: np.ndarray | None = None
    bias: np.ndarray | None = None
    weights: np.ndarray | None = field(default=None, repr=False)
    inputs: np.ndarray | None = field(default=None, repr=False)
    neurons: list = field(default_factory=list)
    layers: list = field(default_factory=list)     # indices in net.layers this array of neurons comes from
    head: OutputHead | None = None

    @property
    def n(self):
        return len(self.a)

    @property
    def symbol(self):
        """``"p"`` when the values are probabilities from a softmax outside the network, else ``"a"``."""
        return "p" if self.head is not None else "a"

    def terms(self):
        """The full term matrix ``T[j, i] = W[j, i] * x[i]``: ``T.sum(axis=1) + b == z``."""
        if self.weights is None:
            raise ValueError("the input layer has no weighted sums; terms() is for hidden and output layers")
        return self.weights * self.inputs

    def neuron(self, j, top=5):
        """The :class:`NeuronTrace` of neuron ``j`` alone (the one in ``neurons`` when they were traced)."""
        if self.weights is None:
            raise ValueError("the input layer has no weighted sums; neuron() is for hidden and output layers")
        if not 0 <= j < self.n:
            raise ValueError(f"neuron expected 0 to {self.n - 1} in {self.name}, received {j}")
        return neuron_traces(self.weights[j:j + 1], self.bias[j:j + 1], self.inputs, self.z[j:j + 1],
                             self.a[j:j + 1], top, first=j)[0]

    def __repr__(self):
        return f"LayerTrace({self.name}: {self.n} neurons, {self.activation})"

    def _repr_html_(self):
        return views.box(f"{self.name}: {self.n} neurons, {self.activation}", views.layer_table(self))

    def to_dict(self, full: bool = False) -> dict:
        d = {"index": self.index, "name": self.name, "activation": self.activation, "n": self.n,
             "layers": list(self.layers), "a": self.a.tolist(),
             "z": None if self.z is None else self.z.tolist(),
             "bias": None if self.bias is None else self.bias.tolist(),
             "head": None if self.head is None else {"name": self.head.name, "where": self.head.where},
             "neurons": [n.to_dict() for n in self.neurons]}
        if self.head is not None:                    # said twice, so a reader of the JSON cannot miss it
            d["logits"], d["probabilities"] = d["z"], d["a"]
        if full and self.weights is not None:
            d["terms"] = self.terms().tolist()
        return d


def layer_name(g, n_groups):
    """``"input"``, ``"hidden 1"``, ..., ``"output"`` for group ``g`` of ``n_groups``."""
    return "input" if g == 0 else "output" if g == n_groups - 1 else f"hidden {g}"


def trace_layers(net, x, top=5, neurons=True):
    """A :class:`LayerTrace` per array of neurons for one sample ``x`` (float64), input first.

    The values come from float64 copies of the layers (:func:`~glassnet.explain.forward.layer_copies`)
    run with their own ``forward``; ``activation`` is :func:`~glassnet.explain.forward.shown_activation`
    with where the output's softmax is. ``neurons=True`` also traces every neuron (its ``top`` terms
    each way); with False they are left for :meth:`LayerTrace.neuron` to trace one at a time. Returns
    ``(traces, values)`` with ``values`` as :func:`~glassnet.explain.forward.forward_values` gives them.
    """
    groups = neuron_groups(net)
    X = np.asarray(x, dtype=np.float64).reshape(1, -1)
    layers = layer_copies(net)                      # float64, run with each layer's own forward
    values = group_values(groups, X, layer_outputs(layers, X))
    head = output_head(net)
    traces = []
    for g, ((dense, acts), (z, a)) in enumerate(zip(groups, values)):
        trace = LayerTrace(g, layer_name(g, len(groups)), shown_activation(net, g, where=True), a[0],
                           layers=([dense] if dense is not None else []) + acts)
        if g == len(groups) - 1 and head is not None:     # the output as it really is: logits, then p
            trace.head = head
            trace.a = head.function(a)[0]
        if dense is not None:
            W, b = layers[dense].params["weights"], layers[dense].params["biases"]
            trace.z, trace.bias, trace.weights, trace.inputs = z[0], b, W, values[g - 1][1][0]
            if neurons:
                trace.neurons = neuron_traces(W, b, trace.inputs, trace.z, trace.a, top)
        traces.append(trace)
    return traces, values


__all__ = ["LayerTrace", "NeuronTrace", "Term", "layer_name", "neuron_traces", "terms", "trace_layers"]
