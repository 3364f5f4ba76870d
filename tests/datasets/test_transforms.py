import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.datasets import Augment, flatten, one_hot, scale, standardise, validation_split


def test_validation_split_is_stratified_seeded_and_disjoint():
    y = np.repeat(np.arange(3), [50, 30, 20])
    X = np.arange(len(y))[:, None]
    X_tr, y_tr, X_val, y_val = validation_split(X, y, 0.2, seed=1)
    assert np.bincount(y_val).tolist() == [10, 6, 4] and np.bincount(y_tr).tolist() == [40, 24, 16]
    assert not set(X_tr.ravel()) & set(X_val.ravel()) and len(X_tr) + len(X_val) == len(X)
    again = validation_split(X, y, 0.2, seed=1)
    np.testing.assert_array_equal(again[2], X_val)
    assert not np.array_equal(validation_split(X, y, 0.2, seed=2)[2], X_val)
    _, _, _, y_val_onehot = validation_split(X, one_hot(y), 0.2, seed=1)       # one-hot labels work too
    np.testing.assert_array_equal(y_val_onehot.argmax(1), y_val)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1])
def test_validation_split_refuses_bad_fraction(fraction):
    with pytest.raises(ValueError, match="fraction"):
        validation_split(np.zeros((4, 1)), np.zeros(4, int), fraction)


def test_scale_standardise_flatten_one_hot():
    assert scale(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]
    train, test, (mean, std) = standardise(np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[2.0, 6.0]]))
    np.testing.assert_allclose(train, [[-1, 0], [1, 0]])
    np.testing.assert_allclose(test, [[0, 1]])             # the constant feature is only centred
    assert flatten(np.zeros((2, 3, 4))).shape == (2, 12)
    with pytest.raises(ValueError, match="non-negative integer"):
        one_hot(np.array([0.5]))
    with pytest.raises(ValueError, match="not below n_classes"):
        one_hot([3], 3)


@pytest.fixture(scope="module")
def batch():
    return gn.datasets.load_digits().X_train[:64].copy()


def test_augment_is_seeded_by_the_rng_alone_and_leaves_input_alone(batch):
    augment = Augment((28, 28), shift=2, rotate=10, zoom=0.1, noise=0.05)
    before = batch.copy()
    a = augment(batch, np.random.default_rng(7))
    b = augment(batch, np.random.default_rng(7))
    c = augment(batch, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(batch, before)
    assert a.shape == batch.shape and a.dtype == np.float32 and a is not batch


def test_augment_changes_images_but_keeps_them_recognisable(batch):
    augment = Augment((28, 28), shift=2, rotate=10)
    out = augment(batch, np.random.default_rng(0))
    assert np.abs(out - batch).mean() > 0.01
    # small moves keep most of the ink: the total brightness barely changes, and images stay in [0, 1]
    np.testing.assert_allclose(out.sum(1), batch.sum(1), rtol=0.15)
    assert out.min() >= 0 and out.max() <= 1 + 1e-6


def test_warp_by_whole_pixels_is_an_exact_shift_and_quarter_turn_is_exact():
    augment = Augment((5, 6), shift=1, rotate=0)
    X = np.random.default_rng(0).random((2, 30)).astype(np.float32)
    out = augment.warp(X, angles=[0, 0], zooms=[1, 1], shifts=[[1, 0], [0, -2]]).reshape(2, 5, 6)
    images = X.reshape(2, 5, 6)
    np.testing.assert_allclose(out[0, 1:], images[0, :-1])           # one row down
    np.testing.assert_array_equal(out[0, 0], 0)                      # filled with the background
    np.testing.assert_allclose(out[1, :, :-2], images[1, :, 2:])     # two columns left
    square = Augment((5, 5), rotate=90)
    Y = X[:1, :25]
    turned = square.warp(Y, angles=[90], zooms=[1], shifts=[[0, 0]]).reshape(5, 5)
    np.testing.assert_allclose(turned, np.rot90(Y.reshape(5, 5)), atol=1e-5)   # counter-clockwise


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_identity_settings_return_a_copy(batch, interpolation):
    augment = Augment((28, 28), shift=0, rotate=0, interpolation=interpolation)
    out = augment(batch, np.random.default_rng(0))
    np.testing.assert_array_equal(out, batch)
    out = Augment((28, 28), shift=1e-9, rotate=0, interpolation=interpolation).warp(
        batch, np.zeros(64), np.ones(64), np.zeros((64, 2)))
    np.testing.assert_allclose(out, batch, atol=1e-6)


def test_noise_and_clip(batch):
    out = Augment((28, 28), shift=0, rotate=0, noise=0.1)(batch, np.random.default_rng(0))
    assert 0.09 < np.std(out - batch) < 0.11
    clipped = Augment((28, 28), shift=0, rotate=0, noise=0.5, clip=(0, 1))(batch, np.random.default_rng(0))
    assert clipped.min() == 0 and clipped.max() == 1


def test_config_round_trips_through_json():
    augment = Augment((28, 28), shift=3, rotate=15, zoom=0.1, noise=0.02, interpolation="nearest", clip=(0, 1))
    config = json.loads(json.dumps(augment.get_config()))
    again = Augment.from_config(config)
    assert again.get_config() == augment.get_config() and "shift=3" in repr(again)


@pytest.mark.parametrize("kwargs, message", [
    ({"shift": -1}, "shift"), ({"rotate": 200}, "rotate"), ({"noise": float("nan")}, "noise"),
    ({"interpolation": "cubic"}, "interpolation"), ({"clip": (1, 0)}, "clip"), ({"shape": (28,)}, "shape"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Augment(**{"shape": (28, 28), **kwargs})


def test_bad_batches_are_refused(batch):
    augment = Augment((28, 28))
    with pytest.raises(ValueError, match=r"\(n_samples, 784\)"):
        augment(batch.reshape(64, 28, 28), np.random.default_rng(0))
    with pytest.raises(TypeError, match="floating-point"):
        augment((batch * 255).astype(np.uint8), np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        augment(batch, 0)
