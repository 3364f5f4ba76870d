"""Optimizers: take a step downhill, given the gradient.

Backpropagation gives the direction (the gradient ``g = dL/dw``, which points uphill);
the optimizer decides how far to move against it. Layers compute gradients, optimizers
apply them: ``optimizer.step(params, grads)`` updates each parameter array in place and
owns all the state this needs (velocities, Adam moments, the step count), which can be
saved with ``state_dict()`` and restored with ``load_state_dict()``.

The learning rate ``lr`` may be a number or a schedule (``glassnet.schedules``).
Settings become an optimizer in one place, :func:`build` (names, defaults, validation):
``build("sgd", 0.1, momentum=0.9, schedule="one-cycle")``. A new optimizer is a subclass here
plus an entry in ``OPTIMIZERS``, ``DEFAULT_LR`` and ``DEFAULT_WEIGHT_DECAY``.
Every optimizer takes ``l1=`` (an L1 penalty, ``l1 * sign(w)`` added to the gradient of the weights:
arrays of two or more dimensions, never biases), applied in one place, :meth:`Optimizer.step`.
Update rules follow PyTorch's conventions (noted per class) so results can be compared.
Not here: second-order methods, gradient clipping, per-layer learning rates.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import schedules as _schedules
from ._memory import ALIGN, address, aligned_zeros
from ._validation import check_params

_common = {"momentum": ("float", 0.0, 1.0, False), "weight_decay": ("float", 0.0, None, False),
           "l1": ("float", 0.0, None, False),
           "beta1": ("float", 0.0, 1.0, False), "beta2": ("float", 0.0, 1.0, False),
           "eps": ("float", 0.0, None, True), "nesterov": ("bool", None, None, False)}


class Optimizer:
    """Base class: holds the learning rate (or schedule), the step count and per-parameter state.

    Subclasses write only ``_update(i, w, g, lr)``, the rule for parameter number ``i``.

    ``l1``: the L1 penalty ``l1 * sum|w|`` over the weights, whose gradient ``l1 * sign(w)`` is added
    to each weight array's gradient (arrays of two or more dimensions; biases are never penalised)
    before the optimizer's own rule sees it, as ``weight_decay`` adds the L2 term ``weight_decay * w``.
    It pushes every weight towards 0 by the same amount and so drives the useless ones to exactly 0
    (a sparse network), where L2 only shrinks them in proportion.
    """

    #: L1 penalty coefficient (0: none); subclasses take it as ``l1=`` and set it with ``_set_l1``.
    l1 = 0.0

    #: names of the per-parameter state buffers, saved by ``state_dict``
    buffers: tuple[str, ...] = ()

    #: Every this many steps, state entries smaller than the smallest normal float are set to 0.
    #: Why: a velocity whose gradient stays 0 (a pixel that is always black) decays as
    #: ``0.9^t v`` into *subnormal* numbers and never reaches 0 (``0.9 * 1e-45`` rounds back up);
    #: on many CPUs arithmetic on subnormals is far slower. Values this small (< 1.2e-38 in float32)
    #: change no weight: ``lr * v`` rounds to 0 against any normal weight.
    flush_every = 256

    def __init__(self, lr: float | _schedules.Schedule) -> None:
        if not isinstance(lr, _schedules.Schedule):
            check_params(type(self).__name__, {"lr": ("float", 0.0, None, True)}, {"lr": lr})
        self.schedule = _schedules.as_schedule(lr)
        self.iterations = 0                              # steps taken so far (t)
        self.state: dict[int, dict[str, np.ndarray]] = {}  # i -> {buffer name: array}
        self._flat = None                                # SGD's one-pass plan over packed parameters

    @property
    def lr(self) -> float:
        """The learning rate the next step will use."""
        return float(self.schedule(self.iterations))

    @lr.setter
    def lr(self, value: float) -> None:
        """Set a constant learning rate from now on (replaces any schedule)."""
        check_params(type(self).__name__, {"lr": ("float", 0.0, None, True)}, {"lr": value})
        self.schedule = _schedules.Constant(value)

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Update every array in ``params`` in place using the matching array in ``grads``."""
        lr, state, l1 = self.lr, self.state, self.l1
        for i, (w, g) in enumerate(zip(params, grads)):
            if i not in state:
                state[i] = {name: np.zeros_like(w) for name in self.buffers}
            if l1 and w.ndim > 1:                        # L1 on weights (never biases): g + l1 sign(w)
                g = g + w.dtype.type(l1) * np.sign(w)
            self._update(i, w, g, lr)
        self.iterations += 1
        if self.iterations % self.flush_every == 0:
            self.flush_subnormals()

    def flush_subnormals(self) -> None:
        """Set state entries below the smallest normal number (subnormals) to exactly 0."""
        for bufs in self.state.values():
            for buf in bufs.values():
                tiny = np.finfo(buf.dtype).tiny
                np.copyto(buf, 0, where=np.abs(buf) < tiny)

    def _scratch(self, i, w):
        """A work array shaped like parameter ``i``, reused by every step (not part of the saved state)."""
        scratch = self.__dict__.setdefault("_scratch_buffers", {})
        buf = scratch.get(i)
        if buf is None or buf.shape != w.shape or buf.dtype != w.dtype:
            buf = scratch[i] = np.empty_like(w)
        return buf

    def _update(self, i, w, g, lr):
        raise NotImplementedError

    def _set_l1(self, l1):
        check_params(type(self).__name__, {"l1": _common["l1"]}, {"l1": l1})
        self.l1 = float(l1)

    def _l1_config(self):
        """``{"l1": l1}`` when set: absent at 0, so configs (and checkpoints) made before L1 existed compare equal."""
        return {"l1": self.l1} if self.l1 else {}

    # -- saving --------------------------------------------------------------------
    def get_config(self) -> dict:
        return {}

    def state_dict(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(config, arrays)``: JSON-serialisable settings and the named state arrays."""
        config = {"type": type(self).__name__, "lr": _schedules.to_config(self.schedule),
                  "iterations": self.iterations, **self.get_config()}
        arrays = {f"{i}.{name}": buf.copy() for i, bufs in self.state.items() for name, buf in bufs.items()}
        return config, arrays

    def load_state_dict(self, config: Mapping[str, Any], arrays: Mapping[str, ArrayLike]) -> None:
        """Restore what ``state_dict`` returned (the optimizer type must match)."""
        if config.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {config.get('type')!r}, this optimizer is {type(self).__name__}")
        self.schedule = _schedules.from_config(config["lr"])
        self.iterations = int(config["iterations"])
        self.state, self._flat = {}, None
        for key, value in arrays.items():
            index, name = key.split(".", 1)
            self.state.setdefault(int(index), {})[name] = np.array(value)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}(lr={self.schedule!r}{', ' if args else ''}{args})"

    def __getstate__(self):
        return {**self.__dict__, "_flat": None}     # a copy plans afresh (the plan holds the network's arrays)


#: SGD's packed update works on pieces of this many numbers (128 KiB of float32 per array: the weights,
#: gradients, velocity and a scratch piece together fit in a 512 KiB L2 cache), when it has at least
#: four pieces; measured on 784-512-256-128-10 (566,528 parameters): 0.79 ms per update in one pass,
#: 0.60 ms in pieces of 32,768 (0.70 ms in 16,384, 0.57 ms in 65,536; Intel Xeon, 2 MiB L2).
CHUNK = 32_768


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    Update (PyTorch's convention, velocity not scaled by lr)::

        g = g + weight_decay * w
        v = momentum * v + g                           # if momentum > 0
        step = g + momentum * v  if nesterov  else  v  (plain SGD: step = g)
        w = w - lr * step

    Args:
        lr: learning rate (step size) or a schedule.
        momentum: fraction of the previous velocity kept, in ``[0, 1]``.
        nesterov: look-ahead momentum (needs ``momentum > 0``).
        weight_decay: L2 penalty coefficient added to the gradient.
        l1: L1 penalty coefficient (``l1 * sign(w)`` added to the weights' gradient; see :class:`Optimizer`).
    """

    def __init__(self, lr: float | _schedules.Schedule = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, l1: float = 0.0) -> None:
        super().__init__(lr)
        self._set_l1(l1)
        check_params("SGD", _common, {"momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay})
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True expected momentum > 0, received momentum=0")
        self.momentum, self.nesterov, self.weight_decay = float(momentum), bool(nesterov), float(weight_decay)
        self.buffers = ("velocity",) if momentum > 0 else ()

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """As :meth:`Optimizer.step`; when the parameters (and the gradients) are consecutive views of one
        array, as ``fit`` packs them, the update runs once over that whole array instead of once per
        parameter: the same element-wise formula, so the same numbers, with four NumPy calls in all
        rather than four per parameter (the per-parameter loop stays the textbook line).

        With momentum and at least ``4 * CHUNK`` numbers, the packed update goes through the arrays in
        pieces of ``CHUNK``: each piece's four operations (``v *= mu``, ``v += g``, ``lr * v``, ``w -=``)
        run while its numbers are still in the CPU's cache, instead of four passes over memory. Element by
        element the same formula, so the same numbers."""
        flat = self._flat_plan(params, grads)
        if flat is None:
            return super().step(params, grads)
        P, G, V, S = flat
        lr = self.lr
        if self.weight_decay:
            G = G + self.weight_decay * P                  # g + wd w, over every parameter as before
        step = CHUNK if V is not None and len(P) >= 4 * CHUNK else len(P)
        for start in range(0, len(P), step):               # one pass, or pieces that stay in the CPU cache
            stop = start + step
            p, g, s = P[start:stop], G[start:stop], S[start:stop]
            if V is not None:
                v = V[start:stop]
                v *= self.momentum
                v += g                                     # v = mu v + g
                g = g + self.momentum * v if self.nesterov else v
            p -= np.multiply(g, lr, out=s)                 # w = w - lr step
        self.iterations += 1
        if self.iterations % self.flush_every == 0:
            self.flush_subnormals()

    def _flat_plan(self, params, grads):
        """``(P, G, V, S)``: the packed parameters, gradients, velocity and scratch, or None (per-parameter path).

        Built once for a given list of arrays and reused while it still describes them; the velocity of
        each parameter stays ``state[i]["velocity"]`` (a view of ``V``), so saving and resuming are unchanged.
        """
        plan = getattr(self, "_flat", None)
        if (plan is not None and len(plan[0]) == len(params) and all(a is b for a, b in zip(plan[0], params))
                and all(a is b for a, b in zip(plan[1], grads))
                and (plan[4] is None or self.state[0]["velocity"].base is plan[4])):
            return plan[2:]
        self._flat = None
        if self.l1 or type(self)._update is not SGD._update:
            return None
        layout, grad_layout = packed_offsets(params), packed_offsets(grads)
        if layout is None or grad_layout is None:
            return None
        (P, offsets), (G, grad_offsets) = layout, grad_layout
        if P.dtype != G.dtype or offsets != grad_offsets:   # the same layout: element i of G is P[i]'s gradient
            return None
        V = None
        if self.momentum:
            V = aligned_zeros(P.shape, P.dtype, phase=address(P) % ALIGN)   # the same cache-line layout as P
            for i, (w, offset) in enumerate(zip(params, offsets)):
                view = V[offset:offset + w.size].reshape(w.shape)
                old = self.state.get(i, {}).get("velocity")
                if old is not None:
                    view[...] = old
                self.state[i] = {"velocity": view}
        S = aligned_zeros(P.shape, P.dtype, phase=address(P) % ALIGN)
        self._flat = (tuple(params), tuple(grads), P, G, V, S)
        return self._flat[2:]

    def _update(self, i, w, g, lr):
        # Scalars as Python floats: NumPy keeps the array's dtype for them (NEP 50), with no conversion call.
        if self.weight_decay:
            g = g + self.weight_decay * w                  # textbook line; a new array (only with weight decay)
        if self.momentum:
            v = self.state[i]["velocity"]
            v *= self.momentum
            v += g                                         # v = mu v + g
            if self.nesterov:
                g = g + self.momentum * v
            else:                                          # w = w - lr v: v is not changed, so
                g = v
        step = np.multiply(g, lr, out=self._scratch(i, w))  # lr * step, in a reused array
        w -= step                                          # w = w - lr step

    def get_config(self) -> dict:
        return {"momentum": self.momentum, "nesterov": self.nesterov, "weight_decay": self.weight_decay,
                **self._l1_config()}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2014, https://arxiv.org/abs/1412.6980), with bias correction.

    Update at step t = 1, 2, ... (weight decay is L2, added to the gradient, as PyTorch ``Adam``)::

        g = g + weight_decay * w
        m = beta1 m + (1 - beta1) g            v = beta2 v + (1 - beta2) g^2
        m_hat = m / (1 - beta1^t)              v_hat = v / (1 - beta2^t)
        w = w - lr * m_hat / (sqrt(v_hat) + eps)

    ``l1`` adds ``l1 * sign(w)`` to the weights' gradient first (see :class:`Optimizer`).
    """

    buffers = ("m", "v")

    def __init__(self, lr: float | _schedules.Schedule = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0, l1: float = 0.0) -> None:
        super().__init__(lr)
        self._set_l1(l1)
        check_params(type(self).__name__, _common,
                     {"beta1": beta1, "beta2": beta2, "eps": eps, "weight_decay": weight_decay})
        if beta1 >= 1 or beta2 >= 1:
            raise ValueError(f"{type(self).__name__}: beta1 and beta2 expected values in [0, 1), "
                             f"received {beta1!r}, {beta2!r}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.weight_decay = float(weight_decay)

    def _decay(self, w, g, lr):
        """Adam: L2 penalty in the gradient."""
        return g + self.weight_decay * w if self.weight_decay else g

    def _update(self, i, w, g, lr):
        g = self._decay(w, g, lr)
        m, v = self.state[i]["m"], self.state[i]["v"]
        t = self.iterations + 1
        m *= self.beta1
        m += (1 - self.beta1) * g                          # first moment: running mean of g
        v *= self.beta2
        v += (1 - self.beta2) * g * g                      # second moment: running mean of g^2
        m_hat = m / (1 - self.beta1 ** t)
        v_hat = v / (1 - self.beta2 ** t)
        w -= (lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps, "weight_decay": self.weight_decay,
                **self._l1_config()}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, https://arxiv.org/abs/1711.05101).

    As PyTorch ``AdamW``: first ``w = w - lr * weight_decay * w``, then the Adam step with the
    plain gradient (no L2 term in ``g``).
    """

    def __init__(self, lr: float | _schedules.Schedule = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.01, l1: float = 0.0) -> None:
        super().__init__(lr, beta1, beta2, eps, weight_decay, l1)

    def _decay(self, w, g, lr):
        if self.weight_decay:
            w *= w.dtype.type(1 - lr * self.weight_decay)   # shrink the weight itself
        return g


def packed(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """The 1-D array whose pieces ``arrays`` are, in order and covering all of it, or None.

    ``fit`` packs a network's parameters (and gradients) this way (``glassnet.training``), so an optimizer
    can update all of them with one pass per operation. Two layouts count: the pieces one right after the
    other, or (as ``fit`` packs them) the array and every piece starting on a cache line
    (:data:`glassnet._memory.ALIGN` bytes), each piece padded to the next line: the few numbers of padding
    belong to no parameter (``fit`` keeps them 0, and an update leaves 0 there). A piece left out makes it
    None: in the second layout it would start a cache line of its own.
    """
    layout = packed_offsets(arrays)
    return None if layout is None else layout[0]


def packed_offsets(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, list[int]] | None:
    """``(base, offsets)``: the array :func:`packed` finds and where each piece starts in it, or None."""
    base = arrays[0].base if arrays else None
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    start, size = address(base), base.itemsize
    end, offsets = start, []  # type: tuple[int, list[int]]
    consecutive, on_lines = True, start % ALIGN == 0                  # the two layouts, both possible so far
    for a in arrays:
        at = address(a)
        if a.base is not base or not a.flags.c_contiguous:
            return None
        consecutive = consecutive and at == end
        on_lines = on_lines and at == end + (-end % ALIGN)
        offsets.append((at - start) // size)
        end = at + a.size * size
    stop = start + base.size * size
    consecutive, on_lines = consecutive and stop == end, on_lines and stop == end + (-end % ALIGN)
    return (base, offsets) if consecutive or on_lines else None


#: The optimizers a user can name (``--optimizer``, the estimators, the app).
OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}
#: The learning rate :func:`build` uses when none is given: SGD's is the demo's one-cycle peak
#: (see ``glassnet train``), Adam's and AdamW's the usual 1e-3.
DEFAULT_LR = {"sgd": 0.1, "adam": 0.001, "adamw": 0.001}
#: The weight decay :func:`build` uses when none is given: each class's own default (AdamW decays by design).
DEFAULT_WEIGHT_DECAY = {"sgd": 0.0, "adam": 0.0, "adamw": 0.01}


def names() -> tuple[str, ...]:
    """The optimizer names, in the order users see them.

    Example:
        >>> names()
        ('sgd', 'adam', 'adamw')
    """
    return tuple(OPTIMIZERS)


def canonical(name: str) -> str:
    """The registry name of an optimizer (any case), or a ValueError naming the choices.

    Example:
        >>> canonical("AdamW")
        'adamw'
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in OPTIMIZERS:
        raise ValueError(f"optimizer expected one of {', '.join(names())}, received {name!r}")
    return key


def build(optimizer: str = "sgd", lr: float | None = None, *, momentum: float = 0.9, weight_decay: float | None = None,
          schedule: str = "constant", epochs: int | None = None, l1: float = 0.0) -> Optimizer:
    """The one way to turn settings into an optimizer with its learning-rate schedule.

    The CLI, the estimators, ``lr_find`` and the app all call this, so a name and its defaults mean the
    same in each of them (SGD: ``DEFAULT_LR["sgd"]`` = 0.1 with momentum 0.9, the demo's settings). The
    classes themselves, and :func:`get` (``fit(optimizer="sgd")``), keep their constructor defaults, as
    ``torch.optim`` does: ``SGD()`` is plain SGD with ``lr=0.01`` and no momentum.

    Args:
        optimizer: one of :func:`names` (any case).
        lr: the learning rate (the peak for ``one-cycle``); ``None`` takes ``DEFAULT_LR[optimizer]``.
        momentum: SGD's momentum, in ``[0, 1]`` (Adam and AdamW have their own moments and ignore it).
        weight_decay: ``None`` takes ``DEFAULT_WEIGHT_DECAY[optimizer]`` (0 except AdamW's 0.01).
        schedule: one of ``glassnet.schedules.names()`` (aliases such as ``one_cycle`` accepted).
        epochs: the length of training in epochs; the ``step`` schedule divides the rate every third of it.
        l1: the L1 penalty on the weights (0: none), ``l1 * sign(w)`` added to their gradient.

    Example:
        >>> build("sgd", 0.05, schedule="cosine")
        SGD(lr=Cosine(lr=0.05, total_steps=None, min_lr=0.0), momentum=0.9, nesterov=False, weight_decay=0.0)
        >>> build("adam").lr
        0.001
    """
    key = canonical(optimizer)
    lr = DEFAULT_LR[key] if lr is None else lr
    weight_decay = DEFAULT_WEIGHT_DECAY[key] if weight_decay is None else weight_decay
    # Every setting is checked before anything is built, so a bad one never leaves half an optimizer.
    check_params("optimizer", {"lr": ("float", 0.0, None, True), **_common},
                 {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "l1": l1})
    rate = _schedules.build(schedule, lr, epochs)
    if key == "sgd":
        return SGD(rate, momentum=momentum, weight_decay=weight_decay, l1=l1)
    return OPTIMIZERS[key](rate, weight_decay=weight_decay, l1=l1)


def get(optimizer: Optimizer | str, **kwargs: Any) -> Optimizer:
    """Return an optimizer from a name (``"sgd"``, ``"adam"``, ``"adamw"``) or an Optimizer."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    key = str(optimizer).lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"optimizer expected one of {sorted(OPTIMIZERS)} or an Optimizer, received {optimizer!r}")
    return OPTIMIZERS[key](**kwargs)


def from_config(config: Mapping[str, Any], arrays: Mapping[str, ArrayLike]) -> Optimizer:
    """Rebuild an optimizer and its state from ``state_dict()`` output."""
    kinds = {cls.__name__: cls for cls in OPTIMIZERS.values()}     # a new optimizer's checkpoints load too
    if config.get("type") not in kinds:
        raise ValueError(f"optimizer type expected one of {sorted(kinds)}, received {config.get('type')!r}")
    cls = kinds[config["type"]]
    args = {k: v for k, v in config.items() if k not in ("type", "lr", "iterations")}
    opt = cls(lr=_schedules.from_config(config["lr"]), **args)
    opt.load_state_dict(config, arrays)
    return opt
