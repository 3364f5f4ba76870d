"""Tests for glassnet.activations: formulas, numerical stability and gradients.

Each activation's backward is compared with central finite differences written here (float64),
with glassnet.gradcheck on a one-layer network, and with torch.nn.functional when installed.
"""

import warnings

import numpy as np
import pytest

import glassnet as gn
from finite_differences import numeric_grad, rel_error
from glassnet import activations
from glassnet.activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from optional import need


def away_from_zero(shape, seed):
    """Inputs with |z| in [0.1, 2], so no finite-difference step crosses the ReLU kink."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# Independent reference formulas (float64, written out plainly).
def ref_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def ref_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


REFERENCES = {
    "ReLU": (ReLU, lambda z: np.where(z > 0, z, 0.0)),
    "LeakyReLU": (lambda: LeakyReLU(0.1), lambda z: np.where(z > 0, z, 0.1 * z)),
    "Sigmoid": (Sigmoid, ref_sigmoid),
    "Tanh": (Tanh, lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))),
    "Softmax": (Softmax, ref_softmax),
    "Identity": (Identity, lambda z: z),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_forward_matches_the_formula(name):
    make, reference = REFERENCES[name]
    z = away_from_zero((5, 4), seed=0)
    layer = make()
    out = layer.forward(z)
    np.testing.assert_allclose(out, reference(z), rtol=1e-12, atol=1e-15)
    assert out.shape == z.shape
    assert layer.output is out


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_forward_keeps_float32(name):
    make, _ = REFERENCES[name]
    out = make().forward(away_from_zero((3, 4), seed=1).astype(np.float32))
    assert out.dtype == np.float32


def test_hand_worked_values():
    z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(ReLU().forward(z), [[0.0, 0.0, 3.0]])
    np.testing.assert_allclose(LeakyReLU(0.5).forward(z), [[-1.0, 0.0, 3.0]])   # 0.5 * -2 = -1
    # sigmoid(0) = 1/2; sigmoid(3) = 1/(1+e^-3) = 1/1.049787 = 0.952574
    np.testing.assert_allclose(Sigmoid().forward(z)[0, 1:], [0.5, 0.952574], rtol=1e-6)
    # softmax([0, ln 3]) = [1, 3] / 4
    np.testing.assert_allclose(Softmax().forward(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_for_huge_inputs(dtype):
    z = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # underflow to exactly 0 is the right answer for exp(-1000); only overflow/invalid would be bugs
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            a = Sigmoid().forward(z)
    assert np.all(np.isfinite(a))
    assert a[0, 0] == 0.0 and a[0, -1] == 1.0 and a[0, 2] == 0.5
    assert a[0, 1] > 0                               # exp(-50) ~ 2e-22 still representable
    delta = Sigmoid()
    delta.forward(z)
    assert np.all(np.isfinite(delta.backward(np.ones_like(z))))


def test_softmax_rows_sum_to_one_shift_invariant_and_stable():
    z = np.random.default_rng(2).normal(size=(6, 5)) * 3
    a = Softmax().forward(z)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(a > 0)
    np.testing.assert_allclose(Softmax().forward(z + 123.0), a, rtol=1e-12)
    np.testing.assert_allclose(Softmax().forward(z - 7.5), a, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            huge = Softmax().forward(np.array([[1000.0, 0.0, -1000.0], [1e30, 1e30, -1e30]]))
    assert np.all(np.isfinite(huge))
    np.testing.assert_allclose(huge, [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], atol=1e-300)


CASES = {
    "ReLU": ReLU,
    "LeakyReLU": lambda: LeakyReLU(0.1),
    "Sigmoid": Sigmoid,
    "Tanh": Tanh,
    "Softmax": Softmax,
    "Identity": Identity,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_backward_matches_finite_differences(name):
    z = away_from_zero((4, 5), seed=3)
    C = np.random.default_rng(4).normal(size=(4, 5))   # L = sum(C * f(z)), so dL/da = C
    layer = CASES[name]()

    def loss():
        return float(np.sum(C * layer.forward(z)))

    layer.forward(z)
    dz = layer.backward(C)
    numeric = numeric_grad(loss, z)
    assert rel_error(dz, numeric) < 1e-6, name


def test_relu_and_leaky_relu_derivatives_by_hand():
    z = np.array([[-2.0, 3.0]])
    relu, leaky = ReLU(), LeakyReLU(0.2)
    relu.forward(z), leaky.forward(z)
    np.testing.assert_array_equal(relu.backward(np.array([[5.0, 5.0]])), [[0.0, 5.0]])
    np.testing.assert_allclose(leaky.backward(np.array([[5.0, 5.0]])), [[1.0, 5.0]])   # 0.2 * 5


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck_on_one_layer_network(name):
    layers = [gn.Dense(3, 4, seed=0, init="glorot"), CASES[name](), gn.Dense(4, 2, seed=1, init="glorot")]
    net = gn.Network(layers)
    X = np.random.default_rng(5).normal(size=(6, 3))
    y = np.array([0, 1, 1, 0, 1, 0])
    report = gn.gradcheck(net, X, y, loss="cross_entropy")
    assert report.passed, str(report)
    assert report.max_relative_error < 1e-6


@pytest.mark.parametrize("name", ["Sigmoid", "Softmax"])
def test_gradcheck_with_activation_as_output_and_mse(name):
    # no fused head for MSE, so the activation's own backward is what gets checked
    net = gn.Network([gn.Dense(3, 2, seed=0), CASES[name]()])
    X = np.random.default_rng(6).normal(size=(5, 3))
    y = np.random.default_rng(7).uniform(size=(5, 2))
    report = gn.gradcheck(net, X, y, loss="mse")
    assert report.passed, str(report)


def test_get_by_name_and_unknown_name():
    assert isinstance(activations.get("relu"), ReLU)
    assert isinstance(activations.get("Leaky-ReLU"), LeakyReLU)
    assert isinstance(activations.get("linear"), Identity)
    with pytest.raises(ValueError, match="activation expected one of .* received 'mish'"):
        activations.get("mish")


def test_leaky_relu_rejects_bad_alpha():
    with pytest.raises(ValueError, match="LeakyReLU: alpha expected a value in"):
        LeakyReLU(-0.1)
    with pytest.raises(TypeError, match="LeakyReLU: alpha expected a number"):
        LeakyReLU("0.1")
    assert LeakyReLU(0.3).get_config() == {"alpha": 0.3}


# -- against PyTorch ------------------------------------------------------------------

def _torch_functions(torch):
    F = torch.nn.functional
    return {
        "ReLU": F.relu,
        "LeakyReLU": lambda t: F.leaky_relu(t, 0.1),
        "Sigmoid": torch.sigmoid,
        "Tanh": torch.tanh,
        "Softmax": lambda t: F.softmax(t, dim=1),
        "Identity": lambda t: t,
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_match_torch(name):
    torch = need("torch")
    z = away_from_zero((4, 6), seed=8) * 3
    C = np.random.default_rng(9).normal(size=(4, 6))
    layer = CASES[name]()
    out = layer.forward(z)
    dz = layer.backward(C)
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    out_t = _torch_functions(torch)[name](zt)
    out_t.backward(torch.tensor(C, dtype=torch.float64))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_sigmoid_and_softmax_extremes_match_torch():
    torch = need("torch")
    z = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])
    with np.errstate(under="ignore"):
        ours = Sigmoid().forward(z)
    np.testing.assert_allclose(ours, torch.sigmoid(torch.tensor(z)).numpy(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(Softmax().forward(z), torch.softmax(torch.tensor(z), dim=1).numpy(),
                               rtol=1e-12, atol=1e-300)
