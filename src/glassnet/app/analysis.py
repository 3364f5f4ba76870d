"""What each view of the app shows, computed from the library (``glassnet.explain``, ``descent``...).

Plain functions from a network, an input and a dataset to JSON-ready dicts; the server only adds
HTTP around them. Pictures go out as ``{"width", "height", "pixels"}`` (0-255, 255 = ink) and signed
maps (weights, contributions) as ``{"width", "height", "values", "scale"}`` for the page to draw.

One definition of each number: a prediction is ``net.predict_proba`` / ``net.predict`` (the library's
own path, so the page shows exactly what ``glassnet predict`` answers); the neurons' values and sums are
``glassnet.explain``'s float64 trace from each layer's own definition, and the output is shown as it is:
logits ``z``, then ``p = softmax(z)`` when a softmax follows outside the network (in the loss or in
``predict_proba``), named by ``explain.shown_activation`` as the diagram names it. The formulas shown
are the registry's text (each activation's ``formula`` / ``derivative_formula``, the loss's ``formula`` /
``gradient_formula``), never written here. The confusion matrix and the per-class results are
``glassnet.metrics``. Not here: HTTP, limits, workspaces (``server``, ``workspace``).
"""

import numpy as np

from .. import activations, losses
from ..activations import Activation
from ..descent import descend_gradient, descend_plane, descend_weight, finite_difference, lab_examples
from ..diagnostics import diagnose as run_diagnostics
from ..explain import (
    activate,
    effective_affine,
    explain,
    forward_values,
    layer_name,
    neuron_groups,
    nudges,
    output_head,
    shown_activation,
    trace_layers,
)
from ..metrics import confusion_matrix, per_class
from ..preprocess import STEPS, to_mnist_steps
from .errors import BadInput

SHAPE = (28, 28)


# -- pictures --------------------------------------------------------------------------------------
def picture(image):
    """A 2-D array in [0, 1] (or 0-255) as ``{"width", "height", "pixels"}`` with 0-255 integers."""
    a = np.asarray(image, dtype=np.float64)
    if a.size and a.max() > 1.0:
        a = a / 255.0
    pixels = np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    return {"width": int(a.shape[1]), "height": int(a.shape[0]), "pixels": pixels.ravel().tolist()}


def signed_map(values, shape=None):
    """Signed numbers (weights, terms) with their largest magnitude: the page draws red +, blue -."""
    v = np.asarray(values, dtype=np.float64)
    if shape is not None:
        v = v.reshape(shape)
    elif v.ndim == 1:
        v = v.reshape(1, -1)
    scale = float(np.max(np.abs(v))) if v.size else 0.0
    return {"width": int(v.shape[1]), "height": int(v.shape[0]), "values": [float(x) for x in v.ravel()],
            "scale": scale}


# -- an input ----------------------------------------------------------------------------------------
def drawing_image(drawing):
    """A drawing as sent (``{"width", "height", "pixels"}``, already validated) as a uint8 image."""
    return np.asarray(drawing["pixels"], dtype=np.uint8).reshape(drawing["height"], drawing["width"])


def drawing_steps(drawing):
    """The preprocessing steps of a drawing (``glassnet.preprocess``): ``[(name, array), ...]``."""
    image = drawing if isinstance(drawing, np.ndarray) else drawing_image(drawing)
    try:
        return to_mnist_steps(image, name="drawing")
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def steps_pictures(steps):
    descriptions = dict(STEPS)
    return [{"name": name, "description": descriptions.get(name, ""), "image": picture(a)} for name, a in steps]


def example(ws, data, source):
    """The input a request names: ``(x as 784 float32, true label or None)``."""
    if source.get("drawing") is not None:
        return drawing_steps(source["drawing"])[-1][1].reshape(-1), None
    index = source.get("test_index")
    if index is None:
        raise BadInput("expected a drawing or a test_index, received neither")
    if not 0 <= index < len(data.X_test):
        raise BadInput(f"test_index: expected 0 to {len(data.X_test) - 1}, received {index}")
    return np.asarray(data.X_test[index], dtype=np.float32), int(data.y_test[index])


# -- Draw ----------------------------------------------------------------------------------------
def predict(net, x, classes):
    """The library's prediction (``net.predict_proba`` and ``net.predict``, the one prediction path, in the
    network's dtype) and every neuron's value (float64, from each layer's own definition, as ``explain``
    computes them; the output's values are the network's outputs, the logits)."""
    X = x[None, :]
    probabilities = net.predict_proba(X)[0]
    prediction = int(net.predict(X)[0])
    values = forward_values(net, X)
    layers = [{"index": g, "name": layer_name(g, len(values)), "values": [float(v) for v in a[0]]}
              for g, (_z, a) in enumerate(values)]
    return {"prediction": prediction, "label": classes[prediction] if prediction < len(classes) else str(prediction),
            "probabilities": [float(p) for p in probabilities], "input": picture(x.reshape(SHAPE)),
            "layers": layers, "why": why(net, x)}


def why(net, x, top=3):
    """Why this digit, as ``explain`` computes it: the contribution map ``x * W_eff[winner]`` (its pixels add
    up to the winner's logit minus ``b_eff``), the contrast with the runner-up ``x * (W_eff[win] - W_eff[run])``,
    and the path of largest contributions to the winner: from the winner back to the input, each neuron's
    ``top`` largest positive terms (``explain``'s ``up`` terms). None for a network explain refuses."""
    try:
        e = explain(net, x, top=top)
    except ValueError:
        return None
    shape = e.image_shape
    w, r = e.prediction, e.runner_up
    contribution, contrast = e.maps["contribution"], e.maps["contribution_vs_runner_up"]
    return {"winner": w, "runner_up": r, "logits": e.logits.tolist(), "effective_bias": e.effective_bias.tolist(),
            "contribution": signed_map(contribution, shape), "contrast": signed_map(contrast, shape),
            "contribution_sum": float(contribution.sum()), "contrast_sum": float(contrast.sum()),
            "path": _path(e, w), "image_shape": list(shape) if shape else None}


def _path(e, winner):
    """The connections that carried the answer: ``[{"from": [layer, i], "to": [layer, j], "term"}]``, from the
    winning output back to the input, following each neuron's largest positive terms (``explain``'s trace)."""
    edges, frontier = [], [winner]
    for g in range(len(e.layers) - 1, 0, -1):
        below = []
        for j in frontier:
            for t in e.layers[g].neurons[j].up:
                edges.append({"from": [g - 1, t.input], "to": [g, j], "term": t.term})
                below.append(t.input)
        frontier = list(dict.fromkeys(below))
    return edges


def formulas(net, g):
    """The maths of array ``g``'s activation as the registry writes it: ``{"formula", "derivative_formula"}``,
    each activation's own class attributes (``"a = max(0, z)"``, ``"da/dz = 1 if z > 0 else 0"``), in the
    order applied and joined by ``"; then "``; for the output, the softmax (sigmoid) that follows outside the
    network too; the identity's when there is none (a dropout layer is off and changes nothing)."""
    groups = neuron_groups(net)
    chain = [net.layers[i] for i in groups[g][1] if isinstance(net.layers[i], Activation)]
    head = output_head(net) if g == len(groups) - 1 else None
    if head is not None:
        chain.append(head.layer)
    chain = chain or [activations.get("identity")]
    return {"formula": "; then ".join(f.formula for f in chain),
            "derivative_formula": "; then ".join(f.derivative_formula for f in chain)}


def applied(activation, argument):
    """``"softmax(tanh(z))"`` for ``activation`` ``"tanh → softmax"`` applied to ``"z"`` (dropout, off, is left out)."""
    for name in activation.split(" → "):
        if not name.startswith("dropout"):
            argument = f"{name}({argument})"
    return argument


def reads_every_z(net, g):
    """Whether array ``g``'s activation reads every ``z`` of the array (a softmax layer), not one at a time."""
    return not all(getattr(net.layers[i], "elementwise", True) for i in neuron_groups(net)[g][1])


def equation(trace, j, activation, whole_row=False):
    """Neuron ``j``'s value as one line: ``"a = relu(z) = relu(1.25) = 1.25"``, ``"p = softmax(z)_3 = 0.93"``
    (``activation``: the array's :func:`~glassnet.explain.shown_activation`; ``whole_row``: it reads every
    ``z`` of the array, as a softmax layer does, so only its ``j``-th value is written)."""
    a, z = float(trace.a[j]), float(trace.z[j])
    if trace.head is not None or whole_row:
        return f"{trace.symbol} = {applied(activation, 'z')}_{j} = {a:.4g}"
    return f"a = {applied(activation, 'z')} = {applied(activation, f'{z:.4g}')} = {a:.4g}"


def neuron(net, x, layer, j, top=8):
    """Neuron ``j`` of array ``layer``: ``z = sum_i w_i x_i + b`` term by term, its value, its weights.

    The value is ``a = f(z)`` with the layer's own ``f``; for the output of a network whose softmax follows
    outside it, the probability ``p = softmax(z)_j`` (``symbol`` ``"p"``, ``where`` ``"in the loss"`` or
    ``"in predict_proba"``). ``formula`` and ``derivative_formula``: the activation's own text (:func:`formulas`).
    Its strongest connections (:func:`connections`); for the output, every logit and probability.
    """
    traces, _ = trace_layers(net, x, neurons=False)
    trace = traces[layer]
    n = trace.neuron(j, top)
    W = trace.weights
    shape = SHAPE if layer == 1 and W.shape[1] == SHAPE[0] * SHAPE[1] else None
    activation = shown_activation(net, layer)
    return {**connections(traces, layer, j, top), **_output_numbers(traces, layer),
            "effective": _effective(net, x, layer, j),
            "layer": layer, "neuron": j, "name": trace.name, "activation": activation,
            "where": None if trace.head is None else trace.head.where, "symbol": trace.symbol,
            "equation": equation(trace, j, activation, reads_every_z(net, layer)), **formulas(net, layer),
            "n_neurons": trace.n,
            "z": n.z, "bias": n.bias, "a": n.a, "positive": n.positive, "negative": n.negative,
            "n_inputs": int(W.shape[1]),
            "top_up": [t.to_dict() for t in n.up], "top_down": [t.to_dict() for t in n.down],
            "weights": signed_map(W[j], shape), "terms": signed_map(W[j] * trace.inputs, shape)}


def connections(traces, layer, j, top=8):
    """Neuron ``j``'s strongest connections: ``incoming`` (from array ``layer - 1``) and ``outgoing`` (to array
    ``layer + 1``), each ``{"i", "j", "w", "term"}`` with ``term = w * a`` for this example, the ``top``
    largest ``|w * a|`` (then ``|w|``) first; an input pixel ``i`` also as ``"pixel": [row, col]``."""
    t = traces[layer]
    pixels = layer == 1 and t.weights.shape[1] == SHAPE[0] * SHAPE[1]
    w_in, terms_in = t.weights[j], t.weights[j] * t.inputs
    incoming = [{"i": int(i), "j": j, "w": float(w_in[i]), "term": float(terms_in[i]),
                 **({"pixel": [int(i) // SHAPE[1], int(i) % SHAPE[1]]} if pixels else {})}
                for i in np.lexsort((-np.abs(w_in), -np.abs(terms_in)))[:top]]
    outgoing = []
    if layer + 1 < len(traces):
        after = traces[layer + 1]
        w_out = after.weights[:, j]
        terms_out = w_out * after.inputs[j]
        outgoing = [{"i": j, "j": int(k), "w": float(w_out[k]), "term": float(terms_out[k])}
                    for k in np.lexsort((-np.abs(w_out), -np.abs(terms_out)))[:top]]
    return {"incoming": incoming, "outgoing": outgoing}


def _effective(net, x, layer, j):
    """What drives neuron ``j`` of a deeper array, one weight per pixel for this example: its effective input
    weights ``W_eff[j]`` (``explain.effective_affine``: ``z_j = W_eff[j] @ x + b_eff[j]``) and ``x * W_eff[j]``;
    None for the first layer (its own weights are that) or an input that is not a picture."""
    if layer == 1 or net.n_features != SHAPE[0] * SHAPE[1]:
        return None
    W, b = effective_affine(net, x, layer=layer)
    return {"weights": signed_map(W[j], SHAPE), "terms": signed_map(x * W[j], SHAPE), "bias": float(b[j])}


def _output_numbers(traces, layer):
    """For the output: every class's logit ``z`` and softmax probability ``p`` (explain's trace), else nothing."""
    t = traces[layer]
    if layer != len(traces) - 1:
        return {}
    return {"logits": t.z.tolist(), "probabilities": t.a.tolist()}


def drivers(net, data, layer, j, count=6):
    """The test images that excite neuron ``j`` of array ``layer`` most: its value ``a`` (explain's float64
    forward pass over the test set), largest first, with their label."""
    X = np.asarray(data.X_test, dtype=np.float64)
    a = forward_values(net, X)[layer][1][:, j]
    order = np.argsort(-a, kind="stable")[:count]
    shape = SHAPE if X.shape[1] == SHAPE[0] * SHAPE[1] else None
    return [{"test_index": int(i), "label": int(data.y_test[i]), "a": float(a[i]),
             "image": picture(X[i].reshape(shape)) if shape else None} for i in order]


# -- Inside ----------------------------------------------------------------------------------------
def inside(net, x, layer, j, label=None, lr=0.1):
    """The forward maths of every layer (all neurons' z, b, a; neuron ``j`` of ``layer`` term by term),
    the softmax steps, and with a label one backward step (``delta``, ``db``, one row of ``dW``).

    The output's ``a`` are the probabilities (the softmax in the network, in the loss or in ``predict_proba``).
    Each layer says its activation's ``formula`` and ``derivative_formula`` (:func:`formulas`), the backward
    step its loss's ``loss_formula`` and ``gradient_formula``: the registry's text.
    """
    traces, _ = trace_layers(net, x, neurons=False)
    forward = []
    for t in traces[1:]:
        entry = {"index": t.index, "name": t.name, "activation": shown_activation(net, t.index),
                 **formulas(net, t.index), "symbol": t.symbol, "x": t.inputs.tolist(), "z": t.z.tolist(),
                 "bias": t.bias.tolist(), "a": t.a.tolist()}
        if t.index == layer:
            W = t.weights
            entry["neuron"] = {"j": j, "weights": W[j].tolist(), "terms": (W[j] * t.inputs).tolist(),
                               "sum": float(W[j] @ t.inputs), "z": float(t.z[j]), "bias": float(t.bias[j]),
                               "a": float(t.a[j]),
                               "equation": equation(t, j, entry["activation"], reads_every_z(net, t.index))}
        forward.append(entry)
    backward = None if label is None else _backward(net, x, layer, j, label, lr)
    return {"forward": forward, "softmax": _softmax_steps(net, traces[-1]), "backward": backward}


def _softmax_steps(net, output):
    """From what the output's softmax reads to the probabilities step by step: shift by the largest, exp,
    divide by the sum; None when the output's probabilities do not come from a softmax (one sigmoid output).

    The softmax reads the logits ``z`` when it follows the last Dense layer directly (in the network, in
    the loss or in ``predict_proba``), else what the activations before it make of them (``"tanh(z)"``
    for ``tanh → softmax``): ``reads`` names it, ``inputs`` are its values. The steps are for reading;
    the probabilities are the output's own (its softmax's ``function``).
    """
    acts = [net.layers[i] for i in neuron_groups(net)[-1][1]]
    head = output_head(net)
    final, before = (head.layer, acts) if head is not None else (acts[-1], acts[:-1])
    if final.name != "softmax":
        return None
    inputs = activate(before, output.z)
    reads = "z"
    for layer in before:
        if isinstance(layer, Activation):
            reads = f"{layer.name}({reads})"
    shifted = inputs - inputs.max()
    e = np.exp(shifted)
    return {"reads": reads, "inputs": inputs.tolist(), "logits": output.z.tolist(), "max": float(inputs.max()),
            "shifted": shifted.tolist(), "exp": e.tolist(), "sum": float(e.sum()),
            "probabilities": output.a.tolist()}


def _backward(net, x, layer, j, label, lr):
    """One SGD step on ``x`` with its ``label`` as ranked nudges (``explain.nudges``, from ``explain_step``'s
    numbers), going backwards from the loss: the outputs' moves, per array of neurons every ``delta`` and
    ``db``, the neurons to push up or down and the weights that change most (their pixel as ``(row, col)``
    on a first layer), one row of ``dW`` (neuron ``j`` of ``layer``, else the largest ``|delta|``) for the
    folded table; and the step's effect on this example: ``loss_before``, ``loss_after`` (recomputed).

    With the loss as the registry defines it (``loss_name``, ``loss_formula``, ``gradient_formula``),
    ``values`` (what the loss turns into a number: the probabilities when it applies the softmax itself,
    ``head``, else the outputs) and ``output_delta``, the loss's gradient at the outputs it reads.
    """
    try:
        n = nudges(net, x.astype(np.float64), int(label), lr=lr, top=10)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    loss = losses.get(n.loss_name)
    out = n.to_dict()
    shape = SHAPE if net.n_features == SHAPE[0] * SHAPE[1] else None
    for entry, ranked in zip(out["layers"], n.layers):
        row = j if ranked.index == layer else int(np.argmax(np.abs(ranked.delta)))
        entry["derivative_formula"] = formulas(net, ranked.index)["derivative_formula"]
        entry["row_neuron"] = row
        entry["dW_row"] = ranked.dW[row].tolist()
        entry["x"] = (x if ranked.index == 1 else ranked_inputs(net, x, ranked.index)).tolist()
    if shape is not None:                                 # the picture the top weights' pixels are marked on
        out["input"] = picture(np.clip(x.reshape(shape), 0, 1))
    values = [o for o in sorted(n.outputs, key=lambda o: o.k)]
    out.update({"loss": n.loss_before, "loss_formula": loss.formula, "gradient_formula": loss.gradient_formula,
                "values": [o.value for o in values], "output_delta": [o.delta for o in values]})
    return out


def ranked_inputs(net, x, g):
    """What array ``g`` of neurons reads for ``x``: the values of array ``g - 1`` (explain's float64 pass)."""
    return forward_values(net, x[None, :])[g - 1][1][0]


# -- Evaluate --------------------------------------------------------------------------------------
def evaluate(net, data):
    """Test loss and accuracy, the confusion matrix (rows: true class) and per-class accuracy
    (``glassnet.metrics`` on ``net.predict``)."""
    n_classes = len(data.classes)
    predicted = net.predict(data.X_test)
    confusion = confusion_matrix(data.y_test, predicted, n_classes)
    loss, accuracy = net.evaluate(data.X_test, data.y_test)
    classes = [{"class": data.classes[r["class"]], "n": r["support"], "accuracy": r["accuracy"]}
               for r in per_class(data.y_test, predicted, n_classes)]
    return {"accuracy": float(accuracy), "loss": float(loss), "n": int(len(data.y_test)),
            "classes": list(data.classes), "confusion": confusion.tolist(), "per_class": classes}


def _items(data, probabilities, indices):
    predicted = np.argmax(probabilities, axis=1)
    return [{"test_index": int(i), "label": int(data.y_test[i]), "prediction": int(predicted[i]),
             "confidence": float(probabilities[i, predicted[i]]),
             "image": picture(np.asarray(data.X_test[i]).reshape(SHAPE))} for i in indices]


def cell(net, data, true, predicted, limit):
    """The test images of one confusion-matrix cell, most confident first."""
    n_classes = len(data.classes)
    for name, value in (("true", true), ("predicted", predicted)):
        if not 0 <= value < n_classes:
            raise BadInput(f"{name}: expected a class 0 to {n_classes - 1}, received {value}")
    probabilities = net.predict_proba(data.X_test)
    guess = np.argmax(probabilities, axis=1)
    idx = np.flatnonzero((data.y_test == true) & (guess == predicted))
    idx = idx[np.argsort(-probabilities[idx, predicted], kind="stable")]
    return {"items": _items(data, probabilities, idx[:limit]), "count": int(len(idx))}


def mistakes(net, data, limit):
    """The wrong predictions the network was surest of."""
    probabilities = net.predict_proba(data.X_test)
    guess = np.argmax(probabilities, axis=1)
    idx = np.flatnonzero(guess != data.y_test)
    idx = idx[np.argsort(-probabilities[idx, guess[idx]], kind="stable")]
    return {"items": _items(data, probabilities, idx[:limit]), "count": int(len(idx))}


def descent_examples(data, seed=0, n=256):
    """The ``n`` training examples the descent lab computes its loss on (the seed picks them, as for
    ``glassnet descent``)."""
    return lab_examples(data.X_train, data.y_train, seed, n)


_PATH_KEYS = ("label", "lr", "losses", "verdict", "kind", "steps_to_bottom", "progress", "as_labelled", "curve",
              "weights", "distances", "alphas", "betas")


def descent(net, data, seed=0, n=256, space="weight"):
    """The descent lab on ``n`` training examples: gradient descent with a step too small, about right and
    too big in one slice: ``"weight"`` (one weight, with the finite-difference check of its slope),
    ``"gradient"`` (all the weights along the gradient: the direction training takes) or ``"plane"``."""
    X, y = descent_examples(data, seed, n)
    lab = {"weight": descend_weight, "gradient": descend_gradient,
           "plane": lambda *a: descend_plane(*a, seed=seed, grid=15)}[space](net, X, y)
    out = {"space": space, "loss0": lab["loss0"], "curvature": lab["curvature"], "bottom": lab["bottom"],
           "rule": lab["rule"], "note": lab["note"], "labels_hold": lab["labels_hold"], "examples": int(len(X)),
           "paths": [{k: p[k] for k in _PATH_KEYS if k in p} for p in lab["paths"]]}
    if space == "weight":
        fd = finite_difference(net, X, y, param=lab["param"], index=tuple(lab["index"]))
        out.update({"param": lab["param"], "index": list(lab["index"]), "layer": lab.get("layer"), "w0": lab["w0"],
                    "slope": lab["slope"], "curve": lab["curve"],
                    "finite_difference": {k: fd[k] for k in ("h", "loss_plus", "loss_minus", "slope", "backprop",
                                                             "abs_error", "rel_error") if k in fd}})
    elif space == "gradient":
        out.update({"gradient_norm": lab["gradient_norm"], "line_search": lab["line_search"], "curve": lab["curve"]})
    else:
        out.update({"surface": lab["surface"], "minimum": lab["minimum"]})
    return out


# -- Train: the diagnostics ---------------------------------------------------------------------------
TITLES = {"loss_exploding": "The loss is exploding", "loss_flat": "The loss is not falling",
          "overfitting": "It memorises instead of learning", "dead_neurons": "Dead neurons"}


def diagnose(source, net=None, data=None, diverged=None, max_samples=1000):
    """The training's problems as plain sentences with their fix: ``glassnet.diagnostics.diagnose`` (the
    one definition of each rule), worded for the app. ``source`` is a workspace (its history, a copy of
    its network, its data and a divergence of its last run) or a history (with ``net`` and ``data``
    optional). Returns ``[{"name", "title", "sentence", "fix", "evidence"}]``, empty when healthy or
    before the first epoch. Fine-tuning records (no training loss) are left out."""
    if hasattr(source, "history") and hasattr(source, "net"):
        records, net, data = list(source.history), source.net.copy(), source.data()
        job = source.job
        diverged = getattr(job, "diverged", None) if job is not None and job.kind == "train" else None
    else:
        records = getattr(source, "epochs", None) or list(source or [])
    records = [r for r in records if r.get("loss") is not None]
    if not records and diverged is None:
        return []
    X = validation = None
    if net is not None and data is not None:
        X = data.X_train
        rows = np.unique(np.linspace(0, len(data.X_test) - 1, min(2000, len(data.X_test))).round().astype(int))
        validation = (data.X_test[rows], data.y_test[rows])
    with np.errstate(all="ignore"):
        findings = run_diagnostics(records, net if X is not None else None, X, diverged=diverged,
                                   validation=validation, max_samples=max_samples, audience="app")
    return [{"name": f.name, "title": TITLES.get(f.name, f.name), "sentence": _sentence(f.message),
             "fix": "Try this: " + _sentence(f.fix), "evidence": f.to_dict()["evidence"]} for f in findings]


def _sentence(text):
    text = text.replace("->", "→").strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
