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
- :func:`descend_weight` / :func:`descend_plane` (or :func:`descent_paths`): gradient descent
  ``w <- w - lr * dL/dw`` with a step too small, about right and too big, in the same 1-D or 2-D
  slice, so each path can be drawn on its landscape. "About right" is ``1 / curvature``, the step
  that lands on the minimum of a parabola; beyond ``2 / curvature`` each step overshoots further
  than the last: the path bounces from side to side and the loss grows.

All of it runs on a float64 copy of the network (``net`` is never changed), in prediction mode
(dropout off), and returns plain dicts of numbers and lists. The loss and its gradient are the
copy's own ``forward`` and ``loss_and_gradients``: every layer's own definition, so a new
activation is followed here with no change. Not here: pictures (see
``glassnet.plots``), stochastic (mini-batch) noise, momentum in the trajectories.
"""

import numpy as np

from . import losses
from ._validation import as_generator, check_params, check_X, describe
from .losses import prepare_targets


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
def loss_along_weight(net, X, y, *, param=None, index=None, span=1.0, points=41, loss=None):
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


def finite_difference(net, X, y, *, param=None, index=None, h=1e-4, loss=None):
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
    positions, values = [p.copy()], [slice_.value(p)]
    blown_up = 1e6 * max(1.0, abs(values[0]))   # a diverging path stops here, before it overflows
    for _ in range(steps):
        value, g = slice_.gradient(p)
        if not (np.isfinite(value) and np.isfinite(g).all()) or value > blown_up:
            break
        p = p - lr * g
        positions.append(p.copy())
        values.append(slice_.value(p))
    return np.array(positions), values


_BIG = (3, 5, 10, 30, 100)      # multiples of 1/curvature tried for "too big", smallest first


def _paths(slice_, lrs, steps, owner):
    """The paths for ``lrs`` (default: derived from the curvature at the nearest minimum)."""
    p_min, curvature = _minimum(slice_, np.zeros(slice_.dims))
    rule, known = None, {}
    if lrs is None:
        if not curvature > 1e-12:
            raise ValueError(f"{owner}: the loss does not curve upward near here (curvature {curvature:.3g}), so "
                             f"there is no 'about right' step to derive; pass lrs={{label: rate}}")
        lrs = {"too small": 0.001 / curvature, "about right": 1.0 / curvature}
        # "too big": the smallest multiple of 1/curvature whose path ends higher than it started
        for multiple in _BIG:
            tried = _run_path(slice_, multiple / curvature, steps)
            if not np.isfinite(tried[1][-1]) or tried[1][-1] > tried[1][0]:
                break
        lrs["too big"] = multiple / curvature
        known = {multiple / curvature: tried}
        rule = (f"curvature c = {curvature:.4g} at the nearest minimum; too small = 0.001/c, about right = 1/c "
                f"(the step that lands on the bottom of a parabola), too big = {multiple}/c (beyond 2/c each step "
                f"overshoots further than the last)")
    else:
        lrs = _check_lrs(lrs, owner)
    paths = []
    for label, lr in lrs.items():
        positions, values = known[lr] if lr in known else _run_path(slice_, lr, steps)
        paths.append({"label": label, "lr": float(lr), "positions": positions, "losses": values})
    slice_.reset()
    return paths, curvature, p_min, rule


def descend_weight(net, X, y, *, param=None, index=None, lrs=None, steps=25, loss=None):
    """Gradient descent on one weight, ``w <- w - lr * dL/dw``, for several step sizes.

    Args:
        param, index: which weight; default the one with the steepest slope (see :func:`loss_along_weight`).
        lrs: ``{label: learning rate}``. Default, from the curvature ``c = d2L/dw2`` at the nearest
            minimum: ``"too small"`` = 0.001/c, ``"about right"`` = 1/c (a parabola's minimum in one
            step), ``"too big"`` = the smallest of 3/c, 5/c, 10/c, 30/c, 100/c whose path ends higher
            than it started (over 2/c every step overshoots: the path bounces and the loss grows).
        steps: steps per path.

    Returns:
        dict with the weight (``param``, ``index``, ``layer``), ``w0``, ``loss0``, ``slope``, ``curvature``,
        ``minimum_weight``, ``rule`` (how the rates were chosen), ``paths`` (a list of ``{"label", "lr",
        "weights", "losses", "loss_change", "bounces", "distance", "verdict"}``) and ``curve``
        (``{"weights", "losses"}``: the loss along the weight over the range the paths visit).
    """
    check_params("descend_weight", {"steps": ("int", 1, None, False)}, {"steps": steps})
    land = _Landscape(net, X, y, loss)
    param, index = _pick_weight(land, param, index)
    slice_ = _WeightSlice(land, param, index)
    w0 = slice_.w0
    loss0, g0 = slice_.gradient(np.zeros(1))
    paths, curvature, p_min, rule = _paths(slice_, lrs, steps, "descend_weight")
    for p in paths:
        p["weights"] = (w0 + p.pop("positions")[:, 0]).tolist()
    _summarise(paths)
    finite = [w for p in paths for w in p["weights"] if np.isfinite(w)]
    low, high = min(finite + [w0 + p_min[0]]), max(finite + [w0 + p_min[0]])
    pad = 0.1 * (high - low) + 1e-3
    grid = np.linspace(low - pad, high + pad, 81)
    curve = [slice_.value(np.array([w - w0])) for w in grid]
    slice_.reset()
    return {**_weight_info(land, param, index), "w0": w0, "loss0": loss0, "slope": float(g0[0]),
            "curvature": curvature, "minimum_weight": float(w0 + p_min[0]), "rule": rule, "paths": paths,
            "curve": {"weights": grid.tolist(), "losses": curve}}


def _check_lrs(lrs, owner):
    if not isinstance(lrs, dict) or not lrs:
        raise TypeError(f"{owner}: lrs expected a dict {{label: learning rate}}, received {describe(lrs)}")
    for label, lr in lrs.items():
        check_params(owner, {f"lrs[{label!r}]": ("float", 0.0, None, True)}, {f"lrs[{label!r}]": lr})
    return {str(k): float(v) for k, v in lrs.items()}


def _summarise(paths):
    """Add a verdict per path: diverges, bounces, barely moves or converges (from its own numbers)."""
    finals = [p["losses"][-1] for p in paths]
    best = min(finals)
    for p in paths:
        start, end = p["losses"][0], p["losses"][-1]
        if "weights" in p:
            positions = np.asarray(p["weights"], dtype=float)[:, None]
        else:
            positions = np.stack([p["alphas"], p["betas"]], axis=1).astype(float)
        moves = np.diff(positions, axis=0)
        turns = int(np.sum(np.sum(moves[1:] * moves[:-1], axis=1) < 0))   # a step against the one before
        p["loss_change"] = end - start
        p["bounces"] = turns
        p["distance"] = float(np.linalg.norm(positions[-1] - positions[0]))
        if not np.isfinite(end) or end > start:
            p["verdict"] = f"diverges: the loss grew from {start:.4g} to {end:.4g}" + (
                f", bouncing {turns} times" if turns else "")
        elif best < start and (start - end) < 0.1 * (start - best):
            p["verdict"] = (f"barely moves: the loss fell only from {start:.4g} to {end:.4g} "
                            f"({100 * (start - end) / (start - best):.0f}% of what the best step achieved)")
        elif turns > len(moves) // 2:
            p["verdict"] = f"bounces from side to side ({turns} turns) but settles: {start:.4g} -> {end:.4g}"
        else:
            p["verdict"] = f"converges: the loss fell from {start:.4g} to {end:.4g}"


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


def loss_surface(net, X, y, *, directions="random", span=1.0, points=21, seed=0, loss=None):
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


def descend_plane(net, X, y, *, lrs=None, steps=25, directions="gradient", seed=0, grid=21, loss=None):
    """Gradient descent inside a plane: ``(alpha, beta) <- (alpha, beta) - lr * (g . d1, g . d2)``.

    The paths stay in the plane, so they can be drawn on its contour map (returned as well).

    Args:
        lrs: ``{label: learning rate}``; default as :func:`descend_weight`, with ``c`` the largest
            eigenvalue of the plane's 2x2 Hessian at the nearest minimum.
        directions, seed: the plane (see :func:`loss_surface`); default downhill + random.
        grid: contour points per axis over the region the paths visit.

    Returns:
        dict with ``loss0``, ``curvature``, ``minimum`` (``[alpha, beta]``), ``rule``, ``paths``
        (``{"label", "lr", "alphas", "betas", "losses", "verdict", ...}``) and ``surface``
        (``{"alphas", "betas", "losses"}``, rows are betas).
    """
    check_params("descend_plane", {"steps": ("int", 1, None, False), "grid": ("int", 2, None, False)},
                 {"steps": steps, "grid": grid})
    land = _Landscape(net, X, y, loss)
    plane = _PlaneLandscape(land, *_plane(land, directions, seed))
    loss0 = plane.value((0.0, 0.0))
    paths, curvature, p_min, rule = _paths(plane, lrs, steps, "descend_plane")
    for p in paths:
        positions = p.pop("positions")
        p["alphas"], p["betas"] = positions[:, 0].tolist(), positions[:, 1].tolist()
    _summarise(paths)
    # the contour map covers where the paths go while the loss is still on a readable scale (a diverging
    # path's last points are far away; drawn to scale they would flatten the whole map into one colour)
    readable = max(3 * loss0, loss0 + 1)
    coords = [abs(v) for p in paths for a, b, value in zip(p["alphas"], p["betas"], p["losses"])
              if np.isfinite(value) and value <= readable for v in (a, b)] + list(np.abs(p_min))
    reach = max(1e-3, max(coords))
    axis = np.linspace(-1.1 * reach, 1.1 * reach, grid)
    surface = [[plane.value((a, b)) for a in axis] for b in axis]
    plane.reset()
    return {"loss0": loss0, "curvature": curvature, "minimum": [float(v) for v in p_min], "rule": rule,
            "directions": directions, "seed": seed, "paths": paths,
            "surface": {"alphas": axis.tolist(), "betas": axis.tolist(), "losses": surface},
            "n_samples": len(land.X), "loss_name": land.loss.name}


def descent_paths(net, X, y, *, space="weight", **kwargs):
    """Gradient-descent paths with a step too small, about right and too big: in ``space="weight"``
    (one weight, :func:`descend_weight`) or ``space="plane"`` (two directions, :func:`descend_plane`)."""
    if space == "weight":
        return descend_weight(net, X, y, **kwargs)
    if space == "plane":
        return descend_plane(net, X, y, **kwargs)
    raise ValueError(f"descent_paths: space expected 'weight' or 'plane', received {space!r}")


__all__ = ["descend_plane", "descend_weight", "descent_paths", "finite_difference", "loss_along_weight",
           "loss_surface"]
