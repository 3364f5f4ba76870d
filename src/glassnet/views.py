"""How glassnet's result objects look in a notebook: HTML views, small pictures, and short text.

What it is: the rendering behind the ``_repr_html_`` and short ``__repr__`` methods of the result
objects (``History``, ``Explanation``, ``GradcheckReport``, ``LRFinderResult``, ``Evaluation``,
``Dataset``, the descent lab's results, ``Network.summary()``): each class keeps a one-line method
that calls a function here. The HTML uses inline styles only and draws its pictures as inline PNG
(written here with ``zlib``, no extra needed) or inline SVG, so it shows the same in Jupyter,
VS Code, a static site and an e-mailed notebook. :func:`show_figures_in_notebooks` makes IPython
display a matplotlib ``Figure`` as ``image/png`` without ``%matplotlib inline``.

What it is not: the network diagram and the live training curves (``glassnet.notebook``), the
matplotlib pictures (``glassnet.plots``), or the terminal text of each object (their ``__str__``).
It imports no other glassnet module, so any module may import it.
"""

import base64
import functools
import html
import math
import struct
import sys
import zlib
from collections.abc import Callable
from typing import ParamSpec

import numpy as np

_P = ParamSpec("_P")  # the parameters of a function decorated by shows_as

MAX_TEXT = 2000                 # no text/plain view of a glassnet object is longer than this
MAX_ROWS = 12                   # table rows shown before the rest are folded away
_CELL = "padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: {}"
_BOX = 'style="font-family: sans-serif; font-size: 13px; line-height: 1.4"'


# -- text -------------------------------------------------------------------------------------
def short(text, limit=MAX_TEXT):
    """``text`` cut to at most ``limit`` characters, saying so at the end when it was cut."""
    text = str(text)
    if len(text) <= limit:
        return text
    tail = f"... ({len(text):,} characters; print() shows them all)"
    return text[:limit - len(tail)] + tail


def number(v, digits=4):
    """A number for a table: ``None`` as an empty cell, 4 significant digits otherwise."""
    if v is None:
        return ""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return f"{int(v):,}"
    v = float(v)
    return f"{v:.{digits}g}" if v == 0 or 1e-3 <= abs(v) < 1e6 or not math.isfinite(v) else f"{v:.{digits - 1}e}"


class Text(str):
    """A string that a notebook shows as itself (not as its quoted ``repr``), with an optional HTML view.

    ``net.summary()`` returns one: ``print`` and string methods work as on any ``str``; a cell ending
    in it shows the table, not ``'#  layer ...\\n...'``.
    """

    def __new__(cls, text, html_view=None):
        self = super().__new__(cls, text)
        self.html_view = html_view
        return self

    def __repr__(self):
        return short(str(self))

    def _repr_html_(self):
        return self.html_view if self.html_view is not None else f"<pre>{html.escape(str(self))}</pre>"


# -- pictures ---------------------------------------------------------------------------------
def png(rgb):
    """PNG bytes of an ``(height, width, 3)`` uint8 array (8-bit RGB, no extra needed)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def colour(values, signed=None):
    """An image array as RGB: ink (dark on white) for values >= 0, blue-white-red when it has signs."""
    a = np.nan_to_num(np.asarray(values, dtype=np.float64))
    signed = bool((a < 0).any()) if signed is None else signed
    if not signed:
        top = a.max() or 1.0
        grey = 255 - np.clip(a / top, 0, 1) * 255
        return np.repeat(grey[..., None], 3, axis=-1).astype(np.uint8)
    scale = np.abs(a).max() or 1.0
    t = np.clip(a / scale, -1, 1)[..., None]
    white, red, blue = np.array([255, 255, 255.0]), np.array([200, 40, 50.0]), np.array([30, 100, 190.0])
    return np.where(t >= 0, white + t * (red - white), white - t * (blue - white)).astype(np.uint8)


def image_tag(values, size=84, title="", signed=None):
    """An ``<img>`` of a 2-D array, enlarged without smoothing to ``size`` pixels wide."""
    data = base64.b64encode(png(colour(values, signed))).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" width="{size}" alt="{html.escape(title)}" '
            f'title="{html.escape(title)}" style="image-rendering: pixelated; border: 1px solid #ccc">')


def figure(picture, caption):
    """A picture with its caption under it, as an inline block."""
    return (f'<figure style="display: inline-block; margin: 0 10px 6px 0; text-align: center">{picture}'
            f'<figcaption style="font-size: 11px; color: #555">{html.escape(caption)}</figcaption></figure>')


def curves_svg(series, width=320, height=120, log_x=None):
    """A small inline SVG of named curves ``{label: (xs, ys, colour)}`` (no axes library needed)."""
    points = [(x, y) for xs, ys, _ in series.values() for x, y in zip(xs, ys)
              if y is not None and math.isfinite(y) and (log_x is None or x > 0)]
    if not points:
        return ""
    fx = (lambda x: math.log10(x)) if log_x else (lambda x: x)
    x0, x1 = min(fx(p[0]) for p in points), max(fx(p[0]) for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    sx = (width - 20) / ((x1 - x0) or 1)
    sy = (height - 30) / ((y1 - y0) or 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'style="font-size: 10px; font-family: sans-serif">',
             f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="white" stroke="#ddd"/>']
    for k, (label, (xs, ys, stroke)) in enumerate(series.items()):
        line = " ".join(f"{10 + (fx(x) - x0) * sx:.1f},{height - 20 - (y - y0) * sy:.1f}" for x, y in zip(xs, ys)
                        if y is not None and math.isfinite(y) and (log_x is None or x > 0))
        parts.append(f'<polyline points="{line}" fill="none" stroke="{stroke}" stroke-width="1.6"/>')
        parts.append(f'<text x="{10 + 110 * k}" y="{height - 6}" fill="{stroke}">{html.escape(label)}</text>')
    parts.append(f'<text x="{width - 6}" y="12" text-anchor="end" fill="#555">{number(y1)}</text>')
    parts.append(f'<text x="{width - 6}" y="{height - 22}" text-anchor="end" fill="#555">{number(y0)}</text>')
    return "".join(parts) + "</svg>"


def bars(values, labels, highlight=None):
    """Horizontal bars for values in [0, 1] (probabilities), one row each, ``highlight`` in red."""
    rows = []
    for k, (label, v) in enumerate(zip(labels, values)):
        fill = "#d1495b" if k == highlight else "#1f6fb4"
        rows.append(f'<tr><td style="padding: 0 6px; text-align: right">{html.escape(str(label))}</td>'
                    f'<td style="padding: 1px 0; width: 160px"><div style="background: {fill}; height: 10px; '
                    f'width: {max(0.0, min(float(v), 1.0)) * 160:.0f}px"></div></td>'
                    f'<td style="padding: 0 6px; font-family: monospace">{float(v):.3f}</td></tr>')
    return f'<table style="border-collapse: collapse; font-size: 12px">{"".join(rows)}</table>'


# -- tables -----------------------------------------------------------------------------------
def table(headers, rows, right=()):
    """An HTML table; columns named in ``right`` align right. Rows past ``MAX_ROWS`` are folded."""
    def row(cells, tag="td"):
        return "<tr>" + "".join(f'<{tag} style="{_CELL.format("right" if h in right else "left")}">'
                                f"{html.escape(str(c))}</{tag}>" for h, c in zip(headers, cells)) + "</tr>"

    head = row(headers, "th") if any(headers) else ""
    shown, rest = rows[:MAX_ROWS], rows[MAX_ROWS:]
    body = "".join(row(r) for r in shown)
    page = (f'<table style="border-collapse: collapse; font-size: 12px"><thead>{head}</thead>'
            f"<tbody>{body}</tbody></table>")
    if rest:
        more = "".join(row(r) for r in rest)
        page += details(f"{len(rest)} more rows", f'<table style="border-collapse: collapse; font-size: 12px">'
                                                  f"<thead>{head}</thead><tbody>{more}</tbody></table>")
    return page


def details(summary, body, open_=False):
    """A folded section: ``summary`` always shown, ``body`` on a click."""
    return (f'<details{" open" if open_ else ""} style="margin: 4px 0"><summary style="cursor: pointer">'
            f"{html.escape(summary)}</summary>{body}</details>")


def box(title, *parts):
    """The frame every view shares: a bold title, then the parts."""
    return f'<div class="glassnet-view" {_BOX}><p style="margin: 4px 0"><b>{html.escape(title)}</b></p>' + \
        "".join(parts) + "</div>"


def para(text):
    return f'<p style="margin: 4px 0">{html.escape(text)}</p>'


# -- the result objects -----------------------------------------------------------------------
def history_html(history):
    """A training history: the curves (inline SVG) and the table of epochs (the last ones first shown)."""
    epochs = history.epochs
    if not epochs:
        return box("History", para("no epochs yet"))
    xs = [r["epoch"] for r in epochs]
    lines = (("loss (train)", "loss", "#1f6fb4"), ("loss (validation)", "val_loss", "#d1495b"))
    series = {name: (xs, [r.get(key) for r in epochs], stroke) for name, key, stroke in lines
              if any(r.get(key) is not None for r in epochs)}
    keys = [k for k in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")
            if any(r.get(k) is not None for r in epochs)]
    rows = [[_cell(k, r.get(k)) for k in keys] for r in reversed(epochs)]
    how = " (interrupted)" if history.interrupted else " (stopped early)" if history.stopped_early else ""
    return box(f"History: {len(epochs)} epoch{'s' * (len(epochs) != 1)}{how}", para(history_text(history)),
               curves_svg(series), details("every epoch, last first", table(keys, rows, right=keys),
                                           open_=len(epochs) <= 5))


def _cell(key, value):
    if value is None:
        return ""
    if "accuracy" in key:
        return f"{100 * value:.2f}%"
    return str(value) if key == "epoch" else number(value)


def history_text(history):
    """``History(3 epochs; last: loss=0.2, accuracy=0.94)``."""
    if not history.epochs:
        return "History(no epochs)"
    last = history.epochs[-1]
    shown = ", ".join(f"{k}={last[k]:.4g}" for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                      if last.get(k) is not None)
    return f"History({len(history)} epochs; last: {shown})"


def explanation_text(e):
    """One line: what was predicted, how sure, against what, and how to see the rest."""
    p = e.probabilities
    sure = p[e.prediction] if len(p) > 1 else max(p[0], 1 - p[0])
    label = "" if e.label is None else f", label {e.label} ({'right' if e.correct else 'wrong'})"
    return (f"Explanation(prediction {e.prediction} with p={sure:.3f}, runner-up {e.runner_up}{label}; "
            f"{len(e.layers)} arrays of neurons; print() it for the trace)")


def explanation_html(e):
    """An explanation: the prediction, the probabilities, the maps as pictures, the layers folded."""
    p = np.asarray(e.probabilities, dtype=np.float64)
    shown = p if len(p) > 1 else np.array([1 - p[0], p[0]])
    head = f"Prediction: {e.prediction}" + ("" if e.label is None else
                                            f" (true label {e.label}: {'right' if e.correct else 'wrong'})")
    parts = [para(f"runner-up {e.runner_up}; winner's logit minus the runner-up's: {number(e.margin.difference)}"),
             bars(shown, range(len(shown)), highlight=e.prediction)]
    if e.image_shape and len(e.image_shape) == 2:
        pictures = [figure(image_tag(np.asarray(e.x).reshape(e.image_shape), title="input"), "the input")]
        for name, caption in (("contribution", f"contribution to {e.prediction} (red for, blue against)"),
                              ("contribution_vs_runner_up", f"{e.prediction} rather than {e.runner_up}"),
                              ("saliency", "saliency dp/dx")):
            if name in e.maps:
                pictures.append(figure(image_tag(e.maps[name], title=caption, signed=True), caption))
        parts.append(f"<div>{''.join(pictures)}</div>")
    for layer in e.layers[1:]:
        parts.append(details(f"{layer.name}: {layer.n} neurons, {layer.activation}", layer_table(layer)))
    if e.neighbours:
        rows = [[n["layer"], "  ".join(f"{m['label']} ({m['distance']:.2f})" for m in n["nearest"])]
                for n in e.neighbours]
        parts.append(details("nearest training examples per layer (label, distance)",
                             table(["layer", "nearest"], rows)))
    parts.append(para("print(explanation) gives every number as text; glassnet.plots.plot_explanation draws it."))
    return box(head, *parts)


def layer_table(layer, limit=64):
    """One traced array of neurons as a table: z, its value, and the terms that pushed it most."""
    rows = []
    for n in layer.neurons[:limit]:
        up = ", ".join(f"[{t.input}] {t.term:+.3g}" for t in n.up[:3])
        down = ", ".join(f"[{t.input}] {t.term:+.3g}" for t in n.down[:3])
        rows.append([n.neuron, number(n.z), number(n.a), number(n.bias), up, down])
    if not rows:
        rows = [[j, number(z), number(a), "", "", ""] for j, (z, a) in
                enumerate(zip(layer.z if layer.z is not None else [None] * layer.n, layer.a))][:limit]
    return table(["neuron", "z", layer.symbol, "bias", "pushed up by", "pushed down by"], rows,
                 right=("neuron", "z", layer.symbol, "bias"))


def step_text(step):
    return (f"StepTrace({step.loss_name} loss {step.loss:.4g}, lr {step.lr:g}, {len(step.y)} sample"
            f"{'s' * (len(step.y) != 1)}, {len(step.layers)} Dense layers; print() it for the numbers)")


def step_html(step):
    """One traced SGD step: the loss, then per layer the largest gradients and updates."""
    parts = [para(f"loss {number(step.loss)} on {len(step.y)} sample(s); learning rate {step.lr:g}"
                  + (f"; the loss applies the {step.head} itself" if step.head else ""))]
    for s in step.layers:
        flat = np.argsort(-np.abs(s.dW), axis=None, kind="stable")[:8]
        rows = [[f"({r}, {c})", number(s.W[r, c]) if s.W is not None else "", number(s.dW[r, c]),
                 number(-s.lr * s.dW[r, c])] for r, c in zip(*np.unravel_index(flat, s.dW.shape))]
        parts.append(details(f"layer {s.layer} ({s.name}, {s.activation}): largest |dW|",
                             table(["(neuron, input)", "W", "dW", "update -lr·dW"], rows,
                                   right=("W", "dW", "update -lr·dW"))))
    return box("One step of learning", *parts)


def nudges_text(n):
    return (f"Nudges(one SGD step of lr {n.lr:g} on label {n.label}: loss {n.loss_before:.4g} -> "
            f"{n.loss_after:.4g}; {len(n.layers)} arrays of neurons; print() it for the ranking)")


def nudges_html(n):
    """One step as nudges: the loss before and after, what each output should do, then each array's
    neurons and weights ranked by how much they move (folded)."""
    parts = [para(f"{n.loss_name}: {number(n.loss_before)} before the step, {number(n.loss_after)} after "
                  f"(change {n.loss_change:+.3g}; first-order estimate {n.linear_change:+.3g})"),
             table(["output", "value", "target", "delta", "should move"],
                   [[o.k, number(o.value), number(o.target), number(o.delta), f"{o.move:+.3g}"] for o in n.outputs],
                   right=("output", "value", "target", "delta", "should move"))]
    for layer in n.layers:
        neurons = table(["neuron", "delta", "goes"], [[m.j, number(m.delta), m.direction] for m in layer.neurons],
                        right=("neuron", "delta"))
        weights = table(["weight", "input", "dW", "update"],
                        [[f"W[{w.j}, {w.i}]", "pixel (%d, %d)" % w.pixel if w.pixel else f"input {w.i}",
                          number(w.dW), number(w.update)] for w in layer.weights], right=("dW", "update"))
        parts.append(details(f"{layer.name} ({layer.activation}): the neurons and weights that move most",
                             neurons + weights))
    return box(f"One step of learning on an example of {n.label}, as nudges", *parts)


def gradcheck_text(report):
    verdict = "PASS" if report.passed else "FAIL"
    return (f"GradcheckReport({verdict}: maximum relative error {report.max_relative_error:.3e} over "
            f"{len(report.tensors)} tensors, tolerance {report.tolerance:.0e}; print() it for the table)")


def gradcheck_html(report):
    rows = [[f"{t.name} ({t.layer})" if t.layer != t.name else t.name, f"{t.checked:,}/{t.total:,}",
             f"{t.relative_error:.3e}", f"{t.max_abs_error:.3e}"] for t in report.tensors]
    colour_ = "#1a7f37" if report.passed else "#d1495b"
    verdict = (f'<p style="margin: 4px 0; color: {colour_}"><b>{"PASS" if report.passed else "FAIL"}</b>: '
               f"maximum relative error {report.max_relative_error:.3e} (tolerance {report.tolerance:.0e})</p>")
    return box("Gradient check: backpropagation against finite differences", verdict,
               table(["tensor", "checked", "relative error", "max |bp - fd|"], rows,
                     right=("checked", "relative error", "max |bp - fd|")))


def lr_finder_text(result):
    return (f"LRFinderResult(suggested learning rate {result.suggestion:.2g} by the {result.rule!r} rule, "
            f"{len(result.curves)} curve(s); print() it for the table)")


def lr_finder_html(result):
    palette = ("#1f6fb4", "#d1495b", "#2a9d8f", "#e9c46a", "#6d597a")
    series = {f"seed {c['seed']}": (c["lr"], c["smoothed"], palette[k % len(palette)])
              for k, c in enumerate(result.curves)}
    rows = [[c["seed"], len(c["lr"]), f"{c['suggestion']:.2g}", c["stopped"]] for c in result.curves]
    warnings = "".join(para(f"warning: {w}") for w in result.warnings)
    return box(f"Learning-rate range test: try lr = {result.suggestion:.2g}",
               para(f"rule '{result.rule}': {result.rule_text}"), warnings,
               curves_svg(series, log_x=True), para("smoothed loss against the learning rate (log scale)"),
               table(["seed", "steps", "suggests", "stopped"], rows, right=("seed", "steps", "suggests")))


def evaluation_html(evaluation):
    rows = [["loss", number(evaluation.loss)]]
    if evaluation.accuracy is not None:
        rows.append(["accuracy", f"{100 * evaluation.accuracy:.2f}%"])
    return box("Evaluation", table(["", "value"], rows, right=("value",)))


def dataset_text(d):
    return (f"Dataset({d.name!r}: {len(d.X_train)} train, {len(d.X_test)} test, "
            f"{len(d.classes)} classes, example shape {tuple(d.shape)})")


def dataset_html(d, examples=10):
    """A dataset: its size and classes, where it came from, and the first example of each class as pictures."""
    counts = np.bincount(np.asarray(d.y_train).astype(np.int64), minlength=len(d.classes)) \
        if len(d.classes) and np.issubdtype(np.asarray(d.y_train).dtype, np.integer) else None
    rows = [["examples", f"{len(d.X_train):,} train, {len(d.X_test):,} test"],
            ["one example", f"{tuple(d.shape)} = {d.n_features:,} features"],
            ["classes", ", ".join(str(c) for c in d.classes[:20]) + (" ..." if len(d.classes) > 20 else "")]]
    if counts is not None:
        rows.append(["train examples per class", ", ".join(str(int(c)) for c in counts[:20])])
    rows += [[key, value] for key, value in (("description", d.description), ("licence", d.licence),
                                              ("source", d.source)) if value]
    parts = [table(["", ""], rows)]
    if len(d.shape) == 2 and len(d.X_train):
        y = np.asarray(d.y_train)
        first = sorted(int(np.flatnonzero(y == label)[0]) for label in np.unique(y)[:examples])
        pictures = [figure(image_tag(np.asarray(d.X_train[i]).reshape(d.shape), size=56),
                           f"{d.classes[int(y[i])] if counts is not None else y[i]}") for i in first]
        parts.append(f"<div>{''.join(pictures)}</div>")
    return box(f"Dataset {d.name!r}", *parts)


def record_text(name, record):
    """A dict-like result in one line: its numbers, and the names of its lists."""
    scalars = ", ".join(f"{k}={number(v)}" for k, v in record.items()
                        if isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
    lists = ", ".join(k for k, v in record.items() if isinstance(v, (list, dict, np.ndarray)))
    return short(f"{name}({scalars}" + (f"; lists: {lists}" if lists else "") + ")")


def record_html(name, record):
    """A dict-like result as a table of its numbers and short values, lists by their length.

    Descent-lab results get more: their sentence (``text``, ``rule``, ``note``), and their ``paths``
    (one per learning rate) as curves of the loss per step and a table of verdicts.
    """
    parts = [para(str(record[key])) for key in ("text", "rule", "note") if isinstance(record.get(key), str)]
    paths = record.get("paths")
    if isinstance(paths, list) and paths and all(isinstance(p, dict) and "losses" in p for p in paths):
        palette = ("#1f6fb4", "#2a9d8f", "#d1495b", "#6d597a", "#e9c46a")
        parts.append(curves_svg({f"{p.get('label', k)}": (list(range(len(p["losses"]))), p["losses"],
                                                         palette[k % len(palette)]) for k, p in enumerate(paths)}))
        parts.append(table(["step", "lr", "verdict"], [[p.get("label", ""), number(p.get("lr")),
                                                         p.get("verdict", p.get("kind", ""))] for p in paths],
                           right=("lr",)))
    rows = []
    skip = {"text", "rule", "note"} | ({"paths"} if len(parts) > 1 else set())
    for key, value in ((k, v) for k, v in record.items() if k not in skip):
        if isinstance(value, (list, tuple, np.ndarray)):
            value = f"{len(value)} values" if len(value) > 6 else ", ".join(number(v) if isinstance(
                v, (int, float, np.number)) else str(v) for v in value)
        elif isinstance(value, dict):
            value = f"{len(value)} entries: " + ", ".join(str(k) for k in list(value)[:8])
        elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            value = number(value)
        rows.append([key, short(str(value), 200)])
    return box(name, *parts, details("every value", table(["", ""], rows), open_=not parts))


class Record(dict):
    """A dict (JSON as it is) that a notebook shows as a table and ``repr`` shows in one line.

    Example:
        >>> Record({"loss0": 0.25, "path": [1, 2, 3]}, name="Descent")
        Descent(loss0=0.25; lists: path)
    """

    def __init__(self, data=(), name="Result"):
        super().__init__(data)
        self.view_name = name

    def __repr__(self):
        return record_text(self.view_name, self)

    def _repr_html_(self):
        return record_html(self.view_name, self)


def shows_as(name: str) -> Callable[[Callable[_P, dict]], Callable[_P, Record]]:
    """Decorator: the function's dict result comes back as a :class:`Record` named ``name`` (the same dict,
    which a notebook shows as a table). The descent lab's functions wear it.

    Example:
        >>> @shows_as("Slope")
        ... def slope():
        ...     return {"slope": 0.5}
        >>> slope(), slope() == {"slope": 0.5}
        (Slope(slope=0.5), True)
    """
    def decorate(function: Callable[_P, dict]) -> Callable[_P, Record]:
        @functools.wraps(function)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Record:
            return Record(function(*args, **kwargs), name=name)
        return wrapper
    return decorate


# -- live output ------------------------------------------------------------------------------
def _shell():
    """The running IPython shell, or None (IPython is never imported here: only looked up)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None


def in_notebook():
    """True inside a Jupyter kernel (a notebook, VS Code, JupyterLab); False in a terminal or plain IPython."""
    return getattr(_shell(), "kernel", None) is not None


def show_live(picture, handle=None):
    """Show ``picture`` under the running cell, or replace what ``handle`` shows; returns the handle."""
    if handle is not None:
        handle.update(picture)
        return handle
    from IPython.display import display

    return display(picture, display_id=True)


class Progress:
    """The state of a progress bar as a notebook shows it: the bar, its line, the finished lines folded."""

    def __init__(self, fraction, text, lines=()):
        self.fraction, self.text, self.lines = fraction, text, list(lines)

    def __repr__(self):
        return short(self.text if not self.lines or self.lines[-1] == self.text else f"{self.lines[-1]}\n{self.text}")

    def _repr_html_(self):
        bar = (f'<progress value="{self.fraction:.3f}" max="1" style="width: 240px; vertical-align: middle">'
               f'</progress> <code>{html.escape(self.text)}</code>')
        earlier = self.lines[:-1] if self.lines and self.lines[-1] == self.text else self.lines
        fold = details(f"{len(earlier)} earlier epoch line(s)",
                       f"<pre style=\"margin: 0\">{html.escape(chr(10).join(earlier))}</pre>") if earlier else ""
        return f'<div class="glassnet-progress" {_BOX}>{bar}{fold}</div>'


# -- figures ----------------------------------------------------------------------------------
def show_figures_in_notebooks(to_png):
    """In a running IPython kernel, display every matplotlib ``Figure`` as ``image/png`` (``to_png(fig)``).

    glassnet draws plain ``Figure`` objects without pyplot, so ``%matplotlib inline`` (which registers
    this for pyplot's figures) never runs; without this a cell ending in a figure shows only
    ``<Figure size ...>``. Does nothing outside IPython, and never imports IPython itself.
    """
    formatters = getattr(getattr(_shell(), "display_formatter", None), "formatters", None)
    if not formatters or "image/png" not in formatters:
        return False
    png_formatter = formatters["image/png"]
    try:
        png_formatter.lookup_by_type("matplotlib.figure.Figure")
        return True                      # already registered (by us, or by %matplotlib inline)
    except KeyError:
        png_formatter.for_type_by_name("matplotlib.figure", "Figure", to_png)
        return True


__all__ = ["MAX_TEXT", "Record", "Text", "box", "details", "image_tag", "png", "short", "show_figures_in_notebooks",
           "shows_as", "table"]
