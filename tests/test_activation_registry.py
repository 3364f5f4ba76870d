"""What every registered activation must support, checked for every entry of glassnet.activations.ACTIVATIONS.

Adding an activation means one class in glassnet/activations.py and one line in ``REFERENCES`` below
(an independent formula, written plainly); every test here then runs on it: the derivative against
finite differences, the layer against its own definition, float32 against float64, gradcheck, save
and load, explain's exact sums, ONNX Runtime and PyTorch parity, the CLI, the estimators and
``Network.mlp``. A registered activation without a reference line fails the first test.
"""

import math
import warnings

import numpy as np
import pytest

import glassnet as gn
from finite_differences import numeric_grad, rel_error
from glassnet import activations, initializers
from glassnet.cli import build_parser, main
from glassnet.layers import Buffers
from glassnet.network import StepBuffers
from optional import need


def ref_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# name: (settings other than the defaults, if any; a reference formula in float64, for |z| up to about 6)
REFERENCES = {
    "relu": ({}, lambda z: np.where(z > 0, z, 0.0)),
    "leaky_relu": ({"alpha": 0.1}, lambda z: np.where(z > 0, z, 0.1 * z)),
    "sigmoid": ({}, lambda z: 1.0 / (1.0 + np.exp(-z))),
    "tanh": ({}, lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))),
    "softmax": ({}, ref_softmax),
    "identity": ({}, lambda z: z),
    "gelu": ({}, np.vectorize(lambda z: 0.5 * z * (1.0 + math.erf(z / math.sqrt(2.0))))),
    "silu": ({}, lambda z: z / (1.0 + np.exp(-z))),
    "softplus": ({}, lambda z: np.log(1.0 + np.exp(z))),
}

NAMES = list(activations.ACTIVATIONS)
HIDDEN = activations.names()


def make(name, **overrides):
    settings, _ = REFERENCES[name]
    return activations.get(name, **{**settings, **overrides})


def away_from_kinks(shape, seed, scale=3.0):
    """Inputs with |z| in [0.1, scale]: no finite-difference step crosses ReLU's kink at 0."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, scale, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def network(name, dtype=np.float64, seed=0):
    """6 -> 8 -> 5 -> 3 with the activation after both hidden Dense layers, weights large enough for |z| ~ 5."""
    init = activations.default_init(name)
    layers = [gn.Dense(6, 8, init=init, seed=seed, dtype=dtype), make(name),
              gn.Dense(8, 5, init=init, seed=seed + 1, dtype=dtype), make(name),
              gn.Dense(5, 3, init="glorot", seed=seed + 2, dtype=dtype)]
    rng = np.random.default_rng(seed + 3)
    layers[0].weights = layers[0].weights * 2.0
    for layer in layers[::2]:
        layer.biases = rng.normal(0, 0.3, layer.n_out)
    return gn.Network(layers)


def inputs(n=16, seed=4, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=(n, 6)).astype(dtype)


# -- the registry itself ------------------------------------------------------------------------
def test_every_registered_activation_has_a_reference_here():
    assert set(REFERENCES) == set(NAMES), "add one line to REFERENCES for each new activation"


@pytest.mark.parametrize("name", NAMES)
def test_declares_what_its_callers_need(name):
    cls = activations.ACTIVATIONS[name]
    layer = activations.get(name)
    assert issubclass(cls, activations.Activation) and type(layer) is cls and cls.name == name
    assert activations.LAYER_TYPES[cls.__name__] is cls and gn.network.LAYER_TYPES[cls.__name__] is cls
    assert cls.formula.startswith("a") and "z" in cls.formula
    assert cls.derivative_formula.startswith("d")
    initializers.get(cls.default_init)                    # a real initializer
    assert activations.default_init(name) == cls.default_init
    assert isinstance(cls.elementwise, bool) and isinstance(cls.hidden, bool)
    assert (name in HIDDEN) == cls.hidden and name in activations.names(hidden=False)
    assert isinstance(cls.torch_name, str) and cls.torch_name
    assert layer.label().startswith(name) and layer.n_params == 0 and layer.summary_name() == repr(layer)
    assert activations.get(name.upper().replace("_", "-")).get_config() == layer.get_config()
    assert getattr(gn, cls.__name__) is cls and cls.__name__ in gn.__all__     # gn.GELU, with no edit of __init__


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", [n for n in NAMES if activations.ACTIVATIONS[n].elementwise])
def test_infinite_inputs_give_the_limits_not_nan(name, dtype):
    # a diverging network's sums can reach +-inf: f and f' give their limits there, quietly (warnings are errors)
    layer = activations.get(name)
    z = np.array([[-np.inf, np.inf]], dtype=dtype)
    a, slope = layer.function(z), layer.derivative(z)
    assert not np.isnan(a).any() and not np.isnan(slope).any()
    assert a.dtype == dtype and slope.dtype == dtype
    far = layer.function(np.array([[-1e30, 1e30]], dtype=np.float64))
    assert np.all((a == far) | (np.isinf(a) & (np.sign(a) == np.sign(far))))


@pytest.mark.parametrize("name", NAMES)
def test_its_range_and_dying_claims_hold(name):
    # plots.activation_stats and the diagnostics read these instead of naming activations
    cls = activations.ACTIVATIONS[name]
    a = activations.get(name).function(np.linspace(-50.0, 50.0, 1001)[None, :])
    if cls.output_range is not None:
        low, high = cls.output_range
        assert low < high and a.min() >= low and a.max() <= high and a.min() < low + 0.01 and a.max() > high - 0.01
    if cls.on_when_positive:                     # "never fires" means a <= 0 for every input of the layer
        assert np.all(a[0, :500] <= 0) and np.all(a[0, 501:] > 0)
    if cls.can_die:                              # off passes no gradient at all
        assert cls.on_when_positive and np.all(activations.get(name).derivative(np.linspace(-50.0, -0.1, 50)) == 0)


def test_aliases_point_at_registered_names_and_names_are_in_a_stable_order():
    assert all(target in activations.ACTIVATIONS for target in activations.ALIASES.values())
    assert not set(activations.ALIASES) & set(activations.ACTIVATIONS)
    assert HIDDEN == [n for n in activations.ACTIVATIONS if activations.ACTIVATIONS[n].hidden]
    with pytest.raises(ValueError, match=r"activation expected one of \[.*'relu'.*\], received 'nope'"):
        activations.get("nope")


# -- the definition: function and derivative ------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_function_matches_the_reference_formula(name):
    _, reference = REFERENCES[name]
    z = away_from_kinks((5, 7), seed=0, scale=6.0)
    a = make(name).function(z)
    assert a.dtype == np.float64 and a.shape == z.shape
    np.testing.assert_allclose(a, reference(z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_finite_differences(name):
    layer = make(name)
    z = away_from_kinks((4, 5), seed=1)
    C = np.random.default_rng(2).normal(size=z.shape)        # L = sum(C * f(z)), so dL/da = C
    numeric = numeric_grad(lambda: float(np.sum(C * layer.function(z))), z)
    assert rel_error(layer.backprop(z, C), numeric) < 1e-6
    if layer.elementwise:
        np.testing.assert_array_equal(layer.backprop(z, C), C * layer.derivative(z))
        h = 1e-6                                              # element by element, too
        slope = (layer.function(z + h) - layer.function(z - h)) / (2 * h)
        assert rel_error(layer.derivative(z), slope) < 1e-6
        np.testing.assert_array_equal(layer.derivative(z, layer.function(z)), layer.derivative(z))
    else:
        assert layer.derivative(z) is None


@pytest.mark.parametrize("name", NAMES)
def test_function_and_derivative_are_pure(name):
    layer = make(name)
    z = away_from_kinks((3, 4), seed=3)
    before = z.copy()
    first = layer.function(z).copy(), (None if not layer.elementwise else layer.derivative(z).copy())
    layer.forward(away_from_kinks((3, 4), seed=9))            # a cached pass on other inputs changes nothing
    np.testing.assert_array_equal(layer.function(z), first[0])
    if layer.elementwise:
        np.testing.assert_array_equal(layer.derivative(z), first[1])
    np.testing.assert_array_equal(z, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_finite_and_quiet_far_out(name, dtype):
    z = np.array([[-1e4, -700.0, -50.0, -20.0, -1.0, -1e-30, 0.0, 1e-30, 1.0, 20.0, 50.0, 700.0, 1e4]], dtype=dtype)
    layer = make(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            a = layer.function(z)
            slope = layer.backprop(z, np.ones_like(z))
    assert a.dtype == dtype and slope.dtype == dtype
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(slope))


# -- the layer: forward, backward, infer and the fast path are the definition ------------------------
@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_and_infer_are_function_and_derivative(name):
    layer = make(name)
    z = away_from_kinks((6, 5), seed=5)
    delta = np.random.default_rng(6).normal(size=z.shape)
    out = layer.forward(z)
    np.testing.assert_array_equal(out, layer.function(z))
    assert layer.output is out
    np.testing.assert_array_equal(layer.backward(delta.copy()), layer.backprop(z, delta))
    np.testing.assert_array_equal(layer.infer(z), out)


@pytest.mark.parametrize("name", NAMES)
def test_the_fast_path_gives_the_same_numbers(name):
    layer, fast = make(name), make(name)
    z = away_from_kinks((6, 5), seed=7).astype(np.float32)
    delta = np.random.default_rng(8).normal(size=z.shape).astype(np.float32)
    buffers = Buffers()
    np.testing.assert_array_equal(fast.forward(z, training=True, buffers=buffers), layer.forward(z, training=True))
    np.testing.assert_array_equal(fast.backward(delta.copy(), buffers=buffers), layer.backward(delta.copy()))


@pytest.mark.parametrize("name", NAMES)
def test_float32_training_step_agrees_with_float64(name):
    net32 = network(name, dtype=np.float32)
    net64 = net32.astype(np.float64)
    X, y = inputs(), np.arange(16) % 3
    loss = gn.losses.get("cross_entropy")
    value32, _ = net32.train_step(X.astype(np.float32), y, loss, StepBuffers(net32.layers))
    value64, _, _ = net64.loss_and_gradients(X, y, loss)
    assert value32 == pytest.approx(value64, rel=1e-5)
    for g32, g64 in zip(net32.gradients(), net64.gradients()):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(g64).max()))


@pytest.mark.parametrize("name", HIDDEN)
def test_fit_trains_a_network_in_float32(name, blobs):
    X, y = blobs
    net = gn.Network.mlp([5, 16, 3], activation=name, seed=0)
    history = net.fit(X, y, epochs=3, batch_size=32, optimizer=gn.Adam(0.01), seed=0)
    assert net.dtype == np.float32
    assert history["loss"][-1] < history["loss"][0]


# -- everything built on the definition ---------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_passes(name):
    report = gn.gradcheck(network(name), inputs(6), np.array([0, 1, 2, 0, 1, 2]))
    assert report.passed and report.max_relative_error < 1e-6, str(report)


@pytest.mark.parametrize("name", HIDDEN)
def test_network_mlp_takes_it_with_its_initializer(name):
    net = gn.Network.mlp([4, 6, 5, 2], activation=name, seed=0)
    assert [type(layer) for layer in net.layers] == [gn.Dense, activations.ACTIVATIONS[name]] * 2 + [gn.Dense]
    assert all(layer.init == activations.ACTIVATIONS[name].default_init for layer in net.layers[::2])
    assert net.predict_proba(np.ones((2, 4))).shape == (2, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_save_and_load_give_identical_predictions(name, dtype, tmp_path):
    net = network(name, dtype=dtype)
    net.save(tmp_path / "model")
    back = gn.load(tmp_path / "model")
    assert [layer.get_config() for layer in back.layers] == [layer.get_config() for layer in net.layers]
    assert [type(layer) for layer in back.layers] == [type(layer) for layer in net.layers]
    X = inputs(dtype=dtype)
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))


@pytest.mark.parametrize("name", NAMES)
def test_explain_sums_are_exact(name):
    net = network(name)
    explanation = gn.explain(net, inputs(1)[0])
    for layer in explanation.layers[1:]:
        for n in layer.neurons:
            assert abs(n.positive + n.negative + n.bias - n.z) <= 1e-12 * max(1.0, abs(n.z))
    assert explanation.forward_check < 1e-12
    np.testing.assert_allclose(explanation.probabilities, net.predict_proba(inputs(1))[0], rtol=1e-12)


@pytest.mark.parametrize("name", HIDDEN)
def test_the_cli_trains_with_it(name, tmp_path, capsys):
    assert build_parser().parse_args(["train", "--activation", name]).activation == name
    code = main(["train", "--activation", name, "--layers", "4", "--epochs", "1", "--no-augment", "--quiet",
                 "--out", str(tmp_path / "run")])
    assert code == 0
    assert type(gn.load(tmp_path / "run" / "model").layers[1]) is activations.ACTIVATIONS[name]


@pytest.mark.parametrize("name", HIDDEN)
def test_the_estimators_take_it(name, blobs):
    need("sklearn")
    from glassnet.sklearn import GlassnetClassifier

    X, y = blobs
    clf = GlassnetClassifier(hidden_layer_sizes=(4,), activation=name, epochs=1, random_state=0).fit(X, y)
    assert type(clf.net_.layers[1]) is activations.ACTIVATIONS[name]


# -- exports -----------------------------------------------------------------------------------------
WIDE = np.linspace(-30.0, 30.0, 601)


def _wide_net(name):
    """The activation straight on the input (so the whole range -30..30 reaches it), then one Dense layer."""
    return gn.Network([make(name), gn.Dense(6, 3, seed=0, init="glorot")], n_features=6)


@pytest.mark.parametrize("opset", [13, 17, 20])
@pytest.mark.parametrize("name", NAMES)
def test_onnx_runtime_parity(name, opset):
    need("onnx")
    ort = need("onnxruntime")
    net = network(name, dtype=np.float32)
    _, report = gn.export.to_onnx_bytes(net, opset=opset)
    assert report.passed, str(report)

    wide = _wide_net(name)
    X = np.resize(WIDE, (len(WIDE) // 6 * 6,)).reshape(-1, 6).astype(np.float32)
    data, _ = gn.export.to_onnx_bytes(wide, opset=opset)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (received,) = session.run(None, {"input": X})
    expected = wide.forward(X)
    np.testing.assert_allclose(received, expected, rtol=0, atol=1e-5 * max(1.0, float(np.abs(expected).max())))


@pytest.mark.parametrize("name", NAMES)
def test_pytorch_parity_both_ways(name):
    torch = need("torch")
    for dtype in (np.float32, np.float64):
        net = network(name, dtype=dtype)
        module = gn.export.to_torch(net)                     # checked against glassnet on the way out
        back = gn.export.from_torch(module)
        assert [type(layer) for layer in back.layers] == [type(layer) for layer in net.layers]
        assert [layer.get_config() for layer in back.layers[1::2]] == [layer.get_config() for layer in net.layers[1::2]]
        np.testing.assert_array_equal(back.forward(inputs(dtype=dtype)), net.forward(inputs(dtype=dtype)))
    torch_name, settings = make(name).torch_module()
    assert f"nn.{torch_name}(" in gn.export.torch_source(network(name))

    # Function and derivative against torch's own, in float64, over a wide range.
    layer, z = make(name), np.resize(WIDE, (len(WIDE) // 3 * 3,)).reshape(-1, 3)
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    at = getattr(torch.nn, torch_name)(**settings)(zt)
    C = np.random.default_rng(0).normal(size=z.shape)
    at.backward(torch.tensor(C))
    np.testing.assert_allclose(layer.function(z), at.detach().numpy(), rtol=1e-10, atol=1e-12)
    # atol: torch's Softplus switches to the identity above its threshold (20), where the exact
    # derivative, 1 - sigmoid(-z), differs from 1 by at most 2.1e-9
    np.testing.assert_allclose(layer.backprop(z, C), zt.grad.numpy(), rtol=1e-9, atol=1e-8)


def test_references_are_independent_of_glassnet():
    """The reference formulas above are plain NumPy / math (not glassnet's code): spot-check two by hand."""
    assert REFERENCES["sigmoid"][1](np.array([0.0]))[0] == 0.5
    assert REFERENCES["tanh"][1](np.array([math.log(2.0)]))[0] == pytest.approx(0.6)   # (2 - 1/2) / (2 + 1/2)
