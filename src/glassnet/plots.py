"""Pictures of a network and its training (matplotlib, the ``plot`` extra).

Every function draws one picture and returns the matplotlib ``Figure``; with ``path=``
it also writes the picture as a PNG file (atomically). Nothing here opens a window or
touches pyplot's global state: figures are plain ``matplotlib.figure.Figure`` objects,
drawn with the Agg renderer, so they work on servers, in tests and in notebooks (a
notebook shows a returned figure with ``display(fig)``).

What there is to see:

- training: :func:`plot_history` (loss and accuracy per epoch, train and validation),
  :func:`plot_lr_find` (the learning-rate range test);
- results: :func:`plot_confusion_matrix`, :func:`plot_mistakes` (the most confident mistakes);
- inside the network: :func:`plot_first_layer` (what each first-layer neuron looks for),
  :func:`plot_activations` (how the neurons' values are spread, and how many never fire),
  :func:`plot_weight_distribution` (the weights now against at initialisation);
- one prediction: :func:`plot_explanation` (contribution map, saliency, top contributors);
- the step and the direction: :func:`plot_descent_1d`, :func:`plot_descent_line`, :func:`plot_descent_2d`;
- input: :func:`plot_preprocess_steps` (a user's picture becoming an MNIST-style input);
- the plane: :func:`plot_plane` (a 2-input network: every neuron's picture, the decision boundary).

Not here: interactive plots and animations (the notebook's :class:`~glassnet.notebook.LivePlot`
redraws :func:`plot_history` during training), or the numbers they show (the confusion matrix is
:func:`glassnet.metrics.confusion_matrix`, the descent lab's paths come from :mod:`glassnet.descent`).

Size: about 880 lines, because it holds every picture: each is one short function over the shared
figure helpers at the top, and the list above finds one by name; splitting them would spread those
helpers over several modules for no gain in reading.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import metrics, plane, views
from ._io import atomic_write_bytes
from ._validation import describe
from .activations import Activation
from .errors import require
from .layers import Dense
from .preprocess import STEPS, to_mnist_steps

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TRAIN_COLOUR, VAL_COLOUR, INIT_COLOUR = "#1f6fb4", "#d1495b", "#999999"
DPI = 100


# -- figures and files --------------------------------------------------------------------
def _figure(width, height):
    """A new Figure (inches) with constrained layout, not registered with pyplot."""
    require("matplotlib", "plot")
    from matplotlib.figure import Figure

    views.show_figures_in_notebooks(to_png)       # a cell ending in the figure shows it, without %matplotlib
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (rendered with Agg)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def _finish(fig, path):
    """Write ``fig`` to ``path`` as a PNG when a path is given; return the figure."""
    if path is not None:
        path = Path(path)
        if path.suffix.lower() != ".png":
            raise ValueError(f"path expected a file name ending in .png, received {str(path)!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, to_png(fig))
    return fig


def image_shape(n_features, shape=None):
    """The 2-D shape to draw ``n_features`` inputs as a picture: ``shape``, or a square; ``None`` if neither.

    Example:
        >>> image_shape(784), image_shape(10), image_shape(6, (2, 3))
        ((28, 28), None, (2, 3))
    """
    if shape is not None:
        try:
            shape = tuple(int(s) for s in shape)
        except (TypeError, ValueError):
            raise TypeError(f"image_shape expected two sizes (height, width), received {describe(shape)}") from None
        if len(shape) != 2 or shape[0] * shape[1] != n_features:
            raise ValueError(f"image_shape expected two sizes whose product is {n_features} (the number of "
                             f"inputs), received {shape}")
        return shape
    side = math.isqrt(n_features)
    return (side, side) if side * side == n_features and side >= 4 else None


def _need_image_shape(n_features, shape, what):
    found = image_shape(n_features, shape)
    if found is None:
        raise ValueError(f"{what} draws each input as a picture, but {n_features} inputs are not a square "
                         f"image; pass image_shape=(height, width)")
    return found


def _grid(n, max_columns=10):
    columns = min(n, max_columns)
    return math.ceil(n / columns), columns


def _hide_ticks(ax):
    ax.set_xticks([])
    ax.set_yticks([])


# -- training curves ----------------------------------------------------------------------
def history_records(history):
    """The per-epoch records of a ``History``, its ``to_dict()``, or a list of epoch dicts."""
    records = getattr(history, "epochs", None)
    if records is None and isinstance(history, dict):
        records = history.get("epochs")
    if records is None and isinstance(history, (list, tuple)):
        records = history
    if not isinstance(records, (list, tuple)) or not all(isinstance(r, dict) for r in records):
        raise TypeError(f"expected a History (from fit), its to_dict() or a list of epoch records, "
                        f"received {describe(history)}")
    if not records:
        raise ValueError("expected a training history with at least one epoch, received none")
    return list(records)


def _series(records, key):
    values = [r.get(key) for r in records]
    if all(v is None for v in values):
        return None
    return np.array([np.nan if v is None else float(v) for v in values])


def plot_history(history, path: str | os.PathLike[str] | None = None, title="Training") -> Figure:
    """Loss and accuracy per epoch, for the training set and (when recorded) the validation set.

    The training values are averages over each epoch's mini-batches (the network changed during
    the epoch); the validation values are measured once, at the end of the epoch. A training loss
    that keeps falling while the validation loss rises is overfitting.

    Args:
        history: a ``History`` from ``fit`` (or ``net.history_``), its ``to_dict()``, or epoch dicts.
        path: optional ``.png`` file to write.
    """
    records = history_records(history)
    epochs = np.array([r.get("epoch", i + 1) for i, r in enumerate(records)], dtype=float)
    panels = [("loss", "loss (lower is better)", 1.0)]
    if _series(records, "accuracy") is not None or _series(records, "val_accuracy") is not None:
        panels.append(("accuracy", "accuracy (%)", 100.0))
    lr = _series(records, "lr")
    fig = _figure(4.2 * len(panels) + (3.2 if lr is not None else 0), 3.4)
    axes = fig.subplots(1, len(panels) + (lr is not None), squeeze=False)[0]
    marker = "o" if len(records) <= 30 else None
    for ax, (key, label, scale) in zip(axes, panels):
        for prefix, name, colour in (("", "train", TRAIN_COLOUR), ("val_", "validation", VAL_COLOUR)):
            values = _series(records, prefix + key)
            if values is not None:
                ax.plot(epochs, values * scale, marker=marker, markersize=3, color=colour, label=name)
        best = _series(records, "val_" + key)
        if best is not None and np.isfinite(best).any():
            i = int(np.nanargmin(best) if key == "loss" else np.nanargmax(best))
            ax.plot(epochs[i], best[i] * scale, "*", color=VAL_COLOUR, markersize=11,
                    label=f"best validation (epoch {int(epochs[i])})")
        _epoch_axis(ax)
        ax.set_ylabel(label)
        # loc="best" given, not defaulted: matplotlib then places the legend the same way but does not warn
        # "can be slow with large amounts of data" whenever placing it took over a second (a busy machine).
        ax.legend(fontsize=8, loc="best")
    if lr is not None:
        ax = axes[-1]
        ax.plot(epochs, lr, marker=marker, markersize=3, color="#444444")
        _epoch_axis(ax)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3), useOffset=False)
        ax.set_ylabel("learning rate (last step of the epoch)")
    fig.suptitle(f"{title}: {len(records)} epoch{'s' * (len(records) != 1)}")
    return _finish(fig, path)


def _epoch_axis(ax):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)


# -- results ------------------------------------------------------------------------------
def plot_confusion_matrix(y_true, y_pred, classes=None,
                          path: str | os.PathLike[str] | None = None, title="Confusion matrix") -> Figure:
    """Rows: the true class; columns: the predicted class; the diagonal holds the right answers.

    Each cell shows a count; its colour is the share of its row (so a rare class is as visible
    as a common one).
    """
    C = metrics.confusion_matrix(y_true, y_pred)        # checks the labels; as large as the largest label
    n = len(C)
    if classes is not None:
        classes = [str(c) for c in classes]
        if len(classes) < n:
            raise ValueError(f"classes expected at least {n} names (labels go up to {n - 1}), received {len(classes)}")
        C = np.pad(C, (0, len(classes) - n))           # classes no label reached: empty rows and columns
        n = len(classes)
    classes = classes or [str(i) for i in range(n)]
    share = C / np.maximum(C.sum(axis=1, keepdims=True), 1)
    side = max(3.6, 0.45 * n + 1.6)
    fig = _figure(side + 0.8, side)
    ax = fig.subplots()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if C[i, j]:
                    ax.text(j, i, str(C[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), classes, rotation=90 if max(map(len, classes)) > 3 else 0)
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.colorbar(im, ax=ax, shrink=0.8, label="share of the true class")
    ax.set_title(f"{title}: {np.trace(C):,} of {C.sum():,} right ({100 * np.trace(C) / C.sum():.1f}%)", fontsize=10)
    return _finish(fig, path)


def most_confident_mistakes(net, X, y, n=12):
    """The ``n`` wrong predictions the network was surest of, surest first.

    Returns a list of dicts ``{"index", "true", "predicted", "probability", "true_probability"}``
    (``index`` is the row of ``X``).
    """
    X = net.check_X(X)
    y = metrics.labels(y, "y")
    if len(y) != len(X):
        raise ValueError(f"y expected one label per row of X ({len(X)}), received {len(y)}")
    proba = net.predict_proba(X)
    if proba.shape[1] == 1:
        proba = np.hstack([1 - proba, proba])
    predicted = proba.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y)
    order = wrong[np.argsort(-proba[wrong, predicted[wrong]], kind="stable")][:n]
    return [{"index": int(i), "true": int(y[i]), "predicted": int(predicted[i]),
             "probability": float(proba[i, predicted[i]]), "true_probability": float(proba[i, y[i]])}
            for i in order]


def plot_mistakes(net, X, y, n=12, classes=None, image_shape=None,
                  path: str | os.PathLike[str] | None = None) -> Figure:
    """The most confident mistakes as pictures: true class, predicted class and its probability."""
    mistakes = most_confident_mistakes(net, X, y, n)
    shape = _need_image_shape(net.n_features, image_shape, "plot_mistakes")
    X = np.asarray(X)
    names = [str(c) for c in classes] if classes is not None else None

    def name(k):
        return names[k] if names and k < len(names) else str(k)

    if not mistakes:
        fig = _figure(5, 1.5)
        ax = fig.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, f"No mistakes on these {len(X):,} examples.", ha="center", va="center", fontsize=12)
        return _finish(fig, path)
    rows, columns = _grid(len(mistakes), 6)
    fig = _figure(max(1.75 * columns, 6.0), 2.0 * rows + 0.5)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, m in zip(axes, mistakes):
        ax.imshow(X[m["index"]].reshape(shape), cmap="gray", vmin=0, vmax=max(1.0, float(X[m["index"]].max())))
        ax.set_title(f"true {name(m['true'])}, said {name(m['predicted'])}\n"
                     f"p = {100 * m['probability']:.1f}% (true: {100 * m['true_probability']:.1f}%)", fontsize=8)
    fig.suptitle(f"The {len(mistakes)} most confident mistakes (of {len(X):,} examples)")
    return _finish(fig, path)


# -- inside the network ---------------------------------------------------------------------
def _first_dense(net):

    for layer in net.layers:
        if isinstance(layer, Dense):
            return layer
    raise ValueError(f"expected a network with a Dense layer, received {net!r}")


def mosaic(tiles, columns, gap=1):
    """Tiles ``(n, h, w)`` laid out in a grid with ``columns`` per row, ``gap`` NaN pixels between them."""
    tiles = np.asarray(tiles, dtype=np.float64)
    n, h, w = tiles.shape
    rows = math.ceil(n / columns)
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, columns)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tile
    return out


def plot_first_layer(net, n=None, image_shape=None, path: str | os.PathLike[str] | None = None) -> Figure:
    """What each first-layer neuron looks for: its weights ``W[j]`` drawn as a picture.

    Neuron ``j`` computes ``z_j = W[j]·x + b_j``: red pixels raise ``z_j`` when there is ink on
    them, blue pixels lower it. Each neuron has its own colour scale, symmetric around 0
    (``W[j] / max|W[j]|``), so a neuron with small weights is as visible as one with large weights.

    Args:
        n: how many neurons to draw (default: all, at most 64).
    """
    from matplotlib import colormaps

    dense = _first_dense(net)
    shape = _need_image_shape(dense.n_in, image_shape, "plot_first_layer")
    n = min(dense.n_out, 64) if n is None else n
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= dense.n_out:
        raise ValueError(f"n expected a number of neurons in [1, {dense.n_out}], received {n!r}")
    W = dense.weights[:n].astype(np.float64)
    scaled = W / np.maximum(np.abs(W).max(axis=1, keepdims=True), 1e-12)
    rows, columns = _grid(n, 8)
    cell = 1.25 * max(shape) / 28 if max(shape) > 28 else 1.25
    fig = _figure(max(cell * columns, 5.0), cell * rows * shape[0] / shape[1] + 0.6)
    ax = fig.subplots()
    cmap = colormaps["RdBu_r"].with_extremes(bad="white")
    ax.imshow(mosaic(scaled.reshape(n, *shape), columns, gap=max(1, shape[1] // 10)), cmap=cmap, vmin=-1, vmax=1)
    gap = max(1, shape[1] // 10)
    for j in range(n):
        r, c = divmod(j, columns)
        ax.text(c * (shape[1] + gap), r * (shape[0] + gap), str(j), fontsize=6, va="top", ha="left",
                color="#333333")
    ax.axis("off")
    fig.suptitle(f"What each first-layer neuron looks for ({n} of {dense.n_out}; numbers: the neuron): "
                 f"red = ink here raises it, blue = lowers it", fontsize=9)
    return _finish(fig, path)


def activation_stats(net, X):
    """For each hidden activation layer: its values on ``X`` and how many neurons never fire.

    A ReLU neuron *never fires* when its output is 0 for every example (its weighted sum is never
    positive), so no gradient reaches its weights: it is dead. For a leaky ReLU the same test
    reads "never positive". Sigmoid and tanh neurons never die, but they *saturate* (output
    within 1% of an end of their range on every example), where their gradient nearly vanishes.
    Every other hidden activation of the registry is listed too, with its values only.

    Returns a list of dicts ``{"layer", "name", "values" (n_samples, n_neurons), "n_neurons",
    "never_fire", "saturated"}`` (counts; ``None`` where the test does not apply).
    """
    X = net.check_X(X)
    a = X
    stats = []
    last = len(net.layers) - 1
    for i, layer in enumerate(net.layers):
        a = layer.infer(a)                           # infer: the same values, and the layers' caches untouched
        if not (isinstance(layer, Activation) and layer.hidden) or i == last:
            continue
        never = saturated = None
        if layer.on_when_positive:
            never = int(np.sum(np.all(a <= 0, axis=0)))
        elif layer.output_range is not None:
            low, high = layer.output_range
            margin = 0.01 * (high - low)
            saturated = int(np.sum(np.all((a < low + margin) | (a > high - margin), axis=0)))
        stats.append({"layer": i, "name": type(layer).__name__, "values": np.array(a), "n_neurons": a.shape[1],
                      "never_fire": never, "saturated": saturated})
    return stats


def plot_activations(net, X, bins=40, path: str | os.PathLike[str] | None = None) -> Figure:
    """A histogram of the hidden neurons' values per activation layer, and the share that never fire.

    A healthy ReLU layer has many zeros (off) and a spread of positive values; a layer whose
    neurons almost all output 0 on every example has stopped learning (dead ReLUs).
    """
    stats = activation_stats(net, X)
    if not stats:
        raise ValueError("plot_activations expected a network with hidden activation layers "
                         "(relu, tanh, sigmoid, ...), received none")
    fig = _figure(max(4.0, 3.6 * len(stats)), 3.4)
    axes = fig.subplots(1, len(stats), squeeze=False)[0]
    for ax, s in zip(axes, stats):
        values = s["values"].ravel()
        ax.hist(values, bins=bins, color=TRAIN_COLOUR, log=True)
        ax.set_xlabel("neuron value")
        ax.set_ylabel("count (log scale)")
        if s["never_fire"] is not None:
            k = s["never_fire"]
            note = f"never fire: {k} of {s['n_neurons']} ({100 * k / s['n_neurons']:.0f}%)"
            zero = float(np.mean(values <= 0))
            note += f"\noff (<= 0) {100 * zero:.0f}% of the time"
        elif s["saturated"] is not None:
            k = s["saturated"]
            note = f"saturated: {k} of {s['n_neurons']} ({100 * k / s['n_neurons']:.0f}%)"
        else:
            note = f"values from {values.min():.3g} to {values.max():.3g}"
        ax.set_title(f"layer {s['layer']}: {s['name']}, {s['n_neurons']} neurons\n{note}", fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Hidden neurons' values on {len(stats[0]['values']):,} examples")
    return _finish(fig, path)


def _weights_dict(weights, name):
    if hasattr(weights, "get_weights"):
        weights = weights.get_weights()
    if not isinstance(weights, dict) or not weights:
        raise TypeError(f"{name} expected a Network or a dict of arrays from net.get_weights(), "
                        f"received {describe(weights)}")
    return {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}


def plot_weight_distribution(weights, initial, path=None):
    """The distribution of each layer's weights now against at initialisation.

    Training moves the weights away from their random start; a layer whose histogram has not
    changed did not learn. Biases start at zero and are left out.

    Args:
        weights: the trained ``Network`` or ``net.get_weights()``.
        initial: the same network at initialisation, or its ``get_weights()``
            (:func:`glassnet.report.initial_weights` rebuilds it from the architecture and seed).
    """
    now, start = _weights_dict(weights, "weights"), _weights_dict(initial, "initial")
    if set(now) != set(start):
        raise ValueError(f"initial expected the same parameters as weights ({sorted(now)}), received {sorted(start)}")
    names = [k for k in now if k.endswith("weights") and now[k].ndim == 2]
    if not names:
        raise ValueError(f"expected weight matrices named '<layer>.weights', received {sorted(now)}")
    for k in names:
        if now[k].shape != start[k].shape:
            raise ValueError(f"initial: {k} expected shape {now[k].shape}, received {start[k].shape}")
    fig = _figure(max(4.0, 3.6 * len(names)), 3.4)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, k in zip(axes, names):
        both = np.concatenate([now[k].ravel(), start[k].ravel()])
        bins = np.linspace(both.min(), both.max() + 1e-12, 60)
        ax.hist(start[k].ravel(), bins=bins, color=INIT_COLOUR, alpha=0.6,
                label=f"at initialisation (std {start[k].std():.3g})")
        ax.hist(now[k].ravel(), bins=bins, histtype="step", color=TRAIN_COLOUR, linewidth=1.5,
                label=f"now (std {now[k].std():.3g})")
        moved = np.linalg.norm(now[k] - start[k]) / max(np.linalg.norm(start[k]), 1e-12)
        ax.set_title(f"layer {k.split('.')[0]} weights {now[k].shape[0]}x{now[k].shape[1]}\n"
                     f"moved {100 * moved:.0f}% of their initial size", fontsize=9)
        ax.set_xlabel("weight value")
        ax.set_ylabel("count")
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    fig.suptitle("Weights now against at initialisation")
    return _finish(fig, path)


# -- input ------------------------------------------------------------------------------------
def plot_preprocess_steps(image, name="image", path: str | os.PathLike[str] | None = None) -> Figure:
    """The steps that turn a picture into an MNIST-style input, as a strip of pictures.

    Args:
        image: an image array (as :func:`glassnet.preprocess.to_mnist` takes) or the list of
            ``(step, array)`` pairs that :func:`glassnet.preprocess.to_mnist_steps` returns.
    """
    if isinstance(image, (list, tuple)) and image and all(isinstance(s, tuple) and len(s) == 2 for s in image):
        steps = list(image)
    else:
        steps = to_mnist_steps(image, name=name)
    explain = dict(STEPS)
    fig = _figure(2.2 * len(steps), 3.6)
    axes = fig.subplots(1, len(steps), squeeze=False)[0]
    for k, (ax, (step, arr)) in enumerate(zip(axes, steps)):
        arr = np.asarray(arr, dtype=np.float64)
        ink_scale = step not in ("grayscale",)
        vmax = 1.0 if ink_scale else max(float(arr.max()), 1.0)
        ax.imshow(arr, cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
        _hide_ticks(ax)
        ax.set_title(f"{k + 1}. {step}\n{arr.shape[0]}x{arr.shape[1]}", fontsize=9)
        words = explain.get(step, "")
        if words:
            ax.set_xlabel("\n".join(_wrap(words, 30)), fontsize=7)
    fig.suptitle("From a picture to an MNIST-style input")
    return _finish(fig, path)


def _wrap(text, width):
    import textwrap

    return textwrap.wrap(text, width)


# -- choosing the step -------------------------------------------------------------------------
def _field(obj, name, default=None):
    """``obj.name`` or ``obj[name]``: results are objects, their ``to_dict()`` plain dicts."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def plot_lr_find(result, path: str | os.PathLike[str] | None = None) -> Figure:
    """The learning-rate range test: loss against a learning rate raised exponentially, per seed.

    Too small a rate and the loss barely moves; too big and it shoots up. The suggestion sits
    where the loss falls fastest, before the minimum. Curves that agree across seeds (and
    suggestions close together) make the suggestion trustworthy.

    Args:
        result: what :func:`glassnet.lr_finder.lr_find` returns (or its ``to_dict()``).
    """
    curves = _field(result, "curves")
    if not curves:
        raise ValueError(f"plot_lr_find expected an lr_find result with curves, received {describe(result)}")
    suggestion = _field(result, "suggestion")
    fig = _figure(6.4, 4.0)
    ax = fig.subplots()
    low, high = [], []
    for k, curve in enumerate(curves):
        lr, loss = np.asarray(curve["lr"], dtype=float), np.asarray(curve["loss"], dtype=float)
        smoothed = np.asarray(curve["loss"] if curve.get("smoothed") is None else curve["smoothed"], dtype=float)
        colour = f"C{k % 10}"
        ax.plot(lr, loss, color=colour, alpha=0.25, linewidth=0.8)
        ax.plot(lr, smoothed, color=colour, linewidth=1.6, label=f"seed {curve.get('seed', k)} (smoothed)")
        mine = curve.get("suggestion")
        if mine is not None and len(lr):
            ax.plot(mine, np.interp(np.log(mine), np.log(lr), smoothed), "o", color=colour, markersize=6)
        finite = smoothed[np.isfinite(smoothed)]
        if len(finite):
            low.append(finite.min())
            high.append(finite[0])
    ax.set_xscale("log")
    if low:      # the divergence at the end would squash the interesting part of the curve
        bottom, top = min(low), max(high)
        pad = 0.1 * max(top - bottom, 1e-6)
        ax.set_ylim(bottom - pad, top + 4 * pad)
    if suggestion is not None:
        ax.axvline(suggestion, color="#222222", linestyle="--", linewidth=1,
                   label=f"suggested: {suggestion:.2g}")
    spread = _field(result, "spread")
    rule = _field(result, "rule") or ""
    extra = f", spread {spread:.2f} decades over {len(curves)} seeds" if spread is not None and len(curves) > 1 else ""
    ax.set_title(f"Learning-rate finder ({rule} rule{extra})", fontsize=10)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    return _finish(fig, path)


# -- one prediction ------------------------------------------------------------------------
def _symmetric_image(ax, values, shape, title, colourbar_label):
    values = np.asarray(values, dtype=np.float64).reshape(shape)
    limit = max(float(np.abs(values).max()), 1e-12)
    im = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
    _hide_ticks(ax)
    ax.set_title(title, fontsize=9)
    ax.figure.colorbar(im, ax=ax, shrink=0.75, label=colourbar_label)


def _term_bars(ax, terms, title, label):
    """Horizontal bars, one per term (largest push at the top): red pushes up, blue down."""
    terms = sorted(terms, key=lambda t: abs(_field(t, "term")), reverse=True)
    values = [float(_field(t, "term")) for t in terms][::-1]
    names = [f"{label} {_field(t, 'input')}" for t in terms][::-1]
    ax.barh(range(len(values)), values, color=["#d1495b" if v > 0 else "#1f6fb4" for v in values])
    ax.set_yticks(range(len(values)), names, fontsize=7)
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="x")


def _class_name(classes, k):
    return str(classes[k]) if classes is not None and k < len(classes) else str(k)


def plot_explanation(explanation, classes=None, top=12, path: str | os.PathLike[str] | None = None) -> Figure:
    """One prediction explained: the input, its contribution map, its saliency and the top contributors.

    - contribution: ``x_i * W_eff[k, i]``, how much each input added to (red) or took from (blue)
      the winning class's score; for a ReLU network these plus the effective bias add up exactly
      to the score (the active neurons make the network linear around ``x``);
    - saliency: ``dp_k / dx_i``, how the winning probability would change if input ``i`` grew;
    - the bars: the last hidden layer's neurons that pushed the winner above the runner-up.

    Args:
        explanation: what :func:`glassnet.explain.explain` returns.
        classes: optional class names.
    """
    maps = _field(explanation, "maps")
    x = _field(explanation, "x")
    if maps is None or x is None:
        raise TypeError(f"plot_explanation expected an Explanation from glassnet.explain, "
                        f"received {describe(explanation)}")
    x = np.asarray(x, dtype=np.float64).ravel()
    shape = _field(explanation, "image_shape")
    shape = tuple(shape) if shape is not None else None
    prediction, runner_up = int(_field(explanation, "prediction")), _field(explanation, "runner_up")
    probabilities = np.asarray(_field(explanation, "probabilities"), dtype=np.float64)
    label = _field(explanation, "label")
    margin = _field(explanation, "margin")
    winner = _class_name(classes, prediction)
    fig = _figure(16.5, 3.7)
    axes = fig.subplots(1, 5, width_ratios=[1, 1.2, 1.2, 1, 1.3])
    contribution = np.asarray(maps["contribution"], dtype=np.float64).ravel()
    saliency = np.asarray(maps["saliency"], dtype=np.float64).ravel()
    if shape is not None:
        axes[0].imshow(x.reshape(shape), cmap="gray", vmin=0, vmax=max(1.0, float(x.max())))
        _hide_ticks(axes[0])
        axes[0].set_title("input", fontsize=9)
        _symmetric_image(axes[1], contribution, shape,
                         f"contribution to '{winner}'\n(input x effective weight; sum {contribution.sum():.3g})",
                         "adds to the score")
        _symmetric_image(axes[2], saliency, shape, f"saliency: d p('{winner}') / d input", "")
    else:
        order = np.argsort(-np.abs(contribution))[:top]
        axes[0].bar(range(len(x)), x, color="#777777")
        axes[0].set_title("input values", fontsize=9)
        _term_bars(axes[1], [{"input": int(i), "term": contribution[i]} for i in order],
                   f"inputs' contribution to '{winner}'", "input")
        order = np.argsort(-np.abs(saliency))[:top]
        _term_bars(axes[2], [{"input": int(i), "term": saliency[i]} for i in order],
                   f"saliency: d p('{winner}') / d input", "input")
    names = [_class_name(classes, k) for k in range(len(probabilities))]
    colours = ["#d1495b" if k == prediction else "#2e8b57" if label is not None and k == label else "#9bb7d4"
               for k in range(len(probabilities))]
    axes[3].barh(range(len(probabilities)), probabilities * 100, color=colours)
    axes[3].set_yticks(range(len(probabilities)), names, fontsize=7)
    axes[3].invert_yaxis()
    axes[3].set_xlim(0, 100)
    axes[3].set_xlabel("probability (%)")
    axes[3].set_title("probabilities" + (f" (true: {_class_name(classes, label)})" if label is not None else ""),
                      fontsize=9)
    if margin is not None and runner_up is not None:
        terms = list(_field(margin, "for_winner") or []) + list(_field(margin, "for_runner_up") or [])
        _term_bars(axes[4], terms[:2 * top],
                   f"why '{winner}' beat '{_class_name(classes, int(runner_up))}': score difference "
                   f"{float(_field(margin, 'difference')):.3g}", "neuron")
        axes[4].set_xlabel("adds to the difference (last hidden layer)")
    else:
        axes[4].axis("off")
    verdict = ""
    if label is not None:
        verdict = " (right)" if prediction == label else f" (wrong: it is '{_class_name(classes, label)}')"
    fig.suptitle(f"Prediction '{winner}' with p = {100 * probabilities[prediction]:.1f}%{verdict}")
    return _finish(fig, path)


# -- the direction and the step: the descent lab -----------------------------------------------------
PATH_COLOURS = {"too small": "#2e8b57", "about right": "#1f6fb4", "too big": "#d1495b"}


def _path_colour(label, k):
    return PATH_COLOURS.get(label, f"C{k % 10}")


def _finite_xy(xs, ys):
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    keep = np.isfinite(xs) & np.isfinite(ys)
    return xs[keep], ys[keep]


def _steps_panel(ax, paths):
    """The loss after each step, one line per learning rate (log scale when it spans decades)."""
    for k, p in enumerate(paths):
        steps, losses = _finite_xy(range(len(p["losses"])), p["losses"])
        ax.plot(steps, losses, marker="o", markersize=2.5, color=_path_colour(p["label"], k),
                label=f"{p['label']} (lr {p['lr']:.3g})")
    finite = [v for p in paths for v in p["losses"] if np.isfinite(v) and v > 0]
    if finite and max(finite) / min(finite) > 100:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("the loss after each step", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _path_panels(axes, paths, key, xlabel, loss0):
    """One panel per path, each on its own scale: the loss over the stretch it walks, and its steps (a
    diverging path's points past a readable loss are left out and the title says so)."""
    readable = loss0 + 2 * max(abs(loss0), 1e-3)
    for k, (ax, p) in enumerate(zip(axes, paths)):
        curve = p.get("curve") or {}
        cx, cl = _finite_xy(curve.get(key, []), curve.get("losses", []))
        ax.plot(cx, cl, color="#222222", linewidth=1)
        xs, ls = _finite_xy(p[key], p["losses"])
        keep = ls <= readable
        ax.plot(xs[keep], ls[keep], marker="o", markersize=3, linewidth=0.8, color=_path_colour(p["label"], k))
        ax.plot(xs[:1], ls[:1], "o", color="#222222")
        left = " (later steps leave the picture)" if not keep.all() or len(xs) < len(p["losses"]) else ""
        ax.set_title(f"{p['label']}, lr {p['lr']:.3g}: {p['verdict'].split(':')[0]}{left}", fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)


def plot_descent_line(result, path: str | os.PathLike[str] | None = None) -> Figure:
    """Gradient descent along the gradient over all the weights (:func:`glassnet.descent.descend_gradient`):
    the loss after each step of the three paths, then each path on its own scale."""
    if not isinstance(result, dict) or "gradient_norm" not in result:
        raise TypeError(f"plot_descent_line expected the result of descent.descend_gradient, received "
                        f"{describe(result)}")
    fig = _figure(13.8, 7.6)
    top, bottom = fig.subfigures(2, 1)
    ax, steps = top.subplots(1, 2)
    cx, cl = _finite_xy(result["curve"]["distances"], result["curve"]["losses"])
    ax.plot(cx, cl, color="#222222")
    search = result["line_search"]
    ax.plot([search["distance"]], [search["loss"]], "*", color="gold", markeredgecolor="black", markersize=12,
            label=f"the lowest point on the line (lr {search['lr']:.3g} lands there in one step)")
    ax.set_xlabel("distance along the downhill direction")
    ax.set_ylabel("loss")
    ax.set_title("the loss along the gradient, over all the weights", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    _steps_panel(steps, result["paths"])
    _path_panels(bottom.subplots(1, len(result["paths"]), squeeze=False)[0], result["paths"], "distances",
                 "distance along the gradient", float(result["loss0"]))
    fig.suptitle("Steepest descent: every weight moves downhill together, as training moves them")
    return _finish(fig, path)


def plot_descent_1d(along, fd=None, descent=None, path: str | os.PathLike[str] | None = None) -> Figure:
    """The loss along one weight, the slope there, and gradient descent on that weight.

    Left: ``L(w)`` with everything else fixed, the backpropagation tangent at ``w0`` and the
    finite-difference slope ("try ``w+h`` and ``w-h``"): the two lines coincide when backprop is
    right. With ``descent``: the steps ``w <- w - lr * dL/dw`` for a step too small (barely
    moves), about right and too big (bounces from side to side and climbs), on the curve and as
    the loss per step.

    Args:
        along: :func:`glassnet.descent.loss_along_weight`'s result.
        fd: optional :func:`glassnet.descent.finite_difference` result for the same weight.
        descent: optional :func:`glassnet.descent.descend_weight` result for the same weight.
    """
    for key in ("weights", "losses", "w0", "loss0", "slope"):
        if _field(along, key) is None:
            raise TypeError(f"plot_descent_1d expected the result of descent.loss_along_weight (with {key!r}), "
                            f"received {describe(along)}")
    fig = _figure(13.8 if descent is not None else 4.6, 7.6 if descent is not None else 3.8)
    if descent is not None:
        top, bottom = fig.subfigures(2, 1)
        axes = list(top.subplots(1, 2)) + list(bottom.subplots(1, len(descent["paths"]), squeeze=False)[0])
    else:
        axes = fig.subplots(1, 1, squeeze=False)[0]
    ax = axes[0]
    w, L = np.asarray(along["weights"], dtype=float), np.asarray(along["losses"], dtype=float)
    w0, loss0, slope = float(along["w0"]), float(along["loss0"]), float(along["slope"])
    ax.plot(w, L, color="#222222", label="loss L(w)")
    ax.plot(w, loss0 + slope * (w - w0), color=TRAIN_COLOUR, linewidth=1.2,
            label=f"backprop slope dL/dw = {slope:.4g}")
    if fd is not None:
        fd_slope = float(fd["slope"])
        ax.plot(w, loss0 + fd_slope * (w - w0), color=VAL_COLOUR, linestyle="--", linewidth=1.2,
                label=f"finite difference = {fd_slope:.4g} (h = {float(fd['h']):g})")
    ax.plot([w0], [loss0], "o", color="#222222")
    finite = L[np.isfinite(L)]
    if len(finite):
        pad = 0.15 * max(finite.max() - finite.min(), 1e-9)
        ax.set_ylim(finite.min() - pad, finite.max() + pad)
    name = f"{along.get('param', 'w')}{list(along.get('index', []))}"
    ax.set_title(f"the loss along one weight: {name}", fontsize=9)
    ax.set_xlabel("weight value w")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    if descent is not None:
        _steps_panel(axes[1], descent["paths"])
        _path_panels(axes[2:], descent["paths"], "weights", "weight value w", float(descent["loss0"]))
    fig.suptitle("The direction (the slope) and the step (the learning rate)")
    return _finish(fig, path)


def _plane_path_panels(axes, paths, loss0):
    """Each path in the plane on its own scale (a too-small path is a speck on the contour map's)."""
    readable = loss0 + 2 * max(abs(loss0), 1e-3)
    for k, (ax, p) in enumerate(zip(axes, paths)):
        a, b = np.asarray(p["alphas"], dtype=float), np.asarray(p["betas"], dtype=float)
        keep = np.isfinite(np.asarray(p["losses"], dtype=float)) & (np.asarray(p["losses"], dtype=float) <= readable)
        ax.plot(a[keep], b[keep], marker="o", markersize=3, linewidth=0.8, color=_path_colour(p["label"], k))
        ax.plot([0], [0], "o", color="white", markeredgecolor="black", markersize=6)
        left = " (later steps leave the picture)" if not keep.all() else ""
        ax.set_title(f"{p['label']}, lr {p['lr']:.3g}: {p['verdict'].split(':')[0]}{left}", fontsize=8)
        ax.set_xlabel("alpha (downhill)")
        ax.set_ylabel("beta")
        ax.grid(alpha=0.3)


def plot_descent_2d(result, surface=None, path=None):
    """The loss on a plane of weight space as contours, with gradient-descent paths drawn on it.

    Args:
        result: :func:`glassnet.descent.descend_plane`'s result (contours and three paths), or
            :func:`glassnet.descent.loss_surface`'s (contours only).
        surface: optional contours to draw instead of ``result``'s, e.g. a
            :func:`~glassnet.descent.loss_surface` of the same plane (same ``directions`` and ``seed``)
            over a smaller region when a diverging path went very far; paths leaving it are cut at its edge.
    """
    if surface is None:
        surface = result.get("surface", result) if isinstance(result, dict) else None
    if not isinstance(surface, dict) or not all(k in surface for k in ("alphas", "betas", "losses")):
        raise TypeError(f"plot_descent_2d expected the result of descent.descend_plane or descent.loss_surface, "
                        f"received {describe(result)}")
    paths = result.get("paths") or []
    alphas, betas = np.asarray(surface["alphas"], dtype=float), np.asarray(surface["betas"], dtype=float)
    Z = np.asarray(surface["losses"], dtype=float)
    fig = _figure(5.2 + 4.4 * bool(paths), 8.4 if paths else 4.4)
    top, bottom = fig.subfigures(2, 1) if paths else (fig, None)
    axes = top.subplots(1, 1 + bool(paths), squeeze=False)[0]
    ax = axes[0]
    finite = Z[np.isfinite(Z)]
    Zc = np.where(np.isfinite(Z), Z, finite.max() if len(finite) else 0.0)
    low, high = float(Zc.min()), float(Zc.max())
    if low > 0 and high / low > 20:          # loss landscapes span decades: space the contours evenly in log
        levels = np.geomspace(low, high, 25)
    else:
        levels = np.linspace(low, high + 1e-12, 25)
    filled = ax.contourf(alphas, betas, Zc, levels=levels, cmap="viridis_r")
    ax.contour(alphas, betas, Zc, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.6)
    fig.colorbar(filled, ax=ax, shrink=0.85, label="loss", format="%.3g")
    ax.plot([0], [0], "o", color="white", markeredgecolor="black", markersize=7, label="start (trained weights)"
            if not paths else "start")
    if result.get("minimum") is not None:
        ax.plot(*result["minimum"], "*", color="gold", markeredgecolor="black", markersize=12,
                label="nearest minimum")
    for k, p in enumerate(paths):
        a, b = _finite_xy(p["alphas"], p["betas"])
        outside = np.any((a < alphas.min()) | (a > alphas.max()) | (b < betas.min()) | (b > betas.max()))
        ax.plot(a, b, marker="o", markersize=2.5, linewidth=1, color=_path_colour(p["label"], k),
                label=f"{p['label']} (lr {p['lr']:.3g})" + (", leaves the picture" if outside else ""))
    ax.set_xlim(alphas.min(), alphas.max())
    ax.set_ylim(betas.min(), betas.max())
    first = "downhill direction" if result.get("directions") == "gradient" else "direction 1"
    ax.set_xlabel(f"alpha ({first})")
    ax.set_ylabel("beta (direction 2)")
    ax.set_title("the loss on a plane of weight space", fontsize=9)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.legend(fontsize=7, loc="best", framealpha=0.6)
    if paths:
        _steps_panel(axes[1], paths)
        _plane_path_panels(bottom.subplots(1, len(paths), squeeze=False)[0], paths, float(result.get("loss0", 0)))
    fig.suptitle("Gradient descent on the loss landscape: a step too small, about right and too big")
    return _finish(fig, path)


# -- the plane: a 2-input network, every neuron's picture ------------------------------------------------
PLANE_NEGATIVE, PLANE_POSITIVE = "#f59322", "#0877bd"     # orange below 0, blue above, as the app paints


def _plane_colours():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("plane", [PLANE_NEGATIVE, "#e8eaed", PLANE_POSITIVE])


def plot_plane(net, data=None, features=("x1", "x2"), size=40,
               path: str | os.PathLike[str] | None = None, title=None) -> Figure:
    """Every neuron's picture over the plane, the connections and the output with the points.

    Left: the network as columns of pictures (inputs, hidden layers, output), each the neuron's value
    over ``[-6, 6]²`` from :func:`glassnet.plane.neuron_pictures` (the network's own forward pass),
    blue above 0 and orange below; lines are the weights, colour = sign, thickness = ``|weight|``.
    Right: the output (probability of class 1, or the fitted curve of a one-input regression) with the
    training points (white rim) and test points (black rim) of ``data`` (a plane ``Dataset``).
    """
    features = list(data.extra["features"]) if data is not None and "features" in data.extra else list(features)
    pics = plane.neuron_pictures(net, features, size=size)
    fig = _figure(11, 5.2)
    ax, out = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.9, 1]})
    _plane_diagram(ax, net, pics)
    _plane_output(out, net, pics, data, features)
    sizes = [len(names) for names in plane.neuron_names(net, features)]
    fig.suptitle(title or f"{'–'.join(map(str, sizes))} network on the plane")
    return _finish(fig, path)


def _plane_diagram(ax, net, pics):
    cmap = _plane_colours()
    columns = [pics["inputs"]] + [layer["a"] for layer in pics["layers"]]
    tallest = max(len(c) for c in columns)
    place = [[(4.0 * g, (len(c) - 1) / 2 * 2.2 - 2.2 * j) for j in range(len(c))] for g, c in enumerate(columns)]
    weights = [net.layers[i].params["weights"] for i, layer in enumerate(net.layers) if isinstance(layer, Dense)]
    biggest = max(float(np.abs(W).max()) for W in weights) or 1.0
    for g, W in enumerate(weights):
        for to in range(W.shape[0]):
            for frm in range(W.shape[1]):
                (x0, y0), (x1, y1) = place[g][frm], place[g + 1][to]
                w = float(W[to, frm])
                ax.plot([x0 + 0.8, x1 - 0.8], [y0, y1], color=PLANE_POSITIVE if w >= 0 else PLANE_NEGATIVE,
                        linewidth=0.3 + 4 * abs(w) / biggest, alpha=0.8, zorder=1)
    names = pics["features"]
    for g, column in enumerate(columns):
        for j, picture in enumerate(column):
            x, y = place[g][j]
            scale = float(np.abs(picture).max()) or 1.0
            ax.imshow(picture, cmap=cmap, vmin=-scale, vmax=scale, extent=(x - 0.8, x + 0.8, y - 0.8, y + 0.8),
                      zorder=2, interpolation="bilinear")
            if g == 0:
                ax.text(x, y - 1.0, names[j], ha="center", va="top", fontsize=7)
        label = "inputs" if g == 0 else "output" if g == len(columns) - 1 else f"hidden {g}"
        ax.text(4.0 * g, (tallest - 1) / 2 * 2.2 + 1.2, label, ha="center", fontsize=8)
    ax.set_xlim(-1.2, 4.0 * (len(columns) - 1) + 1.2)
    ax.set_ylim(-(tallest - 1) / 2 * 2.2 - 1.6, (tallest - 1) / 2 * 2.2 + 1.8)
    ax.set_aspect("equal")
    _hide_ticks(ax)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _plane_output(ax, net, pics, data, features):
    lo, hi = pics["extent"]
    curve = net.n_outputs == 1 and not net.outputs_probabilities() and all(
        "x2" not in plane.FEATURES[f][1] for f in features)
    if curve:
        xs, ys = plane.curve(net, features, extent=(lo, hi))
        ax.plot(xs, ys, color=PLANE_POSITIVE, linewidth=2, label="the network")
    else:
        values = pics["output"] if pics["predicted"] is None else 2 * pics["output"] - 1
        scale = float(np.abs(values).max()) or 1.0
        ax.imshow(values, cmap=_plane_colours(), vmin=-scale, vmax=scale, extent=(lo, hi, lo, hi),
                  interpolation="bilinear")
        if pics["predicted"] is not None:
            ax.contour(np.linspace(lo, hi, pics["size"]), np.linspace(hi, lo, pics["size"]), pics["output"],
                       levels=[0.5], colors="black", linewidths=1)
    if data is not None and "points_train" in data.extra:
        for P, t, rim in ((data.extra["points_train"], data.y_train, "white"),
                          (data.extra["points_test"], data.y_test, "black")):
            t = np.asarray(t)
            if curve:
                ax.scatter(P[:, 0], t[:, 0], s=9, color="#333333" if rim == "white" else "#999999", zorder=3)
            else:
                colours = ([PLANE_POSITIVE if v else PLANE_NEGATIVE for v in t] if t.ndim == 1 else
                           t[:, 0])
                ax.scatter(P[:, 0], P[:, 1], s=12, c=colours, edgecolors=rim, linewidths=0.6, zorder=3)
    ax.set_xlim(lo, hi)
    if not curve:
        ax.set_ylim(lo, hi)
    ax.set_xlabel("x1")
    ax.set_ylabel("network output" if curve else "x2")
    ax.set_title("the fitted curve" if curve else "output: the decision boundary (p = 0.5)", fontsize=9)
