"""What each view of the app shows, computed from the library (``glassnet.explain``, ``descent``...).

Plain functions from a network, an input and a dataset to JSON-ready dicts; the server only adds
HTTP around them. Pictures go out as ``{"width", "height", "pixels"}`` (0-255, 255 = ink) and signed
maps (weights, contributions) as ``{"width", "height", "values", "scale"}`` for the page to draw.
"""

import numpy as np

from ..descent import descend_weight, finite_difference
from ..explain import (
    _neuron_traces,
    _probabilities,
    activation_name,
    explain_step,
    forward_values,
    logits_index,
    neuron_groups,
)
from ..preprocess import STEPS, to_mnist_steps
from .workspace import AppError

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
        raise AppError(422, str(exc)) from None


def steps_pictures(steps):
    descriptions = dict(STEPS)
    return [{"name": name, "description": descriptions.get(name, ""), "image": picture(a)} for name, a in steps]


def example(ws, data, source):
    """The input a request names: ``(x as 784 float32, true label or None)``."""
    if source.get("drawing") is not None:
        return drawing_steps(source["drawing"])[-1][1].reshape(-1), None
    index = source.get("test_index")
    if index is None:
        raise AppError(422, "expected a drawing or a test_index, received neither")
    if not 0 <= index < len(data.X_test):
        raise AppError(422, f"test_index: expected 0 to {len(data.X_test) - 1}, received {index}")
    return np.asarray(data.X_test[index], dtype=np.float32), int(data.y_test[index])


# -- Draw ----------------------------------------------------------------------------------------
def predict(net, x, classes):
    """Every neuron's value (as ``explain`` computes them, in float64) and the ten probabilities."""
    values = forward_values(net, x[None, :])
    probabilities = _probabilities(net, values[-1][1])[0]
    prediction = int(np.argmax(probabilities)) if len(probabilities) > 1 else int(probabilities[0] >= 0.5)
    groups = neuron_groups(net)
    layers = []
    for g, (_z, a) in enumerate(values):
        name = "input" if g == 0 else "output" if g == len(groups) - 1 else f"hidden {g}"
        layers.append({"index": g, "name": name, "values": [float(v) for v in a[0]]})
    return {"prediction": prediction, "label": classes[prediction] if prediction < len(classes) else str(prediction),
            "probabilities": [float(p) for p in probabilities], "input": picture(x.reshape(SHAPE)),
            "layers": layers}


def neuron(net, x, layer, j, top=8):
    """Neuron ``j`` of array ``layer``: ``z = sum_i w_i x_i + b`` term by term, ``a = f(z)``, its weights."""
    groups = neuron_groups(net)
    values = forward_values(net, x[None, :])
    dense = net.layers[groups[layer][0]]
    W = dense.params["weights"].astype(np.float64)
    b = dense.params["biases"].astype(np.float64)
    x_prev = values[layer - 1][1][0]
    z, a = values[layer][0][0], values[layer][1][0]
    trace = _neuron_traces(W[j:j + 1], b[j:j + 1], x_prev, z[j:j + 1], a[j:j + 1], top)[0]
    shape = SHAPE if layer == 1 and W.shape[1] == SHAPE[0] * SHAPE[1] else None
    acts = [activation_name(net.layers[i]) for i in groups[layer][1]]
    name = "output" if layer == len(groups) - 1 else f"hidden {layer}"
    return {"layer": layer, "neuron": j, "name": name, "activation": " → ".join(acts) or "identity",
            "z": trace.z, "bias": trace.bias, "a": trace.a, "positive": trace.positive, "negative": trace.negative,
            "n_inputs": int(W.shape[1]),
            "top_up": [t.to_dict() for t in trace.up], "top_down": [t.to_dict() for t in trace.down],
            "weights": signed_map(W[j], shape), "terms": signed_map(W[j] * x_prev, shape)}


# -- Inside ----------------------------------------------------------------------------------------
def inside(net, x, layer, j, label=None, lr=0.1):
    """The forward maths of every layer (all neurons' z, b, a; neuron ``j`` of ``layer`` term by term),
    the softmax steps, and with a label one backward step (``delta``, ``db``, one row of ``dW``)."""
    groups = neuron_groups(net)
    values = forward_values(net, x[None, :])
    forward = []
    for g in range(1, len(groups)):
        dense, acts = groups[g]
        W = net.layers[dense].params["weights"].astype(np.float64)
        b = net.layers[dense].params["biases"].astype(np.float64)
        x_prev = values[g - 1][1][0]
        entry = {"index": g, "name": "output" if g == len(groups) - 1 else f"hidden {g}",
                 "activation": " → ".join(activation_name(net.layers[i]) for i in acts) or "identity",
                 "x": x_prev.tolist(), "z": values[g][0][0].tolist(), "bias": b.tolist(), "a": values[g][1][0].tolist()}
        if g == layer:
            entry["neuron"] = {"j": j, "weights": W[j].tolist(), "terms": (W[j] * x_prev).tolist(),
                               "sum": float(W[j] @ x_prev), "z": float(values[g][0][0][j]), "bias": float(b[j]),
                               "a": float(values[g][1][0][j])}
        forward.append(entry)
    logits = values[logits_index(net)][0][0]
    shifted = logits - logits.max()
    e = np.exp(shifted)
    softmax = {"logits": logits.tolist(), "max": float(logits.max()), "shifted": shifted.tolist(),
               "exp": e.tolist(), "sum": float(e.sum()), "probabilities": (e / e.sum()).tolist()}
    backward = None
    if label is not None:
        step = explain_step(net, x[None, :].astype(np.float64), [label], lr=lr)
        layers = []
        for g, s in enumerate(step.layers, start=1):
            delta = s.delta[0]
            row = j if g == layer else int(np.argmax(np.abs(delta)))
            layers.append({"index": g, "delta": delta.tolist(), "db": s.db.tolist(), "row_neuron": row,
                           "dW_row": s.dW[row].tolist(), "update_row": s.update_W[row].tolist()})
        backward = {"label": int(label), "loss": float(step.loss), "lr": float(lr),
                    "output_delta": step.output_delta[0].tolist(), "layers": layers}
    return {"forward": forward, "softmax": softmax, "backward": backward}


# -- Evaluate --------------------------------------------------------------------------------------
def evaluate(net, data):
    """Test loss and accuracy, the confusion matrix (rows: true class) and per-class accuracy."""
    n_classes = len(data.classes)
    probabilities = net.predict_proba(data.X_test)
    predicted = np.argmax(probabilities, axis=1)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (data.y_test, predicted), 1)
    loss, accuracy = net.evaluate(data.X_test, data.y_test)
    per_class = [{"class": data.classes[c], "n": int(confusion[c].sum()),
                  "accuracy": float(confusion[c, c] / confusion[c].sum()) if confusion[c].sum() else None}
                 for c in range(n_classes)]
    return {"accuracy": float(accuracy), "loss": float(loss), "n": int(len(data.y_test)),
            "classes": list(data.classes), "confusion": confusion.tolist(), "per_class": per_class}


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
            raise AppError(422, f"{name}: expected a class 0 to {n_classes - 1}, received {value}")
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


def descent(net, data, seed=0, n=256):
    """The descent lab on ``n`` training examples: gradient descent along one weight with a step too
    small, about right and too big, and the finite-difference check of that weight's slope."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(data.X_train), size=min(n, len(data.X_train)), replace=False))
    X, y = np.asarray(data.X_train[idx]), np.asarray(data.y_train[idx])
    lab = descend_weight(net, X, y)
    fd = finite_difference(net, X, y, param=lab["param"], index=tuple(lab["index"]))
    paths = [{"label": p["label"], "lr": p["lr"], "weights": p["weights"], "losses": p["losses"],
              "verdict": p["verdict"]} for p in lab["paths"]]
    return {"param": lab["param"], "index": list(lab["index"]), "layer": lab.get("layer"), "w0": lab["w0"],
            "loss0": lab["loss0"], "slope": lab["slope"], "curvature": lab["curvature"], "rule": lab["rule"],
            "curve": lab["curve"], "paths": paths, "examples": int(len(idx)),
            "finite_difference": {k: fd[k] for k in ("h", "loss_plus", "loss_minus", "slope", "backprop",
                                                     "abs_error", "rel_error") if k in fd}}
