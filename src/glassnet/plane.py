"""The plane: a network with two inputs, and the picture of every one of its neurons.

With two inputs ``(x1, x2)`` every neuron is a function of the plane, and it can be painted: its
value at each point of a grid. :func:`neuron_pictures` computes those values *exactly*, by running
the grid through the network's own prediction pass (``Network.infer`` up to each layer), for the
input features (``x1``, ``x1^2``, ``sin(x2)``, ...), every hidden neuron (its ``z`` and its
activation ``a``) and the output (the probability of class 1, the predicted class). :func:`formula`
writes a neuron's ``z`` with its actual weights (``z = 1.3·x1 − 0.7·x2 + 0.2``), :func:`fold` says
what its activation does to the plane there, :func:`connections` lists the weights between neurons
(sign and size), and :class:`Trainer` trains one mini-batch at a time, exactly as ``fit`` does
(the same batches from ``(seed, epoch)``, the same ``train_step`` and optimizer step).

Grid convention: ``size × size`` points over ``extent × extent``; row 0 is the top (``x2`` = high),
column 0 the left (``x1`` = low), as an image is drawn.

Not here: the data sets (``glassnet.datasets.plane``), drawing (``glassnet.plots.plot_plane``), the app.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import losses
from ._validation import check_params
from .datasets.plane import FEATURES, check_features, feature_columns
from .explain import activation_name, neuron_groups
from .layers import Dense
from .training import StepBuffers

DEFAULT_EXTENT = (-6.0, 6.0)
_CHUNK = 4096                           # grid points per pass, as Network.infer chunks a prediction


def grid(extent: tuple[float, float] = DEFAULT_EXTENT,
         size: int = 40) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The grid's points ``(size*size, 2)`` float64, row by row from the top left, and its axes ``(x1s, x2s)``.

    Example:
        >>> P, (x1s, x2s) = grid((-1, 1), size=3)
        >>> P[:3].tolist(), x2s.tolist()
        ([[-1.0, 1.0], [0.0, 1.0], [1.0, 1.0]], [1.0, 0.0, -1.0])
    """
    lo, hi = _check_extent(extent)
    check_params("grid", {"size": ("int", 2, 400, False)}, {"size": size})
    x1s = np.linspace(lo, hi, size)
    x2s = np.linspace(hi, lo, size)
    a, b = np.meshgrid(x1s, x2s)
    return np.stack([a.ravel(), b.ravel()], axis=1), (x1s, x2s)


def neuron_pictures(net, features: Sequence[str] = ("x1", "x2"),
                    extent: tuple[float, float] = DEFAULT_EXTENT, size: int = 40, output: bool = True) -> dict:
    """Every neuron's value over the plane, from the network's own prediction pass.

    The grid goes once through the layers, each layer's own ``infer`` in order (what ``Network.infer``
    runs), keeping every layer's output: the same numbers as ``net.infer(X, upto=k)`` for every ``k``.

    Returns a dict of plain values: ``extent``, ``size``, ``features``; ``inputs`` (float32
    ``(n_features, size, size)``: each input neuron's picture); ``layers``, one entry per array of
    neurons after the input, ``{"z": (n, size, size), "a": (n, size, size), "activation": name}``
    (``z`` from ``Dense``, ``a`` after its activation; the output's ``a`` is what the network outputs,
    logits when the loss applies the softmax); ``output``: the probability of class 1 (classification,
    ``predict_proba``) or the network's value (one real output); ``predicted``: the class ``predict``
    gives at each point (None for a real output). ``output=False`` leaves those two out (None).

    Example:
        >>> import glassnet as gn
        >>> pics = neuron_pictures(gn.Network.mlp([2, 3, 2], seed=0), size=5)
        >>> pics["inputs"].shape, pics["layers"][0]["a"].shape, pics["output"].shape
        ((2, 5, 5), (3, 5, 5), (5, 5))
    """
    features = check_features(features)
    if net.n_features != len(features):
        raise ValueError(f"neuron_pictures expected a network with {len(features)} inputs (features "
                         f"{list(features)}), received one with {net.n_features}")
    P, _ = grid(extent, size)
    X = net.check_X(feature_columns(P, features))
    shape = (size, size)
    groups = neuron_groups(net)
    values = _layer_outputs(net, X)
    layers = []
    for dense, acts in groups[1:]:
        z, a = values[dense], values[acts[-1] if acts else dense]
        layers.append({"z": _pictures(z, shape), "a": _pictures(a, shape),
                       "activation": " → ".join(activation_name(net.layers[i]) for i in acts) or "identity"})
    out = {"extent": tuple(float(v) for v in _check_extent(extent)), "size": int(size), "features": list(features),
           "inputs": _pictures(X, shape), "layers": layers, "predicted": None, "output": None}
    if not output:
        return out
    if _is_classifier(net):
        out["output"] = net.predict_proba(X)[:, -1].reshape(shape)
        out["predicted"] = net.predict(X).reshape(shape)
    else:
        out["output"] = net.infer(X)[:, 0].reshape(shape)
    return out


def _layer_outputs(net, X):
    """Every layer's output for ``X``: each layer's own ``infer`` in order, in chunks as ``Network.infer`` goes."""
    chunks = []
    for start in range(0, len(X), _CHUNK):
        a, kept = X[start:start + _CHUNK], []
        for layer in net.layers:
            a = layer.infer(a)
            kept.append(a)
        chunks.append(kept)
    return [np.concatenate(parts) if len(parts) > 1 else parts[0] for parts in zip(*chunks)]


def output_picture(net, features: Sequence[str] = ("x1", "x2"), extent: tuple[float, float] = DEFAULT_EXTENT,
                   size: int = 80) -> np.ndarray:
    """The output alone over the grid, ``(size, size)``: the probability of class 1 (``predict_proba``) or the
    network's value (one real output); ``neuron_pictures``'s ``output``, at another size."""
    P, _ = grid(extent, size)
    X = net.check_X(feature_columns(P, check_features(features)))
    values = net.predict_proba(X)[:, -1] if _is_classifier(net) else net.infer(X)[:, 0]
    return values.reshape(size, size)


def curve(net, features: Sequence[str] = ("x1",), extent: tuple[float, float] = DEFAULT_EXTENT,
          size: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A one-input network's output along ``x1`` (``x2 = 0``): ``(x1s, values)``, for regression pictures."""
    features = check_features(features)
    lo, hi = _check_extent(extent)
    check_params("curve", {"size": ("int", 2, 10_000, False)}, {"size": size})
    x1s = np.linspace(lo, hi, size)
    X = net.check_X(feature_columns(np.stack([x1s, np.zeros(size)], axis=1), features))
    return x1s, net.infer(X)[:, 0].astype(np.float64)


def neuron_names(net, features):
    """Names of every array of neurons: the features, then ``h1.1, h1.2, ...`` per hidden layer, then ``out.1, ...``."""
    groups = neuron_groups(net)
    names = [list(features)]
    for g, (dense, _) in enumerate(groups[1:], start=1):
        prefix = "out" if g == len(groups) - 1 else f"h{g}"
        names.append([f"{prefix}.{j + 1}" for j in range(net.layers[dense].n_out)])
    return names


def formula(net, features, layer, neuron, digits=2):
    """Neuron ``neuron`` of array ``layer`` (1 = first hidden) as its weighted sum: ``"z = 1.3·x1 − 0.7·x2 + 0.2"``."""
    dense = _dense(net, layer, neuron)
    inputs = neuron_names(net, features)[layer - 1]
    w = dense.params["weights"][neuron].astype(np.float64)
    b = float(dense.params["biases"][neuron])
    terms = []
    for i, (name, value) in enumerate(zip(inputs, w)):
        number = _number(abs(value), digits)
        sign = "−" if value < 0 else "+"
        terms.append((f"−{number}" if value < 0 else number) + f"·{name}" if i == 0 else f" {sign} {number}·{name}")
    bias = f" {'−' if b < 0 else '+'} {_number(abs(b), digits)}"
    return "z = " + "".join(terms) + bias


def fold(net, layer):
    """One sentence: what array ``layer``'s activation does to the plane around the line ``z = 0``."""
    groups = neuron_groups(net)
    if not 1 <= layer < len(groups):
        raise ValueError(f"fold: layer expected 1 to {len(groups) - 1}, received {layer}")
    acts = [net.layers[i] for i in groups[layer][1]]
    if not acts:
        return ("no activation: a = z, a tilted plane; on its own this neuron can only draw a straight line "
                "(z = 0)")
    act = acts[0]
    name = activation_name(act)
    if act.can_die:
        return (f"{name} folds the plane along the line z = 0: on the side where z < 0 every point becomes 0 "
                f"(flat), on the other side a = z rises as a ramp; the next layer adds such folded ramps up")
    if act.on_when_positive:
        return (f"{name} bends the plane along the line z = 0: where z < 0 it is nearly flat, where z > 0 "
                f"it rises as z does")
    if act.output_range is not None:
        low, high = act.output_range
        return (f"{name} squashes z into ({low:g}, {high:g}): far from the line z = 0 the picture is flat "
                f"at {low:g} or {high:g}, and it changes only in a band along the line")
    return f"{name} bends z smoothly; the line z = 0 is where the neuron turns from low to high"


def connections(net, features=None):
    """Every weight between two neurons: ``[{"layer", "from", "to", "weight"}, ...]``.

    ``layer`` is the array the weight leads into (1 = first hidden), ``from`` the neuron below, ``to``
    the neuron above. Draw each with colour = sign and thickness = ``|weight|``.
    """
    out = []
    for g, (dense, _) in enumerate(neuron_groups(net)[1:], start=1):
        W = net.layers[dense].params["weights"]
        for j in range(W.shape[0]):
            for i in range(W.shape[1]):
                out.append({"layer": g, "from": i, "to": j, "weight": float(W[j, i])})
    return out


def set_weight(net, layer, to, frm, value):
    """Set the weight from neuron ``frm`` below into neuron ``to`` of array ``layer`` (in place); the old value."""
    dense = _dense(net, layer, to)
    if not 0 <= frm < dense.n_in:
        raise ValueError(f"set_weight: from expected 0 to {dense.n_in - 1}, received {frm}")
    if not math.isfinite(value):
        raise ValueError(f"set_weight: value expected a finite number, received {value!r}")
    old = float(dense.params["weights"][to, frm])
    dense.params["weights"][to, frm] = value
    return old


def default_loss(net) -> losses.Loss:
    """Cross-entropy for several outputs (classes), MSE for one real output."""
    return losses.get("cross_entropy" if net.n_outputs > 1 else "mse")


class Trainer:
    """Train ``net`` on ``(X, y)`` one mini-batch at a time, the same steps ``fit`` takes.

    Epoch ``e``'s batches come from ``np.random.default_rng([seed, e]).permutation(n)`` (as in
    ``fit``); each mini-batch is ``net.train_step`` then ``optimizer.step``. So ``k`` epochs here give
    the weights ``fit(epochs=k, seed=seed, ...)`` gives, bit for bit, and the same seed replays a run.

    Example:
        >>> import glassnet as gn
        >>> data = gn.datasets.load("xor", n=40, seed=0)
        >>> net = gn.Network.mlp([2, 4, 2], activation="tanh", seed=0)
        >>> t = Trainer(net, data.X_train, data.y_train, gn.optimizers.build("sgd", 0.1), batch_size=10, seed=0)
        >>> t.step(), t.epoch, t.batch
        (False, 0, 1)
    """

    def __init__(self, net, X, y, optimizer, *, batch_size=10, seed=0, loss=None):
        check_params("Trainer", {"batch_size": ("int", 1, None, False), "seed": ("int", 0, None, False)},
                     {"batch_size": batch_size, "seed": seed})
        self.net, self.optimizer = net, optimizer
        self.loss = losses.get(loss) if loss is not None else default_loss(net)
        self.X = net.check_X(X)
        self.y, self.is_labels = losses.prepare_targets(y, len(self.X), net.n_outputs, self.loss)
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.steps_per_epoch = math.ceil(len(self.X) / self.batch_size)
        self.epoch, self.batch, self.steps = 0, 0, 0      # epochs done, batches done in the current one
        self.buffers = StepBuffers(net.layers)
        self._order = None
        self.last_loss = None

    def step(self):
        """One mini-batch; returns True when it finished an epoch."""
        if self.batch == 0:
            self._order = np.random.default_rng([self.seed, self.epoch + 1]).permutation(len(self.X))
        idx = self._order[self.batch * self.batch_size:(self.batch + 1) * self.batch_size]
        value, _ = self.net.train_step(self.X[idx], self.y[idx], self.loss, self.buffers)
        if not math.isfinite(value):
            raise FloatingPointError(f"the loss became {value} in epoch {self.epoch + 1}; try a smaller "
                                     f"learning rate")
        self.optimizer.step(self.net.parameters(), self.net.gradients())
        self.last_loss = float(value)
        self.steps += 1
        self.batch += 1
        if self.batch == self.steps_per_epoch:
            self.epoch, self.batch = self.epoch + 1, 0
            return True
        return False

    def move_to(self, epoch, batch=0, steps=None):
        """Stand after ``batch`` mini-batches of epoch ``epoch + 1`` (as a run that got there would)."""
        check_params("Trainer.move_to", {"epoch": ("int", 0, None, False),
                                         "batch": ("int", 0, self.steps_per_epoch - 1, False)},
                     {"epoch": epoch, "batch": batch})
        self.epoch, self.batch = int(epoch), int(batch)
        self._order = np.random.default_rng([self.seed, self.epoch + 1]).permutation(len(self.X)) if batch else None
        if steps is not None:
            self.steps = int(steps)
        return self

    def run_epochs(self, epochs):
        """Whole epochs (finishing the current one first); returns self."""
        target = self.epoch + int(epochs)
        while self.epoch < target:
            self.step()
        return self


# -- helpers --------------------------------------------------------------------------------------------------------
def _pictures(values, shape):
    """Columns of ``values`` ``(size*size, n)`` as ``n`` pictures ``(n, size, size)``."""
    return np.ascontiguousarray(values.T.reshape(values.shape[1], *shape))


def _is_classifier(net):
    return net.n_outputs > 1 or net.outputs_probabilities()


def _dense(net, layer, neuron):
    groups = neuron_groups(net)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 1 <= layer < len(groups):
        raise ValueError(f"layer expected 1 to {len(groups) - 1} (0 is the input), received {layer!r}")
    dense = net.layers[groups[layer][0]]
    assert isinstance(dense, Dense)
    if isinstance(neuron, bool) or not isinstance(neuron, (int, np.integer)) or not 0 <= neuron < dense.n_out:
        raise ValueError(f"neuron: layer {layer} has neurons 0 to {dense.n_out - 1}, received {neuron!r}")
    return dense


def _number(value, digits):
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text if text else "0"


def _check_extent(extent):
    try:
        lo, hi = (float(v) for v in extent)
    except (TypeError, ValueError):
        raise ValueError(f"extent expected (low, high), two numbers, received {extent!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"extent expected finite low < high, received {extent!r}")
    return lo, hi


__all__ = ["DEFAULT_EXTENT", "FEATURES", "Trainer", "connections", "curve", "default_loss", "fold", "formula", "grid",
           "neuron_names", "neuron_pictures", "output_picture", "set_weight"]
