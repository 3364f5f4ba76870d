"""What the Train view shows while a network learns: its first-layer weights as pictures and a fixed
gallery of test images with the network's current answers, read from a copy of the latest weights.

A training thread changes the weights in place between mini-batches; these functions read a copy
(``Network.copy``), so a prediction here never touches the layers' caches that the training's
backward pass reads. Only image datasets have pictures: for others the answer says so (``None``).
Not here: the diagnostics (``analysis.diagnose``), HTTP (``routes/train.py``).
"""

import numpy as np

from ..explain import layer_name, neuron_groups
from .analysis import picture

GALLERY_SEED = 0                   # the gallery's test images: the same ones at every refresh


def filters(net, shape, limit):
    """The first ``limit`` neurons of the first layer: each one's incoming weights as a signed picture.

    Returns ``{"layer", "name", "neurons", "shown", "items": [{"neuron", "largest", "picture"}]}``, or
    None when the inputs are not an image. Values go out as integers -127..127 of the neuron's largest
    |w| (``scale`` 127), which the page draws red (+) and blue (-)."""
    if len(shape) != 2:
        return None
    groups = neuron_groups(net)
    dense = net.layers[groups[1][0]]
    W = np.asarray(dense.params["weights"], dtype=np.float64)
    items = []
    for j in range(min(limit, W.shape[0])):
        w = W[j]
        top = float(np.max(np.abs(w))) if np.all(np.isfinite(w)) else 0.0
        values = np.rint(127 * w / top).astype(int) if top > 0 else np.zeros(w.shape, dtype=int)
        items.append({"neuron": j, "largest": top,
                      "picture": {"width": int(shape[1]), "height": int(shape[0]),
                                  "values": values.tolist(), "scale": 127}})
    return {"layer": 1, "name": layer_name(1, len(groups)), "neurons": int(W.shape[0]), "shown": len(items),
            "items": items}


def gallery_rows(data, size):
    """The test images of the gallery: ``size`` of them, drawn once with a fixed seed, in order."""
    n = len(data.X_test)
    rng = np.random.default_rng(GALLERY_SEED)
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def gallery(net, data, size, images=True):
    """The network's current answer on the gallery's test images (``net.predict_proba``, as Evaluate).

    Returns ``{"n", "correct", "items": [{"test_index", "label", "prediction", "confidence", "correct",
    "image"?}]}``; images are left out with ``images=False`` (the page keeps them from the first answer).
    """
    rows = gallery_rows(data, size)
    with np.errstate(all="ignore"):
        probabilities = net.predict_proba(data.X_test[rows])
    guess = np.argmax(probabilities, axis=1)
    items = []
    for k, i in enumerate(rows):
        item = {"test_index": int(i), "label": int(data.y_test[i]), "prediction": int(guess[k]),
                "confidence": float(probabilities[k, guess[k]]), "correct": bool(guess[k] == data.y_test[i])}
        if images and len(data.shape) == 2:
            item["image"] = picture(np.asarray(data.X_test[i]).reshape(data.shape))
        items.append(item)
    return {"n": len(items), "correct": int(sum(item["correct"] for item in items)), "items": items}


def test_score(net, data):
    """``{"loss", "accuracy"}`` on the whole test set (``net.evaluate``: the numbers Evaluate shows)."""
    with np.errstate(all="ignore"):
        loss, accuracy = net.evaluate(data.X_test, data.y_test)
    return {"loss": float(loss), "accuracy": float(accuracy)}
