import inspect

import numpy as np
import pytest

import glassnet as gn
from glassnet import modelfile, training


def test_mlp_builds_layers_sizes_and_params():
    net = gn.Network.mlp([784, 128, 64, 10], activation="relu", seed=0)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Dense", "ReLU", "Dense", "ReLU", "Dense"]
    assert net.sizes == [128, 128, 64, 64, 10]
    assert net.n_params == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    assert net.layers[0].weights.shape == (128, 784) and net.layers[0].biases.shape == (128,)
    assert net.dtype == np.float32


def test_explicit_form_equals_mlp_shape():
    net = gn.Network([gn.Dense(4, 3, seed=0), gn.Tanh(), gn.Dense(3, 2, seed=1), gn.Softmax()])
    assert net.n_features == 4 and net.n_outputs == 2
    p = net.predict_proba(np.ones((5, 4)))
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)


def test_mlp_dropout_and_output_activation():
    net = gn.Network.mlp([4, 8, 8, 2], activation="tanh", dropout=0.2, output="softmax", seed=0)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Dense", "Tanh", "Dropout", "Dense", "Tanh", "Dropout", "Dense", "Softmax"]


def test_same_seed_same_weights_different_seed_different():
    a, b, c = (gn.Network.mlp([10, 5, 3], seed=s) for s in (1, 1, 2))
    for (na, wa), (_, wb), (_, wc) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        np.testing.assert_array_equal(wa, wb)
        if na.endswith("weights"):
            assert not np.array_equal(wa, wc)


def test_forward_is_the_textbook_formula():
    net = gn.Network.mlp([3, 4, 2], activation="relu", seed=0)
    X = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    W1, b1 = net.layers[0].weights, net.layers[0].biases
    W2, b2 = net.layers[2].weights, net.layers[2].biases
    expected = np.maximum(X @ W1.T + b1, 0) @ W2.T + b2
    np.testing.assert_allclose(net.forward(X), expected, rtol=1e-6)
    # every layer keeps its neurons' values for inspection
    np.testing.assert_allclose(net.layers[1].output, np.maximum(X @ W1.T + b1, 0), rtol=1e-6)


def test_repr_and_summary_show_layers_neurons_and_parameters():
    net = gn.Network.mlp([784, 128, 10], seed=0)
    text = repr(net)
    assert "Dense(784 -> 128)" in text and "100,480 params" in text and "101,770 parameters" in text
    summary = net.summary()
    assert "neurons" in summary and "Total parameters: 101,770" in summary
    assert "(n, 128)" in summary


def test_sizes_must_chain():
    with pytest.raises(ValueError, match="expected 5 inputs, but the layer before gives 4"):
        gn.Network([gn.Dense(3, 4), gn.ReLU(), gn.Dense(5, 2)])
    with pytest.raises(TypeError, match="expected a glassnet Layer"):
        gn.Network([gn.Dense(3, 4), "relu"])
    with pytest.raises(ValueError, match="at least one layer"):
        gn.Network([])
    with pytest.raises(ValueError, match="sizes expected"):
        gn.Network.mlp([10])
    with pytest.raises(ValueError, match="activation expected one of"):
        gn.Network.mlp([3, 2], activation="wiggle")       # no such activation (swish is now SiLU)


def test_predict_and_predict_proba(blobs):
    X, y = blobs
    net = gn.Network.mlp([5, 16, 3], seed=0)
    net.fit(X, y, epochs=20, batch_size=32, optimizer=gn.SGD(0.1, momentum=0.9), seed=0)
    proba = net.predict_proba(X)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(net.predict(X), proba.argmax(axis=1))
    loss, accuracy = net.evaluate(X, y)
    assert accuracy > 0.95 and loss < 0.3


def test_binary_single_output_network():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = gn.Network.mlp([2, 8, 1], activation="tanh", seed=0)
    net.fit(X, y, epochs=30, batch_size=20, loss="binary_cross_entropy", optimizer=gn.SGD(0.5), seed=0)
    assert net.predict_proba(X).shape == (200, 1)
    assert set(np.unique(net.predict(X))) <= {0, 1}
    assert net.evaluate(X, y).accuracy > 0.95


def test_regression_with_mse_reports_no_accuracy():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(256, 1)).astype(np.float32)
    y = np.sin(3 * X)
    net = gn.Network.mlp([1, 32, 1], activation="tanh", seed=0)
    history = net.fit(X, y, epochs=200, batch_size=32, loss="mse", optimizer=gn.Adam(0.01), seed=0)
    assert history.accuracy[-1] is None
    loss, accuracy = net.evaluate(X, y)
    assert accuracy is None and loss < 0.01


def test_get_set_weights_and_copy_are_independent():
    net = gn.Network.mlp([3, 4, 2], seed=0)
    clone = net.copy()
    clone.layers[0].weights[...] = 0
    assert not np.all(net.layers[0].weights == 0)
    weights = net.get_weights()
    clone.set_weights(weights)
    np.testing.assert_array_equal(clone.layers[0].weights, net.layers[0].weights)
    with pytest.raises(ValueError, match="expected shape"):
        clone.set_weights({**weights, "0.weights": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="expected parameters"):
        clone.set_weights({"0.weights": weights["0.weights"]})


def test_astype_float64_copy():
    net = gn.Network.mlp([3, 4, 2], seed=0)
    net64 = net.astype(np.float64)
    assert net64.dtype == np.float64 and net.dtype == np.float32
    assert all(p.dtype == np.float64 for p in net64.parameters())
    X = np.ones((2, 3))
    np.testing.assert_allclose(net64.predict_proba(X), net.predict_proba(X), rtol=1e-5)


@pytest.mark.parametrize("bad, exc, message", [
    (np.zeros((4, 3)), ValueError, r"expected 5 features per sample.*received shape \(4, 3\)"),
    (np.zeros((4, 5, 1)), ValueError, r"flatten images first"),
    (np.zeros(5), ValueError, r"reshape\(1, -1\)"),
    (np.zeros((0, 5)), ValueError, r"at least one sample"),
    (np.full((2, 5), np.nan), ValueError, r"NaN or inf"),
    (np.array([["a"] * 5]), TypeError, r"numeric array"),
    ("abc", TypeError, r"string"),
])
def test_predict_rejects_bad_input(bad, exc, message):
    net = gn.Network.mlp([5, 3], seed=0)
    with pytest.raises(exc, match=message):
        net.predict(bad)


def test_images_not_flattened_message_names_shapes():
    net = gn.Network.mlp([784, 10], seed=0)
    with pytest.raises(ValueError) as info:
        net.predict(np.zeros((32, 28, 28)))
    assert "(n_samples, 784)" in str(info.value) and "(32, 28, 28)" in str(info.value)


def test_predict_in_chunks_matches_one_pass():
    net = gn.Network.mlp([5, 7, 3], seed=0)
    X = np.random.default_rng(1).normal(size=(9000, 5)).astype(np.float32)
    np.testing.assert_allclose(net.predict_proba(X), gn.activations.softmax(net.forward(X)), rtol=1e-6)


def test_multi_label_binary_cross_entropy_takes_a_0_1_matrix():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype(np.float32)
    Y = (X[:, :2] > 0).astype(np.float32)              # two independent yes/no answers per sample
    net = gn.Network.mlp([4, 8, 2], seed=0)
    history = net.fit(X, Y, epochs=50, batch_size=16, loss="bce", optimizer=gn.Adam(0.02), seed=0)
    assert history.accuracy[-1] is None and history.loss[-1] < history.loss[0] / 3
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]"):
        net.fit(X, Y * 2, epochs=1, loss="bce")


def test_one_backpropagation_step_worked_by_hand():
    """A 2-2-1 network, one sample, worked out on paper (numbers chosen to stay exact in binary).

    x = (1, 2); hidden: W1 = [[1, 0], [-1, 1]], b1 = (0, -2) -> z1 = (1, -1), a1 = relu = (1, 0)
    output: W2 = [[2, 3]], b2 = 0.5 -> z2 = 2*1 + 3*0 + 0.5 = 2.5; MSE with target 0.5: L = (2.5 - 0.5)^2 = 4
    dL/dz2 = 2 (2.5 - 0.5) = 4 -> dW2 = 4 * a1 = (4, 0), db2 = 4
    dL/da1 = 4 * W2 = (8, 12) -> relu' = (1, 0) -> delta1 = (8, 0)
    dW1 = delta1^T x = [[8, 16], [0, 0]], db1 = (8, 0), dL/dx = delta1 W1 = (8, 0)
    """
    net = gn.Network([gn.Dense(2, 2), gn.ReLU(), gn.Dense(2, 1)]).astype(np.float64)
    net.layers[0].weights, net.layers[0].biases = [[1, 0], [-1, 1]], [0, -2]
    net.layers[2].weights, net.layers[2].biases = [[2, 3]], [0.5]
    value, dX, out = net.loss_and_gradients(np.array([[1.0, 2.0]]), np.array([[0.5]]), gn.MeanSquaredError())
    assert value == 4.0 and out.tolist() == [[2.5]]
    assert net.layers[2].grads["weights"].tolist() == [[4, 0]] and net.layers[2].grads["biases"].tolist() == [4]
    assert net.layers[0].grads["weights"].tolist() == [[8, 16], [0, 0]]
    assert net.layers[0].grads["biases"].tolist() == [8, 0]
    assert dX.tolist() == [[8, 0]]
    # and one SGD step with lr 0.125: w <- w - lr dW
    gn.SGD(0.125).step(net.parameters(), net.gradients())
    assert net.layers[2].weights.tolist() == [[1.5, 3.0]] and net.layers[0].weights.tolist() == [[0, -2], [-1, 1]]


def test_load_and_from_config_build_the_network_a_file_or_config_describes(tmp_path):
    net = gn.Network.mlp([4, 5, 3], activation="tanh", dropout=0.2, output="softmax", seed=0)
    assert gn.Network.from_config(net.get_config()).get_config() == net.get_config()
    loaded = gn.Network.load(net.save(tmp_path / "m"))
    assert loaded.get_config() == net.get_config()
    X = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    with pytest.raises(gn.ModelFileError, match="unknown type 'Conv2d'"):
        gn.Network.from_config({"n_features": 4, "layers": [{"type": "Conv2d"}]}, source="x.json")


def test_evaluate_and_predict_run_the_inference_pass_in_chunks(monkeypatch):
    net = gn.Network.mlp([4, 5, 3], seed=0)
    X = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    y = np.arange(10) % 3
    whole = net.evaluate(X, y)
    monkeypatch.setattr("glassnet.network._PREDICT_CHUNK", 3)       # 4 chunks, the last one short
    assert net.evaluate(X, y).accuracy == whole.accuracy
    assert net.evaluate(X, y).loss == pytest.approx(whole.loss, rel=1e-6)
    np.testing.assert_array_equal(net.predict(X), net.forward(X).argmax(axis=1))


@pytest.mark.parametrize("method, function", [(gn.Network.fit, training.fit),
                                               (gn.Network.explain, gn.explain),
                                               (gn.Network.save, modelfile.save)])
def test_the_conveniences_list_the_same_parameters_and_defaults_as_the_functions_they_call(method, function):
    """``help(net.fit)``, IDEs and ``inspect.signature`` see every parameter; they cannot drift from the function."""
    def described(f, skip):
        return [(p.name, p.kind, p.default) for p in list(inspect.signature(f).parameters.values())[skip:]]
    assert described(method, 1) == described(function, 1)        # minus self / net
    assert inspect.signature(method).return_annotation is not inspect.Signature.empty


def test_fit_signature_names_its_parameters():
    names = list(inspect.signature(gn.Network.fit).parameters)
    assert names[:3] == ["self", "X", "y"] and {"epochs", "batch_size", "optimizer", "loss", "l1"} <= set(names)
