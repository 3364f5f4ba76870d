import numpy as np
import pytest

import glassnet as gn
from glassnet.descent import (
    descend_plane,
    descend_weight,
    descent_paths,
    finite_difference,
    loss_along_weight,
    loss_surface,
)


@pytest.fixture(scope="module")
def lab(digits):
    """A real network trained for one epoch on the bundled digits, and 128 training digits of every class."""
    net = gn.Network.mlp([784, 32, 10], seed=0)
    net.fit(digits.X_train, digits.y_train, epochs=1, seed=0)
    rows = np.random.default_rng(0).choice(len(digits.X_train), 128, replace=False)
    return net, digits.X_train[rows], digits.y_train[rows]


def test_finite_difference_matches_backprop(lab):
    net, X, y = lab
    before = net.get_weights()
    for param, index in [(None, None), ("0.weights", (3, 400)), ("0.biases", (5,)), ("2.biases", 7)]:
        fd = finite_difference(net, X, y, param=param, index=index)
        assert fd["rel_error"] < 1e-6, fd["text"]
        assert fd["slope"] == pytest.approx((fd["loss_plus"] - fd["loss_minus"]) / (2 * fd["h"]))
        assert "backpropagation says" in fd["text"]
    assert abs(fd["backprop"]) > 0
    for name, w in net.get_weights().items():        # the lab never changes the network
        np.testing.assert_array_equal(w, before[name])


def test_loss_along_one_weight(lab):
    net, X, y = lab
    curve = loss_along_weight(net, X, y, span=0.5, points=11)
    middle = curve["losses"][5]
    assert curve["weights"][5] == pytest.approx(curve["w0"])
    assert middle == pytest.approx(curve["loss0"], rel=1e-9)
    assert curve["loss0"] == pytest.approx(net.evaluate(X, y).loss, rel=1e-5)   # float64 copy vs float32 net
    # the default weight is the steepest one, and the curve goes down the way the slope says
    assert curve["slope"] != 0
    downhill = curve["losses"][4] if curve["slope"] > 0 else curve["losses"][6]
    assert downhill < middle
    assert curve["best_loss"] <= middle
    assert curve["tangent"][5] == pytest.approx(curve["loss0"])


def test_steps_too_small_about_right_too_big_along_one_weight(lab):
    net, X, y = lab
    result = descend_weight(net, X, y, steps=12)
    paths = {p["label"]: p for p in result["paths"]}
    assert set(paths) == {"too small", "about right", "too big"}
    small, right, big = paths["too small"], paths["about right"], paths["too big"]
    assert right["lr"] == pytest.approx(1 / result["curvature"])
    assert right["losses"][-1] < right["losses"][0]
    # too small: barely moves (under a tenth of what the right step gained)
    assert 0 <= small["losses"][0] - small["losses"][-1] < 0.1 * (right["losses"][0] - right["losses"][-1])
    assert small["verdict"].startswith("barely moves")
    # too big: bounces from side to side and ends higher than it started
    assert big["losses"][-1] > big["losses"][0]
    assert big["bounces"] >= 3 and big["verdict"].startswith("diverges")
    assert big["lr"] > 2 / result["curvature"]
    assert len(result["curve"]["weights"]) == len(result["curve"]["losses"])


def test_steps_in_the_gradient_plane(lab):
    net, X, y = lab
    result = descend_plane(net, X, y, steps=12, grid=4)
    paths = {p["label"]: p for p in result["paths"]}
    start = result["loss0"]
    assert paths["about right"]["losses"][-1] < start
    assert paths["too small"]["verdict"].startswith("barely moves")
    big = paths["too big"]
    assert big["losses"][-1] > start and max(big["losses"]) > 2 * start     # the loss grows, a lot
    assert np.array(result["surface"]["losses"]).shape == (4, 4)


def test_given_learning_rates_and_divergence(lab):
    net, X, y = lab
    result = descent_paths(net, X, y, space="plane", lrs={"tiny": 1e-6, "huge": 10.0}, steps=5, grid=3)
    tiny, huge = result["paths"]
    assert tiny["distance"] < 1e-4 and abs(tiny["loss_change"]) < 1e-3
    assert huge["losses"][-1] > 10 * huge["losses"][0]                       # becomes huge


def test_loss_surface_grid(lab):
    net, X, y = lab
    surface = loss_surface(net, X, y, points=3, span=0.5)
    grid = np.array(surface["losses"])
    assert grid.shape == (3, 3)
    assert grid[1, 1] == pytest.approx(surface["loss0"], rel=1e-9)        # the centre is the network itself
    assert np.all(grid > 0)
    downhill = loss_surface(net, X, y, directions="gradient", points=3, span=0.01)
    assert np.array(downhill["losses"])[1, 2] < downhill["loss0"]          # alpha > 0 goes downhill


def test_bad_arguments(lab):
    net, X, y = lab
    with pytest.raises(ValueError, match="param expected one of"):
        finite_difference(net, X, y, param="9.weights", index=(0, 0))
    with pytest.raises(ValueError, match=r"index expected a position in 0.weights of shape \(32, 784\)"):
        finite_difference(net, X, y, param="0.weights", index=(32, 0))
    with pytest.raises(TypeError, match="lrs expected a dict"):
        descend_weight(net, X, y, lrs=[0.1])
    with pytest.raises(ValueError, match="directions expected"):
        loss_surface(net, X, y, directions="sideways")
    with pytest.raises(ValueError, match="space expected"):
        descent_paths(net, X, y, space="3d")
    with pytest.raises(ValueError, match="features"):
        finite_difference(net, X[:, :10], y)


@pytest.mark.parametrize("activation", gn.activations.names())
def test_the_slope_is_backprop_for_every_registered_activation(activation):
    """The lab runs on the network's own layers: a new activation needs no change here."""
    net = gn.Network.mlp([5, 6, 3], activation=activation, seed=1, dtype=np.float64)
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(16, 5)), rng.integers(0, 3, 16)
    for param, index in [("0.weights", (2, 3)), ("0.biases", (4,))]:
        fd = finite_difference(net, X, y, param=param, index=index, h=1e-5)
        assert fd["rel_error"] < 1e-6, fd["text"]
        assert fd["layer"] == net.layers[int(param[0])].summary_name()
    curve = loss_along_weight(net, X, y, param="2.weights", index=(1, 1), points=5, span=0.1)
    assert curve["loss0"] == pytest.approx(net.evaluate(X, y).loss, rel=1e-12)
    result = descend_weight(net, X, y, param="2.weights", index=(1, 1), steps=5)
    assert {p["label"] for p in result["paths"]} == {"too small", "about right", "too big"}
