"""Tests for glassnet.gradcheck: backpropagation agrees with finite differences everywhere it should,
and the check catches a layer whose backward is wrong."""

import numpy as np
import pytest

import glassnet as gn


def data(n_samples=5, n_features=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n_samples, n_features))


LABELS = np.array([0, 1, 2, 1, 0])

ACTIVATIONS = {
    "ReLU": gn.ReLU, "LeakyReLU": lambda: gn.LeakyReLU(0.1), "Sigmoid": gn.Sigmoid,
    "Tanh": gn.Tanh, "Softmax": gn.Softmax, "Identity": gn.Identity,
}


def test_dense_alone():
    net = gn.Network([gn.Dense(3, 3, seed=0)])
    report = gn.gradcheck(net, data(), LABELS)
    assert report.passed and report.max_relative_error < 1e-6, str(report)
    assert [t.name for t in report.tensors] == ["0.weights", "0.biases", "input"]
    assert all(t.checked == t.total for t in report.tensors)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_dense_plus_each_activation(name):
    net = gn.Network([gn.Dense(3, 4, seed=1), ACTIVATIONS[name](), gn.Dense(4, 3, seed=2)])
    report = gn.gradcheck(net, data(seed=1), LABELS)
    assert report.max_relative_error < 1e-6, str(report)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_dense_plus_each_activation_as_output_with_mse(name):
    net = gn.Network([gn.Dense(3, 2, seed=3), ACTIVATIONS[name]()])
    y = np.random.default_rng(4).uniform(size=(5, 2))
    report = gn.gradcheck(net, data(seed=2), y, loss="mse")
    assert report.max_relative_error < 1e-6, str(report)


def test_dropout_alone_in_both_modes():
    net = gn.Network([gn.Dense(3, 6, seed=5), gn.Dropout(0.5, seed=0), gn.Dense(6, 3, seed=6)])
    for training in (False, True):
        report = gn.gradcheck(net, data(seed=3), LABELS, training=training)
        assert report.max_relative_error < 1e-6, (training, str(report))


@pytest.mark.parametrize("loss, n_out, head, targets", [
    ("mse", 2, None, np.random.default_rng(7).normal(size=(5, 2))),
    ("cross_entropy", 3, None, LABELS),
    ("cross_entropy", 3, gn.Softmax, LABELS),
    ("cross_entropy", 3, None, np.eye(3)[LABELS]),                  # one-hot targets
    ("binary_cross_entropy", 1, None, np.array([0, 1, 1, 0, 1])),
    ("binary_cross_entropy", 1, gn.Sigmoid, np.array([0, 1, 1, 0, 1])),
    ("binary_cross_entropy", 3, None, np.random.default_rng(8).integers(0, 2, size=(5, 3)).astype(float)),
])
def test_each_loss(loss, n_out, head, targets):
    layers = [gn.Dense(3, 4, seed=9), gn.Tanh(), gn.Dense(4, n_out, seed=10)]
    if head is not None:
        layers.append(head())
    report = gn.gradcheck(gn.Network(layers), data(seed=4), targets, loss=loss)
    assert report.max_relative_error < 1e-6, str(report)


def three_layer_networks():
    return {
        "relu-dropout-tanh": [gn.Dense(4, 6, seed=0), gn.ReLU(), gn.Dropout(0.3, seed=1), gn.Dense(6, 5, seed=2),
                              gn.Tanh(), gn.Dense(5, 3, seed=3)],
        "leaky-sigmoid-softmax": [gn.Dense(4, 6, seed=4), gn.LeakyReLU(0.05), gn.Dense(6, 5, seed=5), gn.Sigmoid(),
                                  gn.Dropout(0.2, seed=6), gn.Dense(5, 3, seed=7), gn.Softmax()],
        "tanh-tanh-dropouts": [gn.Dense(4, 6, seed=8), gn.Tanh(), gn.Dropout(0.5, seed=9), gn.Dense(6, 5, seed=10),
                               gn.Tanh(), gn.Dropout(0.5, seed=11), gn.Dense(5, 3, seed=12)],
    }


@pytest.mark.parametrize("name", sorted(three_layer_networks()))
@pytest.mark.parametrize("training", [False, True])
def test_three_layer_networks(name, training):
    net = gn.Network(three_layer_networks()[name])
    X = data(n_samples=6, n_features=4, seed=5)
    y = np.array([0, 1, 2, 2, 1, 0])
    report = gn.gradcheck(net, X, y, training=training)
    assert report.passed and report.max_relative_error < 1e-6, str(report)


def test_training_mode_really_uses_dropout_masks():
    # with dropout on, dL/dX differs from prediction mode: the frozen masks are actually applied
    layers = three_layer_networks()["tanh-tanh-dropouts"]
    net = gn.Network(layers)
    X, y = data(n_samples=6, n_features=4, seed=5), np.array([0, 1, 2, 2, 1, 0])
    off = gn.gradcheck(net, X, y, training=False)
    on = gn.gradcheck(net, X, y, training=True)
    assert on.passed and off.passed
    net64 = net.astype(np.float64)
    _, dx_off, _ = net64.loss_and_gradients(X, y, gn.CrossEntropy(), training=False)
    for layer in net64.layers:
        if isinstance(layer, gn.Dropout):
            layer.rng = np.random.default_rng(0)
    _, dx_on, _ = net64.loss_and_gradients(X, y, gn.CrossEntropy(), training=True)
    assert not np.allclose(dx_off, dx_on)


@pytest.mark.parametrize("seed", [None, 3, np.random.default_rng(3)])
def test_seed_may_be_none_int_or_generator_with_dropout(seed):
    net = gn.Network(three_layer_networks()["relu-dropout-tanh"])
    X, y = data(n_samples=6, n_features=4, seed=5), np.array([0, 1, 2, 2, 1, 0])
    assert gn.gradcheck(net, X, y, training=True, seed=seed).passed


def test_mlp_built_network_passes():
    net = gn.Network.mlp([5, 7, 6, 4], activation="tanh", dropout=0.25, seed=0)
    X = data(n_samples=4, n_features=5, seed=6)
    assert gn.gradcheck(net, X, np.array([0, 3, 1, 2]), training=True).passed


# -- the report ------------------------------------------------------------------------------------

def test_report_per_layer_and_print(capsys):
    net = gn.Network([gn.Dense(3, 4, seed=0), gn.Tanh(), gn.Dense(4, 3, seed=1)])
    report = gn.gradcheck(net, data(), LABELS)
    assert isinstance(report, gn.GradcheckReport)
    assert set(report.per_layer) == {"0: Dense(3 -> 4)", "2: Dense(4 -> 3)", "input"}
    assert all(0 <= v < 1e-6 for v in report.per_layer.values())
    assert report.per_layer["0: Dense(3 -> 4)"] == max(t.relative_error for t in report.tensors
                                                    if t.name.startswith("0."))
    assert report.passed is True
    assert [t.name for t in report.tensors] == ["0.weights", "0.biases", "2.weights", "2.biases", "input"]
    print(report)
    text = capsys.readouterr().out
    assert "PASS" in text and "FAIL" not in text
    assert "0.weights (Dense(3 -> 4))" in text and "12/12" in text and "input" in text


def test_check_input_false_skips_the_input():
    net = gn.Network([gn.Dense(3, 3, seed=0)])
    report = gn.gradcheck(net, data(), LABELS, check_input=False)
    assert "input" not in report.per_layer and len(report.tensors) == 2


class DoubledDense(gn.Dense):
    """A broken layer: its backward returns twice the true dL/dx."""

    def backward(self, delta):
        return 2 * super().backward(delta)


class WrongWeightGradient(gn.Dense):
    """A broken layer: dW is 1.5 times too large; dx and db are right."""

    def backward(self, delta):
        dx = super().backward(delta)
        self.grads["weights"] *= 1.5
        return dx


def test_broken_backward_fails(capsys):
    net = gn.Network([gn.Dense(3, 4, seed=0), gn.Tanh(), DoubledDense(4, 3, seed=1)])
    report = gn.gradcheck(net, data(), LABELS)
    assert report.passed is False
    assert report.max_relative_error > 1e-3
    # the broken layer's own parameters are fine; everything below it (and the input) is wrong
    assert report.per_layer["2: Dense(4 -> 3)"] < 1e-6
    assert report.per_layer["0: Dense(3 -> 4)"] > 1e-3 and report.per_layer["input"] > 1e-3
    print(report)
    assert "FAIL" in capsys.readouterr().out


def test_wrong_weight_gradient_fails_only_there():
    net = gn.Network([WrongWeightGradient(3, 4, seed=0), gn.Tanh(), gn.Dense(4, 3, seed=1)])
    report = gn.gradcheck(net, data(), LABELS)
    bad = {t.name: t.relative_error for t in report.tensors}
    assert not report.passed
    assert bad["0.weights"] == pytest.approx(0.2, rel=1e-4)    # |1.5g - g| / (|1.5g| + |g|) = 0.5 / 2.5
    assert bad["0.biases"] < 1e-6 and bad["input"] < 1e-6


# -- the original network and sampling --------------------------------------------------------------

def test_original_network_is_untouched():
    net = gn.Network([gn.Dense(3, 4, seed=0), gn.ReLU(), gn.Dropout(0.5, seed=1), gn.Dense(4, 3, seed=2)])
    before = net.get_weights()
    gn.gradcheck(net, data(), LABELS, training=True)
    assert net.dtype == np.float32
    for name, p in net.named_parameters():
        assert p.dtype == np.float32
        np.testing.assert_array_equal(p, before[name])
    for layer in net.layers:
        for g in layer.grads.values():
            assert g.dtype == np.float32 and not g.any()          # no gradients were written here


def test_max_checks_samples_a_subset():
    net = gn.Network([gn.Dense(10, 8, seed=0), gn.Tanh(), gn.Dense(8, 3, seed=1)])
    X = data(n_samples=4, n_features=10, seed=7)
    report = gn.gradcheck(net, X, np.array([0, 1, 2, 0]), max_checks=5)
    counts = {t.name: (t.checked, t.total) for t in report.tensors}
    assert counts == {"0.weights": (5, 80), "0.biases": (5, 8), "2.weights": (5, 24), "2.biases": (3, 3),
                      "input": (5, 40)}
    assert report.passed
    again = gn.gradcheck(net, X, np.array([0, 1, 2, 0]), max_checks=5)
    assert [t.max_abs_error for t in again.tensors] == [t.max_abs_error for t in report.tensors]


def test_max_checks_still_catches_a_broken_layer():
    net = gn.Network([gn.Dense(10, 8, seed=0), gn.Tanh(), DoubledDense(8, 3, seed=1)])
    report = gn.gradcheck(net, data(n_samples=4, n_features=10), np.array([0, 1, 2, 0]), max_checks=3)
    assert not report.passed and report.max_relative_error > 1e-3


def test_bad_arguments():
    net = gn.Network([gn.Dense(3, 3, seed=0)])
    with pytest.raises(ValueError, match=r"gradcheck: h expected a value in \(0.0, 1.0\]"):
        gn.gradcheck(net, data(), LABELS, h=0)
    with pytest.raises(ValueError, match="X expected 3 features"):
        gn.gradcheck(net, data(n_features=4), LABELS)
    with pytest.raises(ValueError, match="expected labels in"):
        gn.gradcheck(net, data(), np.array([0, 1, 5, 1, 0]))


def test_per_layer_keeps_layers_of_the_same_size_apart():
    net = gn.Network([gn.Dense(3, 3, seed=0), gn.Tanh(), WrongWeightGradient(3, 3, seed=1)])
    report = gn.gradcheck(net, data(), LABELS)
    assert report.per_layer["0: Dense(3 -> 3)"] < 1e-6 and report.per_layer["2: Dense(3 -> 3)"] > 1e-3
