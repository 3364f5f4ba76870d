"""The descent lab: the loss as a landscape, the gradient as the direction, the learning rate as the step.

How it works, in short: training changes the weights to make the loss small. Here the
weights of a real network stay fixed except for one weight (a 1-D slice of the landscape)
or except for a move in a plane spanned by two directions (a 2-D slice, for a contour map):

- :func:`loss_along_weight`: ``L(w)`` as one weight varies, with the backprop slope at ``w0``;
- :func:`finite_difference`: "try ``w + h`` and ``w - h``": ``(L(w + h) - L(w - h)) / 2h`` against
  the slope backpropagation computes, with the numbers;
- :func:`loss_surface`: ``L(theta0 + alpha d1 + beta d2)`` on a grid, with filter-normalised random
  directions (Li et al. 2018, https://arxiv.org/abs/1712.09913: each neuron's incoming weights in
  ``d`` are scaled to the norm of that neuron's weights) or the downhill gradient and a random one;
- :func:`descend_weight` / :func:`descend_plane` / :func:`descend_gradient` (or :func:`descent_paths`):
  gradient descent ``w <- w - lr * dL/dw`` with a step too small, about right and too big, in the
  same slice (one weight, a plane, or the line along the gradient over all the weights: the
  direction training takes), so each path can be drawn on its landscape. The three rates are
  chosen by running them, so that their labels are true: starting from ``1 / c`` (``c`` the
  curvature at the start, by finite differences of the slope along the slice), "about right"
  reaches the bottom of the valley in the fewest steps, "too small" crawls (under a third of the
  way down in its steps), "too big" bounces or diverges. Where a slice cannot show it (the loss
  along one weight levels off on one side: a floor, not a valley), the next steepest weight is
  taken, and ``note`` says why; each path's ``verdict`` is read off its own numbers.

All of it runs on a float64 copy of the network (``net`` is never changed), in prediction mode
(dropout off), and returns plain dicts of numbers and lists. The loss and its gradient are the
copy's own ``forward`` and ``loss_and_gradients``: every layer's own definition, so a new
activation is followed here with no change. Not here: pictures (see
``glassnet.plots``), stochastic (mini-batch) noise, momentum in the trajectories.

Size: about 700 lines: five slices of one landscape share the rate choice and the verdicts; split, each
would import the other's private helpers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from . import losses, views
from ._validation import as_generator, check_params, check_X, describe
from .losses import Loss, prepare_targets

if TYPE_CHECKING:
    from .network import Network


# -- the loss and its gradient, on a float64 copy -------------------------------------------------
class _Landscape:
    """A float64 copy of the network with data and a loss: ``loss()`` and ``gradient()`` at its weights."""

    def __init__(self, net, X, y, loss):
        self.loss = losses.get(loss or net.loss_ or "cross_entropy")
        self.X = check_X(X, net.n_features, dtype=np.float64)
        self.y, _ = prepare_targets(y, len(self.X), net.n_outputs, self.loss)
        self.net = net.astype(np.float64)
        head = self.loss.fused_head
        self.upto = len(self.net.layers) - 1 if head is not None and isinstance(self.net.layers[-1], head) else None
        self.params = dict(self.net.named_parameters())
        self.names = list(self.params)
        self.grads = dict(zip(self.names, self.net.gradients()))

    def value(self):
        """The loss at the current weights."""
        with np.errstate(over="ignore", invalid="ignore"):     # a too-big step may overflow: reported as inf
            out = self.net.forward(self.X, upto=self.upto)
            value = self.loss.value(out, self.y)
        return float(value) if np.isfinite(value) else float("inf")

    def gradient(self):
        """``(loss, {name: dL/dparam})`` at the current weights (copies)."""
        with np.errstate(over="ignore", invalid="ignore"):
            value, _, _ = self.net.loss_and_gradients(self.X, self.y, self.loss, training=False)
        return float(value), {name: g.copy() for name, g in self.grads.items()}

    def layer_name(self, param):
        return self.net.layers[int(param.split(".")[0])].summary_name()


def _pick_weight(land, param, index):
    """The weight to study: ``(param, index)`` as given, or the weight with the steepest slope."""
    if param is None:
        _, grads = land.gradient()
        names = [n for n in land.names if n.endswith("weights")]
        param = max(names, key=lambda n: float(np.max(np.abs(grads[n]))))
        if index is None:
            index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(grads[param])), grads[param].shape))
    if param not in land.params:
        raise ValueError(f"param expected one of {land.names}, received {param!r}")
    shape = land.params[param].shape
    if index is None:
        raise ValueError(f"index expected a position in {param} (shape {shape}), received None")
    index = (int(index),) if np.ndim(index) == 0 else tuple(int(i) for i in index)
    if len(index) != len(shape) or not all(0 <= i < n for i, n in zip(index, shape)):
        raise ValueError(f"index expected a position in {param} of shape {shape}, received {index}")
    return param, index


def _weight_info(land, param, index):
    return {"param": param, "index": list(index), "layer": land.layer_name(param),
            "n_samples": len(land.X), "loss_name": land.loss.name}


# -- one weight ---------------------------------------------------------------------------------
@views.shows_as("loss_along_weight")
def loss_along_weight(net: Network, X: ArrayLike, y: ArrayLike, *, param: str | None = None,
                      index: Sequence[int] | None = None, span: float = 1.0, points: int = 41,
                      loss: Loss | str | None = None) -> dict:
    """The loss as one weight moves: ``L(w0 + t)`` for ``t`` in ``[-span, span]``, everything else fixed.

    Args:
        param, index: which weight, e.g. ``param="0.weights", index=(3, 405)``; default the weight
            whose slope ``|dL/dw|`` is largest.
        span: how far to move the weight each way (in weight units).
        points: how many points on the curve.

    Returns:
        dict with ``param``, ``index``, ``layer``, ``w0``, ``loss0``, ``slope`` (backprop ``dL/dw``
        at ``w0``), ``weights`` and ``losses`` (the curve), ``tangent`` (``loss0 + slope (w - w0)``),
        ``best_weight`` / ``best_loss`` (the lowest point on the curve).
    """
    check_params("loss_along_weight", {"span": ("float", 0.0, None, True), "points": ("int", 3, None, False)},
                 {"span": span, "points": points})
    land = _Landscape(net, X, y, loss)
    param, index = _pick_weight(land, param, index)
    loss0, grads = land.gradient()
    W = land.params[param]
    w0 = float(W[index])
    weights = w0 + np.linspace(-span, span, points)
    values = []
    for w in weights:
        W[index] = w
        values.append(land.value())
    W[index] = w0
    slope = float(grads[param][index])
    best = int(np.argmin(values))
    return {**_weight_info(land, param, index), "w0": w0, "loss0": loss0, "slope": slope,
            "weights": weights.tolist(), "losses": values, "tangent": (loss0 + slope * (weights - w0)).tolist(),
            "best_weight": float(weights[best]), "best_loss": values[best]}


@views.shows_as("finite_difference")
def finite_difference(net: Network, X: ArrayLike, y: ArrayLike, *, param: str | None = None,
                      index: Sequence[int] | None = None, h: float = 1e-4, loss: Loss | str | None = None) -> dict:
    """"Try ``w + h`` and ``w - h``": the central difference ``(L(w+h) - L(w-h)) / 2h`` against backprop.

    Returns:
        dict with ``w``, ``h``, ``loss``, ``loss_plus``, ``loss_minus``, ``slope`` (the finite
        difference), ``backprop`` (``dL/dw`` from backpropagation), ``abs_error``, ``rel_error``
        (``|fd - bp| / (|fd| + |bp|)``) and ``text`` (the computation in words).
    """
    check_params("finite_difference", {"h": ("float", 0.0, None, True)}, {"h": h})
    land = _Landscape(net, X, y, loss)
    param, index = _pick_weight(land, param, index)
    value, grads = land.gradient()
    W = land.params[param]
    w = float(W[index])
    W[index] = w + h
    plus = land.value()
    W[index] = w - h
    minus = land.value()
    W[index] = w
    slope = (plus - minus) / (2 * h)
    backprop = float(grads[param][index])
    abs_error = abs(slope - backprop)
    rel_error = abs_error / (abs(slope) + abs(backprop)) if abs(slope) + abs(backprop) > 0 else 0.0
    text = (f"w = {param}{list(index)} = {w:.6g}; L(w + {h:g}) = {plus:.10g}, L(w - {h:g}) = {minus:.10g}; "
            f"slope = ({plus:.10g} - {minus:.10g}) / {2 * h:g} = {slope:.8g}; backpropagation says {backprop:.8g} "
            f"(relative difference {rel_error:.2g})")
    return {**_weight_info(land, param, index), "w": w, "h": float(h), "loss": value, "loss_plus": plus,
            "loss_minus": minus, "slope": slope, "backprop": backprop, "abs_error": abs_error,
            "rel_error": rel_error, "text": text}


class _Slice:
    """The loss restricted to a few coordinates ``p`` of weight space; subclasses say how ``p`` moves the
    weights (``move``) and what the gradient is in those coordinates (``_project``, the chain rule)."""

    def value(self, p):
        self.move(p)
        return self.land.value()

    def gradient(self, p):
        self.move(p)
        value, g = self.land.gradient()
        return value, self._project(g)

    def reset(self):
        self.move(np.zeros(self.dims))


class _WeightSlice(_Slice):
    """The loss as a function of an offset ``p = (t,)`` of one weight: ``L(w0 + t)``."""

    dims = 1

    def __init__(self, land, param, index):
        self.land, self.param, self.index = land, param, index
        self.W = land.params[param]
        self.w0 = float(self.W[index])

    def move(self, p):
        self.W[self.index] = self.w0 + p[0]

    def _project(self, g):
        return np.array([g[self.param][self.index]])


def _hessian(slice_, p, h=1e-3):
    """The (1x1 or 2x2) Hessian of the slice at ``p``, from central differences of the backprop gradient."""
    n = len(p)
    H = np.empty((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        H[:, k] = (slice_.gradient(p + e)[1] - slice_.gradient(p - e)[1]) / (2 * h)
    return (H + H.T) / 2


def _minimum(slice_, p, iterations=20):
    """The nearest minimum, by Newton steps ``p <- p - H^-1 g`` with backtracking (a gradient step where
    the slice curves downward). Returns ``(p*, curvature at p*)``: the Hessian's largest eigenvalue there."""
    for _ in range(iterations):
        value, g = slice_.gradient(p)
        if not np.isfinite(value) or np.linalg.norm(g) < 1e-10:
            break
        H = _hessian(slice_, p)
        eig = np.linalg.eigvalsh(H)
        step = np.linalg.solve(H, g) if eig.min() > 1e-12 else g / max(abs(eig).max(), 1e-6)
        t = 1.0
        while slice_.value(p - t * step) > value and t > 1e-6:
            t /= 2
        if t <= 1e-6 or np.linalg.norm(t * step) < 1e-9 * (1 + np.linalg.norm(p)):
            break
        p = p - t * step
    return p, float(np.linalg.eigvalsh(_hessian(slice_, p)).max())


def _run_path(slice_, lr, steps):
    """Gradient descent in the slice from its origin: ``p <- p - lr * dL/dp``; positions and losses."""
    p = np.zeros(slice_.dims)
    positions, values = [p.copy()], []
    for _ in range(steps):
        value, g = slice_.gradient(p)
        values.append(value)
        if not (np.isfinite(value) and np.isfinite(g).all()) or value > 1e6 * max(1.0, abs(values[0])):
            break                                   # a diverging path stops here, before it overflows
        p = p - lr * g
        positions.append(p.copy())
    if len(values) < len(positions):
        values.append(slice_.value(p))
    return np.array(positions), values


CRAWL = 1 / 3         # a path that went less than this share of the way down in its steps crawls
BOTTOM = 0.02         # "at the bottom": within this share of the way down from the lowest loss of the slice
_SMALL = (100, 1000, 10000)    # "too small": about right divided by the first of these that crawls
_BIG = (3, 10, 30, 100)          # "too big": about right times the first of these that bounces or diverges


def _times(n):
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _describe(path, start, bottom, steps):
    """The path's own numbers and its kind: ``diverges``, ``reaches`` (the bottom), ``bounces``, ``crawls`` or
    ``converges`` (part of the way down), with a sentence; ``bottom`` is the lowest loss known in the slice."""
    losses = np.asarray(path["losses"], dtype=float)
    positions = np.asarray(path["positions"], dtype=float)
    end = losses[-1]
    moves = np.diff(positions, axis=0)
    against = np.sum(moves[1:] * moves[:-1], axis=1) < 0           # a step against the one before
    drop = start - bottom
    near = (losses - bottom <= BOTTOM * drop) if drop > 0 else np.ones(len(losses), bool)
    stays = np.flatnonzero(np.logical_and.accumulate(near[::-1])[::-1])     # from here on, it stays there
    reached = int(stays[0]) if len(stays) else None
    turns = int(np.sum(against[:max(reached - 1, 0)] if reached is not None else against))
    progress = float((start - end) / drop) if drop > 0 and np.isfinite(end) else 0.0
    path.update({"loss_change": float(end - start), "bounces": turns, "steps_to_bottom": reached,
                 "progress": progress, "distance": float(np.linalg.norm(positions[-1] - positions[0]))})
    n = len(losses) - 1
    if not np.isfinite(end) or end > start:
        swing = (", swinging from one side of the valley to the other at every step" if turns >= len(against) - 1
                 else f", turning back {_times(turns)}" if turns else "")
        kind, text = "diverges", f"diverges: each step lands higher; the loss grew from {start:.4g} to {end:.4g}{swing}"
    elif reached is not None:
        kind = "reaches"
        text = (f"reaches the bottom in {reached} step{'s' if reached != 1 else ''}: the loss fell from {start:.4g} "
                f"to {losses[reached]:.4g} (the lowest in this slice is {bottom:.4g})"
                + (f", overshooting {_times(turns)} on the way" if turns else ""))
    elif len(against) and turns >= max(3, len(against) // 2):
        kind = "bounces"
        text = (f"bounces from side to side: {turns} of its {n} steps turn back; after {n} steps the loss is "
                f"{end:.4g} ({start:.4g} at the start), {100 * progress:.0f}% of the way down")
    elif progress < CRAWL:
        kind = "crawls"
        text = (f"crawls: after {n} steps it has gone only {100 * progress:.0f}% of the way down (the loss fell "
                f"from {start:.4g} to {end:.4g}; the bottom is {bottom:.4g})")
    else:
        kind = "converges"
        text = f"goes down but slowly: {100 * progress:.0f}% of the way after {n} steps ({start:.4g} -> {end:.4g})"
    path["kind"], path["verdict"] = kind, text
    return path


def _speed(path):
    """Sort key, fastest first: reached the bottom in fewer steps, else went further down."""
    return (path["steps_to_bottom"] if path["steps_to_bottom"] is not None else 10 ** 9, -path["progress"])


def _agrees(label, path, fastest):
    """Whether a path does what its label says (the labels of the default rates)."""
    if label == "too small":
        return path["kind"] == "crawls"
    if label == "about right":
        return path["kind"] in ("reaches", "converges") and _speed(path) <= _speed(fastest)
    if label == "too big":
        return path["kind"] in ("diverges", "bounces") or (path["kind"] == "reaches" and path["bounces"] >= 2
                                                             and _speed(path) > _speed(fastest))
    return True


def _curvature(slice_):
    """The slice's largest curvature at the start, by central differences of the backprop gradient."""
    return float(np.linalg.eigvalsh(_hessian(slice_, np.zeros(slice_.dims))).max())


def _default_rates(slice_, steps):
    """Choose "too small", "about right" and "too big" by running them: returns ``(rates, runs, bottom, c, rule)``.

    The candidates are the rate ``1/c`` for the curvature ``c`` at the start (in the slice) times powers of
    two; "about right" is the one that reaches the bottom of this valley in the fewest steps; "too small" is
    it divided by the first of 100, 300, ... whose path crawls; "too big" is it times the first of 3, 5, ...
    whose path bounces or diverges."""
    p_min, _ = _minimum(slice_, np.zeros(slice_.dims))
    start, lowest = slice_.value(np.zeros(slice_.dims)), slice_.value(p_min)
    curvature = _curvature(slice_)
    if not curvature > 1e-12:
        curvature = max(_minimum(slice_, np.zeros(slice_.dims))[1], 1e-12)
    runs = {lr: _run_path(slice_, lr, steps) for lr in (4.0 ** np.arange(-2, 3)) / curvature}
    # the bottom of this valley: the nearest minimum, or lower points that a path going only downhill reached
    downhill = [min(v) for _, v in runs.values() if np.all(np.diff(v) <= 1e-12 * abs(start))]
    bottom = min([lowest, *downhill]) if np.isfinite(lowest) else min(downhill, default=start)
    if not start - bottom > 1e-9 * max(1.0, abs(start)):
        return None, runs, bottom, curvature, "the loss does not go down anywhere near here"
    described = {lr: _describe({"positions": r[0], "losses": r[1]}, start, bottom, steps) for lr, r in runs.items()}
    fine = [lr for lr, d in described.items() if d["kind"] in ("reaches", "converges")]
    for _ in range(4):                  # all crawl, or all overshoot: the curvature misled; widen the range
        if fine:
            break
        lr = max(described) * 4 if described[max(described)]["kind"] == "crawls" else min(described) / 4
        runs[lr] = _run_path(slice_, lr, steps)
        described[lr] = _describe({"positions": runs[lr][0], "losses": runs[lr][1]}, start, bottom, steps)
        fine = [lr] if described[lr]["kind"] in ("reaches", "converges") else []
    if not fine:
        return None, runs, bottom, curvature, "no step size goes steadily down here"
    right = min(fine, key=lambda lr: (_speed(described[lr]), abs(np.log(lr * curvature))))
    for lr in (right / 2, right * 2):            # the grid is coarse: halfway points either side
        runs[lr] = _run_path(slice_, lr, steps)
        described[lr] = _describe({"positions": runs[lr][0], "losses": runs[lr][1]}, start, bottom, steps)
        if described[lr]["kind"] in ("reaches", "converges") and _speed(described[lr]) < _speed(described[right]):
            right = lr
    small = big = lenient = None
    for k in _BIG:           # the first that bounces without settling, or diverges; else one that settles late
        big = right * k
        runs[big] = _run_path(slice_, big, steps)
        tried = _describe({"positions": runs[big][0], "losses": runs[big][1]}, start, bottom, steps)
        if tried["kind"] in ("diverges", "bounces"):
            break
        if lenient is None and _agrees("too big", tried, described[right]):
            lenient = big
    else:
        big = lenient or big
    for k in _SMALL:
        small = right / k
        runs[small] = _run_path(slice_, small, steps)
        if _describe({"positions": runs[small][0], "losses": runs[small][1]}, start, bottom, steps)["kind"] == "crawls":
            break
    rule = (f"the curvature at the start is c = {curvature:.4g}, so 1/c = {1 / curvature:.3g} is where to start: "
            f"{len(described)} rates from {min(described):.3g} to {max(described):.3g} were run and about right "
            f"= {right:.3g} reached the bottom fastest; too small = about right / {right / small:.0f}, too big = "
            f"about right x {big / right:.0f}")
    return {"too small": small, "about right": right, "too big": big}, runs, bottom, curvature, rule


class _NoLab(ValueError):
    """This slice cannot show the three steps (flat, one-sided...): the reason, in words."""


def _paths(slice_, lrs, steps, owner):
    """The paths for ``lrs`` (default: chosen by running them, see :func:`_default_rates`), each described.

    Returns ``(paths, curvature, bottom, rule)``; raises :class:`_NoLab` when the default rates cannot be chosen."""
    if lrs is None:
        rates, runs, bottom, curvature, rule = _default_rates(slice_, steps)
        slice_.reset()
        if rates is None:
            raise _NoLab(rule)
    else:
        rates, runs = _check_lrs(lrs, owner), {}
        curvature = _curvature(slice_)
        runs = {lr: _run_path(slice_, lr, steps) for lr in rates.values()}
        p_min, _ = _minimum(slice_, np.zeros(slice_.dims))
        downhill = [min(v) for _, v in runs.values() if np.all(np.diff(v) <= 0)]
        bottom = min([slice_.value(p_min), *downhill])
        rule = None
        slice_.reset()
    start = slice_.value(np.zeros(slice_.dims))
    paths = [_describe({"label": label, "lr": float(lr), "positions": runs[lr][0],
                        "losses": [float(v) for v in runs[lr][1]]}, start, bottom, steps)
             for label, lr in rates.items()]
    if lrs is None:
        fastest = min(paths, key=_speed)
        for p in paths:
            p["as_labelled"] = _agrees(p["label"], p, fastest)
    return paths, curvature, bottom, rule


def _failed_labels(paths):
    """Why the labels do not hold, in words (empty when they all do)."""
    said = {p["label"]: p for p in paths}
    reasons = []
    for p in paths:
        if p.get("as_labelled", True):
            continue
        what = p["verdict"].split(":")[0]
        if p["label"] == "too big":
            reasons.append(f"a step {p['lr'] / said['about right']['lr']:.0f} times 'about right' still {what} "
                           f"instead of bouncing: on the far side the loss levels off (a floor, not a valley)")
        elif p["label"] == "too small":
            reasons.append(f"even a step {said['about right']['lr'] / p['lr']:.0f} times smaller than 'about right' "
                           f"{what}")
        else:
            reasons.append(f"the step labelled {p['label']} (lr {p['lr']:.3g}) {what}")
    return "; ".join(reasons)


def _weight_candidates(land, param, index, tries=8):
    """The weights to try: the one given, or the steepest few (largest |dL/dw|), one per neuron, steepest first
    (a neuron's weights share its shape of landscape: when one is one-sided, its neighbours are too)."""
    if param is not None or index is not None:
        return [_pick_weight(land, param, index)]
    _, grads = land.gradient()
    found = []
    for name in (n for n in land.names if n.endswith("weights")):
        g = np.abs(grads[name])
        for row, col in enumerate(np.argmax(g, axis=1)):
            found.append((float(g[row, col]), name, (row, int(col))))
    return [(name, index) for _, name, index in sorted(found, key=lambda f: -f[0])[:tries]]


@views.shows_as("descend_weight")
def descend_weight(net: Network, X: ArrayLike, y: ArrayLike, *, param: str | None = None,
                   index: Sequence[int] | None = None, lrs: Mapping[str, float] | None = None, steps: int = 25,
                   loss: Loss | str | None = None) -> dict:
    """Gradient descent on one weight, ``w <- w - lr * dL/dw``, for several step sizes.

    Args:
        param, index: which weight; default the steepest one (largest ``|dL/dw|``) where the three steps show
            what their labels say; when the steepest cannot (the loss along it is flat or keeps falling on
            one side), the next steepest, and ``note`` says why.
        lrs: ``{label: learning rate}``. Default, by running them: ``"about right"`` is the rate that reaches
            the bottom of the valley in the fewest steps among ``1/c`` times 1/16 ... 16 (``c`` the curvature
            ``d2L/dw2`` at the start, by finite differences of the slope); ``"too small"`` is it divided by the
            first of 100, 1000, 10000 whose path crawls; ``"too big"`` is it times the first of 3, 10, 30, 100
            whose path bounces or diverges.
        steps: steps per path.

    Returns:
        dict with the weight (``param``, ``index``, ``layer``), ``w0``, ``loss0``, ``slope``, ``curvature``
        (at the start), ``bottom`` (the lowest loss of this valley), ``rule`` (how the rates were chosen),
        ``labels_hold``, ``note`` (why another weight, or why the labels do not hold; else None), ``paths``
        (a list of ``{"label", "lr", "weights", "losses", "kind", "verdict", "steps_to_bottom", "progress",
        "bounces", "loss_change", "distance", "as_labelled", "curve"}``: ``curve`` is the loss over the
        stretch that path walks, to draw it on its own scale) and ``curve`` (``{"weights", "losses"}``: the
        loss along the weight over the range all the paths visit while their loss is readable).
    """
    check_params("descend_weight", {"steps": ("int", 1, None, False)}, {"steps": steps})
    land = _Landscape(net, X, y, loss)
    tried, first = [], None
    for param_, index_ in _weight_candidates(land, param, index):
        slice_ = _WeightSlice(land, param_, index_)
        try:
            paths, curvature, bottom, rule = _paths(slice_, lrs, steps, "descend_weight")
        except _NoLab as exc:
            tried.append(f"{param_}{list(index_)}: {exc}")
            continue
        failed = _failed_labels(paths)
        first = first or (slice_, paths, curvature, bottom, rule, failed)
        if not failed:
            first = (slice_, paths, curvature, bottom, rule, failed)
            break
        tried.append(f"{param_}{list(index_)}: {failed}")
    if first is None:
        reasons = {t.split(": ", 1)[1] for t in tried}
        raise ValueError("descend_weight: no weight tried can show a step too small, about right and too big ("
                         + (f"along each of the {len(tried)} steepest weights, {reasons.pop()}" if len(reasons) == 1
                            else "; ".join(tried)) + ")")
    slice_, paths, curvature, bottom, rule, failed = first
    return _weight_result(land, slice_, paths, curvature, bottom, rule, failed, tried)


def _weight_result(land, slice_, paths, curvature, bottom, rule, failed, tried):
    w0 = slice_.w0
    loss0, g0 = slice_.gradient(np.zeros(1))
    for p in paths:
        p["weights"] = (w0 + p.pop("positions")[:, 0]).tolist()
    note = None
    if failed:
        note = f"the labels do not all hold on this weight: {failed}"
    elif tried:
        note = ("the steepest weight" + (f"s could not show the three steps ({'; '.join(tried)})" if len(tried) > 1
                else f" could not show the three steps ({tried[0]})") + "; this is the next steepest")
    curve = _curve(slice_, [p["weights"] for p in paths], [p["losses"] for p in paths], w0, loss0)
    for p in paths:              # each path on its own scale: the curve over the stretch it walks
        p["curve"] = _curve(slice_, [p["weights"]], [p["losses"]], w0, loss0, points=31, around=False)
    slice_.reset()
    return {**_weight_info(land, slice_.param, slice_.index), "w0": w0, "loss0": loss0, "slope": float(g0[0]),
            "curvature": curvature, "bottom": bottom, "rule": rule, "labels_hold": not failed, "note": note,
            "paths": paths, "curve": curve}


def _curve(slice_, xs, losses, x0, loss0, points=81, around=True):
    """The loss along a 1-D slice over the range the paths visit while their loss is readable (a diverging
    path's far points are left out, or they would flatten the curve into a line); ``around``: pad the range
    by at least 1e-3 (else by a tenth of it, for a path that moves very little)."""
    readable = loss0 + 2 * max(abs(loss0), 1e-3)
    seen = [x for xs_, ls in zip(xs, losses) for x, v in zip(xs_, ls) if np.isfinite(v) and v <= readable]
    low, high = min(seen + [x0]), max(seen + [x0])
    pad = 0.1 * (high - low) + (1e-3 if around else 1e-9 * (1 + abs(x0)))
    grid = np.linspace(low - pad, high + pad, points)
    return {"weights": grid.tolist(), "losses": [slice_.value(np.array([x - x0])) for x in grid]}


def _check_lrs(lrs, owner):
    if not isinstance(lrs, dict) or not lrs:
        raise TypeError(f"{owner}: lrs expected a dict {{label: learning rate}}, received {describe(lrs)}")
    for label, lr in lrs.items():
        check_params(owner, {f"lrs[{label!r}]": ("float", 0.0, None, True)}, {f"lrs[{label!r}]": lr})
    return {str(k): float(v) for k, v in lrs.items()}


# -- a plane of two directions --------------------------------------------------------------------
def _filter_normalised(land, d):
    """Scale each neuron's incoming-weight row of ``d`` to the norm of the same row of the weights; biases 0."""
    out = {}
    for name, w in land.params.items():
        if name.endswith("weights"):
            norms = np.linalg.norm(w, axis=1, keepdims=True) / (np.linalg.norm(d[name], axis=1, keepdims=True)
                                                                 + 1e-12)
            out[name] = d[name] * norms
        else:
            out[name] = np.zeros_like(w)
    return out


def _dot(a, b):
    return float(sum(np.sum(a[k] * b[k]) for k in a))


def _plane(land, directions, seed):
    """Two directions ``(d1, d2)`` in weight space: filter-normalised random, or downhill + random."""
    rng = as_generator(seed)
    random = [_filter_normalised(land, {n: rng.standard_normal(w.shape) for n, w in land.params.items()})
              for _ in range(2)]
    if directions == "random":
        return random[0], random[1]
    if directions != "gradient":
        raise ValueError(f"directions expected 'random' or 'gradient', received {directions!r}")
    _, g = land.gradient()
    d1 = _filter_normalised(land, {n: -v for n, v in g.items()})   # downhill, scaled like the weights
    d2 = random[0]
    if not _dot(d1, d1) > 0:
        raise ValueError("the weights' gradient is zero here (no neuron passes anything on: e.g. every neuron of a "
                         "layer is switched off), so there is no downhill direction to make a plane with")
    along = _dot(d2, d1) / _dot(d1, d1)
    d2 = {n: d2[n] - along * d1[n] for n in d2}                     # orthogonal to d1 ...
    scale = np.sqrt(_dot(d1, d1) / _dot(d2, d2))
    return d1, {n: v * scale for n, v in d2.items()}               # ... and as long


class _PlaneLandscape(_Slice):
    """The loss at ``theta0 + alpha d1 + beta d2`` (``p = (alpha, beta)``) and its gradient in the plane."""

    dims = 2

    def __init__(self, land, d1, d2):
        self.land, self.d1, self.d2 = land, d1, d2
        self.theta0 = {n: p.copy() for n, p in land.params.items()}

    def move(self, p):
        alpha, beta = p
        for n, w in self.land.params.items():
            w[...] = self.theta0[n] + alpha * self.d1[n] + beta * self.d2[n]

    def _project(self, g):
        return np.array([_dot(g, self.d1), _dot(g, self.d2)])   # chain rule: dL/dalpha = g . d1


@views.shows_as("loss_surface")
def loss_surface(net: Network, X: ArrayLike, y: ArrayLike, *, directions: str = "random", span: float = 1.0,
                 points: int = 21, seed: int = 0, loss: Loss | str | None = None) -> dict:
    """The loss on a grid in a plane of weight space: ``L(theta0 + alpha d1 + beta d2)``.

    Args:
        directions: ``"random"`` (two filter-normalised random directions) or ``"gradient"``
            (``d1`` downhill, ``-dL/dtheta``, and a random ``d2`` orthogonal to it, both filter-normalised).
        span: ``alpha`` and ``beta`` run over ``[-span, span]``; 1 moves each neuron's weights by their norm.
        points: grid points per axis.

    Returns:
        dict with ``alphas``, ``betas`` (lists), ``losses`` (``points`` rows (beta) of ``points`` values
        (alpha)), ``loss0`` (at the centre, the network's own weights), ``directions``, ``seed``.
    """
    check_params("loss_surface", {"span": ("float", 0.0, None, True), "points": ("int", 2, None, False)},
                 {"span": span, "points": points})
    land = _Landscape(net, X, y, loss)
    d1, d2 = _plane(land, directions, seed)
    plane = _PlaneLandscape(land, d1, d2)
    axis = np.linspace(-span, span, points)
    grid = [[plane.value((a, b)) for a in axis] for b in axis]
    plane.reset()
    return {"alphas": axis.tolist(), "betas": axis.tolist(), "losses": grid, "loss0": land.value(),
            "directions": directions, "seed": seed, "normalisation": "filter", "n_samples": len(land.X),
            "loss_name": land.loss.name}


@views.shows_as("descend_plane")
def descend_plane(net: Network, X: ArrayLike, y: ArrayLike, *, lrs: Mapping[str, float] | None = None, steps: int = 25,
                  directions: str = "gradient", seed: int = 0, grid: int = 21, loss: Loss | str | None = None) -> dict:
    """Gradient descent inside a plane: ``(alpha, beta) <- (alpha, beta) - lr * (g . d1, g . d2)``.

    The paths stay in the plane, so they can be drawn on its contour map (returned as well).

    Args:
        lrs: ``{label: learning rate}``; default chosen by running them as in :func:`descend_weight`, with
            ``c`` the largest eigenvalue of the plane's 2x2 Hessian at the start.
        directions, seed: the plane (see :func:`loss_surface`); default downhill + random.
        grid: contour points per axis over the region the paths visit.

    Returns:
        dict with ``loss0``, ``curvature``, ``bottom``, ``minimum`` (``[alpha, beta]``), ``rule``,
        ``labels_hold``, ``note``, ``paths`` (``{"label", "lr", "alphas", "betas", "losses", "kind",
        "verdict", ...}``) and ``surface`` (``{"alphas", "betas", "losses"}``, rows are betas) over the
        region where the paths' loss is readable.
    """
    check_params("descend_plane", {"steps": ("int", 1, None, False), "grid": ("int", 2, None, False)},
                 {"steps": steps, "grid": grid})
    land = _Landscape(net, X, y, loss)
    plane = _PlaneLandscape(land, *_plane(land, directions, seed))
    loss0 = plane.value((0.0, 0.0))
    try:
        paths, curvature, bottom, rule = _paths(plane, lrs, steps, "descend_plane")
    except _NoLab as exc:
        raise ValueError(f"descend_plane: this plane cannot show a step too small, about right and too big: "
                         f"{exc}") from None
    p_min, _ = _minimum(plane, np.zeros(2))
    for p in paths:
        positions = p.pop("positions")
        p["alphas"], p["betas"] = positions[:, 0].tolist(), positions[:, 1].tolist()
    failed = _failed_labels(paths)
    # the contour map covers where the paths go while the loss is still on a readable scale (a diverging
    # path's last points are far away; drawn to scale they would flatten the whole map into one colour)
    readable = loss0 + 2 * max(abs(loss0), 1e-3)
    coords = [abs(v) for p in paths for a, b, value in zip(p["alphas"], p["betas"], p["losses"])
              if np.isfinite(value) and value <= readable for v in (a, b)] + list(np.abs(p_min))
    reach = max(1e-3, max(coords))
    axis = np.linspace(-1.1 * reach, 1.1 * reach, grid)
    surface = [[plane.value((a, b)) for a in axis] for b in axis]
    plane.reset()
    return {"loss0": loss0, "curvature": curvature, "bottom": bottom, "minimum": [float(v) for v in p_min],
            "rule": rule, "labels_hold": not failed,
            "note": f"the labels do not all hold in this plane: {failed}" if failed else None,
            "directions": directions, "seed": seed, "paths": paths,
            "surface": {"alphas": axis.tolist(), "betas": axis.tolist(), "losses": surface},
            "n_samples": len(land.X), "loss_name": land.loss.name}


# -- the direction training takes: the gradient over all weights ------------------------------------
class _DirectionSlice(_Slice):
    """The loss along a unit direction ``u`` over all the weights: ``L(theta0 + t u)`` (``p = (t,)``)."""

    dims = 1

    def __init__(self, land, u):
        self.land, self.u = land, u
        self.theta0 = {n: p.copy() for n, p in land.params.items()}

    def move(self, p):
        for n, w in self.land.params.items():
            w[...] = self.theta0[n] + p[0] * self.u[n]

    def _project(self, g):
        return np.array([_dot(g, self.u)])


@views.shows_as("descend_gradient")
def descend_gradient(net: Network, X: ArrayLike, y: ArrayLike, *, lrs: Mapping[str, float] | None = None,
                     steps: int = 25, loss: Loss | str | None = None) -> dict:
    """Gradient descent along the direction training takes: all the weights at once, downhill.

    The slice is the line ``theta0 + t u`` with ``u = -g / |g|`` (``g`` the gradient over every weight and
    bias at the start): the direction of steepest descent. On it a step ``t <- t - lr dL/dt`` starts exactly
    like a full-batch training step ``theta <- theta - lr g``, so its rates are training's rates. The line
    search finds the lowest loss on the line (``line_search``: where it is, and the rate that lands there in
    one step, ``t* / |g|``).

    Args:
        lrs: ``{label: learning rate}``; default chosen by running them, as in :func:`descend_weight`.
        steps: steps per path.

    Returns:
        dict with ``loss0``, ``gradient_norm`` (``|g|``), ``curvature`` (``d2L/dt2`` at the start),
        ``bottom``, ``line_search`` (``{"distance", "loss", "lr"}``), ``rule``, ``labels_hold``, ``note``,
        ``paths`` (``{"label", "lr", "distances", "losses", "kind", "verdict", ...}``: ``distances`` is ``t``,
        how far along the line) and ``curve`` (``{"distances", "losses"}``).
    """
    check_params("descend_gradient", {"steps": ("int", 1, None, False)}, {"steps": steps})
    land = _Landscape(net, X, y, loss)
    loss0, g = land.gradient()
    norm = float(np.sqrt(_dot(g, g)))
    if not norm > 0:
        raise ValueError("descend_gradient: the gradient is zero here, so there is no downhill direction")
    line = _DirectionSlice(land, {n: -v / norm for n, v in g.items()})
    try:
        paths, curvature, bottom, rule = _paths(line, lrs, steps, "descend_gradient")
    except _NoLab as exc:
        raise ValueError(f"descend_gradient: the line along the gradient cannot show the three steps: {exc}") from None
    t_min, _ = _minimum(line, np.zeros(1))
    best = {"distance": float(t_min[0]), "loss": line.value(t_min), "lr": float(t_min[0]) / norm}
    for p in paths:
        p["distances"] = p.pop("positions")[:, 0].tolist()
    failed = _failed_labels(paths)
    curve = _curve(line, [p["distances"] for p in paths], [p["losses"] for p in paths], 0.0, loss0)
    for p in paths:
        own = _curve(line, [p["distances"]], [p["losses"]], 0.0, loss0, points=31, around=False)
        p["curve"] = {"distances": own["weights"], "losses": own["losses"]}
    line.reset()
    return {"loss0": loss0, "gradient_norm": norm, "curvature": curvature, "bottom": bottom, "line_search": best,
            "rule": rule, "labels_hold": not failed,
            "note": f"the labels do not all hold on this line: {failed}" if failed else None, "paths": paths,
            "curve": {"distances": curve["weights"], "losses": curve["losses"]},
            "n_samples": len(land.X), "loss_name": land.loss.name}


def lab_examples(X: ArrayLike, y: ArrayLike, seed: int = 0, n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` examples of ``(X, y)`` the lab computes its loss on, picked by ``seed`` (sorted, no repeats):
    the app's Evaluate view and ``glassnet descent`` use the same, so they show the same numbers."""
    X, y = np.asarray(X), np.asarray(y)
    idx = np.sort(as_generator(seed).choice(len(X), size=min(n, len(X)), replace=False))
    return X[idx], y[idx]


def descent_paths(net: Network, X: ArrayLike, y: ArrayLike, *, space: str = "weight", **kwargs: Any) -> dict:
    """Gradient-descent paths with a step too small, about right and too big: in ``space="weight"``
    (one weight, :func:`descend_weight`) or ``space="plane"`` (two directions, :func:`descend_plane`)."""
    if space == "weight":
        return descend_weight(net, X, y, **kwargs)
    if space == "plane":
        return descend_plane(net, X, y, **kwargs)
    if space == "gradient":
        return descend_gradient(net, X, y, **kwargs)
    raise ValueError(f"descent_paths: space expected 'weight', 'plane' or 'gradient', received {space!r}")


__all__ = ["descend_gradient", "descend_plane", "descend_weight", "descent_paths", "finite_difference",
           "lab_examples", "loss_along_weight", "loss_surface"]
