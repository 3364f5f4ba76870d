"""One self-contained HTML page about a trained network: what it is, how it learned, what it does.

:func:`build_report` writes a single ``.html`` file holding the architecture (a table and a
diagram), the training history (a table and curves), the test results (accuracy per class,
confusion matrix, the most confident mistakes), what is inside the network (first-layer
weights, activations, weights now against at initialisation), the diagnostics, and a few
predictions explained neuron by neuron, one of them a mistake. Every picture is embedded
as a ``data:`` URI and the styles are inline: the file opens anywhere, offline, and asks
the network for nothing (no scripts, no external links, fonts or images).

Needs matplotlib (the ``plot`` extra). ``glassnet report MODEL -o report.html`` and
``glassnet train --report`` call it.
Not here: interactive pages (the web app), PDF output.
"""

import base64
import datetime
import html
import io
from pathlib import Path

import numpy as np

from . import metrics
from ._io import atomic_write_text
from ._validation import as_generator, describe
from ._version import __version__
from .descent import descend_gradient, descend_plane, descend_weight, finite_difference, loss_along_weight
from .diagnostics import diagnose
from .errors import require
from .explain import explain, explain_step
from .initializers import INITIALIZERS
from .layers import Dense
from .notebook import network_svg, summary_table_html
from .plots import (
    history_records,
    most_confident_mistakes,
    plot_activations,
    plot_confusion_matrix,
    plot_descent_1d,
    plot_descent_2d,
    plot_descent_line,
    plot_explanation,
    plot_first_layer,
    plot_history,
    plot_lr_find,
    plot_mistakes,
    plot_weight_distribution,
    to_png,
)
from .plots import (
    image_shape as picture_shape,
)
from .training import blas_threads_for, limit_blas_threads

MAX_EXAMPLES = 2000       # test examples used for the pictures that run the network on many inputs
DESCENT_EXAMPLES = 100    # test examples the descent lab computes its loss on
SHOWN_NEURONS = 8         # neurons listed per hidden layer in an explained prediction


# -- where the network started ------------------------------------------------------------------
def initial_weights(net, seed):
    """The weights ``net`` had before training, rebuilt from its architecture and the seed.

    Exact for networks made by ``Network.mlp(sizes, ..., seed=seed)`` (and so by ``glassnet
    train``): the Dense layers draw their initial weights in order from one generator seeded
    with ``seed``. Returns a dict like ``net.get_weights()``.

    Example:
        >>> import glassnet as gn
        >>> net = gn.Network.mlp([4, 3, 2], seed=7)
        >>> start = net.get_weights()
        >>> net.layers[0].weights += 1.0                      # "training"
        >>> all(np.array_equal(start[k], v) for k, v in initial_weights(net, 7).items())
        True
    """
    rng = as_generator(seed)
    weights = {}
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Dense):
            if layer.init not in INITIALIZERS:
                raise ValueError(f"initial_weights: layer {i} was initialised by a custom function, which cannot "
                                 f"be replayed; pass the initial weights instead")
            fresh = Dense(layer.n_in, layer.n_out, init=layer.init, seed=rng, dtype=net.dtype)
            weights.update({f"{i}.{name}": p for name, p in fresh.params.items()})
        else:
            weights.update({f"{i}.{name}": np.zeros_like(p) for name, p in layer.params.items()})
    return weights


# -- small HTML helpers -------------------------------------------------------------------------
_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 0;
       background: #f6f7f9; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 28px 60px; background: white; }
h1 { margin-bottom: 0; } h2 { border-bottom: 2px solid #1f6fb4; padding-bottom: 4px; margin-top: 36px; }
h3 { margin-top: 24px; }
.sub { color: #666; margin-top: 2px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { background: #eef3f8; border-radius: 6px; padding: 8px 16px; min-width: 130px; }
.card b { display: block; font-size: 22px; }
table.data { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
table.data th, table.data td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }
table.data th:first-child, table.data td:first-child { text-align: left; }
table.data td.l, table.data th.l { text-align: left; }
img.pic { max-width: 100%; height: auto; border: 1px solid #eee; margin: 6px 0; }
img.thumb { image-rendering: pixelated; height: 56px; border: 1px solid #ccc; vertical-align: middle; }
.finding { border-left: 4px solid #d1495b; background: #fcf0f1; padding: 6px 12px; margin: 8px 0; }
.ok { border-left: 4px solid #2e8b57; background: #eef7f1; padding: 6px 12px; margin: 8px 0; }
.explained { border: 1px solid #ddd; border-radius: 6px; padding: 4px 16px 12px; margin: 18px 0; }
.up { color: #b0283b; } .down { color: #1f5f9f; }
details summary { cursor: pointer; font-weight: bold; margin: 8px 0; }
code { background: #f1f1f1; padding: 0 3px; border-radius: 3px; }
.note { color: #555; font-size: 14px; }
"""


def _e(value):
    return html.escape(str(value))


def _img(png, alt, css="pic"):
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{css}" alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _figure_img(fig, alt):

    return _img(to_png(fig), alt)


def _table(header, rows, left=()):
    """An HTML table; cells are escaped unless given as ``("html", text)``."""
    def cell(tag, value, k):
        css = ' class="l"' if k in left else ""
        text = value[1] if isinstance(value, tuple) and value and value[0] == "html" else _e(value)
        return f"<{tag}{css}>{text}</{tag}>"

    head = "".join(cell("th", h, k) for k, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", v, k) for k, v in enumerate(row)) + "</tr>" for row in rows)
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _percent(value):
    return "-" if value is None else f"{100 * value:.2f}%"


def _num(value, digits=4):
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.{digits}f}"


def _thumbs(images, shape, captions):
    """Small pictures of inputs, as inline PNGs with a caption each."""
    import matplotlib.image

    out = []
    for image, caption in zip(images, captions):
        buffer = io.BytesIO()
        matplotlib.image.imsave(buffer, np.asarray(image, dtype=np.float64).reshape(shape), cmap="gray",
                                vmin=0, vmax=max(1.0, float(np.max(image))), format="png")
        out.append(f'<span style="display: inline-block; text-align: center; margin: 2px 4px; font-size: 11px">'
                   f'{_img(buffer.getvalue(), caption, "thumb")}<br>{_e(caption)}</span>')
    return "".join(out)


# -- the sections -------------------------------------------------------------------------------
def _section_architecture(net):
    return ("<h2>The network</h2>"
            "<p>Each circle is a neuron; each line stands for the weights between two layers (every neuron "
            "of one layer feeds every neuron of the next: <code>z = W&middot;x + b</code>, then the "
            "activation). Big layers show their first and last neurons.</p>"
            f'<div style="overflow-x: auto">{network_svg(net)}</div>{summary_table_html(net)}')


def _section_history(history):

    parts = ["<h2>Training</h2>"]
    try:
        records = history_records(history) if history is not None else []
    except ValueError:
        records = []
    if not records:
        return parts[0] + "<p>No training history was recorded with this network.</p>"
    flags = []
    if getattr(history, "interrupted", False):
        flags.append("training was interrupted (Ctrl-C) and kept the epochs below")
    if getattr(history, "stopped_early", False):
        flags.append("early stopping ended training")
    if flags:
        parts.append(f"<p class=\"note\">Note: {_e('; '.join(flags))}.</p>")
    parts.append(_figure_img(plot_history(records), "loss and accuracy per epoch"))
    has_val = any(r.get("val_loss") is not None for r in records)
    header = ["epoch", "loss", "accuracy"] + (["validation loss", "validation accuracy"] if has_val else []) + \
             ["learning rate", "seconds"]
    rows = []
    for r in records:
        row = [r.get("epoch"), _num(r.get("loss")), _percent(r.get("accuracy"))]
        if has_val:
            row += [_num(r.get("val_loss")), _percent(r.get("val_accuracy"))]
        row += [_num(r.get("lr"), 3), f"{r.get('seconds', 0) or 0:.2f}"]
        rows.append(row)
    parts.append("<details><summary>Every epoch</summary>" + _table(header, rows) + "</details>")
    return "".join(parts)


def _section_diagnostics(history, net, X_train, X, y, diverged):
    if history is None or not len(history):
        return ""
    # Dead neurons are looked for on the training inputs; the test set stands in for validation
    # data when the history has none (glassnet train does not hold any back).
    findings = diagnose(history, net, X_train, diverged=diverged, validation=(X, y))
    parts = ["<h2>Diagnostics</h2>",
             "<p>Rules that read the training history and the network's neurons, each with a named fix.</p>"]
    if not findings:
        parts.append('<div class="ok">No problem found: the loss fell steadily, training and validation agree '
                     'and the neurons are alive.</div>')
    for f in findings:
        parts.append(f'<div class="finding"><b>{_e(f.name.replace("_", " "))}</b>: {_e(f.message)}'
                     f'<br><b>Fix:</b> {_e(f.fix)}</div>')
    return "".join(parts)


def _section_results(net, X, y, classes, image_shape):

    predicted = net.predict(X)
    rows = [[c, f"{r['support']:,}", f"{r['correct']:,}", _percent(r["accuracy"])]
            for c, r in zip(classes, metrics.per_class(y, predicted, len(classes)))]
    parts = ["<h2>Results on the test set</h2>",
             f"<p>{len(y):,} examples the network never trained on.</p>",
             "<h3>Accuracy per class</h3>", _table(["class", "examples", "right", "accuracy"], rows),
             "<h3>Confusion matrix</h3>",
             "<p>Rows: the true class; columns: what the network said. The diagonal holds the right answers.</p>",
             _figure_img(plot_confusion_matrix(y, predicted, classes=classes), "confusion matrix")]
    if image_shape is not None:
        parts += ["<h3>The most confident mistakes</h3>",
                  "<p>Wrong answers the network was surest of: often badly written digits, sometimes "
                  "a label that is itself wrong.</p>",
                  _figure_img(plot_mistakes(net, X, y, n=12, classes=classes, image_shape=image_shape),
                              "the most confident mistakes")]
    return "".join(parts)


def _section_inside(net, X, image_shape, initial):

    parts = ["<h2>Inside the network</h2>"]
    if image_shape is not None:
        parts += ["<h3>What each first-layer neuron looks for</h3>",
                  "<p>The weights into each neuron of the first layer, drawn as a picture: ink on a red pixel "
                  "raises that neuron's sum, ink on a blue pixel lowers it.</p>",
                  _figure_img(plot_first_layer(net, n=min(32, net.sizes[0]), image_shape=image_shape),
                              "first-layer weights as pictures")]
    try:
        fig = plot_activations(net, X)
    except ValueError:
        fig = None
    if fig is not None:
        parts += ["<h3>How the neurons fire</h3>",
                  "<p>The values of each hidden layer's neurons on the test examples. A neuron that never "
                  "fires (a dead ReLU) passes no gradient back and never learns again.</p>",
                  _figure_img(fig, "activation histograms")]
    parts.append("<h3>Weights now against at initialisation</h3>")
    if initial is not None:
        parts += ["<p>Training moves the weights away from their random start.</p>",
                  _figure_img(plot_weight_distribution(net, initial), "weight distributions")]
    else:
        parts.append('<p class="note">The initial weights are unknown (the seed was not recorded), so this '
                     'picture is left out.</p>')
    return "".join(parts)


def _section_lr_find(result):

    text = getattr(result, "rule_text", None) or ""
    suggestion = getattr(result, "suggestion", None)
    head = f"<p>Suggested learning rate: <b>{_num(suggestion, 3)}</b>. {_e(text)}</p>" if suggestion else ""
    head += "".join(f'<p class="note">Warning: {_e(w)}.</p>' for w in getattr(result, "warnings", None) or [])
    return ("<h2>Choosing the step: the learning-rate finder</h2>" + head +
            _figure_img(plot_lr_find(result), "learning-rate finder curve"))


# -- the direction and the step ---------------------------------------------------------------
def _step_story(net, x, label, classes, lr=0.1):
    """One SGD step on one example, traced: the deltas per layer and what the step changed."""
    step = explain_step(net, x, [label], lr=lr)
    after = step.apply(net.copy()).predict_proba(np.asarray(x, dtype=net.dtype).reshape(1, -1))[0]
    before = net.predict_proba(np.asarray(x, dtype=net.dtype).reshape(1, -1))[0]
    rows = []
    for layer in reversed(step.layers):
        delta = layer.delta[0]
        top = np.argsort(-np.abs(delta))[:4]
        rows.append([f"{layer.name} ({layer.activation})",
                     ("html", ", ".join(f"neuron {j}: <span class=\"{'up' if delta[j] > 0 else 'down'}\">"
                                        f"{delta[j]:+.4f}</span>" for j in top)),
                     f"{np.linalg.norm(layer.dW):.4g}", f"{np.abs(layer.update_W).max():.4g}"])
    return (f"<p>One step of plain gradient descent (learning rate {lr:g}) on one example whose true class is "
            f"{_e(classes[label])}: the loss is {step.loss:.4f}. Backpropagation runs from the output down: "
            f"each neuron's <code>delta = dL/dz</code> says which way its sum should move (positive: down). "
            f"The weights change by <code>-lr &times; delta &times; input</code>.</p>"
            + _table(["layer (output first)", "largest deltas dL/dz", "size of dL/dW", "largest weight change"],
                     rows, left=(1,))
            + f"<p>After this one step, the probability of the true class {_e(classes[label])} went from "
              f"{100 * before[label]:.2f}% to <b>{100 * after[label]:.2f}%</b>.</p>")


def _section_descent(net, X, y, x_step, y_step, classes):
    try:
        return _descent_lab(net, X, y, x_step, y_step, classes)
    except ValueError as exc:    # e.g. a loss so flat that no "about right" step can be derived from it
        return ("<h2>The direction and the step</h2>"
                f'<p class="note">The descent lab could not run on this network: {_e(exc)}</p>')


def _paths_table(result):
    rows = [[p["label"], f"{p['lr']:.3g}", p["verdict"]] for p in result["paths"]]
    rule = result.get("rule") and "how the steps were chosen: " + result["rule"]
    notes = "".join(f'<p class="note">{_e(text[0].upper() + text[1:])}.</p>'
                    for text in (result.get("note"), rule) if text)
    return _table(["step", "learning rate", "what happened"], rows, left=(2,)) + notes


def _descent_lab(net, X, y, x_step, y_step, classes):

    parts = ["<h2>The direction and the step</h2>",
             "<h3>One step of learning, number by number</h3>", _step_story(net, x_step, y_step, classes),
             "<h3>The loss along one weight</h3>",
             f"<p>On {len(X):,} test examples: the loss as one weight (the steepest one that has a valley to walk "
             "down) moves while all others stay fixed. Backpropagation's slope and the finite difference "
             "<code>(L(w+h) - L(w-h)) / 2h</code> agree. Gradient descent on that weight with a step too small "
             "crawls; about right reaches the bottom fastest; too big overshoots and bounces. Each path is drawn "
             "again below on its own scale.</p>"]
    steps = descend_weight(net, X, y, steps=10)
    where = {"param": steps["param"], "index": tuple(steps["index"])}
    along = loss_along_weight(net, X, y, points=21, **where)
    fd = finite_difference(net, X, y, **where)
    parts.append(f"<p class=\"note\">{_e(fd['text'])}.</p>")
    parts += [_figure_img(plot_descent_1d(along, fd, steps), "the loss along one weight"), _paths_table(steps)]
    line = descend_gradient(net, X, y, steps=10)
    search = line["line_search"]
    parts += ["<h3>The direction training takes: all the weights, downhill</h3>",
              f"<p>Training moves every weight at once, along minus the gradient (its length here is "
              f"{line['gradient_norm']:.4g}). Along that line the loss is lowest ({search['loss']:.4g}) at a "
              f"distance {search['distance']:.4g}: a step of learning rate {search['lr']:.3g} lands there at once. "
              f"The three paths are gradient descent along it with the three step sizes.</p>",
              _figure_img(plot_descent_line(line), "the loss along the gradient"), _paths_table(line)]
    plane = descend_plane(net, X, y, steps=10, grid=15, seed=0)   # its contour map stays readable
    parts += ["<h3>The loss landscape on a plane</h3>",
              "<p>All the weights move together along two directions: the downhill one (minus the gradient) and "
              "a random one. The three paths are gradient descent with the three step sizes.</p>",
              _figure_img(plot_descent_2d(plane), "the loss on a plane of weight space"), _paths_table(plane)]
    return "".join(parts)


# -- explained predictions --------------------------------------------------------------------
def _terms_text(terms, label="input"):
    if not terms:
        return "nothing"
    return ", ".join(f"{label} {t.input}: {t.w:+.3f} &times; {t.x:.3f} = "
                     f"<span class=\"{'up' if t.term > 0 else 'down'}\">{t.term:+.3f}</span>" for t in terms)


def _layer_story(layer, classes, output):
    """One layer of an explained prediction as an HTML table: the neurons that matter most."""
    neurons = list(layer.neurons)
    if not output:
        neurons = sorted(neurons, key=lambda n: -n.a)[:SHOWN_NEURONS]
    rows = []
    for n in neurons:
        name = f"{n.neuron}" + (f" ('{classes[n.neuron]}')" if output and n.neuron < len(classes) else "")
        rows.append([name, f"{n.positive:+.3f}", f"{n.negative:+.3f}", f"{n.bias:+.3f}", f"{n.z:+.3f}",
                     f"{n.a:.3f}", ("html", _terms_text(n.up[:3])), ("html", _terms_text(n.down[:3]))])
    fired = int(np.sum(np.asarray(layer.a) > 0))
    what = (f"all {len(layer.neurons)} output neurons (z: the scores; a: {_e(layer.activation)} of them)" if output else
            f"the {len(neurons)} most active of {len(layer.neurons)} neurons ({fired} fired, value above 0)")
    return (f"<h4>{_e(layer.name)} ({_e(layer.activation)}): {what}</h4>"
            + _table(["neuron", "pushed up", "pushed down", "bias b", "z = sum + b", "value a",
                      "strongest pushes up (w &times; x)", "strongest pushes down"],
                     rows, left=(0, 6, 7)))


def _explained(net, x, label, classes, image_shape, reference, index):

    e = explain(net, x, label=label, reference=reference, image_shape=image_shape)
    name = classes[e.prediction]
    verdict = (f'<span class="up">wrong</span>: the true class is {_e(classes[label])}' if not e.correct
               else '<span style="color: #2e8b57">right</span>')
    parts = [f'<div class="explained"><h3>Test example {index}: the network says {_e(name)} '
             f'(p = {100 * e.probabilities[e.prediction]:.1f}%), {verdict}</h3>',
             _figure_img(plot_explanation(e, classes=classes), f"explanation of test example {index}")]
    m = e.margin
    if m is not None:
        parts.append(f"<p><b>Why {_e(classes[m.winner])} and not {_e(classes[m.runner_up])}:</b> its score is "
                     f"higher by {m.difference:.3f} = the bias difference {m.bias:+.3f} plus what the last hidden "
                     f"layer's neurons gave: for {_e(classes[m.winner])}: "
                     f"{_terms_text(m.for_winner[:4], 'neuron')}; for {_e(classes[m.runner_up])}: "
                     f"{_terms_text(m.for_runner_up[:4], 'neuron')}.</p>")
    parts.append("<details><summary>The prediction neuron by neuron</summary>"
                 "<p>Each neuron adds up its inputs times their weights (the terms that pushed it up and down), "
                 "adds its bias to get <code>z</code>, and applies its activation to get its value "
                 "<code>a</code>. The sums are exact: pushed up + pushed down + b = z.</p>")
    hidden = [layer for layer in e.layers[1:]]
    for k, layer in enumerate(hidden):
        parts.append(_layer_story(layer, classes, output=k == len(hidden) - 1))
    parts.append("</details>")
    if e.neighbours and reference is not None and image_shape is not None:
        last = e.neighbours[-2] if len(e.neighbours) > 1 else e.neighbours[-1]
        X_ref = reference[0]
        near = last["nearest"]
        parts.append(f"<p><b>It looks like these training examples</b> (nearest in the {_e(last['layer'])} "
                     f"layer's representation):<br>"
                     + _thumbs([X_ref[n["index"]] for n in near], image_shape,
                               [f"{classes[n['label']]} ({n['distance']:.2f})" for n in near]) + "</p>")
        if not e.correct and last.get("predicted_class"):
            wrong = last["predicted_class"]
            parts.append(f"<p>The nearest training examples of the class it chose ({_e(name)}), behind the "
                         "mistake:<br>" + _thumbs([X_ref[n["index"]] for n in wrong], image_shape,
                                                   [f"{classes[n['label']]} ({n['distance']:.2f})" for n in wrong])
                         + "</p>")
    parts.append("</div>")
    return "".join(parts)


def _pick_examples(net, X, y, n):
    """Which test examples to explain: the most confident mistake(s) first, then right answers."""

    mistakes = [m["index"] for m in most_confident_mistakes(net, X, y, n=max(1, n // 3))]
    predicted = net.predict(X)
    right = [int(i) for i in np.flatnonzero(predicted == y)]
    # right answers of different classes, in order
    chosen, seen = [], set()
    for i in right:
        if len(chosen) + len(mistakes) >= n:
            break
        if y[i] not in seen:
            chosen.append(i)
            seen.add(int(y[i]))
    return mistakes + chosen


def _section_explained(net, X, y, rows, classes, image_shape, reference, n):
    if n <= 0:
        return ""
    picks = _pick_examples(net, X, y, n)
    parts = ["<h2>Predictions explained</h2>",
             "<p>A few test examples traced through the network. The contribution map shows how much each "
             "input (each pixel of a picture) added to (red) or took from (blue) the winning score: its value "
             "times its <i>effective</i> weight, the product of the weights along the paths through the neurons "
             "that fired; they add up exactly to the score. The saliency shows how the winning probability "
             "would change if an input grew (a pixel got brighter).</p>"]
    parts += [_explained(net, X[i], int(y[i]), classes, image_shape, reference, int(rows[i])) for i in picks]
    return "".join(parts)


# -- the whole report ---------------------------------------------------------------------------
def _test_part(net, dataset, max_examples):
    """``(X, y, rows, classes, n_test, loss, accuracy)``: the test examples the pictures use (``rows`` of
    the test set), checked against ``net``; the loss and accuracy are measured on the whole test set."""
    for key in ("X_test", "y_test"):
        if getattr(dataset, key, None) is None:
            raise TypeError(f"build_report: dataset expected a glassnet Dataset (with X_test and y_test), "
                            f"received {describe(dataset)}")
    classes = [str(c) for c in (getattr(dataset, "classes", None) or [])]
    X, y = net.check_X(dataset.X_test), np.asarray(dataset.y_test)
    if len(y) != len(X):
        raise ValueError(f"build_report: dataset has {len(X)} test inputs but {len(y)} labels")
    classes = classes or [str(k) for k in range(max(net.n_outputs, 2))]
    if net.n_outputs != len(classes):
        raise ValueError(f"build_report: the network has {net.n_outputs} outputs but the dataset has "
                         f"{len(classes)} classes")
    loss, accuracy = net.evaluate(X, y)          # on the whole test set
    n_test = len(y)
    rows = np.arange(len(X))           # test-set row of each example used
    if len(X) > max_examples:          # evenly spaced rows keep the class mix of a test set sorted by class
        rows = np.linspace(0, len(X) - 1, max_examples).round().astype(int)
        X, y = X[rows], y[rows]
    return X, y, rows, classes, n_test, loss, accuracy


def _image_shape(net, dataset):
    """The picture shape of one input, or None when the inputs are not pictures."""

    shape = getattr(dataset, "shape", None)      # (28, 28) for pictures, (n_features,) for a table
    if shape is None:
        return picture_shape(net.n_features)
    return picture_shape(net.n_features, shape) if len(shape) == 2 else None


def _section_head(net, title, name, n_test, n_used, loss, accuracy, epochs, diverged, settings):
    """The title, the summary cards, a divergence warning and the settings table."""
    cards = [("test accuracy", _percent(accuracy)), ("test loss", _num(loss)), ("epochs", epochs),
             ("parameters", f"{net.n_params:,}")]
    parts = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">Written by glassnet {_e(__version__)} on '
        f'{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. Test set: {_e(name)} '
        f"({n_test:,} examples" + (f"; the pictures use {n_used:,} of them" if n_used < n_test else "") + ").</p>",
        '<div class="cards">' + "".join(f'<div class="card">{_e(k)}<b>{_e(v)}</b></div>' for k, v in cards)
        + "</div>"]
    if diverged:
        parts.append(f'<div class="finding"><b>Training diverged.</b> {_e(diverged)}</div>')
    if settings:
        parts.append("<h2>Settings</h2>" + _table(["setting", "value"], [
            [k, ",".join(map(str, v)) if isinstance(v, list) else "-" if v is None else v]
            for k, v in settings.items()], left=(1,)))
    return "".join(parts)


def _page(title, sections):
    """The whole HTML document around the sections."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            # the page may load nothing: only its own inline styles and data: images
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
            f"<body><main>{''.join(sections)}</main></body></html>\n")


def build_report(net, dataset, history=None, *, path, title=None, initial=None, seed=None, lr_find=None,
                 settings=None, diverged=None, explained=4, descent=True, max_examples=MAX_EXAMPLES):
    """Write one self-contained HTML report about ``net`` to ``path``; returns the path.

    Args:
        net: a trained ``Network`` (its ``history_`` is used when ``history`` is not given).
        dataset: a :class:`glassnet.datasets.Dataset`: the test set is measured and explained, the
            training set (if present) gives the nearest examples of an explained prediction.
        history: the ``History`` from ``fit`` (default ``net.history_``).
        initial: the network's initial weights (a dict or ``Network``), or ``seed`` to rebuild
            them for a network made by ``Network.mlp(..., seed=seed)`` (see :func:`initial_weights`).
        lr_find: an optional ``lr_find`` result to picture.
        settings: optional dict of training settings shown in a table.
        diverged: the divergence message, when training stopped on a NaN/inf loss.
        explained: how many test predictions to explain (at least one of them a mistake, if any).
        descent: include the descent lab: one step of learning traced, the loss along one weight and on
            a plane, with gradient descent at three step sizes (a few seconds).
        max_examples: test examples used for the pictures (a stratified-by-order subset if more).
    """
    require("matplotlib", "plot")
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"build_report: path expected a file name ending in .html, received {str(path)!r}")
    X, y, rows, classes, n_test, loss, accuracy = _test_part(net, dataset, max_examples)
    history = history if history is not None else getattr(net, "history_", None)
    if initial is None and seed is not None:
        initial = initial_weights(net, seed)
    image_shape = _image_shape(net, dataset)
    reference = None
    if getattr(dataset, "X_train", None) is not None and getattr(dataset, "y_train", None) is not None:
        reference = (np.asarray(dataset.X_train), np.asarray(dataset.y_train))
    name = getattr(dataset, "name", "") or "the dataset"
    title = title or f"glassnet report: {name}"
    epochs = len(history) if history is not None else 0
    sections = [_section_head(net, title, name, n_test, len(y), loss, accuracy, epochs, diverged, settings)]
    # The report's products are small (one example, or 100): one BLAS thread is faster than several.
    with limit_blas_threads(blas_threads_for(net, DESCENT_EXAMPLES)):
        sections += [_section_architecture(net), _section_history(history),
                     _section_diagnostics(history, net, reference[0] if reference else X, X, y, diverged),
                     _section_results(net, X, y, classes, image_shape),
                     _section_inside(net, X, image_shape, initial)]
        if lr_find is not None:
            sections.append(_section_lr_find(lr_find))
        if descent:
            some = np.linspace(0, len(X) - 1, min(DESCENT_EXAMPLES, len(X))).round().astype(int)
            first = _pick_examples(net, X, y, 1)[0]         # the most confident mistake, if there is one
            sections.append(_section_descent(net, X[some], y[some], X[first], int(y[first]), classes))
        sections.append(_section_explained(net, X, y, rows, classes, image_shape, reference, explained))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, _page(title, sections))
    return path


__all__ = ["build_report", "initial_weights"]
