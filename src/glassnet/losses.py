"""Losses: one number that says how wrong the network's outputs are.

Training makes this number small. Each loss is a small object with ``value`` (the
mean over the samples of the batch) and ``gradient`` (``dL/d(output)``, already
divided by the number of samples, ready for backpropagation).

Classification losses take *logits* (scores before softmax / sigmoid) and are computed
with log-sum-exp, never ``log(p + eps)``: exact, and finite for any finite logits.
Targets are integer labels ``(n_samples,)`` or one-hot rows ``(n_samples, n_classes)``.

Each loss is defined once, in its class: its ``name``, its ``formula`` and ``gradient_formula`` as
text (the app's maths), ``value`` and ``gradient`` (the textbook lines; ``CrossEntropy`` adds the fused
fast path beside them); :data:`LOSSES` and :func:`names` list them for the CLI and the estimators.

Not here: weighted classes, label smoothing, ranking or contrastive losses.
"""

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._validation import check_targets
from .activations import Activation, Sigmoid, Softmax, row_max, sigmoid, softmax


def one_hot(labels: np.ndarray, n_classes: int, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Rows with a single 1 at each label: ``T[n, y_n] = 1``."""
    T = np.zeros((len(labels), n_classes), dtype=dtype)
    T[np.arange(len(labels)), labels] = 1
    return T


def _as_matrix(y, out):
    """Targets as a matrix shaped like ``out`` (labels become one-hot rows)."""
    y = np.asarray(y)
    if y.ndim == 1 and out.shape[1] > 1:
        return one_hot(y.astype(np.int64), out.shape[1], out.dtype)
    return y.reshape(out.shape).astype(out.dtype, copy=False)


class Loss:
    """Base class: ``value(out, y)`` and ``gradient(out, y)``.

    ``fused_head`` names an output layer (Softmax, Sigmoid) that the loss includes itself,
    so a network ending in that layer hands the loss the logits before it.
    """

    name = "loss"
    fused_head: type[Activation] | None = None
    formula = ""              # L as text, for the app's maths and the docs
    gradient_formula = ""     # dL/d(output) as text

    def value(self, out: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, out: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def value_and_gradient(self, out: np.ndarray, y: np.ndarray,
                           grad_out: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """``(value, gradient)`` in one go; the training loop calls this.

        Subclasses may fuse the two (sharing work) and write the gradient into ``grad_out``
        (an array shaped like ``out``, reused across batches); this default just calls both.
        """
        return self.value(out, y), self.gradient(out, y)

    def prepare_targets(self, y: ArrayLike, n_samples: int, n_outputs: int) -> tuple[np.ndarray, bool]:
        """Validate the targets this loss takes; returns ``(targets, are_class_labels)``.

        The default (MSE and any loss that does not say otherwise): class labels when ``y`` is 1-D
        and there are several outputs (compared with one-hot rows), otherwise real values.
        """
        if np.ndim(y) == 1 and n_outputs > 1:
            return check_targets(y, n_samples, n_outputs, kind="labels"), True
        return check_targets(y, n_samples, n_outputs, kind="values"), False

    def __call__(self, out: np.ndarray, y: np.ndarray) -> float:
        return self.value(out, y)

    def __repr__(self):
        return f"{type(self).__name__}()"


class MeanSquaredError(Loss):
    """``L = mean over samples and outputs of (a - t)^2``; ``dL/da = 2 (a - t) / (n k)``.

    Example:
        >>> MeanSquaredError().value(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]))
        0.5
    """

    name = "mse"
    formula = "L = mean over samples and outputs of (a - t)^2"
    gradient_formula = "dL/da = 2 (a - t) / (n k)"

    def value(self, out: np.ndarray, y: np.ndarray) -> float:
        diff = out - _as_matrix(y, out)
        return float(np.mean(diff * diff))

    def gradient(self, out: np.ndarray, y: np.ndarray) -> np.ndarray:
        diff = out - _as_matrix(y, out)
        return diff * out.dtype.type(2.0 / diff.size)


class CrossEntropy(Loss):
    """Softmax cross-entropy from logits: ``L = mean_n [logsumexp(z_n) - z_n[y_n]]``.

    Gradient (softmax fused): ``dL/dz = (softmax(z) - onehot(y)) / n``.

    Example:
        >>> round(CrossEntropy().value(np.array([[0.0, 0.0]]), np.array([1])), 6)
        0.693147
    """

    name = "cross_entropy"
    fused_head = Softmax
    formula = "L = mean_n [log sum_k exp(z_nk) - z_n,y_n]  (softmax cross-entropy from the logits z)"
    gradient_formula = "dL/dz = (softmax(z) - onehot(y)) / n"

    def value(self, out: np.ndarray, y: np.ndarray) -> float:
        z = out - out.max(axis=1, keepdims=True)            # shift: exp never overflows
        log_sum_exp = np.log(np.exp(z).sum(axis=1))
        y = np.asarray(y)
        if y.ndim == 1:
            picked = z[np.arange(len(z)), y.astype(np.int64)]
        else:
            picked = (z * _as_matrix(y, out)).sum(axis=1)
        return float(np.mean(log_sum_exp - picked))

    def gradient(self, out: np.ndarray, y: np.ndarray) -> np.ndarray:
        grad = softmax(out)
        y = np.asarray(y)
        if y.ndim == 1:
            grad[np.arange(len(grad)), y.astype(np.int64)] -= 1
        else:
            grad -= _as_matrix(y, out)
        grad *= out.dtype.type(1.0 / len(out))
        return grad

    def value_and_gradient(self, out: np.ndarray, y: np.ndarray,
                           grad_out: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Both from one softmax (the fused fast path): the same numbers as ``value`` and ``gradient``.

        ``z = out - max``; ``e = exp(z)``; ``L = mean(log(sum e) - z[y])``; ``dL/dz = (e / sum e - onehot(y)) / n``.
        """
        y = np.asarray(y)
        if y.ndim != 1:
            return self.value(out, y), self.gradient(out, y)
        rows, y = np.arange(len(out)), y.astype(np.int64, copy=False)
        e = np.subtract(out, row_max(out), out=grad_out)                    # z: exp never overflows
        picked = e[rows, y]                                                  # z[n, y_n], before exp
        np.exp(e, out=e)
        total = e.sum(axis=1, keepdims=True)
        losses = np.log(total[:, 0]) - picked
        value = float(out.dtype.type(float(np.add.reduce(losses)) / len(losses)))  # = np.mean, minus its wrapper
        e /= total                                                           # softmax(out)
        e[rows, y] -= 1                                                      #   - onehot(y)
        e *= out.dtype.type(1.0 / len(out))                                  #   / n
        return value, e

    def prepare_targets(self, y: ArrayLike, n_samples: int, n_outputs: int) -> tuple[np.ndarray, bool]:
        """Class labels ``(n_samples,)`` or one-hot rows."""
        return check_targets(y, n_samples, n_outputs, kind="labels"), True


class BinaryCrossEntropy(Loss):
    """Sigmoid cross-entropy from logits, per output: ``L = mean[max(z,0) - z t + log(1 + exp(-|z|))]``.

    That is ``-[t log s + (1-t) log(1-s)]`` with ``s = sigmoid(z)``, rearranged so it never
    takes the log of 0. Gradient: ``dL/dz = (sigmoid(z) - t) / (n k)``.
    """

    name = "binary_cross_entropy"
    fused_head = Sigmoid
    formula = "L = mean[max(z, 0) - z t + log(1 + exp(-|z|))]  (sigmoid cross-entropy from the logits z)"
    gradient_formula = "dL/dz = (sigmoid(z) - t) / (n k)"

    def value(self, out: np.ndarray, y: np.ndarray) -> float:
        t = _as_matrix(y, out)
        return float(np.mean(np.maximum(out, 0) - out * t + np.log1p(np.exp(-np.abs(out)))))

    def gradient(self, out: np.ndarray, y: np.ndarray) -> np.ndarray:
        t = _as_matrix(y, out)
        return (sigmoid(out) - t) * out.dtype.type(1.0 / out.size)

    def prepare_targets(self, y: ArrayLike, n_samples: int, n_outputs: int) -> tuple[np.ndarray, bool]:
        """0/1 labels for one output; a matrix of targets in [0, 1] for several (multi-label)."""
        if n_outputs == 1:
            return check_targets(y, n_samples, n_outputs, kind="labels"), True
        values = check_targets(y, n_samples, n_outputs, kind="values")
        if values.min() < 0 or values.max() > 1:
            raise ValueError(f"y expected targets in [0, 1] for binary cross-entropy, received values from "
                             f"{values.min()} to {values.max()}")
        return values, False


#: Every loss by name and by its other spellings (adding a loss: its class above and its names here).
LOSSES = {
    "cross_entropy": CrossEntropy, "crossentropy": CrossEntropy, "ce": CrossEntropy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "binary_cross_entropy": BinaryCrossEntropy, "bce": BinaryCrossEntropy,
}


def names() -> list[str]:
    """The loss names a user can pick (one spelling each, as ``Loss.name``): ``["cross_entropy", "mse", ...]``.

    Example:
        >>> names()
        ['cross_entropy', 'mse', 'binary_cross_entropy']
    """
    return list(dict.fromkeys(cls.name for cls in LOSSES.values()))


def get(loss: "Loss | str | type[Loss]") -> Loss:
    """Return a loss object from a name (``"cross_entropy"``, ``"mse"``, ``"bce"``) or a Loss."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()
    key = str(loss).lower().replace("-", "_")
    if key not in LOSSES:
        raise ValueError(f"loss expected one of {sorted(LOSSES)} or a Loss, received {loss!r}")
    return LOSSES[key]()


# -- targets: what each loss takes, and the class an output row predicts ---------------------------
def prepare_targets(y, n_samples: int, n_outputs: int, loss: Loss) -> tuple[np.ndarray, bool]:
    """Validate targets for ``loss``; returns ``(targets, are_class_labels)``: ``loss.prepare_targets``.

    Each loss says what it takes (:meth:`Loss.prepare_targets`): cross-entropy class labels (or one-hot
    rows); binary cross-entropy 0/1 labels for one output, or a 0/1 matrix for several (multi-label);
    MSE class labels when ``y`` is 1-D and there are several outputs, otherwise real values.
    """
    return loss.prepare_targets(y, n_samples, n_outputs)


def labels_from_outputs(out: np.ndarray, probabilities: bool = False) -> np.ndarray:
    """Class predicted by each row of outputs: argmax, or for one output ``p >= 0.5`` (logit ``>= 0``)."""
    if out.shape[1] == 1:
        return (out[:, 0] >= (0.5 if probabilities else 0.0)).astype(np.int64)
    return out.argmax(axis=1)
