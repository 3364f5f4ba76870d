"""An explanation and a traced step as text for a terminal: tables of neurons, the margin, a small map.

What it is: ``str(explanation)`` and ``str(step)``; it reads their plain data and computes nothing
new. What it is not: JSON (``to_dict``) or pictures (``glassnet.plots``).
"""

import numpy as np

from .. import activations


def fmt(v):
    """A number in 3 significant digits (small ones in scientific notation)."""
    return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"


def render_explanation(e):
    """The text of an :class:`~glassnet.explain.Explanation`: the prediction, each layer, why, the map."""
    lines = []
    p = e.probabilities
    head = f"prediction: {e.prediction} (p = {p[e.prediction] if len(p) > 1 else max(p[0], 1 - p[0]):.3f})"
    head += f"; runner-up: {e.runner_up}"
    if e.label is not None:
        head += f"; true label: {e.label} ({'right' if e.correct else 'WRONG'})"
    lines.append(head)
    x = e.x
    shape = f" ({e.image_shape[0]}x{e.image_shape[1]} image)" if e.image_shape and len(e.image_shape) == 2 else ""
    lines.append(f"input: {len(x)} neurons{shape}, {int(np.count_nonzero(x))} non-zero, "
                 f"from {fmt(x.min())} to {fmt(x.max())}")
    for layer in e.layers[1:]:
        lines.append("")
        lines += render_layer(layer, e.top, output=layer is e.layers[-1])
    lines += _render_margin(e)
    c = e.maps["contribution"]
    k = 0 if len(e.logits) == 1 else e.prediction
    sign = -1.0 if len(e.logits) == 1 and e.prediction == 0 else 1.0   # one output: class 0 is the logit's minus
    lines += ["", f"contribution map (input × effective weight toward {e.prediction}): sum {fmt(c.sum())} + "
                  f"effective bias {fmt(sign * e.effective_bias[k])} = {'-' if sign < 0 else ''}logit "
                  f"{fmt(sign * e.logits[k])}"]
    if e.image_shape and len(e.image_shape) == 2:
        lines += ascii_map(c)
    if e.neighbours:
        lines += ["", "nearest training examples (label:distance), per layer:"]
        for entry in e.neighbours:
            near = "  ".join(f"{n['label']}:{n['distance']:.2f}" for n in entry["nearest"])
            lines.append(f"  {entry['layer']:>9}: {near}")
        if e.correct is False:
            lines.append(f"  behind the mistake: nearest {e.prediction}s in the last hidden layer: " + "  ".join(
                f"#{n['index']}:{n['distance']:.2f}" for n in e.neighbours[-2]["predicted_class"]))
    return "\n".join(lines)


def _render_margin(e):
    m = e.margin
    prev = e.layers[-2].name
    lines = ["", f"why {m.winner} and not {m.runner_up}: logit difference {fmt(m.difference)} = "
                 f"{fmt(m.positive)} (for {m.winner}) {fmt(m.negative)} (for {m.runner_up}) "
                 f"{m.bias:+.3g} (biases)",
             f"  terms a_i × (w_{m.winner},i - w_{m.runner_up},i) over the {prev} neurons:"]
    for who, terms in ((m.winner, m.for_winner), (m.runner_up, m.for_runner_up)):
        lines.append(f"  for {who}: " + (", ".join(f"#{t.input} {fmt(t.x)}×{t.w:+.3g}={t.term:+.3g}"
                                                  for t in terms) or "-"))
    return lines


def render_layer(layer, top, output=False):
    """One array of neurons as a table: ``z`` as its sums, the value, the strongest pushes each way.

    The output's value column is ``p``, the probabilities (after a softmax in the network or in the loss).
    """
    lines = []
    what = f"{layer.name}: {layer.n} neurons, {layer.activation}"
    if layer.head is not None:
        what += f" (z are the logits; p = {layer.head.name}(z))"
    if _on_when_positive(layer.activation):
        n_active = int(np.sum(layer.z > 0))
        what += f"; {n_active} active (z > 0), {layer.n - n_active} silent"
    lines.append(what)
    if output and layer.n <= 20:
        shown = list(range(layer.n))
    else:
        shown = list(np.argsort(-layer.a, kind="stable")[:top])
        lines.append(f"  the {len(shown)} neurons with the largest values (every neuron in to_dict / --json):")
    symbol = "p" if output else "a"
    lines.append(f"  {'neuron':>6}  {'z = Σ(w·x>0) + Σ(w·x<0) + b':>30}  {symbol:>8}  "
                 f"pushed up most by [input]term / down most by")
    for j in shown:
        n = layer.neurons[j]
        sums = f"{fmt(n.z)} = {fmt(n.positive)} {n.negative:+.3g} {n.bias:+.3g}"
        up = ", ".join(f"[{t.input}]{t.term:+.2g}" for t in n.up[:3]) or "-"
        down = ", ".join(f"[{t.input}]{t.term:+.2g}" for t in n.down[:3]) or "-"
        lines.append(f"  {'#' + str(j):>6}  {sums:>30}  {fmt(n.a):>8}  {up} / {down}")
    return lines


def ascii_map(m):
    """A small text picture of a 2-D map: ``+``/``#`` for positive, ``-``/``=`` for negative (``#``, ``=``: strong)."""
    scale = float(np.max(np.abs(m))) or 1.0
    rows = []
    for r in range(0, m.shape[0], 2):                  # two pixel rows per text row keeps it square-ish
        row = ""
        for v in m[r]:
            level = int(min(abs(v) / scale, 0.999) * 5)
            row += " " if level == 0 else ("+" if v > 0 else "-") if level < 3 else ("#" if v > 0 else "=")
        rows.append("  |" + row + "|")
    return rows + ["  (+ and # push toward the prediction, # strongly; - and = push away from it)"]


def render_step(s):
    """The text of a :class:`~glassnet.explain.StepTrace`: the loss, then per layer (output first) delta and dW."""
    lines = [f"one SGD step (lr {s.lr:g}) on {len(s.y)} example(s): {s.loss_name} loss {s.loss:.6g}",
             f"dL/d(output) = {np.array2string(s.output_delta[0], precision=4, max_line_width=110)}"
             + (" (first example)" if len(s.y) > 1 else "")]
    for step in reversed(s.layers):
        d = step.delta.sum(axis=0)
        order = np.argsort(-np.abs(d), kind="stable")[:5]
        lines.append(f"{step.name} ({step.activation}): delta = dL/dz summed over the batch, largest: "
                     + ", ".join(f"#{j} {d[j]:+.3g}" for j in order))
        j, i = np.unravel_index(np.argmax(np.abs(step.dW)), step.dW.shape)
        lines.append(f"  dW = delta.T @ x: largest dW[{j},{i}] = {step.dW[j, i]:+.3g}, so W[{j},{i}] moves "
                     f"{step.W[j, i]:+.4g} -> {step.new_W[j, i]:+.4g}; |dW| = {np.linalg.norm(step.dW):.3g}, "
                     f"|db| = {np.linalg.norm(step.db):.3g}")
    return "\n".join(lines)


def _on_when_positive(activation):
    """Whether an activation label (``"relu"``, ``"leaky_relu(0.01) → dropout (off)"``) is on for z > 0 only."""
    names = (part.split("(")[0].strip() for part in activation.split("→"))
    return any(getattr(activations.ACTIVATIONS.get(name), "on_when_positive", False) for name in names)


__all__ = ["ascii_map", "fmt", "render_explanation", "render_layer", "render_step"]

