"""scikit-learn estimators backed by a glassnet network: ``GlassnetClassifier``, ``GlassnetRegressor``.

They follow scikit-learn's contract, so they work in a ``Pipeline``, ``cross_val_score`` and
``GridSearchCV``: hyperparameters are stored by ``__init__`` untouched (and checked by ``fit``,
because ``clone`` and ``set_params`` must never fail), everything learned ends in ``_``
(``net_``, ``classes_``, ``n_features_in_``, ``history_``...), ``fit`` returns ``self``.
The network itself is ``estimator.net_``, a plain :class:`glassnet.Network` you can inspect,
save, or export (``glassnet.export.to_onnx(clf.net_, "model.onnx")``).

How it works, in short: ``fit`` builds ``Network.mlp([n_features, *hidden_layer_sizes,
n_outputs])``, then trains it with ``Network.fit`` (cross-entropy over the classes for the
classifier, mean squared error for the regressor). Labels of any type (strings, ints, bools)
are mapped to output neurons ``0..n_classes-1`` in the sorted order of ``classes_``.

Needs scikit-learn 1.6 or newer (``pip install "glassnet[sklearn]"``); ``import glassnet``
never imports it. Not here: sample weights, class weights, multi-label classification.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Self

import numpy as np
from numpy.typing import ArrayLike

from . import activations, optimizers, schedules
from ._validation import check_params
from .callbacks import EarlyStopping
from .errors import MissingExtraError, require
from .network import Network

if TYPE_CHECKING:  # the same module, named statically so a type checker sees the base classes
    import sklearn.base as _base
else:
    _base = require("sklearn.base", "sklearn")
_validation = require("sklearn.utils.validation", "sklearn")
_multiclass = require("sklearn.utils.multiclass", "sklearn")
_utils = require("sklearn.utils", "sklearn")
if not hasattr(_validation, "validate_data"):
    raise MissingExtraError("glassnet.sklearn needs scikit-learn 1.6 or newer; upgrade it with: "
                            'pip install -U "glassnet[sklearn]"')

_CHUNK = 4096  # samples per forward pass in predict: bounds memory on big inputs
#: The choices of the named hyperparameters come from the library's registries: name -> (choices, canonical).
_CHOICES = {"activation": (activations.names, activations.canonical),
            "optimizer": (optimizers.names, optimizers.canonical),
            "schedule": (schedules.names, schedules.canonical)}

#: Limits of the numeric hyperparameters: name -> (kind, low, high, low_open), checked by ``fit``.
_LIMITS = {
    "learning_rate": ("float", 0.0, None, True), "momentum": ("float", 0.0, 1.0, False),
    "batch_size": ("int", 1, None, False), "epochs": ("int", 1, None, False),
    "dropout": ("float", 0.0, 1.0, False), "weight_decay": ("float", 0.0, None, False),
    "validation_fraction": ("float", 0.0, 1.0, True), "patience": ("int", 1, None, False),
    "verbose": ("int", 0, 2, False), "early_stopping": ("bool", None, None, False),
}


def _float32(values, what):
    """``values`` (finite) as float32; ValueError naming ``what`` if one is too large for float32 (|x| > 3.4e38)."""
    with np.errstate(over="ignore"):        # an overflow becomes inf here, and is named just below
        converted = np.asarray(values, dtype=np.float32)
    if not np.isfinite(converted).all():
        largest = float(np.abs(np.asarray(values, dtype=np.float64)).max())
        raise ValueError(f"{what} expected values within float32's range (|x| <= {np.finfo(np.float32).max:.3g}), "
                         f"received {largest:.3g}; scale it first")
    return converted


class _GlassnetEstimator(_base.BaseEstimator):
    """What the classifier and the regressor share: hyperparameters, building and training the network."""

    _loss: str | None = None  # set by the subclasses

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False       # NaN in X is refused by fit and predict
        return tags

    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (100,), activation: str = "relu",
                 optimizer: str = "adam", learning_rate: float = 0.001, momentum: float = 0.9,
                 schedule: str = "constant", batch_size: int = 32, epochs: int = 50, dropout: float = 0.0,
                 weight_decay: float = 0.0, early_stopping: bool = False, validation_fraction: float = 0.1,
                 patience: int = 10, random_state: int | np.random.RandomState | None = None,
                 verbose: int = 0) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.schedule = schedule
        self.batch_size = batch_size
        self.epochs = epochs
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose

    # -- checks, before any state changes ------------------------------------------------------
    def _check_hyperparameters(self):
        """Check every hyperparameter (``fit`` time, as scikit-learn expects); returns the hidden sizes."""
        name = type(self).__name__
        check_params(name, _LIMITS, {key: getattr(self, key) for key in _LIMITS})
        if self.dropout >= 1:
            raise ValueError(f"{name}: dropout expected a value in [0, 1), received {self.dropout!r}")
        for key, (choices, canonical) in _CHOICES.items():
            try:
                known = canonical(getattr(self, key)) in choices()   # softmax is an activation, not a hidden one
            except ValueError:
                known = False
            if not known:
                raise ValueError(f"{name}: {key} expected one of {', '.join(choices())}, "
                                 f"received {getattr(self, key)!r}")
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool) else sizes
        try:
            sizes = list(sizes)
        except TypeError:
            sizes = None
        if sizes is None or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1
                                    for n in sizes):
            raise ValueError(f"{name}: hidden_layer_sizes expected positive integers such as (100,) or (64, 32), "
                             f"received {self.hidden_layer_sizes!r}")
        return [int(n) for n in sizes]

    def _validate_X(self, X, y, reset, **kwargs) -> tuple[np.ndarray, np.ndarray]:
        """scikit-learn's checks (shape, NaN, sparse, feature names, ``n_features_in_``); X as float32."""
        X, y = _validation.validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32), **kwargs)
        return _float32(X, f"{type(self).__name__}: X"), y

    # -- building and training ----------------------------------------------------------------
    def _new_optimizer(self):
        """The optimizer with its schedule, as ``glassnet train`` and the app build theirs."""
        return optimizers.build(self.optimizer, float(self.learning_rate), momentum=float(self.momentum),
                                weight_decay=float(self.weight_decay), schedule=self.schedule, epochs=int(self.epochs))

    def _initialise(self, hidden, n_features, n_outputs):
        """A new network and optimizer; the seeds come from ``random_state``."""
        rng = _utils.check_random_state(self.random_state)
        init_seed, self.seed_ = (int(s) for s in rng.randint(0, 2**31 - 1, size=2))
        self.net_ = Network.mlp([n_features, *hidden, n_outputs], activation=self.activation,
                                dropout=float(self.dropout), seed=init_seed)
        self.optimizer_ = self._new_optimizer()
        self.history_ = None
        self.n_iter_ = 0

    def _check_early_stopping_split(self, n_samples, stratify=None):
        """Refuse, before any state changes, data too small to hold out ``validation_fraction`` for early stopping."""
        if not self.early_stopping:
            return
        train_test_split = require("sklearn.model_selection", "sklearn").train_test_split
        try:
            train_test_split(np.arange(n_samples), test_size=self.validation_fraction, random_state=0,
                             stratify=stratify)
        except ValueError as exc:
            raise ValueError(f"{type(self).__name__}: early_stopping cannot hold out validation_fraction="
                             f"{self.validation_fraction!r} of {n_samples} samples ({exc}); give more samples, a "
                             f"larger validation_fraction, or early_stopping=False") from None

    def _train(self, X, targets, epochs, stratify=None):
        """Run ``Network.fit`` for ``epochs`` more epochs and record the history."""
        validation, callbacks = None, []
        if self.early_stopping:
            split = _utils.check_random_state(self.seed_ + self.n_iter_)
            train_test_split = require("sklearn.model_selection", "sklearn").train_test_split
            X, X_val, targets, t_val = train_test_split(X, targets, test_size=self.validation_fraction,
                                                        random_state=split, stratify=stratify)
            validation = (X_val, t_val)
            callbacks.append(EarlyStopping("val_loss", patience=int(self.patience)))
        history = self.net_.fit(X, targets, epochs=epochs, batch_size=int(self.batch_size),
                                optimizer=self.optimizer_, loss=self._loss, validation_data=validation,
                                callbacks=callbacks, seed=(self.seed_ + self.n_iter_) % 2**31,
                                verbose=int(self.verbose))
        if self.history_ is None:
            self.history_ = history
        else:                                          # partial_fit: one history over every call
            for record in history.epochs:
                self.history_.append({**record, "epoch": len(self.history_) + 1})
        self.n_iter_ += len(history)
        self.loss_ = self.history_.epochs[-1]["loss"] if self.history_.epochs else None

    def _float64_outputs(self, X, probabilities=False):
        """The network's outputs for ``X``, computed in float64 from the (float32) weights.

        float64 makes a sample's prediction independent of the batch it comes in (float32 matrix
        products round differently for one row and for many), as scikit-learn expects.
        """
        _validation.check_is_fitted(self, "net_")
        X = _validation.validate_data(self, X, reset=False, dtype=np.float64)
        net = self.net_.astype(np.float64)
        if probabilities:
            return net.predict_proba(X)
        return np.concatenate([net.forward(X[s:s + _CHUNK]) for s in range(0, len(X), _CHUNK)])


class GlassnetClassifier(_base.ClassifierMixin, _GlassnetEstimator):
    """A neural-network classifier (a glassnet multi-layer perceptron) with scikit-learn's interface.

    ``p(class | x) = softmax(net(x))``; trained with cross-entropy, one output neuron per class.

    Args:
        hidden_layer_sizes: neurons per hidden layer, e.g. ``(100,)`` or ``(64, 32)``; ``()`` for none.
        activation: hidden activation, one of ``glassnet.activations.names()``: ``"relu"``, ``"leaky_relu"``,
            ``"tanh"``, ``"sigmoid"``, ``"identity"``...
        optimizer: ``"adam"`` (default), ``"adamw"`` or ``"sgd"`` (with ``momentum``).
        learning_rate: step size (the peak for ``schedule="one-cycle"``). Try 0.01 to 0.1 with SGD.
        momentum: SGD momentum, in ``[0, 1]``.
        schedule: learning rate over training, one of ``glassnet.schedules.names()``: ``"constant"``,
            ``"cosine"``, ``"one-cycle"``, ``"step"``.
        batch_size: samples per gradient step.
        epochs: passes over the training set (the most, with ``early_stopping``).
        dropout: dropout probability after each hidden activation, in ``[0, 1)``.
        weight_decay: L2 penalty (decoupled for ``"adamw"``).
        early_stopping: hold out ``validation_fraction`` of the data and stop when its loss has not
            improved for ``patience`` epochs, keeping the best weights.
        random_state: int, ``RandomState`` or ``None``: initial weights, shuffling, dropout masks.
        verbose: 1 shows a progress bar (one line per epoch when not on a terminal).

    Attributes:
        classes_: the class labels, sorted; output neuron ``k`` stands for ``classes_[k]``.
        net_: the trained :class:`glassnet.Network` (outputs are logits).
        optimizer_: the optimizer, with its state (``partial_fit`` continues from it).
        history_: the training :class:`glassnet.History` (``history_.loss`` per epoch).
        n_iter_: epochs trained. ``loss_``: the last epoch's training loss.
        n_features_in_, feature_names_in_: as every scikit-learn estimator.

    Example:
        >>> from glassnet.sklearn import GlassnetClassifier
        >>> X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 25
        >>> y = ["same", "different", "different", "same"] * 25
        >>> clf = GlassnetClassifier(hidden_layer_sizes=(16,), learning_rate=0.02, epochs=60, random_state=0)
        >>> clf.fit(X, y).predict([[0.0, 1.0], [1.0, 1.0]]).tolist()
        ['different', 'same']
    """

    _loss = "cross_entropy"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        return tags

    @staticmethod
    def _labels(y, classes):
        """``y`` as indices into the sorted ``classes`` (ValueError for labels not among them)."""
        unknown = ~np.isin(y, classes)
        if unknown.any():
            raise ValueError(f"y contains labels not in classes_ {classes.tolist()}: "
                             f"{np.unique(np.asarray(y)[unknown]).tolist()[:5]}")
        return np.searchsorted(classes, y)

    @staticmethod
    def _classes(values, name):
        classes = np.unique(values)
        if len(classes) < 2:
            raise ValueError(f"{name} needs samples of at least 2 classes to learn from, received only one class: "
                             f"{classes.tolist()}")
        return classes

    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """Train a new network on ``(X, y)``; labels may be strings, ints or bools. Returns ``self``."""
        hidden = self._check_hyperparameters()
        X, y = self._validate_X(X, y, reset=True)
        _multiclass.check_classification_targets(y)
        classes = self._classes(y, type(self).__name__)
        labels = np.searchsorted(classes, y)
        self._check_early_stopping_split(len(y), stratify=labels)
        self.classes_ = classes
        self._initialise(hidden, X.shape[1], len(classes))
        self._train(X, labels, int(self.epochs), stratify=labels)
        return self

    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None) -> Self:
        """One more epoch over ``(X, y)``, continuing from the current weights and optimizer state.

        ``classes`` (every label there will ever be) is required on the first call.
        """
        first = not hasattr(self, "net_")
        hidden = self._check_hyperparameters() if first else None
        X, y = self._validate_X(X, y, reset=first)
        _multiclass.check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError(f"{type(self).__name__}.partial_fit: classes expected on the first call "
                                 f"(every label there will be, e.g. classes=np.unique(y_all)), received None")
            all_classes = self._classes(classes, type(self).__name__)
        else:
            all_classes = self.classes_
            if classes is not None and not np.array_equal(np.unique(classes), all_classes):
                raise ValueError(f"partial_fit: classes expected {all_classes.tolist()} as in the first call, "
                                 f"received {np.unique(classes).tolist()}")
        labels = self._labels(y, all_classes)
        self._check_early_stopping_split(len(y))
        if first:
            self.classes_ = all_classes
            self._initialise(hidden, X.shape[1], len(self.classes_))
        self._train(X, labels, 1)
        return self

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Probability of each class, ``(n_samples, n_classes)``, columns in the order of ``classes_``."""
        return self._float64_outputs(X, probabilities=True)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        return np.log(self.predict_proba(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class label for each sample."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class GlassnetRegressor(_base.RegressorMixin, _GlassnetEstimator):
    """A neural-network regressor (a glassnet multi-layer perceptron) with scikit-learn's interface.

    ``y_hat = net(x)`` with a linear output layer, trained with mean squared error. ``y`` may have
    several columns (one output neuron each). Scale ``y`` if it is large (e.g. with
    ``sklearn.compose.TransformedTargetRegressor``): the network starts out predicting about 0.

    The arguments are the classifier's (see :class:`GlassnetClassifier`); the attributes too,
    with ``n_outputs_`` instead of ``classes_``.

    Example:
        >>> import numpy as np
        >>> from glassnet.sklearn import GlassnetRegressor
        >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
        >>> reg = GlassnetRegressor(hidden_layer_sizes=(32,), learning_rate=0.01, epochs=100, random_state=0)
        >>> bool(reg.fit(X, X[:, 0] ** 2).score(X, X[:, 0] ** 2) > 0.99)     # R^2 of y = x^2
        True
    """

    _loss = "mse"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _targets(self, y):
        y = _float32(y, f"{type(self).__name__}: y")
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """Train a new network on ``(X, y)``; ``y`` of shape ``(n_samples,)`` or ``(n_samples, n_outputs)``."""
        hidden = self._check_hyperparameters()
        X, y = self._validate_X(X, y, reset=True, multi_output=True, y_numeric=True)
        targets = self._targets(y)
        self._check_early_stopping_split(len(targets))
        self.n_outputs_ = targets.shape[1]
        self._initialise(hidden, X.shape[1], self.n_outputs_)
        self._train(X, targets, int(self.epochs))
        return self

    def partial_fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """One more epoch over ``(X, y)``, continuing from the current weights and optimizer state."""
        first = not hasattr(self, "net_")
        hidden = self._check_hyperparameters() if first else None
        X, y = self._validate_X(X, y, reset=first, multi_output=True, y_numeric=True)
        targets = self._targets(y)
        self._check_early_stopping_split(len(targets))
        if first:
            self.n_outputs_ = targets.shape[1]
            self._initialise(hidden, X.shape[1], self.n_outputs_)
        elif targets.shape[1] != self.n_outputs_:
            raise ValueError(f"partial_fit: y expected {self.n_outputs_} column(s) as before, "
                             f"received {targets.shape[1]}")
        self._train(X, targets, 1)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted values, ``(n_samples,)`` for one output, else ``(n_samples, n_outputs)``."""
        out = self._float64_outputs(X)
        return out[:, 0] if self.n_outputs_ == 1 else out


__all__ = ["GlassnetClassifier", "GlassnetRegressor"]
