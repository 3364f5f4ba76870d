import numpy as np
import pytest

import glassnet as gn


@pytest.fixture(scope="session")
def digits():
    return gn.datasets.load_digits()


@pytest.fixture
def blobs():
    """A small, easy 3-class problem: Gaussian blobs in 5 dimensions (float32)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, size=(3, 5))
    y = rng.integers(0, 3, size=300)
    X = (centres[y] + rng.normal(0, 1, size=(300, 5))).astype(np.float32)
    return X, y
