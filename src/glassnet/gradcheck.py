"""Gradient check: is backpropagation right? Compare it with "try a bit more and a bit less".

For every parameter ``w`` (and every input), the central finite difference
``(L(w + h) - L(w - h)) / 2h`` approximates ``dL/dw`` with error ``O(h^2)``. Backpropagation
computes the same derivative exactly, so the two must agree. The check runs in float64
on a copy of the network (the original is never touched), in prediction mode (dropout
off) unless ``training=True`` (then each dropout mask is frozen for the whole check).

Each tensor's agreement is the relative error ``||g_bp - g_fd|| / (||g_bp|| + ||g_fd||)``
(0 = identical; below 1e-6 means backpropagation is right, above 1e-3 means a bug).

It names no layer and no activation: whatever each layer's ``backward`` computes (for an
activation, its ``derivative``) is checked against what its ``forward`` computes (its ``function``),
so a new activation is checked without a change here.

Not here: second derivatives, checks in float32 (finite differences need float64's precision).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import losses, views
from ._validation import as_generator, check_params, check_X
from .losses import Loss, prepare_targets

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .network import Network


@dataclass
class TensorCheck:
    name: str                 # "0.weights", "input", ...
    layer: str                # "Dense(784 -> 16)", "input"
    checked: int              # how many entries were compared
    total: int                # entries in the tensor
    relative_error: float     # ||bp - fd|| / (||bp|| + ||fd||)
    max_abs_error: float      # largest |bp - fd| over the checked entries


@dataclass
class GradcheckReport:
    """Result of :func:`gradcheck`: one :class:`TensorCheck` per tensor, and the verdict."""

    tensors: list = field(default_factory=list)
    tolerance: float = 1e-6

    @property
    def max_relative_error(self) -> float:
        return max((t.relative_error for t in self.tensors), default=0.0)

    @property
    def per_layer(self) -> dict[str, float]:
        """Maximum relative error per layer, keyed ``"<index>: <layer>"`` (and ``"input"``)."""
        result: dict[str, float] = {}
        for t in self.tensors:
            key = t.layer if t.name == "input" else f"{t.name.split('.')[0]}: {t.layer}"
            result[key] = max(result.get(key, 0.0), t.relative_error)
        return result

    @property
    def passed(self) -> bool:
        return self.max_relative_error < self.tolerance

    def __str__(self):
        width = max(len(t.name) + len(t.layer) + 3 for t in self.tensors)
        lines = [f"{'tensor':<{width}}  {'checked':>13}  {'relative error':>14}  {'max |bp - fd|':>13}"]
        for t in self.tensors:
            label = f"{t.name} ({t.layer})" if t.layer != t.name else t.name
            lines.append(f"{label:<{width}}  {f'{t.checked}/{t.total}':>13}  {t.relative_error:>14.3e}  "
                         f"{t.max_abs_error:>13.3e}")
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(f"{verdict}: maximum relative error {self.max_relative_error:.3e} "
                     f"(tolerance {self.tolerance:.0e})")
        return "\n".join(lines)

    def __repr__(self):
        return views.gradcheck_text(self)

    def _repr_html_(self):
        """In a notebook: the verdict and the table of tensors (``glassnet.views``)."""
        return views.gradcheck_html(self)


def gradcheck(net: Network, X: ArrayLike, y: ArrayLike, loss: Loss | str = "cross_entropy", h: float = 1e-6,
              max_checks: int | None = None, check_input: bool = True, training: bool = False,
              tolerance: float = 1e-6, seed: int = 0) -> GradcheckReport:
    """Compare backpropagation with central finite differences on every parameter and the input.

    Args:
        net: the network (copied to float64; the original is unchanged).
        X, y: a small batch (a few samples is plenty).
        loss: the loss to differentiate.
        h: the finite-difference step.
        max_checks: at most this many randomly chosen entries per tensor (``None``: all of them).
        check_input: also check ``dL/dX``.
        training: run in training mode with frozen dropout masks.
        tolerance: relative error below which the check passes.
        seed: chooses the sampled entries and the frozen dropout masks.

    Returns:
        GradcheckReport: ``report.passed``, ``report.per_layer``, ``print(report)`` for a table.

    Example:
        >>> import glassnet as gn
        >>> net = gn.Network.mlp([3, 4, 2], activation="tanh", seed=0)
        >>> gn.gradcheck(net, np.ones((2, 3)), np.array([0, 1])).passed
        True
    """
    check_params("gradcheck", {"h": ("float", 0.0, 1.0, True), "tolerance": ("float", 0.0, None, True)},
                 {"h": h, "tolerance": tolerance})
    loss = losses.get(loss)
    net64 = net.astype(np.float64)
    X = check_X(X, net64.n_features, dtype=np.float64)
    y, _ = prepare_targets(y, len(X), net64.n_outputs, loss)
    rng = as_generator(seed)
    # an int seeds the frozen masks directly; None or a Generator gives one int for all of them
    mask_seed = seed if isinstance(seed, numbers.Integral) else int(rng.integers(2**32))

    def freeze_masks():
        for i, layer in enumerate(net64.layers):
            if layer.has_training_mode:
                layer.rng = np.random.default_rng([mask_seed, i])

    def loss_at(inputs):
        freeze_masks()
        upto = net64.body(loss)
        return loss.value(net64.forward(inputs, training=training, upto=upto), y)

    freeze_masks()
    _, dX, _ = net64.loss_and_gradients(X, y, loss, training=training)
    analytic = [(name, g.copy()) for name, g in zip((n for n, _ in net64.named_parameters()), net64.gradients())]
    report = GradcheckReport(tolerance=tolerance)
    params = dict(net64.named_parameters())
    layer_names = {f"{i}": layer.summary_name() for i, layer in enumerate(net64.layers)}
    for name, grad in analytic:
        w = params[name]
        numeric, idx = _numeric(lambda: loss_at(X), w, h, max_checks, rng)
        report.tensors.append(_compare(name, layer_names[name.split(".")[0]], grad.ravel()[idx], numeric, w.size))
    if check_input:
        Xc = X.copy()
        numeric, idx = _numeric(lambda: loss_at(Xc), Xc, h, max_checks, rng)
        analytic_input = dX.ravel()[idx]  # type: ignore[union-attr]  # no buffers: dL/dX is always computed
        report.tensors.append(_compare("input", "input", analytic_input, numeric, Xc.size))
    return report


def _numeric(f, w, h, max_checks, rng):
    """Central differences of ``f()`` with respect to entries of ``w`` (perturbed in place, then restored)."""
    flat = w.reshape(-1)
    idx = np.arange(flat.size)
    if max_checks is not None and flat.size > max_checks:
        idx = np.sort(rng.choice(flat.size, size=max_checks, replace=False))
    numeric = np.empty(len(idx))
    for k, j in enumerate(idx):
        original = flat[j]
        flat[j] = original + h
        plus = f()
        flat[j] = original - h
        minus = f()
        flat[j] = original
        numeric[k] = (plus - minus) / (2 * h)       # "try a bit more and a bit less"
    return numeric, idx


def _compare(name, layer, analytic, numeric, total):
    diff = np.linalg.norm(analytic - numeric)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    relative = float(diff / scale) if scale > 0 else 0.0
    max_abs = float(np.max(np.abs(analytic - numeric))) if len(numeric) else 0.0
    return TensorCheck(name, layer, len(numeric), total, relative, max_abs)
