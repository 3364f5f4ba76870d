"""How big a step? The learning-rate range test (Smith 2015, https://arxiv.org/abs/1506.01186).

How it works, in short: train for a short while on mini-batches, raising the learning rate
exponentially from ``start`` to ``end``: ``lr_k = start * (end / start) ** (k / (steps - 1))``.
At first the rate is too small and the loss barely moves; then it falls quickly; then the
steps get too big and the loss shoots up. The run stops there (when the smoothed loss passes
``divergence`` times its best), the network gets its weights back exactly, and a rule reads a
good rate off the curve. The suggestion rules are small named functions (as fastai's
``valley``, ``steep``, ``minimum``):

- ``valley``: the longest stretch where the loss keeps falling; the rate halfway along its
  middle part (fastai's default; robust to noise);
- ``steepest``: where the smoothed loss falls fastest against ``log(lr)``, before its minimum;
- ``minimum``: the rate at the lowest smoothed loss, divided by 10 (the classic rule of thumb).

Because each run sees its mini-batches in a random order, the curve is noisy; with several
``seeds`` the test is repeated (from the same starting weights, with different batch orders)
and the spread of the suggestions says how much to trust them.

Not here: per-layer rates, schedules (use the suggestion as ``OneCycle``'s ``max_lr`` or a
constant rate), batch-size finders.
"""

from __future__ import annotations

import bisect
import itertools
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import losses, optimizers, views
from ._validation import check_params, check_X, describe
from .losses import Loss, prepare_targets

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .network import Network


# -- suggestion rules: (learning rates, smoothed losses) -> learning rate ---------------------------
def valley(lrs, smoothed):
    """The middle of the longest run of falling losses (fastai's ``valley``)."""
    # longest[i]: length of the longest falling sequence ending at i, found in O(n log n) by patience
    # sorting on -loss: tails[k] is the smallest -loss that ends a falling sequence of length k + 1
    tails, longest = [], []
    for value in smoothed:
        k = bisect.bisect_left(tails, -value)
        tails[k:k + 1] = [-value]
        longest.append(k + 1)
    best_end = int(np.argmax(longest))       # the first of the longest
    best_start = best_end - longest[best_end] + 1
    third = (best_end - best_start) / 3
    return float(lrs[best_start + int(third) + int(third / 2)])


def steepest(lrs, smoothed):
    """Where the smoothed loss falls fastest against ``log(lr)``, up to its minimum.

    The first tenth of the curve is left out: there the running average has seen only a few
    mini-batches, and its noise can look like a steep fall.
    """
    lowest = int(np.argmin(smoothed))
    skip = len(smoothed) // 10
    if lowest - skip < 2:
        return float(lrs[lowest])
    slope = np.gradient(np.asarray(smoothed[skip:lowest + 1]), np.log(lrs[skip:lowest + 1]))
    return float(lrs[skip + int(np.argmin(slope))])


def minimum(lrs, smoothed):
    """The rate at the lowest smoothed loss, divided by 10."""
    return float(lrs[int(np.argmin(smoothed))]) / 10


RULES = {"valley": (valley, "the middle of the longest stretch where the smoothed loss keeps falling "
                            "(fastai's valley rule)"),
         "steepest": (steepest, "where the smoothed loss falls fastest against log(learning rate), before "
                                "its minimum"),
         "minimum": (minimum, "the learning rate at the lowest smoothed loss, divided by 10")}


@dataclass
class LRFinderResult:
    """What :func:`lr_find` found: a curve per seed, their suggestions, and the overall suggestion."""

    suggestion: float
    rule: str
    suggestions: list
    curves: list                     # per seed: {"seed", "lr", "loss", "smoothed", "stopped", "suggestion"}
    settings: dict = field(default_factory=dict)

    @property
    def rule_text(self):
        return RULES[self.rule][1]

    @property
    def spread(self):
        """``log10(max / min)`` of the per-seed suggestions, in decades (0 = all seeds agree)."""
        return float(np.log10(max(self.suggestions) / min(self.suggestions)))

    @property
    def warnings(self):
        """Reasons not to trust the suggestion whatever the spread says (a curve too short to read)."""
        shortest = min(len(c["lr"]) for c in self.curves)
        if shortest < MIN_READABLE_STEPS:
            return [f"a run stopped after {shortest} mini-batches: too short a curve to read a rate from; "
                    f"start lower (--start) or raise the rate more slowly (more --steps)"]
        flat = [c for c in self.curves if c.get("why")]
        if flat:
            return [(f"{len(flat)} of the {len(self.curves)} runs: " if len(self.curves) > 1 else "") + flat[0]["why"]]
        return []

    def to_dict(self) -> dict:
        return {"suggestion": self.suggestion, "rule": self.rule, "rule_text": self.rule_text,
                "suggestions": list(self.suggestions), "spread": self.spread, "curves": self.curves,
                "settings": dict(self.settings), "warnings": self.warnings}

    def __str__(self):
        lines = [f"learning-rate range test: {self.settings.get('optimizer', 'sgd')}, rate raised from "
                 f"{self.settings.get('start', 0):g} to {self.settings.get('end', 0):g} over up to "
                 f"{self.settings.get('steps', 0)} mini-batches of {self.settings.get('batch_size', 0)}",
                 f"{'seed':>6}  {'steps':>5}  {'lowest loss':>11}  {'at rate':>8}  {'suggests':>9}  stopped"]
        for c in self.curves:
            k = int(np.nanargmin(np.asarray(c["smoothed"], dtype=float)))
            lines.append(f"{c['seed']:>6}  {len(c['lr']):>5}  {c['smoothed'][k]:>11.4f}  {c['lr'][k]:>8.2g}  "
                         f"{c['suggestion']:>9.2g}  {c['stopped']}")
        how = (f"rule '{self.rule}': {self.rule_text}" if any(c.get("readable", True) for c in self.curves) else
               "the curve cannot be read: a tenth of the rate where the loss starts to rise; see the warning")
        lines.append(f"suggested learning rate: {self.suggestion:.2g} ({how}"
                     + (", median over the seeds)" if len(self.curves) > 1 else ")"))
        if self.warnings:
            lines += [f"warning: {w}" for w in self.warnings]
        elif len(self.curves) > 1:
            verdict = ("the seeds agree: trust it" if self.spread <= np.log10(3) else
                       "the seeds disagree: treat it as a rough guide" if self.spread <= 1 else
                       "the seeds disagree by more than 10x: do not trust it; try more steps or a bigger batch")
            lines.append(f"spread over {len(self.curves)} seeds: {self.spread:.2f} decades "
                         f"(x{10 ** self.spread:.1f}); {verdict}")
        return "\n".join(lines)

    def __repr__(self):
        return views.lr_finder_text(self)

    def _repr_html_(self):
        """In a notebook: the suggestion, the curves and the table per seed (``glassnet.views``)."""
        return views.lr_finder_html(self)


MIN_READABLE_STEPS = 10   # a curve of fewer mini-batches says too little to suggest a rate
MAX_STEPS = 100_000   # mini-batches per run at most: the test needs a few hundred; more is a typo
MAX_SEEDS = 1000      # runs at most: a handful shows the spread

_limits = {"start": ("float", 0.0, None, True), "end": ("float", 0.0, None, True),
           "steps": ("int", 2, MAX_STEPS, False), "batch_size": ("int", 1, None, False),
           "momentum": ("float", 0.0, 1.0, False), "divergence": ("float", 1.0, None, True),
           "smooth": ("float", 0.0, 1.0, False)}


def lr_find(net: Network, X: ArrayLike, y: ArrayLike, *, start: float = 1e-6, end: float = 10.0, steps: int = 100,
            batch_size: int = 64, optimizer: str = "sgd", momentum: float = 0.9,
            seeds: int | Iterable[int] = (0,), divergence: float = 4.0, smooth: float = 0.98,
            loss: Loss | str | None = None, rule: str = "steepest") -> LRFinderResult:
    """The learning-rate range test: returns an :class:`LRFinderResult`; ``net`` is left exactly as it was.

    ``lr_k = start * (end / start) ** (k / (steps - 1))`` for mini-batch ``k``; the loss is smoothed
    as ``avg = smooth * avg + (1 - smooth) * loss`` (bias-corrected); the run stops when the smoothed
    loss exceeds ``divergence`` times its lowest value (or is not finite).

    Args:
        net: the network to test; its weights (and dropout random state) are restored at the end.
        X, y: training data (a few hundred mini-batches' worth is plenty).
        start, end: the range of learning rates, ``start < end``.
        steps: mini-batches (learning rates) per run at most.
        batch_size: samples per mini-batch.
        optimizer: ``"sgd"`` (with ``momentum``), ``"adam"`` or ``"adamw"``.
        seeds: seeds for the batch order, one run each; an int ``n`` means ``range(n)``.
        divergence: stop when the smoothed loss is this many times its best.
        smooth: weight of the past in the running average of the loss, in ``[0, 1)``.
        loss: default the network's loss or cross-entropy.
        rule: ``"steepest"`` (default), ``"valley"`` or ``"minimum"`` (see the module docstring).

    Example:
        >>> import glassnet as gn
        >>> data = gn.datasets.load_digits()
        >>> net = gn.Network.mlp([784, 32, 10], seed=0)
        >>> result = lr_find(net, data.X_train[:2000], data.y_train[:2000], steps=40)
        >>> 1e-6 < result.suggestion < 10
        True
    """
    check_params("lr_find", _limits, {"start": start, "end": end, "steps": steps, "batch_size": batch_size,
                                      "momentum": momentum, "divergence": divergence, "smooth": smooth})
    if not start < end:
        raise ValueError(f"lr_find: expected start < end, received start={start!r}, end={end!r}")
    if smooth >= 1:
        raise ValueError(f"lr_find: smooth expected a value in [0, 1), received {smooth!r}")
    if rule not in RULES:
        raise ValueError(f"lr_find: rule expected one of {sorted(RULES)}, received {rule!r}")
    try:
        optimizer = optimizers.canonical(optimizer)
    except ValueError as exc:
        raise ValueError(f"lr_find: {exc}") from None
    seeds = _seeds(seeds)
    loss = losses.get(loss or net.loss_ or "cross_entropy")
    X = check_X(X, net.n_features, dtype=net.dtype)
    y, _ = prepare_targets(y, len(X), net.n_outputs, loss)

    # Everything is valid: from here on the network changes, and is put back in the `finally`.
    weights = net.get_weights()
    # the dropout layers' own generators (often one shared by all of them) and their states, to put back
    rngs = {i: (layer.rng, layer.rng.bit_generator.state)  # type: ignore[attr-defined]  # Dropout: has_training_mode
            for i, layer in enumerate(net.layers) if layer.has_training_mode}
    curves = []
    try:
        for seed in seeds:
            curves.append(_one_run(net, X, y, loss, seed, start, end, steps, batch_size, str(optimizer).lower(),
                                   momentum, divergence, smooth, rule))
            net.set_weights(weights)
    finally:
        net.set_weights(weights)
        for i, (rng, state) in rngs.items():
            rng.bit_generator.state = state
            net.layers[i].rng = rng  # type: ignore[attr-defined]  # a Dropout layer (see rngs above)
    suggestions = [c["suggestion"] for c in curves]
    settings = {"start": float(start), "end": float(end), "steps": int(steps), "batch_size": int(batch_size),
                "optimizer": str(optimizer).lower(),
                "momentum": float(momentum) if str(optimizer).lower() == "sgd" else None,
                "seeds": list(seeds), "divergence": float(divergence), "smooth": float(smooth), "loss": loss.name,
                "n_samples": len(X)}
    # the geometric median: the middle suggestion on a log scale (for an even count, the geometric mean of the two)
    logs = np.sort(np.log(suggestions))
    middle = float(np.exp((logs[(len(logs) - 1) // 2] + logs[len(logs) // 2]) / 2))
    return LRFinderResult(middle, rule, suggestions, curves, settings)


def _seeds(seeds) -> list[int]:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if not 1 <= int(seeds) <= MAX_SEEDS:
            raise ValueError(f"lr_find: seeds expected 1 to {MAX_SEEDS} runs, received {seeds!r}")
        return list(range(int(seeds)))
    try:
        seeds = list(itertools.islice(seeds, MAX_SEEDS + 1))   # one too many is enough to refuse a huge range
    except TypeError:
        raise TypeError(f"lr_find: seeds expected an int or a list of ints, received {describe(seeds)}") from None
    valid = all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and int(s) >= 0 for s in seeds)
    if not valid or not 1 <= len(seeds) <= MAX_SEEDS:
        raise ValueError(f"lr_find: seeds expected a list of 1 to {MAX_SEEDS} non-negative ints, "
                         f"received {describe(seeds) if len(seeds) > 10 else repr(seeds)}")
    return [int(s) for s in seeds]


def _one_run(net, X, y, loss, seed, start, end, steps, batch_size, optimizer, momentum, divergence, smooth, rule):
    """One range test from the network's current weights; returns the curve (the weights are left changed)."""
    rng = np.random.default_rng(seed)
    for i, layer in enumerate(net.layers):
        if layer.has_training_mode:
            layer.rng = np.random.default_rng([seed, i])
    opt = optimizers.build(optimizer, start, momentum=momentum)     # the one factory the CLI and the app use
    params, grads = net.parameters(), net.gradients()
    batch_size = min(batch_size, len(X))
    order, position = rng.permutation(len(X)), 0
    rates = start * (end / start) ** (np.arange(steps) / (steps - 1))
    lrs, raw, smoothed = [], [], []
    average, best, stopped = 0.0, np.inf, f"reached the end of the range ({end:g})"
    for k, lr in enumerate(rates):
        if position + batch_size > len(order):              # a new epoch: a fresh order
            order, position = rng.permutation(len(X)), 0
        idx = order[position:position + batch_size]
        position += batch_size
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run overflows; it is detected below
            value, _, _ = net.loss_and_gradients(X[idx], y[idx], loss)
        lrs.append(float(lr))
        raw.append(float(value) if np.isfinite(value) else None)
        if not np.isfinite(value):
            smoothed.append(None)
            stopped = f"loss not finite at rate {lr:.3g}"
            break
        average = smooth * average + (1 - smooth) * value
        current = average / (1 - smooth ** (k + 1))         # bias-corrected running average
        smoothed.append(float(current))
        best = min(best, current)
        if k > 0 and current > divergence * best:
            stopped = f"diverged at rate {lr:.3g} (smoothed loss {current:.3g} > {divergence:g} x best {best:.3g})"
            break
        opt.lr = float(lr)
        with np.errstate(over="ignore", invalid="ignore"):
            opt.step(params, grads)
    usable = [i for i, s in enumerate(smoothed) if s is not None]
    if not usable:                                          # nothing measured: no curve to read a rate off
        raise ValueError(f"lr_find: the loss was not finite on the first mini-batch, before any step; expected "
                         f"inputs and weights of a sensible size, received inputs from {float(X.min()):.3g} to "
                         f"{float(X.max()):.3g} (scale them, e.g. to [0, 1])")
    # read the rule off the curve up to where it diverged (the last, exploding point says only "too big")
    usable = usable[:-1] if stopped.startswith("diverged") and len(usable) > 2 else usable
    rule_lrs = np.array([lrs[i] for i in usable])
    rule_losses = np.array([smoothed[i] for i in usable])
    why, fallback = _unreadable(rule_lrs, rule_losses)
    return {"seed": seed, "lr": lrs, "loss": raw, "smoothed": smoothed, "stopped": stopped, "readable": why is None,
            "why": why, "suggestion": fallback if why else RULES[rule][0](rule_lrs, rule_losses)}


def _unreadable(lrs, smoothed):
    """``(None, None)`` when the curve falls somewhere (a rule can read it); else ``(why, rate)``: the reason in
    words and a tenth of the rate where the loss starts to rise (a safe rate to go on training with).

    A trained network is already near a minimum: its loss does not fall at any rate, the curve is flat (with
    mini-batch noise) until the steps get too big, and "where it falls fastest" would be a wiggle of noise
    at the first rates tried."""
    skip = max(len(smoothed) // 10, 1)
    early = float(np.median(smoothed[:skip + 1]))
    lowest = int(np.argmin(smoothed))
    if lowest > skip and float(smoothed[lowest]) < 0.99 * early:     # it falls, and its lowest point is past noise
        return None, None
    level = float(np.median(smoothed))
    rising = np.flatnonzero(smoothed > 1.5 * level)
    edge = float(lrs[rising[0]] if len(rising) else lrs[-1])
    why = (f"the curve cannot be read: the loss did not fall anywhere in the range (it stayed near {level:.3g} "
           f"from rate {lrs[0]:.2g} until it rose at {edge:.2g}), as for a network already near a minimum; so "
           f"no downhill stretch shows a rate. Suggested instead: a tenth of the rate where the loss starts to "
           f"rise, {edge / 10:.2g}, a safe rate to go on training with")
    return why, edge / 10


__all__ = ["LRFinderResult", "RULES", "lr_find", "minimum", "steepest", "valley"]
