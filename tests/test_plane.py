"""glassnet.plane: every neuron's picture is the network's own pass at the grid points, the known accuracies,
the mini-batch trainer equals fit, formulas, folds, connections and weight edits."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers, plane, plots
from glassnet.datasets import plane as plane_data
from optional import need

SIN = ("x1", "x2", "sin(x1)", "sin(x2)")


def trained(name, sizes, activation, epochs, optimizer=("sgd", 0.05), features=None, loss=None, seed=0):
    data = gn.datasets.load(name, n=400, seed=0, features=features)
    net = gn.Network.mlp([data.n_features, *sizes], activation=activation, seed=seed)
    plane.Trainer(net, data.X_train, data.y_train, optimizers.build(*optimizer), batch_size=10, seed=seed,
                  loss=loss).run_epochs(epochs)
    return net, data


@pytest.mark.parametrize("outputs, loss", [(2, None), (1, "binary_cross_entropy")])
def test_xor_learns_with_four_hidden_neurons(outputs, loss):
    net, data = trained("xor", [4, outputs], "relu", 60, loss=loss)
    accuracy = net.evaluate(data.X_test, data.y_test, loss=loss or "cross_entropy").accuracy
    print(f"xor 2-4-{outputs} relu, 60 epochs: test accuracy {accuracy:.3f}")
    assert accuracy >= 0.97


def test_two_spirals_learn_with_the_sin_features():
    net, data = trained("spiral", [8, 8, 2], "tanh", 60, optimizer=("adam", 0.03), features=SIN)
    accuracy = net.evaluate(data.X_test, data.y_test).accuracy
    print(f"spiral 4-8-8-2 tanh + sin features, 60 epochs: test accuracy {accuracy:.3f}")
    assert accuracy >= 0.95


@pytest.mark.parametrize("name", ["blobs", "circles", "moons"])
def test_the_easier_sets_learn(name):
    net, data = trained(name, [8, 2], "relu", 30, optimizer=("adam", 0.03))
    accuracy = net.evaluate(data.X_test, data.y_test).accuracy
    print(f"{name} 2-8-2 relu, 30 epochs: test accuracy {accuracy:.3f}")
    assert accuracy >= 0.95


def test_regression_fits_the_sine():
    net, data = trained("sine", [8, 8, 1], "tanh", 60, optimizer=("adam", 0.03))
    mse = net.evaluate(data.X_test, data.y_test, loss="mse").loss
    print(f"sine 1-8-8-1 tanh, 60 epochs: test MSE {mse:.4f}")
    assert mse < 0.05
    x1s, values = plane.curve(net, ("x1",), size=50)
    assert np.abs(values - np.sin(x1s)).mean() < 0.2


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_pictures_equal_the_forward_pass_at_the_grid_points(activation):
    features = ("x1", "x2", "x1*x2", "sin(x2)")
    net = gn.Network.mlp([4, 5, 3, 2], activation=activation, seed=1)
    pics = plane.neuron_pictures(net, features, extent=(-4, 5), size=17)
    P, (x1s, x2s) = plane.grid((-4, 5), 17)
    assert x1s[0] == -4 and x2s[0] == 5                         # row 0 is the top, column 0 the left
    X = plane_data.feature_columns(P, features)
    assert np.array_equal(pics["inputs"].reshape(4, -1).T, X)
    dense = [i for i, layer in enumerate(net.layers) if isinstance(layer, gn.Dense)]
    for k, picture in enumerate(pics["layers"]):
        z = net.forward(X, upto=dense[k] + 1)
        a = net.forward(X, upto=dense[k + 1] if k + 1 < len(dense) else None)
        assert np.array_equal(picture["z"].reshape(len(z.T), -1).T, z)
        assert np.array_equal(picture["a"].reshape(len(a.T), -1).T, a)
    assert pics["layers"][0]["activation"] == activation and pics["layers"][-1]["activation"] == "identity"
    assert np.array_equal(pics["output"].ravel(), net.predict_proba(X)[:, 1])


def test_the_decision_boundary_matches_predict_at_sampled_points():
    net, _ = trained("circles", [6, 2], "relu", 5)
    pics = plane.neuron_pictures(net, size=31)
    P, _ = plane.grid(size=31)
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 31, 40)
    cols = rng.integers(0, 31, 40)
    points = P.reshape(31, 31, 2)[rows, cols]
    assert np.array_equal(pics["predicted"][rows, cols], net.predict(points.astype(np.float32)))
    assert np.array_equal(pics["predicted"] == 1, pics["output"] >= 0.5)
    assert 0 < pics["predicted"].mean() < 1                     # a boundary is in the picture


def test_the_trainer_takes_fits_steps_bit_for_bit():
    data = gn.datasets.load("moons", n=90, seed=2, noise=0.1)
    a = gn.Network.mlp([2, 5, 2], activation="tanh", seed=0)
    b = a.copy()
    trainer = plane.Trainer(a, data.X_train, data.y_train, optimizers.build("adam", 0.01), batch_size=7, seed=4)
    assert trainer.steps_per_epoch == 7
    finished = [trainer.step() for _ in range(7)]
    assert finished == [False] * 6 + [True] and trainer.epoch == 1 and trainer.batch == 0
    trainer.run_epochs(2)
    b.fit(data.X_train, data.y_train, epochs=3, batch_size=7, seed=4, optimizer=optimizers.build("adam", 0.01))
    assert all(np.array_equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_formula_fold_connections_and_weight_edits():
    net = gn.Network.mlp([2, 2, 2], activation="relu", seed=0)
    dense = net.layers[0]
    dense.params["weights"][0] = [1.3, -0.7]
    dense.params["biases"][0] = 0.2
    assert plane.formula(net, ("x1", "x2"), 1, 0) == "z = 1.3·x1 − 0.7·x2 + 0.2"
    second = plane.formula(net, ("x1", "x2"), 2, 1)
    assert second.startswith("z = ") and "·h1.1" in second and "·h1.2" in second
    assert "folds the plane along the line z = 0" in plane.fold(net, 1)
    assert "no activation" in plane.fold(net, 2)
    links = plane.connections(net)
    assert len(links) == 2 * 2 + 2 * 2 and links[0] == {"layer": 1, "from": 0, "to": 0, "weight": pytest.approx(1.3)}
    before = plane.neuron_pictures(net, size=9)
    old = float(net.layers[2].params["weights"][0, 1])
    assert plane.set_weight(net, 2, 0, 1, 5.0) == old and net.layers[2].params["weights"][0, 1] == 5.0
    after = plane.neuron_pictures(net, size=9)
    assert np.array_equal(after["layers"][0]["a"], before["layers"][0]["a"])      # upstream: unchanged
    assert not np.array_equal(after["layers"][1]["z"][0], before["layers"][1]["z"][0])
    with pytest.raises(ValueError, match="layer expected 1 to 2"):
        plane.formula(net, ("x1", "x2"), 0, 0)
    with pytest.raises(ValueError, match="neuron: layer 1 has neurons 0 to 1"):
        plane.set_weight(net, 1, 2, 0, 1.0)
    with pytest.raises(ValueError, match="expected a network with 3 inputs"):
        plane.neuron_pictures(net, ("x1", "x2", "x1^2"))


@pytest.mark.parametrize("name, features, outputs", [("spiral", ("x1", "x2", "sin(x1)"), 2), ("sine", ("x1",), 1)])
def test_plot_plane_draws_every_neuron_and_the_output(tmp_path, name, features, outputs):
    need("matplotlib")
    data = gn.datasets.load(name, n=60, features=features)
    net = gn.Network.mlp([len(features), 3, 2, outputs], activation="tanh", seed=0)
    fig = plots.plot_plane(net, data, size=12, path=tmp_path / "plane.png")
    diagram, output = fig.axes[:2]
    assert len(diagram.images) == len(features) + 3 + 2 + outputs
    assert len(diagram.lines) == len(features) * 3 + 3 * 2 + 2 * outputs
    assert (tmp_path / "plane.png").read_bytes()[:4] == b"\x89PNG"
    assert output.get_title() == ("the fitted curve" if outputs == 1 else "output: the decision boundary (p = 0.5)")


def test_the_output_picture_is_the_pictures_output_at_any_size():
    net = gn.Network.mlp([3, 4, 2], activation="tanh", seed=2)
    features = ("x1", "x2", "x2^2")
    assert np.array_equal(plane.output_picture(net, features, size=13),
                          plane.neuron_pictures(net, features, size=13)["output"])
    regression = gn.Network.mlp([1, 4, 1], seed=0)
    assert np.array_equal(plane.output_picture(regression, ("x1",), size=9),
                          plane.neuron_pictures(regression, ("x1",), size=9)["output"])


def test_a_large_grid_goes_through_in_chunks_with_the_same_numbers():
    net = gn.Network.mlp([2, 3, 2], activation="relu", seed=5)
    pics = plane.neuron_pictures(net, size=70)                  # 4,900 points: two chunks
    X = plane_data.feature_columns(plane.grid(size=70)[0], ("x1", "x2"))
    assert np.array_equal(pics["layers"][0]["a"].reshape(3, -1).T, net.infer(X, upto=2))
    assert np.array_equal(pics["layers"][1]["z"].reshape(2, -1).T, net.infer(X))
    assert plane.neuron_pictures(net, size=5, output=False)["output"] is None
