"""Tests for glassnet.layers: Dense and Dropout.

Gradients are checked against hand formulas and against central finite differences written
here (independent of glassnet.gradcheck), in float64.
"""

import numpy as np
import pytest

import glassnet as gn
from finite_differences import numeric_grad, rel_error
from glassnet.layers import Dense, Dropout

# -- Dense ------------------------------------------------------------------------------

def test_dense_shapes_and_parameter_layout():
    layer = Dense(3, 5, seed=0)
    assert layer.weights.shape == (5, 3)             # (n_out, n_in), as PyTorch Linear
    assert layer.biases.shape == (5,)
    assert layer.weights.dtype == np.float32 and layer.biases.dtype == np.float32
    assert layer.n_params == 5 * 3 + 5
    assert layer.output_size(3) == 5
    np.testing.assert_array_equal(layer.biases, 0)   # biases start at zero
    assert layer.grads["weights"].shape == (5, 3) and layer.grads["biases"].shape == (5,)
    assert repr(layer) == "Dense(n_in=3, n_out=5, init='he')"


def test_dense_forward_is_x_wt_plus_b_and_kept_in_output():
    rng = np.random.default_rng(1)
    layer = Dense(4, 3, seed=0, dtype=np.float64)
    layer.biases = rng.normal(size=3)
    X = rng.normal(size=(6, 4))
    W, b = layer.weights, layer.biases
    # independent: one neuron at a time, z[n, j] = sum_i W[j, i] x[n, i] + b[j]
    expected = np.array([[sum(W[j, i] * X[n, i] for i in range(4)) + b[j] for j in range(3)] for n in range(6)])
    out = layer.forward(X)
    assert out.shape == (6, 3)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert layer.output is out


def test_dense_forward_small_hand_example():
    layer = Dense(2, 2, init="zeros", dtype=np.float64)
    layer.weights = [[1.0, 2.0], [3.0, -1.0]]
    layer.biases = [0.5, -0.5]
    # x = (1, 1): neuron 0: 1*1 + 2*1 + 0.5 = 3.5; neuron 1: 3*1 - 1*1 - 0.5 = 1.5
    np.testing.assert_allclose(layer.forward(np.array([[1.0, 1.0]])), [[3.5, 1.5]])


def test_dense_backward_matches_hand_formulas():
    rng = np.random.default_rng(2)
    layer = Dense(4, 3, seed=0, dtype=np.float64)
    X = rng.normal(size=(5, 4))
    delta = rng.normal(size=(5, 3))
    layer.forward(X)
    dx = layer.backward(delta)
    W = layer.weights
    dW = np.zeros((3, 4))
    for n in range(5):
        dW += np.outer(delta[n], X[n])               # dL/dW[j,i] = sum_n delta[n,j] x[n,i]
    np.testing.assert_allclose(layer.grads["weights"], dW, rtol=1e-12)
    np.testing.assert_allclose(layer.grads["biases"], delta.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(dx, np.array([W.T @ d for d in delta]), rtol=1e-12)
    assert dx.shape == X.shape


def test_dense_backward_matches_finite_differences():
    rng = np.random.default_rng(3)
    layer = Dense(4, 3, seed=5, dtype=np.float64)
    layer.biases = rng.normal(size=3)
    X = rng.normal(size=(5, 4))
    C = rng.normal(size=(5, 3))                      # L = sum(C * out), so dL/dout = C

    def loss():
        return float(np.sum(C * layer.forward(X)))

    layer.forward(X)
    dx = layer.backward(C)
    analytic = {"weights": layer.grads["weights"].copy(), "biases": layer.grads["biases"].copy()}
    for name in ("weights", "biases"):
        numeric = numeric_grad(loss, layer.params[name])
        assert rel_error(analytic[name], numeric) < 1e-8, name
    assert rel_error(dx, numeric_grad(loss, X)) < 1e-8


def test_dense_backward_accepts_float32():
    layer = Dense(3, 2, seed=0)
    X = np.ones((4, 3), dtype=np.float32)
    layer.forward(X)
    dx = layer.backward(np.ones((4, 2), dtype=np.float32))
    assert dx.dtype == np.float32 and layer.grads["weights"].dtype == np.float32
    np.testing.assert_allclose(layer.grads["weights"], 4.0)  # sum over 4 samples of 1 * 1
    np.testing.assert_allclose(layer.grads["biases"], 4.0)


def test_dense_seed_reproduces_weights():
    a, b, c = Dense(6, 4, seed=7), Dense(6, 4, seed=7), Dense(6, 4, seed=8)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert not np.array_equal(a.weights, c.weights)
    g1, g2 = np.random.default_rng(11), np.random.default_rng(11)
    np.testing.assert_array_equal(Dense(6, 4, seed=g1).weights, Dense(6, 4, seed=g2).weights)


def test_dense_init_choices():
    assert np.all(Dense(5, 3, init="zeros").weights == 0)
    layer = Dense(5, 3, init=lambda shape, rng, dtype: np.full(shape, 0.25, dtype=dtype))
    np.testing.assert_array_equal(layer.weights, 0.25)
    with pytest.raises(ValueError, match="init expected one of"):
        Dense(5, 3, init="no-such-init")


@pytest.mark.parametrize("n_in, n_out, error, message", [
    (0, 3, ValueError, r"Dense: n_in expected a value in \[1, .*received 0"),
    (3, 0, ValueError, r"Dense: n_out expected a value in \[1, .*received 0"),
    (-2, 3, ValueError, r"n_in expected a value"),
    ("3", 2, TypeError, r"Dense: n_in expected an int, received str '3'"),
    (2.5, 3, TypeError, r"Dense: n_in expected an int, received float 2.5"),
    (3, True, TypeError, r"Dense: n_out expected an int, received bool"),
])
def test_dense_rejects_bad_sizes(n_in, n_out, error, message):
    with pytest.raises(error, match=message):
        Dense(n_in, n_out)


# -- Dropout ----------------------------------------------------------------------------

def test_dropout_is_identity_when_not_training_or_p_zero():
    X = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    layer = Dropout(0.5, seed=0)
    np.testing.assert_array_equal(layer.forward(X), X)
    np.testing.assert_array_equal(layer.backward(np.ones_like(X)), 1)
    zero = Dropout(0.0, seed=0)
    np.testing.assert_array_equal(zero.forward(X, training=True), X)
    np.testing.assert_array_equal(zero.backward(X), X)
    assert layer.n_params == 0 and Dropout.has_training_mode


def test_dropout_drops_about_p_and_scales_the_rest():
    p = 0.3
    X = np.full((400, 500), 2.0, dtype=np.float32)
    layer = Dropout(p, seed=1)
    out = layer.forward(X, training=True)
    dropped = np.mean(out == 0)
    assert abs(dropped - p) < 0.01                   # 200,000 Bernoulli draws: sd ~ 0.001
    kept = out[out != 0]
    np.testing.assert_allclose(kept, 2.0 / (1 - p), rtol=1e-6)
    assert abs(out.mean() - 2.0) / 2.0 < 0.01        # expected value preserved
    assert layer.output is out


def test_dropout_expected_value_preserved_on_random_inputs():
    rng = np.random.default_rng(4)
    X = rng.uniform(1.0, 3.0, size=(300, 400))
    out = Dropout(0.6, seed=2).forward(X, training=True)
    assert abs(out.mean() - X.mean()) / X.mean() < 0.02


def test_dropout_backward_uses_the_same_mask():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(20, 30))
    layer = Dropout(0.4, seed=3)
    out = layer.forward(X, training=True)
    delta = rng.normal(size=X.shape)
    dx = layer.backward(delta)
    mask = np.where(out != 0, 1.0 / (1 - 0.4), 0.0)   # reconstructed from the forward output
    np.testing.assert_allclose(dx, delta * mask, rtol=1e-12)
    assert np.array_equal(dx == 0, out == 0)


def test_dropout_gradient_with_frozen_mask_matches_finite_differences():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(4, 6))
    C = rng.normal(size=(4, 6))
    layer = Dropout(0.5, seed=0)

    def loss():
        layer.rng = np.random.default_rng(123)      # the same mask on every call
        return float(np.sum(C * layer.forward(X, training=True)))

    loss()
    dx = layer.backward(C)
    numeric = numeric_grad(loss, X)
    assert np.any(dx == 0) and np.any(dx != 0)       # the mask both dropped and kept neurons
    assert rel_error(dx, numeric) < 1e-8


def test_dropout_seeded_masks_reproduce():
    X = np.ones((10, 10), dtype=np.float32)
    a = Dropout(0.5, seed=9).forward(X, training=True)
    b = Dropout(0.5, seed=9).forward(X, training=True)
    c = Dropout(0.5, seed=10).forward(X, training=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    layer = Dropout(0.5, seed=9)
    first, second = layer.forward(X, training=True).copy(), layer.forward(X, training=True)
    assert not np.array_equal(first, second)         # a new mask every forward pass


@pytest.mark.parametrize("p, error, message", [
    (1.0, ValueError, r"p expected a value in \[0, 1\), received 1.0"),
    (1.5, ValueError, r"Dropout: p expected a value in \[0.0, 1.0\], received 1.5"),
    (-0.1, ValueError, r"Dropout: p expected a value in \[0.0, 1.0\], received -0.1"),
    ("0.5", TypeError, r"Dropout: p expected a number, received str"),
])
def test_dropout_rejects_bad_p(p, error, message):
    with pytest.raises(error, match=message):
        Dropout(p)


def test_layer_astype_converts_params_and_grads():
    layer = Dense(3, 2, seed=0).astype(np.float64)
    assert layer.weights.dtype == np.float64 and layer.grads["weights"].dtype == np.float64
    assert isinstance(layer, gn.Layer)
