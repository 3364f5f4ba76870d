"""The training examples nearest to a sample, in every layer's representation ("your digit looks like these").

What it is: :class:`Reference`, the training set run once through the network's traced forward pass
(``explain.forward``, float64), and its look-up of the nearest examples per layer: all classes, the
predicted class and the true one. The output layer is compared on the network's own outputs (the
logits when the softmax is in the loss).

What it is not: a classifier (the votes are shown, never used to predict) or an index for big sets
(distances are computed in full, chunk by chunk).
"""

import numpy as np

from .._validation import check_X, describe
from .forward import forward_values
from .trace import layer_name

_REFERENCE_CHUNK = 2048          # samples per forward pass over the reference set


def reference_pair(reference):
    """``(X_train, y_train)`` as given to ``explain(reference=...)``, or an error naming what it received."""
    if not isinstance(reference, (tuple, list)) or len(reference) != 2:
        raise TypeError(f"explain: reference expected a pair (X_train, y_train) or a Reference, received "
                        f"{describe(reference)}")
    return reference


class Reference:
    """Training examples and their representation in every layer, for nearest-neighbour look-ups.

    Build once and pass to several :func:`~glassnet.explain.explain` calls: ``Reference(net, X_train, y_train)``.
    """

    def __init__(self, net, X, y):
        X = check_X(X, net.n_features, name="reference X", dtype=np.float64)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X) or y.dtype.kind not in "iu":
            raise ValueError(f"explain: reference y expected {len(X)} integer labels (shape ({len(X)},)), "
                             f"received {describe(y)}")
        self.net, self.y = net, y.astype(np.int64)
        chunks = [forward_values(net, X[s:s + _REFERENCE_CHUNK]) for s in range(0, len(X), _REFERENCE_CHUNK)]
        self.representations = [np.concatenate([c[g][1] for c in chunks]) for g in range(len(chunks[0]))]

    def __len__(self):
        return len(self.y)

    def nearest(self, values, prediction, label, k):
        """Per layer: the ``k`` nearest examples, their label votes, and the nearest of the predicted/true class.

        ``values`` are the sample's ``forward_values``.
        """
        result = []
        for g, (R, (_, a)) in enumerate(zip(self.representations, values)):
            distance = np.sqrt(np.sum((R - a[0]) ** 2, axis=1))
            entry = {"layer": layer_name(g, len(values)), "nearest": self._listing(distance, np.arange(len(R)), k)}
            entry["votes"] = {str(c): int(n) for c, n in
                              zip(*np.unique([e["label"] for e in entry["nearest"]], return_counts=True))}
            entry["predicted_class"] = self._listing(distance, np.flatnonzero(self.y == prediction), k)
            if label is not None:
                entry["true_class"] = self._listing(distance, np.flatnonzero(self.y == label), k)
            result.append(entry)
        return result

    def _listing(self, distance, candidates, k):
        order = candidates[np.argsort(distance[candidates], kind="stable")[:k]]
        return [{"index": int(i), "label": int(self.y[i]), "distance": float(distance[i])} for i in order]


__all__ = ["Reference", "reference_pair"]
