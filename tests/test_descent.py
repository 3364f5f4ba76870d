import numpy as np
import pytest

import glassnet as gn
from glassnet.descent import (
    descend_gradient,
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
    assert result["labels_hold"] and result["note"] is None, result["note"]
    assert small["lr"] < right["lr"] < big["lr"]
    # about right reaches the bottom first; too small crawls (under a third of the way down); too big bounces
    assert right["steps_to_bottom"] is not None and right["verdict"].startswith("reaches the bottom in")
    assert small["kind"] == "crawls" and small["progress"] < 1 / 3
    assert big["kind"] in ("diverges", "bounces") and big["bounces"] >= 3
    assert min(right["losses"]) <= result["bottom"] + 0.02 * (result["loss0"] - result["bottom"])
    assert len(result["curve"]["weights"]) == len(result["curve"]["losses"])
    assert "1 times" not in " ".join(p["verdict"] for p in result["paths"])


def test_steps_in_the_gradient_plane(lab):
    net, X, y = lab
    result = descend_plane(net, X, y, steps=12, grid=4)
    paths = {p["label"]: p for p in result["paths"]}
    start = result["loss0"]
    assert result["labels_hold"], result["note"]
    assert paths["about right"]["losses"][-1] < start
    assert paths["too small"]["verdict"].startswith("crawls")
    assert paths["too big"]["kind"] in ("diverges", "bounces")
    assert np.array(result["surface"]["losses"]).shape == (4, 4)


def test_steepest_descent_over_all_weights_is_a_training_step(lab):
    """Along the gradient the first step of rate lr is exactly training's full-batch step theta - lr g."""
    net, X, y = lab
    result = descend_gradient(net, X, y, steps=8)
    assert result["labels_hold"], result["note"]
    right = next(p for p in result["paths"] if p["label"] == "about right")
    assert right["distances"][1] == pytest.approx(right["lr"] * result["gradient_norm"], rel=1e-9)
    stepped = net.astype(np.float64)
    stepped.loss_and_gradients(np.asarray(X, np.float64), np.asarray(y), gn.losses.get("cross_entropy"),
                              training=False)
    for w, g in zip(stepped.parameters(), stepped.gradients()):
        w -= right["lr"] * g
    assert right["losses"][1] == pytest.approx(stepped.evaluate(X, y).loss, rel=1e-6)
    search = result["line_search"]
    assert search["loss"] <= min(min(p["losses"]) for p in result["paths"] if p["kind"] != "diverges") + 1e-9
    assert search["lr"] == pytest.approx(search["distance"] / result["gradient_norm"])


# -- the labels are true: 20 seeds on a fresh, a half-trained and a fully trained network, each slice ------------
@pytest.fixture(scope="session")
def three_networks(digits):
    """Small demo-like networks (784-16-10, ReLU): fresh, trained 2 epochs, and trained as the demo trains
    (SGD momentum 0.9, one-cycle peaking at 0.1, batch 64) until it is about 94% right; built once a session."""
    fresh = gn.Network.mlp([784, 16, 10], seed=0)
    half = gn.Network.mlp([784, 16, 10], seed=0)
    half.fit(digits.X_train, digits.y_train, epochs=2, seed=0)
    trained = gn.Network.mlp([784, 16, 10], seed=0)
    trained.fit(digits.X_train, digits.y_train, epochs=10, batch_size=64, seed=0,
                optimizer=gn.optimizers.build("sgd", 0.1, schedule="one-cycle", epochs=10))
    assert trained.evaluate(digits.X_test, digits.y_test).accuracy > 0.9
    return {"fresh": fresh, "trained 2 epochs": half, "fully trained": trained}


@pytest.mark.parametrize("space", ["weight", "plane", "gradient"])
@pytest.mark.parametrize("which", ["fresh", "trained 2 epochs", "fully trained"])
def test_the_default_labels_are_true_over_20_seeds(three_networks, digits, which, space):
    net = three_networks[which]
    wrong = []
    for seed in range(20):
        rows = np.random.default_rng(seed).choice(len(digits.X_train), 48, replace=False)
        kwargs = {"seed": seed, "grid": 2} if space == "plane" else {}
        result = descent_paths(net, digits.X_train[rows], digits.y_train[rows], space=space, **kwargs)
        paths = {p["label"]: p for p in result["paths"]}
        fastest = min(result["paths"], key=lambda p: (p["steps_to_bottom"] is None, p["steps_to_bottom"] or 0,
                                                      -p["progress"]))
        agree = (paths["too small"]["kind"] == "crawls" and fastest is paths["about right"]
                 and paths["about right"]["kind"] in ("reaches", "converges")
                 and paths["too big"]["kind"] in ("diverges", "bounces", "reaches")
                 and (paths["too big"]["kind"] != "reaches" or paths["too big"]["bounces"] >= 2))
        assert agree == result["labels_hold"]
        if not agree:
            wrong.append((seed, result["note"]))
    assert not wrong, wrong


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
    with pytest.raises(ValueError, match="space expected 'weight', 'plane' or 'gradient'"):
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


def test_the_cli_shows_the_library_numbers_on_the_apps_examples(three_networks, digits, tmp_path, capsys):
    """``glassnet descent`` computes on lab_examples (the app's Evaluate view uses the same): same rates,
    same verdicts as the library."""
    import json

    from glassnet.cli import main
    from glassnet.descent import lab_examples

    net = three_networks["trained 2 epochs"]
    gn.save(net, tmp_path / "model")
    X, y = lab_examples(digits.X_train, digits.y_train, seed=4)
    for space, lab in (("weight", descend_weight(net, X, y)), ("gradient", descend_gradient(net, X, y))):
        assert main(["descent", str(tmp_path / "model"), "--space", space, "--seed", "4", "--json"]) == 0
        shown = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert shown["examples"] == len(X) and shown["labels_hold"] == lab["labels_hold"] is True
        assert [(p["label"], p["lr"], p["verdict"]) for p in shown["paths"]] == \
            [(p["label"], p["lr"], p["verdict"]) for p in lab["paths"]]
    assert main(["descent", str(tmp_path / "model")]) == 0
    out = capsys.readouterr().out
    assert "about right" in out and "backpropagation says" in out and "pass lrs" not in out
