"""How good a classifier's answers are: accuracy, the confusion matrix and results per class.

Every metric takes two arrays of integer class labels, the true ones and the predicted ones
(one per sample: ``net.predict(X)`` gives the second), and is defined once, here; the CLI, the
HTML report, the plots and the app all call these functions.

What this module is not: a loss (losses are differentiable and read the network's outputs: see
``glassnet.losses``), nor metrics for regression or for probabilities (log-loss, ROC curves).
It needs only NumPy.
"""

import numpy as np
from numpy.typing import ArrayLike

from ._validation import describe


def labels(y: ArrayLike, name: str = "y") -> np.ndarray:
    """``y`` as a 1-D ``int64`` array of class labels (``>= 0``), or an error naming ``name``.

    Whole numbers stored as floats (``1.0``) are accepted; ``0.5`` is not.

    Example:
        >>> labels([0, 2.0, 1]).tolist()
        [0, 2, 1]
    """
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.dtype.kind not in "iubf" or len(arr) == 0:
        shown = describe(y) if arr.ndim == 0 else f"shape {arr.shape} dtype {arr.dtype}"
        raise ValueError(f"{name} expected a non-empty 1-D array of integer class labels, received {shown}")
    if arr.dtype.kind == "f":
        whole = np.isfinite(arr) & (arr == np.round(arr))
        if not whole.all():
            raise ValueError(f"{name} expected integer class labels, received non-integer values "
                             f"such as {arr[~whole][0].item()!r}")
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ValueError(f"{name} expected class labels >= 0, received {arr.min().item()}")
    return arr


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Both label arrays, checked, of the same length."""
    y_true, y_pred = labels(y_true, "y_true"), labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred expected the same length, received {len(y_true)} and {len(y_pred)}")
    return y_true, y_pred


def _n_classes(y_true, y_pred, n_classes):
    """``n_classes`` checked against the labels, or (when ``None``) the largest label + 1."""
    largest = max(int(y_true.max()), int(y_pred.max()))
    if n_classes is None:
        return largest + 1
    if isinstance(n_classes, (bool, np.bool_)) or not isinstance(n_classes, (int, np.integer)):
        raise TypeError(f"n_classes expected a positive int, received {describe(n_classes)}")
    if n_classes < 1:
        raise ValueError(f"n_classes expected a positive int, received {n_classes!r}")
    if largest >= n_classes:
        raise ValueError(f"y_true and y_pred expected labels in [0, {n_classes - 1}] for n_classes={n_classes}, "
                         f"received a label {largest}")
    return int(n_classes)


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """The share of samples whose predicted label is the true one, in ``[0, 1]``.

    Example:
        >>> accuracy([0, 1, 1, 2], [0, 0, 1, 2])
        0.75
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int | None = None) -> np.ndarray:
    """``C[i, j]``: how many samples of true class ``i`` were predicted as class ``j``.

    Rows are the true class, columns the predicted class; the diagonal holds the right answers,
    ``C.sum()`` is the number of samples. ``n_classes`` defaults to the largest label + 1.

    Shapes: ``y_true``, ``y_pred``: ``(n_samples,)``; returns ``(n_classes, n_classes)`` int64.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 0, 1]).tolist()
        [[1, 0], [1, 1]]
        >>> confusion_matrix([0, 1], [0, 1], n_classes=3).tolist()
        [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    """
    y_true, y_pred = _pair(y_true, y_pred)
    n = _n_classes(y_true, y_pred, n_classes)
    C = np.zeros((n, n), dtype=np.int64)
    np.add.at(C, (y_true, y_pred), 1)          # one count per (true, predicted) pair
    return C


def per_class(y_true, y_pred, n_classes=None):
    """One dict per class ``c``: how often it was there and how often it was right.

    - ``support``: samples whose true class is ``c``; ``correct``: those predicted as ``c``;
    - ``recall`` (also under ``accuracy``: the class's accuracy) = ``correct / support``;
    - ``precision`` = ``correct / (samples predicted as c)``.

    A ratio whose denominator is 0 is ``None`` (not NaN), so the result can be written as JSON.

    Example:
        >>> per_class([0, 1, 1], [0, 0, 1])[0]
        {'class': 0, 'support': 1, 'correct': 1, 'accuracy': 1.0, 'recall': 1.0, 'precision': 0.5}
    """
    C = confusion_matrix(y_true, y_pred, n_classes)
    rows = []
    for c in range(len(C)):
        support, correct, predicted = int(C[c].sum()), int(C[c, c]), int(C[:, c].sum())
        recall = correct / support if support else None
        rows.append({"class": c, "support": support, "correct": correct, "accuracy": recall, "recall": recall,
                     "precision": correct / predicted if predicted else None})
    return rows


__all__ = ["accuracy", "confusion_matrix", "labels", "per_class"]
