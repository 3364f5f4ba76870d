"""What went wrong in training, and what to try: rules that read the real training state.

How it works, in short: :func:`diagnose` looks at the per-epoch history (loss, accuracy,
validation numbers, learning rate), at a divergence if there was one, and, given the
network and a sample of data, at the hidden ReLU neurons. Each rule that fires returns a
:class:`Finding`: a name, a one-line message, the numbers it read (``evidence``) and the fix
it suggests. A healthy run gives no findings. The rules:

- ``loss_exploding``: the loss became NaN/inf, or rose well above its best: the learning rate
  is too high;
- ``loss_flat``: the loss hardly fell over the run (or sits at chance level): the learning rate
  is too low, or the ReLUs are dead;
- ``overfitting``: the training loss keeps falling while the validation loss rises from its best,
  or training accuracy is far above held-out accuracy;
- ``dead_neurons``: a large share of a hidden ReLU layer never fires on a sample of the data.

The thresholds are arguments with defaults chosen on the bundled digits (a default
``glassnet train`` run gives no findings). The fixes name the tools of the place that shows them
(``audience="cli"``: flags and commands; ``"app"``: the web app's buttons and fields), with the same
rules and numbers. Not here: automatic fixes, gradient-norm
monitoring during training (see the ``NaNGuard`` callback).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validation import check_params, check_X, describe
from .activations import Activation
from .explain import forward_values, neuron_groups

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .errors import TrainingDiverged
    from .history import History
    from .network import Network


@dataclass
class Finding:
    """One diagnosis: ``name`` (a rule), ``message``, the ``evidence`` (numbers) and the ``fix``."""

    name: str
    message: str
    evidence: dict = field(default_factory=dict)
    fix: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "message": self.message, "evidence": _plain(self.evidence), "fix": self.fix}

    def __str__(self):
        return f"{self.name}: {self.message}\n  fix: {self.fix}"


def _plain(value):
    """Evidence as JSON-ready data: NumPy numbers become Python numbers, NaN/inf become None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


# What a fix tells the user to use, in the words of the place that shows it.
TOOLS = {
    "cli": {"lr_find": "glassnet lr-find (glassnet.lr_finder.lr_find)", "leaky": "--activation leaky_relu",
            "dropout": "dropout (--dropout 0.2)", "early": "EarlyStopping on val_loss", "epochs": "more epochs",
            "widen": "--layers"},
    "app": {"lr_find": "the Train tab's Find a learning rate", "leaky": "a new network with activation leaky_relu",
            "dropout": "augmentation (the augment box)", "early": "fewer epochs", "epochs": "more epochs",
            "widen": "Hidden layers"},
}

_limits = {"max_samples": ("int", 1, None, False), "rise": ("float", 1.0, None, True),
           "flat": ("float", 0.0, 1.0, False), "overfit_rise": ("float", 0.0, None, False),
           "overfit_gap": ("float", 0.0, 1.0, False), "dead_share": ("float", 0.0, 1.0, False)}


def diagnose(history: History | Mapping[str, Any] | Sequence[Mapping[str, Any]], net: Network | None = None,
             X: ArrayLike | None = None, *, diverged: TrainingDiverged | str | None = None,
             validation: tuple[ArrayLike, ArrayLike] | None = None, max_samples: int = 1000,
             rise: float = 1.5, flat: float = 0.05, overfit_rise: float = 0.1, overfit_gap: float = 0.1,
             dead_share: float = 0.25, audience: str = "cli") -> list[Finding]:
    """Read a training run and return the problems found, as a list of :class:`Finding` (empty if healthy).

    Args:
        history: a :class:`~glassnet.History` (or its ``to_dict()``, or a list of epoch records).
        net, X: the trained network and data (training inputs) to look for dead ReLU neurons.
        diverged: the :class:`~glassnet.TrainingDiverged` raised by ``fit`` (or its message), if any.
        validation: ``(X_val, y_val)`` to compare with training accuracy when the history has no
            validation numbers.
        max_samples: rows of ``X`` checked for dead neurons (spread evenly over ``X``).
        rise: ``loss_exploding`` when an epoch's loss exceeds ``rise`` times the best before it.
        flat: ``loss_flat`` when the loss fell by less than this fraction over the run.
        overfit_rise: ``overfitting`` when the validation loss rose this fraction above its best
            while the training loss kept falling.
        overfit_gap: ``overfitting`` when training accuracy exceeds validation accuracy by this much.
        dead_share: ``dead_neurons`` when this share of a hidden ReLU layer never fires.
        audience: ``"cli"`` or ``"app"``: whose tools the fixes name (:data:`TOOLS`).

    Example:
        >>> diagnose([{"epoch": 1, "loss": 2.30, "lr": 1e-6}, {"epoch": 2, "loss": 2.29, "lr": 1e-6}])[0].name
        'loss_flat'
    """
    check_params("diagnose", _limits, {"max_samples": max_samples, "rise": rise, "flat": flat,
                                       "overfit_rise": overfit_rise, "overfit_gap": overfit_gap,
                                       "dead_share": dead_share})
    if audience not in TOOLS:
        raise ValueError(f"diagnose: audience expected one of {sorted(TOOLS)}, received {audience!r}")
    tools = TOOLS[audience]
    records = _records(history)
    if not records and net is None and diverged is None:
        raise ValueError("diagnose expected a history with at least one epoch record (or net and X to look for "
                         "dead neurons), received an empty history: there is nothing to check")
    dead = None
    if net is not None and X is not None:
        dead = dead_relus(net, X, max_samples=max_samples)
    elif (net is None) != (X is None):
        raise TypeError("diagnose: pass both net and X to look for dead neurons (or neither)")
    findings = []
    for rule in (_exploding(records, diverged, rise, net, tools), _flat(records, net, dead, flat, tools, rise),
                 _overfitting(records, net, validation, overfit_rise, overfit_gap, tools),
                 _dead(dead, dead_share, tools)):
        if rule is not None:
            findings.append(rule)
    return findings


def _records(history):
    if hasattr(history, "epochs"):
        records = history.epochs
    elif isinstance(history, dict) and "epochs" in history:
        records = history["epochs"]
    elif isinstance(history, (list, tuple)):
        records = history
    else:
        raise TypeError(f"diagnose: history expected a History, its to_dict() or a list of epoch records, "
                        f"received {describe(history)}")
    for i, r in enumerate(records):
        if not isinstance(r, dict) or "loss" not in r:
            raise ValueError(f"diagnose: epoch record {i} expected a dict with a 'loss', received {describe(r)}")
        loss = r["loss"]
        if loss is not None and (isinstance(loss, (bool, np.bool_)) or not isinstance(loss, numbers.Real)):
            raise ValueError(f"diagnose: epoch record {i} expected a number (or None) as its 'loss', "
                             f"received {describe(loss)}")
    return list(records)


def _loss(value):
    return float("nan") if value is None else float(value)


# -- the rules ---------------------------------------------------------------------------------------
def _chance(net):
    """The cross-entropy of a network that knows nothing: ``log(n_classes)`` (None for one output)."""
    return math.log(net.n_outputs) if net is not None and net.n_outputs > 1 else None


def _rate(value):
    """A learning rate as people write it: 100, 0.05, 1e-05 (2 significant digits, no "1e+02")."""
    text = f"{value:.2g}"
    return f"{float(text):g}" if 1e-3 <= abs(value) < 1e4 else text


def _exploding(records, diverged, rise, net, tools):
    losses = [_loss(r["loss"]) for r in records]
    chance, n_classes = _chance(net), net.n_outputs if net is not None else None
    lr = records[-1].get("lr") if records else None
    fix_lr = f" (e.g. {_rate(lr / 10)} instead of {_rate(lr)})" if isinstance(lr, (int, float)) and lr > 0 else ""
    fix = f"lower the learning rate{fix_lr}, or measure a good one with {tools['lr_find']}"
    if diverged is not None:
        evidence = {"message": str(diverged)}
        for key in ("epoch", "batch", "lr", "loss"):
            if hasattr(diverged, key):
                evidence[key] = getattr(diverged, key)
        if hasattr(diverged, "lr") and diverged.lr:
            fix = (f"lower the learning rate (e.g. {_rate(diverged.lr / 10)} instead of {_rate(diverged.lr)}), "
                   f"or measure a good one with {tools['lr_find']}")
        return Finding("loss_exploding", "the loss became infinite or NaN: training diverged", evidence, fix)
    bad = [r.get("epoch", k + 1) for k, (r, v) in enumerate(zip(records, losses)) if not math.isfinite(v)]
    if bad:
        return Finding("loss_exploding", f"the loss was not finite in epoch {bad[0]}",
                       {"epochs_not_finite": bad, "losses": losses}, fix)
    epoch = [r.get("epoch", k + 1) for k, r in enumerate(records)]
    if chance is not None:
        for k, v in enumerate(losses):
            if v > rise * chance:
                return Finding("loss_exploding",
                               f"the loss averaged {v:.4g} in epoch {epoch[k]}, {v / chance:.1f} times what an "
                               f"untrained network scores (log {n_classes} = {chance:.4g}): the steps overshoot",
                               {"loss": v, "epoch": epoch[k], "chance_loss": chance, "losses": losses,
                                "lr": records[k].get("lr")}, fix)
    for k in range(1, len(losses)):
        best = min(losses[:k])
        if losses[k] > rise * best:
            return Finding("loss_exploding",
                           f"the loss rose from {best:.4g} to {losses[k]:.4g} (x{losses[k] / best:.1f}) in epoch "
                           f"{epoch[k]}: the steps overshoot",
                           {"best_loss": best, "loss": losses[k], "epoch": epoch[k], "losses": losses,
                            "lr": records[k].get("lr")}, fix)
    best = min(losses, default=0.0)
    if len(losses) >= 3 and losses[-1] > losses[-2] > losses[-3] and losses[-1] > 1.1 * best + 0.02:
        return Finding("loss_exploding",
                       f"the loss rose two epochs running, to {losses[-1]:.4g} from a best of {best:.4g}: "
                       f"the steps overshoot",
                       {"best_loss": best, "last_losses": losses[-3:], "losses": losses,
                        "lr": records[-1].get("lr")}, fix)
    return None


def _flat(records, net, dead, flat, tools, rise):
    losses = [_loss(r["loss"]) for r in records]
    if not losses or not all(math.isfinite(v) for v in losses):
        return None
    chance = _chance(net)
    evidence = {"first_loss": losses[0], "last_loss": losses[-1], "epochs": len(losses),
                "lr": records[-1].get("lr")}
    # at chance, not far above it (a loss far above chance is the exploding rule's business)
    at_chance = chance is not None and 0.95 * chance < losses[-1] <= rise * chance
    if len(losses) >= 2:
        change = (losses[0] - losses[-1]) / abs(losses[0]) if losses[0] else 0.0
        evidence["relative_fall"] = change
        stalled = abs(change) < flat           # a loss that rose is the exploding rule's business
    else:
        stalled = False
    if not (stalled or at_chance):
        return None
    if chance is not None:
        evidence["chance_loss"] = chance
    what = (f"the loss hardly moved: {losses[0]:.4g} -> {losses[-1]:.4g} over {len(losses)} epochs"
            if stalled else f"the loss {losses[-1]:.4g} is still at chance level (log {net.n_outputs} = {chance:.4g})")
    dead_share = max((layer["share"] for layer in dead["layers"]), default=0.0) if dead else None
    if dead_share is not None:
        evidence["largest_dead_share"] = dead_share
    if dead_share is not None and dead_share >= 0.5:
        cause = f"{100 * dead_share:.0f}% of a hidden layer's ReLUs never fire, so little gradient flows back"
        fix = ("bring the dead ReLUs back: re-initialise (He initialisation, biases at 0), use a smaller learning "
               f"rate, or use {tools['leaky']}")
    else:
        lr = records[-1].get("lr")
        cause = "the steps are too small" + (f" (learning rate {_rate(lr)})" if isinstance(lr, (int, float)) else "")
        fix = f"raise the learning rate (measure a good one with {tools['lr_find']}), or train for {tools['epochs']}"
    narrow = _narrowest(net)
    if narrow is not None and net.n_outputs > 1 and narrow[1] < net.n_outputs:
        evidence["narrowest_layer"] = {"layer": narrow[0], "n": narrow[1]}
        cause += (f"; and {narrow[0]} has only {narrow[1]} neuron{'s' if narrow[1] != 1 else ''} to carry "
                  f"everything the {net.n_outputs} outputs need")
        fix = f"widen {narrow[0]} ({tools['widen']}: 32 or more neurons); " + fix
    return Finding("loss_flat", f"{what}; likely cause: {cause}", evidence, fix)


def _narrowest(net):
    """``("hidden g", n)``: the hidden layer with the fewest neurons (None without hidden layers)."""
    if net is None:
        return None
    groups = neuron_groups(net)
    sizes = [(f"hidden {g}", net.layers[groups[g][0]].n_out) for g in range(1, len(groups) - 1)]
    return min(sizes, key=lambda item: item[1], default=None)


def _overfitting(records, net, validation, overfit_rise, overfit_gap, tools):
    fix = (f"stop earlier ({tools['early']}), add data or {tools['dropout']}, or use a smaller "
           "network or weight decay")
    val = [(r, _loss(r.get("val_loss"))) for r in records if r.get("val_loss") is not None]
    if len(val) >= 2:
        best_index = int(np.argmin([v for _, v in val]))
        best_record, best = val[best_index]
        last_record, last = val[-1]
        train_then, train_now = _loss(best_record["loss"]), _loss(last_record["loss"])
        if last > (1 + overfit_rise) * best and train_now < train_then:
            return Finding("overfitting",
                           f"the validation loss rose from {best:.4g} (epoch {best_record.get('epoch')}) to {last:.4g} "
                           f"while the training loss fell from {train_then:.4g} to {train_now:.4g}",
                           {"best_epoch": best_record.get("epoch"), "best_val_loss": best, "last_val_loss": last,
                            "train_loss_at_best": train_then, "last_train_loss": train_now}, fix)
    train_acc = records[-1].get("accuracy") if records else None
    val_acc, source = (records[-1].get("val_accuracy"), "validation") if records else (None, None)
    if val_acc is None and validation is not None and net is not None and train_acc is not None:
        X_val, y_val = validation
        val_acc, source = net.evaluate(X_val, y_val).accuracy, "held-out"
    if train_acc is not None and val_acc is not None and train_acc - val_acc > overfit_gap:
        return Finding("overfitting",
                       f"training accuracy {100 * train_acc:.1f}% is {100 * (train_acc - val_acc):.1f} points above "
                       f"{source} accuracy {100 * val_acc:.1f}%: the network memorises its training examples",
                       {"train_accuracy": train_acc, "validation_accuracy": val_acc, "gap": train_acc - val_acc,
                        "source": source}, fix)
    return None


def _dead(dead, dead_share, tools):
    if not dead:
        return None
    worst = [layer for layer in dead["layers"] if layer["share"] >= dead_share]
    if not worst:
        return None
    text = ", ".join(f"{layer['dead']} of {layer['n']} in {layer['layer']}" for layer in worst)
    return Finding("dead_neurons",
                   f"many ReLU neurons never fire on {dead['samples']} training examples: {text}; they output 0 "
                   f"and get no gradient, so they never learn again",
                   dead, f"use a smaller learning rate (big steps push biases far negative), {tools['leaky']}, "
                         "or re-initialise with He initialisation and biases at 0")


def dead_relus(net, X, max_samples=1000):
    """Per hidden ReLU layer: how many neurons never fire (``z <= 0``) on up to ``max_samples`` rows of ``X``.

    Returns ``{"samples": n, "layers": [{"layer": "hidden 1", "n": 128, "dead": 3, "share": 0.023}, ...]}``.
    Rows are taken evenly spaced over ``X`` (datasets are often sorted by class).
    """
    X = check_X(X, net.n_features, dtype=net.dtype)
    rows = np.unique(np.linspace(0, len(X) - 1, min(max_samples, len(X))).round().astype(int))
    values = forward_values(net, X[rows], dtype=net.dtype)
    layers = []
    groups = neuron_groups(net)
    for g in range(1, len(groups) - 1):                     # hidden layers only
        dense, acts = groups[g]
        if not any(isinstance(net.layers[i], Activation) and net.layers[i].can_die for i in acts):
            continue
        z = values[g][0]
        dead = int(np.sum(np.all(z <= 0, axis=0)))
        layers.append({"layer": f"hidden {g}", "n": int(z.shape[1]), "dead": dead, "share": dead / z.shape[1]})
    return {"samples": len(rows), "layers": layers}


__all__ = ["TOOLS", "Finding", "dead_relus", "diagnose"]
