"""Small data sets in the plane: points ``(x1, x2)`` in [-6, 6]², generated from a seed, and their features.

Classification (two classes, labels 0 and 1): ``blobs`` (two Gaussian clouds), ``circles`` (a disc in
a ring), ``xor`` (the four quadrants), ``spiral`` (two interleaved spirals), ``moons`` (two half
moons). Regression (one real target): ``sine`` (``t = sin(x1)``, one input) and ``plane``
(``t = (x1 + x2) / 12``, two inputs). The shapes follow TensorFlow Playground's generators (same
ranges, ``noise`` on the same scale: 0 is clean, 0.5 is very noisy); ``moons`` and ``sine`` are ours.

A network reads *features* of the point, chosen by name: ``x1, x2, x1^2, x2^2, x1*x2, sin(x1),
sin(x2)``. :func:`load` returns the usual :class:`~glassnet.datasets.Dataset` whose columns are the
chosen features (float32), with the raw points kept in ``extra["points_train"]`` /
``extra["points_test"]`` for pictures. The same ``(name, noise, n, seed)`` gives the same points,
bit for bit, on every machine (NumPy's PCG64 from the seed); the split into training and test points
is drawn from the same seed.

Not here: pictures of a network over the plane (``glassnet.plane``), the app's view of it.
"""

import numpy as np

from .digits import Dataset
from .errors import DatasetError

EXTENT = 6.0                                               # the points lie in [-EXTENT, EXTENT]²
CLASSIFICATION = ("blobs", "circles", "xor", "spiral", "moons")
REGRESSION = ("sine", "plane")
NAMES = CLASSIFICATION + REGRESSION

#: Each feature: its function of ``(x1, x2)``, and which raw inputs it needs.
FEATURES = {
    "x1": (lambda a, b: a, ("x1",)),
    "x2": (lambda a, b: b, ("x2",)),
    "x1^2": (lambda a, b: a * a, ("x1",)),
    "x2^2": (lambda a, b: b * b, ("x2",)),
    "x1*x2": (lambda a, b: a * b, ("x1", "x2")),
    "sin(x1)": (lambda a, b: np.sin(a), ("x1",)),
    "sin(x2)": (lambda a, b: np.sin(b), ("x2",)),
}
DEFAULT_FEATURES = ("x1", "x2")
_ALIASES = {"x1²": "x1^2", "x2²": "x2^2", "x1x2": "x1*x2", "x1·x2": "x1*x2", "sin x1": "sin(x1)",
            "sin x2": "sin(x2)", "sinx1": "sin(x1)", "sinx2": "sin(x2)"}

DESCRIPTIONS = {
    "blobs": "two Gaussian clouds centred at (2, 2) and (-2, -2)",
    "circles": "a disc of one class inside a ring of the other",
    "xor": "the four quadrants: class 1 where x1·x2 >= 0",
    "spiral": "two interleaved spirals, 1.75 turns each",
    "moons": "two interleaved half moons",
    "sine": "t = sin(x1) on x1 in [-6, 6] (one input)",
    "plane": "t = (x1 + x2) / 12 over the plane",
}


def is_regression(name):
    return name in REGRESSION


def n_inputs(name):
    """Raw inputs of a set: 1 for ``sine`` (the points lie on the x1 axis), else 2."""
    return 1 if name == "sine" else 2


def default_features(name):
    return DEFAULT_FEATURES if n_inputs(name) == 2 else ("x1",)


def generate(name, *, noise=0.0, n=400, seed=0):
    """The raw points of set ``name``: ``(P, t)``, ``P`` float64 ``(n, 2)`` and ``t`` int64 labels or float64 targets.

    Example:
        >>> P, t = generate("xor", n=4, seed=1)
        >>> P.shape, t.dtype.kind
        ((4, 2), 'i')
    """
    name = check_name(name)
    noise = _check_number("noise", noise, 0.0, 1.0)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 4 <= n <= 100_000:
        raise DatasetError(f"n expected an integer from 4 to 100000, received {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DatasetError(f"seed expected a non-negative integer, received {seed!r}")
    rng = np.random.default_rng(int(seed))
    return _GENERATORS[name](rng, int(n), noise)


def feature_columns(P, names=DEFAULT_FEATURES):
    """The feature columns of points ``P`` ``(n, 2)``: float32 ``(n, len(names))``.

    Example:
        >>> feature_columns(np.array([[1.0, 2.0]]), ("x1", "x1*x2"))
        array([[1., 2.]], dtype=float32)
    """
    names = check_features(names)
    P = np.asarray(P, dtype=np.float64)
    return np.stack([FEATURES[f][0](P[:, 0], P[:, 1]) for f in names], axis=1).astype(np.float32)


def check_features(names, dataset=None):
    """The feature names as a tuple of canonical names; DatasetError for an unknown one, a repeat, or none."""
    if isinstance(names, str):
        names = (names,)
    try:
        names = tuple(_ALIASES.get(str(f).strip().lower().replace(" ", ""), str(f).strip().lower().replace(" ", ""))
                      for f in names)
    except TypeError:
        raise DatasetError(f"features expected names among {', '.join(FEATURES)}, received {names!r}") from None
    unknown = [f for f in names if f not in FEATURES]
    if unknown or not names or len(set(names)) != len(names):
        raise DatasetError(f"features expected distinct names among {', '.join(FEATURES)}, received {list(names)}")
    if dataset is not None and n_inputs(dataset) == 1:
        needs_x2 = [f for f in names if "x2" in FEATURES[f][1]]
        if needs_x2:
            raise DatasetError(f"{dataset} has one input (x1); expected features of x1 only, received {needs_x2}")
    return names


def check_name(name):
    key = str(name).strip().lower()
    if key not in NAMES:
        raise DatasetError(f"expected a plane data set among {', '.join(NAMES)}, received {name!r}")
    return key


def load(name, *, noise=0.0, n=400, seed=0, features=None, test_fraction=0.5):
    """Set ``name`` as a :class:`Dataset`: the chosen feature columns, split into training and test points.

    Args:
        name: one of :data:`NAMES`.
        noise: 0 (clean) to 1; Playground's scale (its slider goes to 0.5).
        n: points in all (training and test).
        seed: the same seed gives the same points and the same split.
        features: the columns, among ``x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2)``; default
            ``("x1", "x2")`` (``("x1",)`` for ``sine``).
        test_fraction: the share of points held out for testing (0 to 0.9).

    Example:
        >>> data = load("spiral", noise=0.1, n=400, seed=0)
        >>> data.X_train.shape, data.shape, data.classes
        ((200, 2), (2,), ['0', '1'])
    """
    name = check_name(name)
    chosen = check_features(default_features(name) if features is None else features, name)
    P, t = generate(name, noise=noise, n=n, seed=seed)
    return from_points(P, t, features=chosen, test_fraction=test_fraction, seed=seed, name=name,
                       regression=is_regression(name), description=DESCRIPTIONS[name],
                       extra={"noise": float(noise), "n": int(n), "seed": int(seed)})


def from_points(P, t, *, features=DEFAULT_FEATURES, test_fraction=0.5, seed=0, name="points", regression=False,
                description="your own points", extra=None):
    """A :class:`Dataset` from your own points ``P`` ``(n, 2)`` and labels (0/1) or real targets ``t``."""
    features_ = check_features(features)
    test_fraction = _check_number("test_fraction", test_fraction, 0.0, 0.9)
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] != 2 or len(P) < 2 or not np.isfinite(P).all():
        raise DatasetError(f"points expected a finite (n, 2) array with n >= 2, received shape {P.shape}")
    t = np.asarray(t)
    if t.shape != (len(P),):
        raise DatasetError(f"labels expected shape ({len(P)},), received {t.shape}")
    if regression:
        y = t.astype(np.float32).reshape(-1, 1)
        classes = []
    else:
        if not np.isin(t, (0, 1)).all():
            raise DatasetError(f"labels expected 0 or 1, received {sorted(set(np.unique(t).tolist()))[:5]}")
        y, classes = t.astype(np.int64), ["0", "1"]
    order = np.random.default_rng([int(seed), 1]).permutation(len(P))
    n_test = min(len(P) - 1, max(int(test_fraction > 0), int(round(len(P) * test_fraction))))  # 1 of each, at least
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    X = feature_columns(P, features_)
    info = {"points_train": P[train], "points_test": P[test], "features": list(features_),
            "task": "regression" if regression else "classification", "test_fraction": float(test_fraction),
            **(extra or {})}
    return Dataset(X[train], y[train], X[test], y[test], classes=classes, shape=(len(features_),), name=name,
                   description=description, licence="generated (no licence needed)", source="glassnet.datasets.plane",
                   extra=info)


def _check_number(what, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not low <= value <= high:
        raise DatasetError(f"{what} expected a number from {low:g} to {high:g}, received {value!r}")
    return float(value)


# -- the generators (Playground's shapes; uniform(a, b) is rng.uniform) ---------------------------------------------
def _blobs(rng, n, noise):
    spread = 0.5 + 3.5 * min(noise, 0.5) / 0.5           # Playground: variance 0.5 to 4 as noise goes 0 to 0.5
    half = n // 2
    P = np.concatenate([rng.normal((2.0, 2.0), np.sqrt(spread), (n - half, 2)),
                        rng.normal((-2.0, -2.0), np.sqrt(spread), (half, 2))])
    return P, np.r_[np.ones(n - half, np.int64), np.zeros(half, np.int64)]


def _circles(rng, n, noise):
    radius, half = 5.0, n // 2
    parts = []
    for count, (r0, r1) in ((n - half, (0.0, radius * 0.5)), (half, (radius * 0.7, radius))):
        r, angle = rng.uniform(r0, r1, count), rng.uniform(0.0, 2 * np.pi, count)
        parts.append(np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1))
    P = np.concatenate(parts)
    shaken = P + rng.uniform(-radius, radius, P.shape) * noise
    return P, (np.hypot(shaken[:, 0], shaken[:, 1]) < radius * 0.5).astype(np.int64)


def _xor(rng, n, noise):
    P = rng.uniform(-5.0, 5.0, (n, 2))
    P += np.where(P > 0, 0.3, -0.3)
    shaken = P + rng.uniform(-5.0, 5.0, P.shape) * noise
    return P, (shaken[:, 0] * shaken[:, 1] >= 0).astype(np.int64)


def _spiral(rng, n, noise):
    half = n // 2
    parts, labels = [], []
    for count, delta, label in ((n - half, 0.0, 1), (half, np.pi, 0)):
        i = np.arange(count) / count
        r, angle = i * 5.0, 1.75 * i * 2 * np.pi + delta
        parts.append(np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1) + rng.uniform(-1, 1, (count, 2)) * noise)
        labels.append(np.full(count, label, np.int64))
    return np.concatenate(parts), np.concatenate(labels)


def _moons(rng, n, noise):
    half = n // 2
    a = rng.uniform(0.0, np.pi, n - half)
    b = rng.uniform(0.0, np.pi, half)
    upper = np.stack([np.cos(a), np.sin(a)], axis=1)
    lower = np.stack([1.0 - np.cos(b), 0.5 - np.sin(b)], axis=1)
    P = (np.concatenate([upper, lower]) - (0.5, 0.25)) * 3.0 + rng.normal(0.0, 1.0, (n, 2)) * noise * 3.0
    return P, np.r_[np.ones(n - half, np.int64), np.zeros(half, np.int64)]


def _sine(rng, n, noise):
    x = rng.uniform(-EXTENT, EXTENT, n)
    P = np.stack([x, np.zeros(n)], axis=1)
    return P, np.sin(x) + rng.normal(0.0, 1.0, n) * noise


def _plane(rng, n, noise):
    P = rng.uniform(-EXTENT, EXTENT, (n, 2))
    shaken = P + rng.uniform(-EXTENT, EXTENT, P.shape) * noise
    return P, (shaken[:, 0] + shaken[:, 1]) / (2 * EXTENT)


_GENERATORS = {"blobs": _blobs, "circles": _circles, "xor": _xor, "spiral": _spiral, "moons": _moons,
               "sine": _sine, "plane": _plane}
