"""Initial weights: how a network starts before it has learned anything.

Weights start random (so neurons differ) and scaled to the layer's fan-in / fan-out
(so signals neither vanish nor explode as they pass through many layers). Biases
start at zero. A weight matrix has shape ``(n_out, n_in)``: fan_in = n_in, fan_out = n_out.

Every initializer is a function ``init(shape, rng, dtype) -> array``; ``get(name)``
looks one up by name. Not here: orthogonal or data-dependent schemes.
"""

from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

from ._validation import as_generator


def _fans(shape):
    n_out, n_in = shape
    return n_in, n_out


def he_normal(shape: tuple[int, int], rng: int | np.random.Generator | None = None,
              dtype: DTypeLike = np.float32) -> np.ndarray:
    """He (Kaiming) normal, for ReLU layers: ``W ~ N(0, 2 / fan_in)``.

    Example:
        >>> he_normal((3, 4), rng=0).shape
        (3, 4)
    """
    fan_in, _ = _fans(shape)
    return (as_generator(rng).standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def he_uniform(shape: tuple[int, int], rng: int | np.random.Generator | None = None,
               dtype: DTypeLike = np.float32) -> np.ndarray:
    """He uniform: ``W ~ U(-a, a)`` with ``a = sqrt(6 / fan_in)`` (same variance as he_normal)."""
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return as_generator(rng).uniform(-limit, limit, shape).astype(dtype)


def glorot_uniform(shape: tuple[int, int], rng: int | np.random.Generator | None = None,
                   dtype: DTypeLike = np.float32) -> np.ndarray:
    """Glorot (Xavier) uniform, for tanh/sigmoid: ``W ~ U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return as_generator(rng).uniform(-limit, limit, shape).astype(dtype)


def glorot_normal(shape: tuple[int, int], rng: int | np.random.Generator | None = None,
                  dtype: DTypeLike = np.float32) -> np.ndarray:
    """Glorot (Xavier) normal: ``W ~ N(0, 2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(shape)
    return (as_generator(rng).standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def lecun_normal(shape: tuple[int, int], rng: int | np.random.Generator | None = None,
                 dtype: DTypeLike = np.float32) -> np.ndarray:
    """LeCun normal: ``W ~ N(0, 1 / fan_in)``."""
    fan_in, _ = _fans(shape)
    return (as_generator(rng).standard_normal(shape) * np.sqrt(1.0 / fan_in)).astype(dtype)


def lecun_uniform(shape: tuple[int, int], rng: int | np.random.Generator | None = None,
                  dtype: DTypeLike = np.float32) -> np.ndarray:
    """LeCun uniform: ``W ~ U(-a, a)`` with ``a = sqrt(3 / fan_in)``."""
    fan_in, _ = _fans(shape)
    limit = np.sqrt(3.0 / fan_in)
    return as_generator(rng).uniform(-limit, limit, shape).astype(dtype)


def zeros(shape: tuple[int, int], rng: int | np.random.Generator | None = None,
          dtype: DTypeLike = np.float32) -> np.ndarray:
    """All zeros. Fine for biases; for weights every neuron stays identical (a lesson, not a choice)."""
    return np.zeros(shape, dtype=dtype)


INITIALIZERS = {
    "he": he_normal, "he_normal": he_normal, "kaiming": he_normal, "he_uniform": he_uniform,
    "glorot": glorot_uniform, "xavier": glorot_uniform, "glorot_uniform": glorot_uniform,
    "xavier_uniform": glorot_uniform, "glorot_normal": glorot_normal, "xavier_normal": glorot_normal,
    "lecun": lecun_normal, "lecun_normal": lecun_normal, "lecun_uniform": lecun_uniform,
    "zeros": zeros,
}


def get(init: str | Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Return the initializer named ``init`` (or ``init`` itself if it is callable)."""
    if callable(init):
        return init
    if isinstance(init, str) and init.lower() in INITIALIZERS:
        return INITIALIZERS[init.lower()]
    raise ValueError(f"init expected one of {sorted(INITIALIZERS)} or a callable, received {init!r}")
