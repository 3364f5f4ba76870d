"""The network: an ordered stack of layers, from input neurons to output neurons.

The layers run in one of three named ways, and only these:

- ``forward`` (training and gradients): the layers in order, each layer's output the next one's
  input, each keeping what ``backward`` needs; ``backward`` runs them in reverse, passing
  ``delta = dL/d(output)`` down and leaving each layer's gradients in ``layer.grads``.
- the same two passes with ``buffers`` (``train_step``, ``fit``'s fast path): the same formulas
  written into arrays reused from batch to batch (see ``glassnet.training.StepBuffers``).
- ``infer`` (predictions): each layer's ``infer``, the same numbers with nothing kept, in chunks;
  ``predict``, ``predict_proba`` and ``evaluate`` all go through it.

This module wires layers together and answers questions about them (``summary``, parameter
lists). Its conveniences hand over to the modules that do the work: ``fit`` to
``glassnet.training``, ``save``/``load`` to ``glassnet.modelfile``, ``explain`` to
``glassnet.explain``, ``_repr_html_`` to ``glassnet.notebook``; none of those imports this module.

Outputs are *logits* unless the last layer is an activation: ``predict_proba`` turns
logits into probabilities (softmax for several outputs, sigmoid for one).
Not here: branching graphs (every network is a straight line of layers).
"""

from __future__ import annotations

import copy as _copy
import os
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import activations, explain, initializers, losses, modelfile, notebook, training, views
from ._validation import as_generator, check_params, check_X, describe
from .activations import sigmoid, softmax
from .callbacks import Callback
from .errors import ModelFileError
from .explain import Explanation
from .history import History
from .layers import Dense, Dropout, Layer
from .losses import Loss, labels_from_outputs, prepare_targets
from .optimizers import Optimizer
from .training import StepBuffers


class Evaluation(namedtuple("Evaluation", ["loss", "accuracy"])):
    """``(loss, accuracy)`` of :meth:`Network.evaluate`; a notebook shows it as a small table."""

    __slots__ = ()

    def _repr_html_(self):
        return views.evaluation_html(self)

#: Every layer type a saved model may contain, by name (the activations come from their registry).
LAYER_TYPES = {"Dense": Dense, "Dropout": Dropout, **activations.LAYER_TYPES}

_PREDICT_CHUNK = 4096  # samples per pass in infer (predict, evaluate): bounds memory on big inputs


class Network:
    """A feed-forward network: ``Network([Dense(784, 128), ReLU(), Dense(128, 10)])``.

    Args:
        layers: the layers in order. Sizes must chain: each ``Dense.n_in`` equals the number
            of neurons coming out of the layer before.
        n_features: number of inputs; only needed when the first layer is not ``Dense``.

    Example:
        >>> import glassnet as gn
        >>> net = gn.Network.mlp([4, 3, 2], seed=0)
        >>> net.predict_proba(np.zeros((1, 4))).shape
        (1, 2)
    """

    metadata_: dict  # what ``save(metadata=...)`` stored; set by ``load`` (a network built in memory has none)

    def __init__(self, layers: Iterable[Layer], n_features: int | None = None) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("Network expected at least one layer, received an empty list")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Network layer {i} expected a glassnet Layer (Dense, ReLU, ...), "
                                f"received {describe(layer)}")
        if n_features is None:
            if not isinstance(layers[0], Dense):
                raise ValueError("Network: n_features is required when the first layer is not Dense")
            n_features = layers[0].n_in
        check_params("Network", {"n_features": ("int", 1, None, False)}, {"n_features": n_features})
        self.layers = layers
        self.n_features = int(n_features)
        self.sizes = self._chain_sizes()
        dtypes = {p.dtype for layer in layers for p in layer.params.values()}
        if len(dtypes) > 1:
            raise ValueError(f"Network: all layers must share one dtype, received {sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop() if dtypes else np.dtype(np.float32)
        self.history_: History | None = None    # set by fit (and load)
        self.loss_: Loss | None = None          # the loss fit trained with (and load read)

    def _chain_sizes(self):
        """Neurons after each layer, checking that Dense sizes chain."""
        n, sizes = self.n_features, []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dense) and layer.n_in != n:
                raise ValueError(f"Network layer {i} {layer!r} expected {layer.n_in} inputs, but the layer "
                                 f"before gives {n} neurons; use Dense({n}, {layer.n_out})")
            n = layer.output_size(n)
            sizes.append(n)
        return sizes

    @classmethod
    def mlp(cls, sizes: Sequence[int], activation: str = "relu", output: str | None = None, dropout: float = 0.0,
            init: str | None = None, seed: int | np.random.Generator | None = None,
            dtype: DTypeLike = np.float32) -> Network:
        """A multi-layer perceptron: ``Dense`` layers of the given sizes with an activation between.

        Args:
            sizes: neurons per layer, input first: ``[784, 128, 64, 10]``.
            activation: hidden activation name, one of ``glassnet.activations.names()`` (``"relu"``, ``"tanh"``, ...).
            output: optional output activation (``"softmax"``, ``"sigmoid"``); default none (logits).
            dropout: dropout probability after each hidden activation (0 = none).
            init: weight initializer; default the activation's ``default_init`` (He for ReLU, Glorot for tanh).
            seed: int or Generator: the same seed gives the same initial weights.
        """
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2:
            raise ValueError(f"Network.mlp: sizes expected at least [n_inputs, n_outputs], received {sizes!r}")
        rng = as_generator(seed)
        activation_key = activations.canonical(activation)  # validates the name before building anything
        init = init or activations.default_init(activation_key)
        initializers.get(init)
        layers: list[Layer] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Dense(n_in, n_out, init=init, seed=rng, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(activations.get(activation_key))
                if dropout:
                    layers.append(Dropout(dropout, seed=rng))
        if output is not None:
            layers.append(activations.get(output))
        return cls(layers)

    # -- the two passes -------------------------------------------------------------
    def forward(self, X: np.ndarray, training: bool = False, upto: int | None = None,
                buffers: StepBuffers | None = None) -> np.ndarray:
        """Run ``X`` through the layers (the first ``upto`` of them) and return the last output.

        Each layer keeps what ``backward`` needs. ``buffers`` (a :class:`~glassnet.training.StepBuffers`,
        fit's fast path) lends each layer its reused arrays; a layer without them runs its textbook line.
        """
        a = X
        for layer, own in zip(self.layers[:upto], _per_layer(buffers, self.layers)):
            a = layer.forward(a, training=training) if own is None else layer.forward(a, training=training, buffers=own)
        return a

    __call__ = forward

    def backward(self, delta: np.ndarray, upto: int | None = None,
                 buffers: StepBuffers | None = None) -> np.ndarray | None:
        """Backpropagate ``delta = dL/d(output)`` through the first ``upto`` layers; returns ``dL/dX``."""
        for layer, own in reversed(list(zip(self.layers[:upto], _per_layer(buffers, self.layers)))):
            delta = layer.backward(delta) if own is None else layer.backward(delta, buffers=own)
        return delta

    def body(self, loss: Loss) -> int:
        """How many layers feed ``loss``: a final Softmax/Sigmoid is left out when the loss fuses it
        (cross-entropy computes the softmax itself from the logits, exactly)."""
        head = loss.fused_head
        if head is not None and isinstance(self.layers[-1], head):
            return len(self.layers) - 1
        return len(self.layers)

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray, loss: Loss, training: bool = True,
                           buffers: StepBuffers | None = None) -> tuple[float, np.ndarray | None, np.ndarray]:
        """Forward, loss and backward for one batch; fills every layer's ``grads``.

        Returns ``(loss value, dL/dX, output fed to the loss)``; ``dL/dX`` is None on the fast path
        (``buffers`` given), where the first layer skips it.

        ``X`` and ``y`` must already be validated (see ``fit``).
        """
        upto = self.body(loss)
        out = self.forward(X, training=training, upto=upto, buffers=buffers)
        if upto < len(self.layers):
            self.layers[-1].forward(out, training=training)  # keep the output neurons' values visible
        grad_out = None if buffers is None else buffers.loss.array("dout", out.shape, out.dtype)
        value, delta = loss.value_and_gradient(out, y, grad_out)      # one softmax for both
        return value, self.backward(delta, upto=upto, buffers=buffers), out

    def train_step(self, X: np.ndarray, y: np.ndarray, loss: Loss, buffers: StepBuffers) -> tuple[float, np.ndarray]:
        """``loss_and_gradients`` for ``fit`` (the fast path): the same numbers, in ``buffers`` reused across batches.

        ``buffers`` is the :class:`~glassnet.training.StepBuffers` that ``fit`` creates once and passes to every step;
        arrays returned to users by any other call (forward, predict, evaluate) are always new.
        Returns ``(loss value, output fed to the loss)``.
        """
        value, _, out = self.loss_and_gradients(X, y, loss, training=True, buffers=buffers)
        return value, out

    def outputs_probabilities(self, upto: int | None = None) -> bool:
        """Whether the output of the first ``upto`` layers is already a probability (ends in softmax/sigmoid)."""
        return getattr(self.layers[:upto][-1], "outputs_probabilities", False)

    # -- parameters -----------------------------------------------------------------
    def named_parameters(self) -> list[tuple[str, np.ndarray]]:
        """``[("0.weights", array), ("0.biases", array), ...]``: layer index and parameter name."""
        return [(f"{i}.{name}", p) for i, layer in enumerate(self.layers) for name, p in layer.params.items()]

    def parameters(self) -> list[np.ndarray]:
        return [p for _, p in self.named_parameters()]

    def gradients(self) -> list[np.ndarray]:
        return [layer.grads[name] for layer in self.layers for name in layer.params]

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

    def get_weights(self) -> dict[str, np.ndarray]:
        """A copy of every parameter, by name."""
        return {name: p.copy() for name, p in self.named_parameters()}

    def set_weights(self, weights: Mapping[str, ArrayLike]) -> None:
        """Copy ``weights`` (as from ``get_weights``) into the network, checking names and shapes first."""
        own = dict(self.named_parameters())
        if not isinstance(weights, dict) or set(weights) != set(own):
            received = sorted(map(str, weights)) if isinstance(weights, dict) else type(weights).__name__
            raise ValueError(f"set_weights expected parameters {sorted(own)}, received {received}")
        checked = {}
        for name, value in weights.items():       # every tensor checked before any is written
            value = np.asarray(value)
            if value.dtype.kind not in "biuf":
                raise TypeError(f"set_weights: {name} expected numbers, received dtype {value.dtype}")
            if value.shape != own[name].shape:
                raise ValueError(f"set_weights: {name} expected shape {own[name].shape}, received {value.shape}")
            if not np.isfinite(value).all():
                raise ValueError(f"set_weights: {name} expected finite numbers, received NaN or infinity")
            checked[name] = value
        for name, value in checked.items():
            own[name][...] = value

    def copy(self) -> Network:
        """An independent deep copy (weights, layers, history)."""
        return _copy.deepcopy(self)

    def astype(self, dtype: DTypeLike) -> Network:
        """A copy of the network with every parameter in ``dtype`` (e.g. ``np.float64`` for gradcheck)."""
        net = self.copy()
        for layer in net.layers:
            layer.astype(dtype)
        net.dtype = np.dtype(dtype)
        return net

    # -- using the network ------------------------------------------------------------
    def check_X(self, X: ArrayLike) -> np.ndarray:
        """``X`` validated for this network: ``(n_samples, n_features)``, finite, in the network's dtype.

        Raises ValueError naming what was expected and what was received (before any work is done).
        """
        return check_X(X, self.n_features, dtype=self.dtype)

    def infer(self, X: np.ndarray, upto: int | None = None) -> np.ndarray:
        """The pass for predictions: the output of the first ``upto`` layers, the same numbers as ``forward``.

        Each layer's ``infer`` keeps nothing for ``backward``, and big inputs go through in chunks so they
        never build one huge activation. ``X`` must already be checked (as ``predict`` does).
        """
        if len(X) <= _PREDICT_CHUNK:
            return self._infer_chunk(X, upto)        # one chunk (a single image: no list, no concatenate)
        return np.concatenate([self._infer_chunk(X[s:s + _PREDICT_CHUNK], upto)
                               for s in range(0, len(X), _PREDICT_CHUNK)])

    def _infer_chunk(self, X, upto):
        a = X
        for layer in self.layers[:upto]:
            a = layer.infer(a)
        return a

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities, ``(n_samples, n_outputs)``; rows sum to 1 for several classes.

        Softmax of the logits (sigmoid for a single output), unless the network already ends in one.
        """
        out = self.infer(self.check_X(X))
        if self.outputs_probabilities():
            return out
        return softmax(out) if out.shape[1] > 1 else sigmoid(out)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class per sample: the output neuron with the highest value (or ``p >= 0.5``)."""
        if self.n_outputs == 1:
            return (self.predict_proba(X)[:, 0] >= 0.5).astype(np.int64)
        # Several classes: softmax keeps the order of the outputs, so the largest logit is the
        # most probable class; skipping the softmax saves most of the time for a single image.
        return self.infer(self.check_X(X)).argmax(axis=1)

    def evaluate(self, X: ArrayLike, y: ArrayLike, loss: Loss | str | None = None) -> Evaluation:
        """``Evaluation(loss, accuracy)`` on ``(X, y)``; accuracy is ``None`` for real-valued targets."""
        loss = losses.get(loss or self.loss_ or "cross_entropy")
        X = self.check_X(X)
        y, is_labels = prepare_targets(y, len(X), self.n_outputs, loss)
        upto = self.body(loss)
        out = self.infer(X, upto)
        total = 0.0
        for s in range(0, len(X), _PREDICT_CHUNK):       # the mean loss per chunk, weighted by the chunk's size
            chunk = slice(s, s + _PREDICT_CHUNK)
            total += loss.value(out[chunk], y[chunk]) * len(out[chunk])
        accuracy = None
        if is_labels:
            accuracy = float(np.mean(labels_from_outputs(out, self.outputs_probabilities(upto)) == y))
        return Evaluation(total / len(X), accuracy)

    def fit(self, X: ArrayLike, y: ArrayLike, *, epochs: int = 10, batch_size: int = 32,
            optimizer: Optimizer | str | None = None, loss: Loss | str = "cross_entropy",
            validation_data: tuple[ArrayLike, ArrayLike] | None = None, callbacks: Iterable[Callback] = (),
            seed: int | None = None, verbose: int = 0, shuffle: bool = True,
            resume_from: str | os.PathLike[str] | None = None,
            augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
            l1: float | None = None, threads: int | None = None) -> History:
        """Train on ``(X, y)``; see :func:`glassnet.training.fit` for the arguments. Returns a ``History``."""
        return training.fit(self, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer, loss=loss,
                            validation_data=validation_data, callbacks=callbacks, seed=seed, verbose=verbose,
                            shuffle=shuffle, resume_from=resume_from, augment=augment, l1=l1, threads=threads)

    # -- on disk ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], metadata: dict | None = None) -> Path:
        """Save architecture (JSON) and weights (safetensors); see :func:`glassnet.modelfile.save`."""
        return modelfile.save(self, path, metadata=metadata)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Network:
        """A network saved with ``save`` (``glassnet.load``); raises ModelFileError for anything missing or wrong."""
        return cls.from_saved(*modelfile.read_model(path))

    @classmethod
    def from_saved(cls, doc: dict, tensors: Mapping[str, np.ndarray], source: str = "model") -> Network:
        """A network from a model document and its tensors (as ``glassnet.modelfile.read_model`` reads them).

        Checks the declared sizes against the tensors before building anything, then the weights
        (names, shapes, dtype, SHA-256), then the training information.
        """
        modelfile.check_declared_shapes(doc["architecture"], tensors, source, LAYER_TYPES)
        net = cls.from_config(doc["architecture"], source)
        shapes = {name: p.shape for name, p in net.named_parameters()}
        dtype = modelfile.check_tensors(tensors, shapes, doc, source)
        if dtype != net.dtype:
            net = net.astype(dtype)
        net.set_weights(tensors)
        try:
            if doc.get("loss"):
                net.loss_ = losses.get(doc["loss"])
            if doc.get("history"):
                net.history_ = History.from_dict(doc["history"])
        except (ValueError, TypeError, AttributeError) as exc:
            raise ModelFileError(f"{source}: malformed training information ({exc})") from None
        net.metadata_ = doc.get("metadata") or {}
        return net

    @classmethod
    def from_config(cls, config: dict, source: str = "model") -> Network:
        """A network (fresh weights) from ``get_config()``'s dict; ModelFileError (naming ``source``) if malformed."""
        layers_spec = config.get("layers")
        if not isinstance(layers_spec, list) or not layers_spec:
            raise ModelFileError(f"{source}: architecture has no layer list")
        layers = []
        for i, spec in enumerate(layers_spec):
            if not isinstance(spec, dict) or not isinstance(spec.get("type"), str) or spec["type"] not in LAYER_TYPES:
                kind = spec.get("type") if isinstance(spec, dict) else spec
                raise ModelFileError(f"{source}: layer {i} has unknown type {kind!r} "
                                     f"(known: {', '.join(sorted(LAYER_TYPES))})")
            args = {k: v for k, v in spec.items() if k != "type"}
            try:
                layers.append(LAYER_TYPES[spec["type"]](**args))
            except (TypeError, ValueError) as exc:
                raise ModelFileError(f"{source}: layer {i} ({spec['type']}) has invalid settings: {exc}") from None
        try:
            return cls(layers, n_features=config.get("n_features"))
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"{source}: inconsistent architecture: {exc}") from None

    # -- showing itself -------------------------------------------------------------
    def get_config(self) -> dict:
        return {"n_features": self.n_features,
                "layers": [{"type": type(layer).__name__, **layer.get_config()} for layer in self.layers]}

    def summary(self) -> views.Text:
        """A table of layers: neurons out, output shape, parameters; with totals."""
        rows = [("#", "layer", "neurons", "output shape", "parameters")]
        rows.append(("", "input", str(self.n_features), f"(n, {self.n_features})", "0"))
        for i, (layer, n) in enumerate(zip(self.layers, self.sizes)):
            rows.append((str(i), layer.summary_name(), str(n), f"(n, {n})", f"{layer.n_params:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(5)]
        lines = ["  ".join(cell.ljust(w) if c < 4 else cell.rjust(w) for c, (cell, w) in enumerate(zip(r, widths)))
                 for r in rows]
        rule = "-" * len(lines[0])
        kib = self.n_params * self.dtype.itemsize / 1024
        return views.Text("\n".join([lines[0], rule, *lines[1:], rule,
                                     f"Total parameters: {self.n_params:,} ({kib:,.1f} KiB as {self.dtype})"]),
                          notebook.summary_table_html(self))

    def __repr__(self):
        body = "\n".join(f"  ({i}): {layer.summary_name()}" + (f"  {layer.n_params:,} params" if layer.n_params else "")
                         for i, layer in enumerate(self.layers))
        sizes = f"{self.n_features} inputs -> {self.n_outputs} outputs, {self.n_params:,} parameters"
        return f"Network(\n{body}\n)  # {sizes}"

    def _repr_html_(self):
        """In Jupyter: a diagram of the layers and the summary table (see ``glassnet.notebook``)."""
        return notebook.network_html(self)

    def explain(self, x: ArrayLike, *, top: int = 5,
                reference: tuple[ArrayLike, ArrayLike] | explain.Reference | None = None, neighbours: int = 5,
                label: int | None = None, image_shape: tuple[int, ...] | None = None) -> Explanation:
        """Trace one prediction neuron by neuron; see :func:`glassnet.explain.explain` for the arguments."""
        return explain.explain(self, x, top=top, reference=reference, neighbours=neighbours, label=label,
                               image_shape=image_shape)


def _per_layer(buffers, layers):
    """Each layer's own ``Buffers`` from a ``StepBuffers``, or None for every layer (the textbook passes)."""
    return buffers.layers if buffers is not None else [None] * len(layers)


__all__ = ["Evaluation", "LAYER_TYPES", "Network", "StepBuffers"]
