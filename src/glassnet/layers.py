"""Layers: arrays of neurons and the weights that connect them.

A layer turns the values of one array of neurons into the values of the next.
Each layer has ``forward`` and ``backward`` side by side:

- ``forward(x)`` computes the layer's output ``a`` (the neurons' values, kept in
  ``layer.output`` for inspection) and keeps only what ``backward`` needs.
- ``backward(delta)`` takes ``delta = dL/da`` (how the loss changes with each output),
  fills ``layer.grads`` next to ``layer.params`` and returns ``dL/dx`` for the layer below.

Conventions, fixed once: rows are samples, ``x`` is ``(n_samples, n_in)``; a dense layer's
``weights`` are ``(n_out, n_in)`` (row ``W[j]`` feeds neuron ``j``, as in PyTorch ``Linear``)
and ``biases`` are ``(n_out,)``, so one neuron computes ``z = w·x + b`` and a batch
``Z = X @ W.T + b``.

Layers compute gradients; they never apply them (that is the optimizer's job).
Not here: convolutions, normalisation layers, recurrent layers.

Speed, without hiding the maths: called by you, every pass returns new arrays you may keep.
The fast path is a named argument, never a hidden mode: ``fit``'s training step calls
``forward(x, training=True, buffers=b)`` and ``backward(delta, buffers=b)`` with the layer's
:class:`Buffers` (arrays reused from batch to batch, owned by the step's ``StepBuffers``), so the
same formulas write into existing memory (``np.matmul(..., out=...)``, in-place element-wise
steps) instead of allocating new arrays for every mini-batch. Each fast line sits beside its
textbook line; the numbers are the same either way (``tests/test_fastpaths.py``). A layer whose
``forward`` or ``backward`` takes no ``buffers`` argument simply runs its textbook line in ``fit``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import initializers
from ._memory import aligned_copy, aligned_zeros
from ._validation import as_generator, check_params


class Buffers:
    """The arrays one layer reuses from mini-batch to mini-batch in ``fit`` (the fast path).

    ``array(name, shape, dtype)`` gives the first ``shape[0]`` rows of a kept array: a smaller last
    batch uses a view of the same memory, a larger one grows the array once. ``need_input_gradient``
    is False for the network's first layer in ``fit``: nobody uses ``dL/dX`` of the data, so a
    ``Dense`` layer skips that product (a third of its backward work).

    Example:
        >>> b = Buffers()
        >>> b.array("z", (4, 3), np.float32).shape, b.array("z", (2, 3), np.float32).base is not None
        ((4, 3), True)
    """

    def __init__(self, need_input_gradient: bool = True) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.need_input_gradient = need_input_gradient
        self._views: dict[str, np.ndarray] = {}  # name -> the view handed out last (every full batch asks for it)

    def array(self, name: str, shape: tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
        view = self._views.get(name)
        if view is not None and view.shape == shape and (view.dtype is dtype or view.dtype == dtype):
            return view                              # ("is": a dtype object, as fit passes, compares at once)
        buf = self.arrays.get(name)
        if buf is None or buf.shape[0] < shape[0] or buf.shape[1:] != tuple(shape[1:]) or buf.dtype != dtype:
            buf = self.arrays[name] = aligned_zeros(shape, dtype)      # on a cache line (glassnet._memory)
        view = self._views[name] = buf[:shape[0]]
        return view

    def __repr__(self):
        return f"Buffers({sorted(self.arrays)}, need_input_gradient={self.need_input_gradient})"


class Layer:
    """Base class. Subclasses set ``params`` (name -> array) and write ``forward``/``backward``."""

    #: True for layers that behave differently while training (dropout).
    has_training_mode = False

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.output: np.ndarray | None = None  # the neurons' values from the last forward pass

    # -- the two passes -------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False, buffers: Buffers | None = None) -> np.ndarray:
        """``a`` for the input ``x``; ``buffers`` (fit's fast path) lends reusable output arrays."""
        raise NotImplementedError

    def backward(self, delta: np.ndarray, buffers: Buffers | None = None) -> np.ndarray | None:
        """``dL/dx`` from ``delta = dL/da``, filling ``grads``; ``buffers`` as in ``forward``."""
        raise NotImplementedError

    def infer(self, x: np.ndarray) -> np.ndarray:
        """The forward pass for a prediction: the same numbers, nothing kept for ``backward``."""
        return self.forward(x, training=False)

    # -- description --------------------------------------------------------------
    def output_size(self, n_in: int) -> int:
        """Number of neurons this layer outputs for ``n_in`` inputs (shape-preserving by default)."""
        return n_in

    @property
    def n_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def get_config(self) -> dict:
        """The constructor arguments, as JSON-serialisable data."""
        return {}

    def astype(self, dtype: DTypeLike) -> Self:
        """Convert parameters (and gradient buffers) to ``dtype`` in place; returns self."""
        for name, value in self.params.items():
            self.params[name] = aligned_copy(value.astype(dtype, copy=False))
        self.grads = {name: aligned_zeros(p.shape, p.dtype) for name, p in self.params.items()}
        return self

    def __setstate__(self, state: dict) -> None:
        """Unpickling and ``copy.deepcopy``: the parameters and gradients start on a cache line again
        (``glassnet._memory``; a copied array lands wherever NumPy's allocator puts it)."""
        self.__dict__.update(state)
        for attr in ("params", "grads"):
            arrays = state.get(attr)
            if isinstance(arrays, dict):
                setattr(self, attr, {name: aligned_copy(a) if isinstance(a, np.ndarray) else a
                                     for name, a in arrays.items()})

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def summary_name(self) -> str:
        """How ``summary()``, ``repr(network)`` and reports name this layer (``Dense(784 -> 128)``, ``ReLU()``)."""
        return repr(self)


class Dense(Layer):
    """Fully connected layer: every input neuron feeds every output neuron.

    ``z = x @ W.T + b``; gradients ``dW = delta.T @ x``, ``db = sum(delta)``, ``dx = delta @ W``.

    Args:
        n_in: number of input neurons (features).
        n_out: number of output neurons.
        init: weight initializer name (``"he"``, ``"glorot"``/``"xavier"``, ``"lecun"``, ``"zeros"``, ...)
            or a callable ``init(shape, rng, dtype)``.
        seed: int or ``np.random.Generator`` for the initial weights.
        dtype: ``np.float32`` (default, fast) or ``np.float64`` (gradient checks).

    Shapes:
        input ``(n_samples, n_in)`` -> output ``(n_samples, n_out)``;
        ``weights`` ``(n_out, n_in)``, ``biases`` ``(n_out,)``.

    Example:
        >>> layer = Dense(3, 2, seed=0)
        >>> layer.forward(np.ones((4, 3), dtype=np.float32)).shape
        (4, 2)
    """

    _limits = {"n_in": ("int", 1, 1 << 24, False), "n_out": ("int", 1, 1 << 24, False)}

    def __init__(self, n_in: int, n_out: int, init: str | Callable[..., np.ndarray] = "he",
                 seed: int | np.random.Generator | None = None, dtype: DTypeLike = np.float32) -> None:
        super().__init__()
        check_params("Dense", self._limits, {"n_in": n_in, "n_out": n_out})
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.init = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        make = initializers.get(init)
        self.params = {                         # on a cache line: faster products (glassnet._memory)
            "weights": aligned_copy(np.asarray(make((self.n_out, self.n_in), as_generator(seed), dtype), dtype=dtype)),
            "biases": aligned_zeros(self.n_out, dtype),
        }
        self.grads = {name: aligned_zeros(p.shape, p.dtype) for name, p in self.params.items()}
        self.x: np.ndarray | None = None        # the inputs of the last forward pass (backward needs them)

    @property
    def weights(self) -> np.ndarray:
        return self.params["weights"]

    @weights.setter
    def weights(self, value: ArrayLike) -> None:
        self.params["weights"][...] = value

    @property
    def biases(self) -> np.ndarray:
        return self.params["biases"]

    @biases.setter
    def biases(self, value: ArrayLike) -> None:
        self.params["biases"][...] = value

    def forward(self, x: np.ndarray, training: bool = False, buffers: Buffers | None = None) -> np.ndarray:
        self.x = x                                   # backward needs the inputs for dW
        W, b = self.params["weights"], self.params["biases"]
        if buffers is None:
            z = x @ W.T                              # Z = X W^T
        else:                                        # fast path: the same product, into a reused buffer
            z = np.matmul(x, W.T, out=buffers.array("z", (len(x), self.n_out), W.dtype))
        z += b                                       #   + b (broadcast over samples)
        self.output = z
        return z

    def infer(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.params["weights"].T             # Z = X W^T + b, and nothing cached: a prediction
        z += self.params["biases"]
        return z

    def backward(self, delta: np.ndarray, buffers: Buffers | None = None) -> np.ndarray | None:
        W = self.params["weights"]
        # dL/dW[j,i] = sum_n delta[n,j] x[n,i]; self.x is the array forward kept (None only before a forward)
        np.matmul(delta.T, self.x, out=self.grads["weights"])  # type: ignore[arg-type]
        np.add.reduce(delta, axis=0, out=self.grads["biases"])  # dL/db[j] = sum_n delta[n,j] (delta.sum(axis=0))
        if buffers is None:
            return delta @ W                                    # dL/dx[n,i] = sum_j delta[n,j] W[j,i]
        if not buffers.need_input_gradient:
            return None          # first layer in fit: nobody needs dL/dX, skip a third of its work
        return np.matmul(delta, W, out=buffers.array("dx", (len(delta), self.n_in), W.dtype))  # fast path

    def output_size(self, n_in: int) -> int:
        return self.n_out

    def summary_name(self) -> str:
        return f"Dense({self.n_in} -> {self.n_out})"

    def get_config(self) -> dict:
        return {"n_in": self.n_in, "n_out": self.n_out, "init": self.init}


class Dropout(Layer):
    """Inverted dropout: while training, each neuron is switched off with probability ``p``.

    Training: ``a = x * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)``, so the expected value is
    unchanged; ``dx = delta * m / (1 - p)``. Prediction: ``a = x`` (the layer does nothing).

    Args:
        p: probability of dropping a neuron, in ``[0, 1)``.
        seed: int or ``np.random.Generator`` for the masks (``fit(seed=...)`` reseeds it).
    """

    has_training_mode = True
    _limits = {"p": ("float", 0.0, 1.0, False)}

    def __init__(self, p: float = 0.5, seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        check_params("Dropout", self._limits, {"p": p})
        if p >= 1.0:
            raise ValueError(f"Dropout: p expected a value in [0, 1), received {p!r} (p=1 drops every neuron)")
        self.p = float(p)
        self.rng = as_generator(seed)
        self.scaled_mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False, buffers: Buffers | None = None) -> np.ndarray:
        if not training or self.p == 0.0:
            self.scaled_mask = None
            self.output = x
            return x
        if buffers is None:
            keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
            self.scaled_mask = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
            self.output = x * self.scaled_mask
            return self.output
        # Fast path: the same random numbers and mask, written into reused buffers.
        u = self.rng.random(dtype=np.float32, out=buffers.array("u", x.shape, np.float32))
        keep = np.greater_equal(u, self.p, out=buffers.array("keep", x.shape, bool))
        self.scaled_mask = np.divide(keep, x.dtype.type(1.0 - self.p), out=buffers.array("mask", x.shape, x.dtype))
        self.output = np.multiply(x, self.scaled_mask, out=buffers.array("a", x.shape, x.dtype))
        return self.output

    def backward(self, delta: np.ndarray, buffers: Buffers | None = None) -> np.ndarray | None:
        if self.scaled_mask is None:
            return delta
        if buffers is not None:                      # fast path: delta is a training buffer, scale it in place
            return np.multiply(delta, self.scaled_mask, out=delta)
        return delta * self.scaled_mask              # only the kept neurons pass gradient back

    def get_config(self) -> dict:
        return {"p": self.p}
