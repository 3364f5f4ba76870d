"""Tests for glassnet.activations: formulas, numerical stability and gradients.

Each activation's backward is compared with central finite differences written here (float64),
with glassnet.gradcheck on a one-layer network, and with torch.nn.functional when installed.
"""

import math
import warnings

import numpy as np
import pytest

import glassnet as gn
from finite_differences import numeric_grad, rel_error
from glassnet import activations
from glassnet.activations import GELU, Identity, LeakyReLU, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
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
    "GELU": (GELU, np.vectorize(lambda t: 0.5 * t * (1.0 + math.erf(t / math.sqrt(2.0))))),
    "SiLU": (SiLU, lambda z: z / (1.0 + np.exp(-z))),
    "Softplus": (Softplus, lambda z: np.log(1.0 + np.exp(z))),
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
    "GELU": GELU,
    "SiLU": SiLU,
    "Softplus": Softplus,
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
        "GELU": lambda t: F.gelu(t, approximate="none"),
        "SiLU": F.silu,
        "Softplus": F.softplus,
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


# -- GELU and the error function ------------------------------------------------------------

def _erf_grid():
    rng = np.random.default_rng(10)
    tiny_to_huge = np.geomspace(1e-310, 1e300, 3000)
    edges = [0.75, 2.0, 26.5, 27.3, 30.0]                # where the formulas change, and erfc's underflow
    near_edges = [np.nextafter(e, d) for e in edges for d in (0.0, np.inf)]
    return np.concatenate([np.linspace(-7, 7, 140001), rng.uniform(-30, 30, 60000), tiny_to_huge, -tiny_to_huge,
                           edges, near_edges, np.negative(near_edges), [0.0, -0.0, 1e-320, -1e-320]])


def test_erf_matches_math_erf_to_double_precision():
    x = _erf_grid()
    ours = activations.erf(x)
    reference = np.array([math.erf(v) for v in x])
    assert ours.dtype == np.float64 and ours.shape == x.shape
    assert np.all(np.abs(ours - reference) <= 1e-15 * np.abs(reference))      # measured: 4.7e-16
    assert np.all(np.signbit(ours) == np.signbit(reference))                   # erf(-0.0) is -0.0


def test_erfc_matches_math_erfc_including_its_tiny_tail():
    x = _erf_grid()
    ours = activations.erfc(x)
    reference = np.array([math.erfc(v) for v in x])
    normal = reference >= np.finfo(np.float64).tiny
    assert np.all(np.abs(ours - reference)[normal] <= 2e-15 * reference[normal])  # measured: 9.8e-16
    assert np.all(np.abs(ours - reference)[~normal] <= 1e-315)              # subnormal results, then 0
    assert activations.erfc(np.array([-30.0]))[0] == 2.0 and activations.erfc(np.array([30.0]))[0] == 0.0


def test_erf_at_infinities_nan_and_any_shape():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            e = activations.erf(np.array([np.inf, -np.inf, np.nan]))
            c = activations.erfc(np.array([np.inf, -np.inf, np.nan]))
    np.testing.assert_array_equal(e, [1.0, -1.0, np.nan])
    np.testing.assert_array_equal(c, [0.0, 2.0, np.nan])
    assert activations.erf(0.5).shape == () and activations.erf(np.zeros((0, 3))).shape == (0, 3)
    assert activations.erf(np.float32(0.5)) == math.erf(0.5)              # float32 in, float64 out
    np.testing.assert_array_equal(activations.erf(np.ones((2, 3, 4))), math.erf(1.0))


def test_gelu_hand_worked_values():
    # GELU(1) = Phi(1) = 0.841344746...; GELU(-1) = -Phi(-1) = -(1 - 0.841344746...)
    np.testing.assert_allclose(GELU().function(np.array([-1.0, 0.0, 1.0])),
                               [-0.15865525393145707, 0.0, 0.8413447460685429], rtol=1e-15)
    # da/dz = Phi(z) + z phi(z): 1/2 at 0; Phi(1) + exp(-1/2) / sqrt(2 pi) = 0.841344746 + 0.241970725 at 1
    np.testing.assert_allclose(GELU().derivative(np.array([0.0, 1.0])), [0.5, 1.0833154705876864], rtol=1e-15)


def test_gelu_keeps_the_digits_of_its_left_tail():
    z = np.array([-8.0, -20.0, -30.0, -37.0])
    reference = [0.5 * v * math.erfc(-v / math.sqrt(2.0)) for v in z]      # not 1 + erf: that cancels to 0
    # rtol: z / sqrt(2) is rounded (by either side), and erfc turns that into about z^2 units in the last place
    np.testing.assert_allclose(GELU().function(z), reference, rtol=1e-12)
    assert np.all(GELU().function(z) < 0)


def test_gelu_in_float32_is_the_float64_value_rounded():
    z = away_from_zero((5, 7), seed=11).astype(np.float32) * 3
    layer = GELU()
    for method in (layer.function, layer.derivative):
        out = method(z)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, method(z.astype(np.float64)).astype(np.float32))


# -- SiLU (swish) ---------------------------------------------------------------------------

def test_silu_hand_worked_values_and_its_other_name():
    # SiLU(2) = 2 sigmoid(2) = 2 / (1 + e^-2) = 2 / 1.135335283 = 1.761594156; SiLU(-1) = -1 / (1 + e) = -0.268941421
    np.testing.assert_allclose(SiLU().function(np.array([-1.0, 0.0, 2.0])), [-0.2689414213699951, 0.0,
                                                                            1.7615941559557649], rtol=1e-15)
    # da/dz = s + z s (1 - s): 1/2 at 0; at 2: 0.880797078 + 2 * 0.880797078 * 0.119202922 = 1.090784249
    np.testing.assert_allclose(SiLU().derivative(np.array([0.0, 2.0])), [0.5, 1.0907842487848955], rtol=1e-14)
    assert isinstance(activations.get("swish"), SiLU) and "swish" not in activations.names()


def test_silu_is_smooth_at_its_minimum_and_safe_far_out():
    z = np.array([-1.2784645427610738])                   # where da/dz = 0: the smallest value, -0.278
    assert abs(SiLU().derivative(z)[0]) < 1e-15 and SiLU().function(z)[0] == pytest.approx(-0.2784645427610738)
    with np.errstate(over="raise", invalid="raise", under="ignore"):
        far = SiLU().function(np.array([-1e4, 1e4], dtype=np.float32))
    np.testing.assert_array_equal(far, [0.0, 1e4])


# -- Softplus -------------------------------------------------------------------------------

def test_softplus_hand_worked_values():
    # log(1 + e^0) = log 2; log(1 + e) = 1.313261687; log(1 + e^-1) = 1.313261687 - 1 (softplus(z) - softplus(-z) = z)
    np.testing.assert_allclose(Softplus().function(np.array([-1.0, 0.0, 1.0])),
                               [0.31326168751822286, math.log(2.0), 1.3132616875182228], rtol=1e-15)
    np.testing.assert_allclose(Softplus().derivative(np.array([0.0, 2.0])), [0.5, 0.8807970779778823], rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_is_exact_where_the_textbook_formula_fails(dtype):
    z = np.array([-800.0, -40.0, 40.0, 800.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", under="ignore"):
            a = Softplus().function(z)                      # log(1 + exp(800)) would overflow
    assert a.dtype == dtype
    np.testing.assert_allclose(a, [0.0, math.exp(-40.0), 40.0, 800.0], rtol=1e-6 if dtype == np.float32 else 1e-15)
    assert a[1] > 0                                         # log(1 + e^-40) = 4.2e-18, not 0


def test_softplus_from_torch_only_with_the_exact_settings():
    torch = need("torch")
    nn = torch.nn
    back = gn.export.from_torch(nn.Sequential(nn.Linear(3, 2), nn.Softplus(), nn.Softplus(beta=1, threshold=30)))
    assert [type(layer) for layer in back.layers] == [gn.Dense, Softplus, Softplus]
    for module in (nn.Softplus(beta=2), nn.Softplus(threshold=5)):
        with pytest.raises(gn.export.UnsupportedLayerError, match="expected beta=1 and threshold >= 20"):
            gn.export.from_torch(nn.Sequential(nn.Linear(3, 2), module))


@pytest.mark.parametrize("shape", [(1, 10), (15, 10), (16, 10), (1024, 10), (64, 1), (64, 64), (64, 65), (40, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_max_fast_line_equals_the_textbook_line(shape, dtype):
    rng = np.random.default_rng(0)
    z = (rng.normal(size=shape) * 10).astype(dtype)
    z[0, 0] = -0.0
    if shape[0] > 3:
        z[3, -1] = np.nan                             # NaN propagates as in z.max
        z[2, :] = -np.inf
    for a in (z, np.asfortranarray(z), z[:, ::-1]):
        got, want = activations.row_max(a), a.max(axis=1, keepdims=True)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    # and softmax, built on it, still matches the formula written out
    finite = (rng.normal(size=shape) * 10).astype(dtype)
    expected = np.exp(finite - finite.max(axis=1, keepdims=True))
    np.testing.assert_array_equal(activations.softmax(finite), expected / expected.sum(axis=1, keepdims=True))
