"""Split, rescale and augment data: the small steps between a file and a network.

- :func:`validation_split`: hold out a fraction of each class, seeded (stratified).
- :func:`scale` (to [0, 1]), :func:`standardise` (zero mean, unit variance per feature, with
  the statistics of the training data only), :func:`flatten`, :func:`one_hot`.
- :class:`Augment`: random small shifts, rotations, zooms and noise for a batch of images,
  applied afresh to each mini-batch while training, so the network rarely sees the exact
  same picture twice.

All NumPy, vectorised over the batch: no per-pixel Python loops.
Not here: colour images, elastic distortions, cut-out; augmenting a whole dataset ahead of time.
"""

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .._validation import check_params, describe


# -- splitting ------------------------------------------------------------------------------
def validation_split(X: np.ndarray, y: ArrayLike, fraction: float = 0.1, *, seed: int | np.random.Generator | None = 0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``(X, y)`` into training and validation parts with the same share of each class.

    Within each class, ``round(fraction * n_class)`` examples chosen at random (seeded) go to
    validation (at least one when the class has two or more examples).

    Returns:
        ``(X_train, y_train, X_val, y_val)``; the order within each part follows ``X``.

    Example:
        >>> X, y = np.arange(20).reshape(10, 2), np.array([0] * 5 + [1] * 5)
        >>> _, y_train, _, y_val = validation_split(X, y, 0.2, seed=0)
        >>> np.bincount(y_train).tolist(), np.bincount(y_val).tolist()
        ([4, 4], [1, 1])
    """
    check_params("validation_split", {"fraction": ("float", 0.0, 1.0, True)}, {"fraction": fraction})
    if fraction >= 1:
        raise ValueError(f"validation_split: fraction expected a value in (0, 1), received {fraction!r}")
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"validation_split expected as many labels as samples, received {len(X)} samples "
                         f"and {len(y)} labels")
    labels = y if y.ndim == 1 else y.argmax(axis=1)        # one-hot rows: split by their class
    rng = np.random.default_rng(seed)
    val = np.zeros(len(y), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        n_val = int(round(fraction * len(members)))
        if n_val == 0 and len(members) >= 2:
            n_val = 1
        n_val = min(n_val, len(members) - 1) if len(members) > 1 else 0
        val[rng.choice(members, size=n_val, replace=False)] = True
    return X[~val], y[~val], X[val], y[val]


# -- rescaling ------------------------------------------------------------------------------
def scale(X: np.ndarray, maximum: float | None = None) -> np.ndarray:
    """Pixels to float32 in [0, 1]: ``x / maximum`` (default 255 for 8-bit integers, the data's max otherwise).

    Example:
        >>> scale(np.array([[0, 51, 255]], dtype=np.uint8)).tolist()
        [[0.0, 0.20000000298023224, 1.0]]
    """
    X = np.asarray(X)
    if maximum is None:
        maximum = 255.0 if X.dtype == np.uint8 else float(np.max(np.abs(X))) if X.size else 1.0
    if not maximum > 0:
        raise ValueError(f"scale expected a positive maximum, received {maximum!r}")
    return X.astype(np.float32) / np.float32(maximum)


def standardise(X_train: ArrayLike, *others: ArrayLike, eps: float = 1e-8) -> tuple:
    """Zero mean and unit variance per feature, with the training data's statistics: ``(x - mean) / std``.

    The same mean and std are applied to ``others`` (validation and test data), which must never
    contribute to them. Features that never vary (``std < eps``) are only centred.

    Returns:
        the standardised arrays (float32), then ``(mean, std)``.

    Example:
        >>> train, test, (mean, std) = standardise(np.array([[0.0], [2.0]]), np.array([[4.0]]))
        >>> train.ravel().tolist(), test.ravel().tolist(), mean.tolist(), std.tolist()
        ([-1.0, 1.0], [3.0], [1.0], [1.0])
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std < eps, 1.0, std)
    out = [((np.asarray(X, dtype=np.float64) - mean) / std).astype(np.float32) for X in (X_train, *others)]
    return (*out, (mean.astype(np.float32), std.astype(np.float32)))


def flatten(X: np.ndarray) -> np.ndarray:
    """Images ``(n, h, w)`` to rows ``(n, h * w)`` (rows are samples)."""
    X = np.asarray(X)
    return X.reshape(len(X), -1)


def one_hot(y: ArrayLike, n_classes: int | None = None, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Integer labels to one-hot rows: ``Y[i, y[i]] = 1``.

    Example:
        >>> one_hot([2, 0], 3).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu" or (y.size and y.min() < 0):
        raise ValueError(f"one_hot expected a 1-D array of non-negative integer labels, received {describe(y)}")
    n = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.size and y.max() >= n:
        raise ValueError(f"one_hot: label {int(y.max())} is not below n_classes={n}")
    Y = np.zeros((len(y), n), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


# -- augmentation ---------------------------------------------------------------------------
_AUGMENT_LIMITS = {
    "shift": ("float", 0.0, None, False),       # pixels
    "rotate": ("float", 0.0, 180.0, False),     # degrees
    "zoom": ("float", 0.0, 0.9, False),         # fraction, e.g. 0.1 for 90%-110%
    "noise": ("float", 0.0, None, False),       # standard deviation
    "fill": ("float", None, None, False),
}


class Augment:
    """Random small changes to a batch of flattened images: shift, rotation, zoom, noise.

    For each image, draws an angle ``θ ~ U(-rotate, rotate)`` degrees, a zoom ``s ~ U(1 - zoom,
    1 + zoom)`` and a shift ``t ~ U(-shift, shift)`` pixels per axis, and moves the picture about
    its centre ``c``: the output pixel ``p`` takes the input at ``c + R(-θ)(p - c - t) / s``
    (the inverse map, so every output pixel gets exactly one value), read with bilinear (or
    nearest-neighbour) interpolation; outside the picture is ``fill`` (0: black background, as
    in MNIST). Then Gaussian noise ``N(0, noise²)`` is added, and values are clipped to ``clip``
    if given. All images of the batch are done at once with index arithmetic.

    Args:
        shape: ``(height, width)`` of one image; rows of ``X`` hold ``height * width`` pixels.
        shift: largest shift in pixels along each axis.
        rotate: largest rotation in degrees.
        zoom: largest relative change of size (0.1: between 90% and 110%).
        noise: standard deviation of added Gaussian noise (in the data's units).
        interpolation: ``"bilinear"`` (smooth) or ``"nearest"`` (faster, blockier).
        fill: value outside the picture.
        clip: ``(low, high)`` to clip the result to, or None.

    Call it as ``augment(X_batch, rng)``: ``X_batch`` float ``(n, height * width)``, ``rng`` a
    ``numpy.random.Generator`` (the only source of randomness). Returns a new array of the same
    shape and dtype; ``X_batch`` is not changed.

    Example:
        >>> augment = Augment((28, 28), shift=2, rotate=10, noise=0.05)
        >>> X = np.zeros((4, 784), dtype=np.float32)
        >>> augment(X, np.random.default_rng(0)).shape
        (4, 784)
    """

    def __init__(self, shape: tuple[int, int] = (28, 28), *, shift: float = 2.0, rotate: float = 10.0,
                 zoom: float = 0.0, noise: float = 0.0, interpolation: str = "bilinear", fill: float = 0.0,
                 clip: tuple[float, float] | None = None) -> None:
        if (not isinstance(shape, (tuple, list)) or len(shape) != 2
                or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape)):
            raise ValueError(f"Augment: shape expected (height, width) of positive integers, received {shape!r}")
        check_params("Augment", _AUGMENT_LIMITS, {"shift": shift, "rotate": rotate, "zoom": zoom, "noise": noise,
                                                  "fill": fill})
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"Augment: interpolation expected 'bilinear' or 'nearest', received {interpolation!r}")
        if clip is not None and (len(clip) != 2 or not clip[0] < clip[1]):
            raise ValueError(f"Augment: clip expected (low, high) with low < high, or None, received {clip!r}")
        self.shape = (int(shape[0]), int(shape[1]))
        self.shift, self.rotate, self.zoom, self.noise = float(shift), float(rotate), float(zoom), float(noise)
        self.interpolation, self.fill = interpolation, float(fill)
        self.clip = None if clip is None else (float(clip[0]), float(clip[1]))
        h, w = self.shape
        # Output pixel coordinates relative to the centre, shared by every batch: (1, h*w) each.
        rows, cols = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
        self._centre = ((h - 1) / 2, (w - 1) / 2)
        self._dr = (rows - self._centre[0]).reshape(1, -1)
        self._dc = (cols - self._centre[1]).reshape(1, -1)

    @property
    def moves(self) -> bool:
        """True if it changes the geometry (shift, rotation or zoom)."""
        return self.shift > 0 or self.rotate > 0 or self.zoom > 0

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"Augment expected a numpy.random.Generator as rng, received {describe(rng)}")
        X = np.asarray(X)
        h, w = self.shape
        if X.ndim != 2 or X.shape[1] != h * w:
            raise ValueError(f"Augment({h}x{w}) expected a batch of shape (n_samples, {h * w}), received {X.shape}")
        if X.dtype.kind != "f":
            raise TypeError(f"Augment expected floating-point images (scale them first), received dtype {X.dtype}")
        n = len(X)
        if self.moves and n:
            angles = rng.uniform(-self.rotate, self.rotate, size=n)
            zooms = rng.uniform(1 - self.zoom, 1 + self.zoom, size=n)
            shifts = rng.uniform(-self.shift, self.shift, size=(n, 2))
            out = self.warp(X, angles, zooms, shifts)
        else:
            out = X.copy()
        if self.noise > 0:
            noise = rng.standard_normal(size=out.shape, dtype=np.float32 if out.dtype == np.float32 else np.float64)
            out += np.asarray(self.noise, dtype=noise.dtype) * noise  # type: ignore[attr-defined]  # NumPy stubs: an array
        if self.clip is not None:
            np.clip(out, self.clip[0], self.clip[1], out=out)
        return out

    def warp(self, X, angles, zooms, shifts):
        """Move each image by a given rotation, zoom and shift (the deterministic half of ``__call__``).

        Args:
            X: ``(n, height * width)`` float images.
            angles: ``(n,)`` degrees, counter-clockwise as displayed (row 0 at the top).
            zooms: ``(n,)`` scale factors (1: unchanged).
            shifts: ``(n, 2)`` pixels down and right.
        """
        h, w = self.shape
        n = len(X)
        theta = np.radians(np.asarray(angles, dtype=np.float64)).reshape(n, 1).astype(np.float32)
        s = np.asarray(zooms, dtype=np.float32).reshape(n, 1)
        t = np.asarray(shifts, dtype=np.float32).reshape(n, 2)
        cos, sin = np.cos(theta) / s, np.sin(theta) / s
        dr, dc = self._dr - t[:, :1], self._dc - t[:, 1:]
        # source = centre + R(-θ) (p - centre - t) / s, for every output pixel p of every image
        src_r = cos * dr + sin * dc + np.float32(self._centre[0])
        src_c = cos * dc - sin * dr + np.float32(self._centre[1])
        # Pad each image with `fill` (one pixel before, two after), so reads just outside the
        # picture need no masks; positions are first clipped to that border.
        H, W = h + 3, w + 3
        padded = np.full((n, H, W), self.fill, dtype=X.dtype)
        padded[:, 1:h + 1, 1:w + 1] = X.reshape(n, h, w)
        flat = padded.reshape(-1)
        np.clip(src_r, -1, h, out=src_r)
        np.clip(src_c, -1, w, out=src_c)
        # Flat index of a padded pixel: image * H * W + (row + 1) * W + (col + 1). Worked in float32
        # (exact below 2**24) and cast once, which is cheaper than integer arithmetic.
        index_dtype = np.float32 if n * H * W < 2 ** 24 else np.float64
        base = (np.arange(n, dtype=index_dtype) * (H * W) + (W + 1))[:, None]
        if self.interpolation == "nearest":
            index = base + np.rint(src_r) * W + np.rint(src_c)
            return np.take(flat, index.astype(np.intp))
        r0, c0 = np.floor(src_r), np.floor(src_c)
        fr, fc = src_r - r0, src_c - c0          # weights of the next row and the next column
        index = (base + r0 * W + c0).astype(np.intp)
        a, b = np.take(flat, index), np.take(flat, index + 1)             # (r0, c0), (r0, c0 + 1)
        c, d = np.take(flat, index + W), np.take(flat, index + (W + 1))   # (r0 + 1, c0), (r0 + 1, c0 + 1)
        top = a + fc * (b - a)
        bottom = c + fc * (d - c)
        return (top + fr * (bottom - top)).astype(X.dtype, copy=False)

    def get_config(self) -> dict:
        """The settings as a JSON-friendly dict; ``Augment(**config)`` rebuilds it."""
        return {"shape": list(self.shape), "shift": self.shift, "rotate": self.rotate, "zoom": self.zoom,
                "noise": self.noise, "interpolation": self.interpolation, "fill": self.fill,
                "clip": None if self.clip is None else list(self.clip)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        config = dict(config)
        return cls(tuple(config.pop("shape")), **config)

    def __repr__(self):
        parts = [f"shift={self.shift:g}", f"rotate={self.rotate:g}"]
        parts += [f"{k}={getattr(self, k):g}" for k in ("zoom", "noise") if getattr(self, k)]
        if self.interpolation != "bilinear":
            parts.append(f"interpolation={self.interpolation!r}")
        return f"Augment({self.shape[0]}x{self.shape[1]}, {', '.join(parts)})"
