import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.explain import Reference, effective_affine, explain, explain_step, forward_values, trace_backward

ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "identity"]


def random_net(activation, output=None, sizes=(6, 5, 4, 3), seed=0):
    net = gn.Network.mlp(list(sizes), activation=activation, output=output, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 100)
    for layer in net.layers:
        if isinstance(layer, gn.Dense):
            layer.biases = rng.normal(0, 0.5, layer.n_out)     # non-zero biases, so they matter in the sums
    return net


def relative(a, b, scale):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / scale))


@pytest.mark.parametrize("output", [None, "softmax"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_neuron_adds_up_to_what_the_network_computed(activation, output):
    net = random_net(activation, output)
    x = np.random.default_rng(1).normal(size=6)
    e = explain(net, x, top=3)
    assert [layer.name for layer in e.layers] == ["input", "hidden 1", "hidden 2", "output"]
    np.testing.assert_array_equal(e.layers[0].a, x)
    dense_positions = [i for i, layer in enumerate(net.layers) if isinstance(layer, gn.Dense)]
    for layer, position in zip(e.layers[1:], dense_positions):
        z_net = net.forward(x[None, :], upto=position + 1)[0]   # the network's own weighted sums
        assert relative(layer.z, z_net, np.abs(z_net) + 1e-12) < 1e-6
        T = layer.terms()
        scale = np.abs(T).sum(axis=1) + np.abs(layer.bias)
        assert relative(T.sum(axis=1) + layer.bias, layer.z, scale) < 1e-6
        for n in layer.neurons:
            assert abs(n.positive + n.negative + n.bias - n.z) / scale[n.neuron] < 1e-6
            assert all(t.term > 0 for t in n.up) and all(t.term < 0 for t in n.down)
            assert len(n.up) <= 3 and len(n.down) <= 3
            for t in n.up + n.down:
                assert t.term == pytest.approx(t.w * t.x, rel=1e-12)
                assert t.w == layer.weights[n.neuron, t.input] and t.x == layer.inputs[t.input]
            if n.up:   # the strongest push up is the largest term
                assert n.up[0].term == pytest.approx(T[n.neuron].max())
    np.testing.assert_allclose(e.probabilities, net.predict_proba(x[None, :])[0], rtol=1e-12)
    assert e.prediction == net.predict(x[None, :])[0]
    assert e.forward_check < 1e-9


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_contribution_map_adds_up_to_the_logit_exactly(activation):
    net = random_net(activation, "softmax", sizes=(8, 7, 6, 4), seed=3)
    x = np.random.default_rng(2).normal(size=8)
    e = explain(net, x)
    logits = e.layers[-1].z
    W_eff, b_eff = effective_affine(net, x)
    np.testing.assert_allclose(W_eff @ x + b_eff, logits, rtol=1e-9, atol=1e-12)
    c = e.prediction
    total = e.maps["contribution"].sum() + e.effective_bias[c]
    assert abs(total - logits[c]) / (np.abs(e.maps["contribution"]).sum() + abs(e.effective_bias[c])) < 1e-6
    contrast = e.maps["contribution_vs_runner_up"].sum() + b_eff[c] - b_eff[e.runner_up]
    assert contrast == pytest.approx(logits[c] - logits[e.runner_up], rel=1e-9)
    # the margin: winner's logit minus runner-up's, decomposed over the last hidden layer
    m = e.margin
    assert (m.winner, m.runner_up) == (c, e.runner_up)
    assert m.difference == pytest.approx(logits[c] - logits[e.runner_up], rel=1e-9)
    assert m.positive + m.negative + m.bias == pytest.approx(m.difference, rel=1e-9)


def test_relu_effective_weights_are_the_active_paths():
    """For ReLU: W_eff = W3 D2 W2 D1 W1 with D the 0/1 masks of active neurons, b_eff from the biases alone."""
    net = random_net("relu", sizes=(5, 6, 4, 3), seed=4)
    x = np.random.default_rng(5).normal(size=5)
    W1, W2, W3 = (layer.weights for layer in net.layers if isinstance(layer, gn.Dense))
    b1, b2, b3 = (layer.biases for layer in net.layers if isinstance(layer, gn.Dense))
    D1 = np.diag((W1 @ x + b1 > 0).astype(float))
    a1 = np.maximum(W1 @ x + b1, 0)
    D2 = np.diag((W2 @ a1 + b2 > 0).astype(float))
    W_eff, b_eff = effective_affine(net, x)
    np.testing.assert_allclose(W_eff, W3 @ D2 @ W2 @ D1 @ W1, rtol=1e-12)
    np.testing.assert_allclose(b_eff, W3 @ D2 @ (W2 @ D1 @ b1 + b2) + b3, rtol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_saliency_is_the_gradient_of_the_predicted_probability(activation):
    net = random_net(activation, sizes=(6, 5, 3), seed=6)
    x = np.random.default_rng(7).normal(size=6)
    e = explain(net, x)
    c, h = e.prediction, 1e-6
    fd = np.empty(6)
    for i in range(6):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        fd[i] = (net.predict_proba(up[None])[0, c] - net.predict_proba(down[None])[0, c]) / (2 * h)
    np.testing.assert_allclose(e.maps["saliency"], fd, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(e.maps["log_saliency"], fd / e.probabilities[c], rtol=1e-5, atol=1e-9)


def test_digits_explanation_is_plain_data_and_readable(digits):
    net = gn.Network.mlp([784, 32, 10], seed=0)
    net.fit(digits.X_train[:2000], digits.y_train[:2000], epochs=2, seed=0)
    e = net.explain(digits.X_test[0], label=int(digits.y_test[0]), top=4)
    assert e.image_shape == (28, 28)
    assert {m.shape for m in e.maps.values()} == {(28, 28)}
    d = e.to_dict()
    assert json.loads(json.dumps(d))["prediction"] == e.prediction
    assert len(d["layers"][1]["neurons"]) == 32 and "terms" not in d["layers"][1]
    full = e.to_dict(full=True)
    assert np.array(full["layers"][1]["terms"]).shape == (32, 784)
    text = str(e)
    assert f"prediction: {e.prediction}" in text and "hidden 1: 32 neurons, relu" in text
    assert f"why {e.prediction} and not {e.runner_up}" in text
    assert len(text) < 10_000                                 # a table, not a dump
    # float32 network checked against its own forward pass
    assert e.forward_check < 1e-4


def test_explain_does_not_read_cached_layer_state():
    net = random_net("relu", "softmax")
    x = np.random.default_rng(8).normal(size=6)
    before = explain(net, x).to_dict(full=True)
    net.forward(np.random.default_rng(9).normal(size=(3, 6)))   # leave other values in every cache
    for layer in net.layers:
        layer.output = None
    assert explain(net, x).to_dict(full=True) == before


def test_explain_leaves_the_layers_caches_alone():
    """A forward pass waiting for its backward pass is not disturbed by an explanation in between."""
    net = random_net("tanh", None)
    X = np.random.default_rng(9).normal(size=(3, 6))
    net.forward(X, training=True)
    cached = [layer.x for layer in net.layers if isinstance(layer, gn.Dense)]
    explain(net, np.ones(6))
    for layer, x in zip([layer for layer in net.layers if isinstance(layer, gn.Dense)], cached):
        assert layer.x is x


def test_nearest_training_examples_in_every_layer():
    net = random_net("relu", sizes=(6, 5, 4, 3), seed=10)
    rng = np.random.default_rng(11)
    X = rng.normal(size=(40, 6))
    y = rng.integers(0, 3, 40)
    e = explain(net, X[7], reference=(X, y), neighbours=4)
    assert [n["layer"] for n in e.neighbours] == ["input", "hidden 1", "hidden 2", "output"]
    first = e.neighbours[0]["nearest"][0]
    assert first["index"] == 7 and first["distance"] == 0.0          # the sample itself is nearest
    values = forward_values(net, X)
    for entry, (_, a) in zip(e.neighbours, values):
        distances = np.linalg.norm(a - a[7], axis=1)
        assert [n["index"] for n in entry["nearest"]] == list(np.argsort(distances, kind="stable")[:4])
        assert sum(entry["votes"].values()) == 4
        assert all(n["label"] == e.prediction for n in entry["predicted_class"])
        assert "true_class" not in entry


def test_wrong_prediction_shows_the_neighbours_behind_the_mistake():
    net = random_net("relu", sizes=(6, 5, 4, 3), seed=12)
    rng = np.random.default_rng(13)
    X = rng.normal(size=(60, 6))
    y = rng.integers(0, 3, 60)
    reference = Reference(net, X, y)
    x = rng.normal(size=6)
    wrong = (int(explain(net, x).prediction) + 1) % 3
    e = explain(net, x, label=wrong, reference=reference)
    assert e.correct is False
    for entry in e.neighbours:
        assert entry["predicted_class"] and all(n["label"] == e.prediction for n in entry["predicted_class"])
        assert entry["true_class"] and all(n["label"] == wrong for n in entry["true_class"])
    assert "behind the mistake" in str(e)


def test_bad_inputs_are_refused_clearly():
    net = random_net("relu")
    with pytest.raises(ValueError, match=r"one sample of 6 features.*received shape \(2, 6\)"):
        explain(net, np.zeros((2, 6)))
    with pytest.raises(ValueError, match="received shape"):
        explain(net, np.zeros(5))
    with pytest.raises(ValueError, match=r"received shape \(2, 2\)$"):     # not a batch: no "one row" hint
        explain(net, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="label expected a class in"):
        explain(net, np.zeros(6), label=7)
    with pytest.raises(ValueError, match="finite"):
        explain(net, np.full(6, np.nan))
    with pytest.raises(TypeError, match="reference expected a pair"):
        explain(net, np.zeros(6), reference=np.zeros((3, 6)))
    with pytest.raises(ValueError, match="top"):
        explain(net, np.zeros(6), top=0)
    with pytest.raises(TypeError, match=r"image_shape expected sizes such as \(28, 28\), received int 6"):
        explain(net, np.zeros(6), image_shape=6)
    with pytest.raises(ValueError, match=r"image_shape expected 6 pixels in all, received \(2, 2\)"):
        explain(net, np.zeros(6), image_shape=(2, 2))


@pytest.mark.parametrize("activation,output,loss", [
    ("relu", None, "cross_entropy"), ("tanh", "softmax", "cross_entropy"), ("sigmoid", None, "mse"),
    ("leaky_relu", "softmax", "mse"), ("identity", None, "cross_entropy"),
])
def test_traced_step_equals_one_batch_of_fit(activation, output, loss):
    net = random_net(activation, output, seed=14)
    rng = np.random.default_rng(15)
    X, y = rng.normal(size=(4, 6)), rng.integers(0, 3, 4)
    step = explain_step(net, X, y, loss=loss, lr=0.05)
    trained = net.copy()
    trained.fit(X, y, epochs=1, batch_size=4, optimizer=gn.SGD(lr=0.05, momentum=0.0), loss=loss, shuffle=False,
                seed=0)
    stepped = step.apply(net.copy())
    for a, b in zip(stepped.parameters(), trained.parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    # and the gradients are the network's own backpropagation
    copy = net.copy()
    value, _, _ = copy.loss_and_gradients(X, y, gn.losses.get(loss))
    assert step.loss == pytest.approx(value, rel=1e-12)
    dense = [layer for layer in copy.layers if isinstance(layer, gn.Dense)]
    for layer_step, layer in zip(step.layers, dense):
        np.testing.assert_allclose(layer_step.dW, layer.grads["weights"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(layer_step.db, layer.grads["biases"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(layer_step.update_W, -0.05 * layer_step.dW)


def test_traced_step_on_a_float32_digits_network_matches_fit(digits):
    net = gn.Network.mlp([784, 16, 10], seed=0)
    X, y = digits.X_train[:8], digits.y_train[:8]
    step = trace_backward(net, X, y, lr=0.1)
    trained = net.copy()
    trained.fit(X, y, epochs=1, batch_size=8, optimizer=gn.SGD(lr=0.1), shuffle=False, seed=0)
    for a, b in zip(step.apply(net.copy()).parameters(), trained.parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    text = str(step)
    assert "one SGD step (lr 0.1) on 8 example(s)" in text and "delta" in text
    assert json.loads(json.dumps(step.to_dict()))["loss"] == pytest.approx(step.loss)


def test_delta_follows_the_chain_rule_one_layer_down():
    """delta_hidden = f'(z_hidden) * (W_out^T delta_out), for one example, by hand."""
    net = random_net("tanh", sizes=(3, 4, 2), seed=16)
    step = explain_step(net, [0.5, -1.0, 2.0], 1, lr=1.0)
    hidden, out = step.layers
    W_out = net.layers[2].weights
    expected = (1 - np.tanh(hidden.z) ** 2) * (out.delta @ W_out)
    np.testing.assert_allclose(hidden.delta, expected, rtol=1e-12)
    p = gn.activations.softmax(out.z)
    np.testing.assert_allclose(out.delta, p - np.array([[0.0, 1.0]]), rtol=1e-12)
    np.testing.assert_allclose(hidden.dW, hidden.delta.T @ np.array([[0.5, -1.0, 2.0]]))


def test_one_output_text_adds_up_when_the_prediction_is_class_0():
    """With one output, class 0 means a negative logit: the text's sum must read ``sum + bias = -logit``."""
    import re

    net = gn.Network.mlp([3, 1], seed=0, dtype=np.float64)
    net.layers[0].params["weights"][...] = [[1.0, -2.0, 0.5]]
    net.layers[0].params["biases"][...] = [0.25]
    e = explain(net, [0.1, 1.0, 0.2])                  # logit 0.1 - 2 + 0.1 + 0.25 = -1.55: class 0
    assert e.prediction == 0
    line = next(line for line in str(e).splitlines() if line.startswith("contribution map"))
    total, bias, logit = map(float, re.search(r"sum (\S+) \+ effective bias (\S+) = -logit (\S+)", line).groups())
    assert total + bias == pytest.approx(logit, abs=1e-2) and logit == pytest.approx(1.55)


def test_a_regression_network_is_refused_with_the_reason():
    net = gn.Network.mlp([3, 4, 1], seed=0)
    X = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
    net.fit(X, X.sum(axis=1, keepdims=True), loss="mse", epochs=1, verbose=0)
    with pytest.raises(ValueError, match="explain expected a classifier, received a network with one output "
                                         "trained with the mse loss"):
        explain(net, X[0])
    assert explain_step(net, X[:2], X[:2].sum(axis=1, keepdims=True)).loss > 0    # the step is still traced


# -- every registered activation, from the layers' own definitions ----------------------------------------
REGISTERED = gn.activations.names()      # every hidden-layer activation: the next one added is checked too


def trained_net(activation, seed, output=None):
    """``random_net`` after three epochs on random data: weights that training moved."""
    net = random_net(activation, output, seed=seed)
    rng = np.random.default_rng(seed + 200)
    X, y = rng.normal(size=(48, 6)), rng.integers(0, 3, 48)
    net.fit(X, y, epochs=3, batch_size=16, optimizer=gn.SGD(lr=0.05), seed=seed, verbose=0)
    return net


def own_outputs(net, x):
    """Each layer's output from its own ``forward`` (float64), one layer after the other."""
    outputs, a = [], np.asarray(x, dtype=np.float64)[None, :]
    for layer in net.layers:
        a = layer.forward(a)
        outputs.append(a[0])
    return outputs


@pytest.mark.parametrize("trained", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("activation", REGISTERED)
def test_explain_equals_the_layers_own_forward_pass(activation, seed, trained):
    net = trained_net(activation, seed) if trained else random_net(activation, seed=seed)
    x = np.random.default_rng(seed + 300).normal(size=6)
    e = explain(net, x, top=3)
    outputs = own_outputs(net, x)
    for trace in e.layers[1:-1]:                     # hidden: z from the Dense layer, a from its activation layer
        dense, act = trace.layers
        np.testing.assert_allclose(trace.z, outputs[dense], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(trace.a, outputs[act], rtol=1e-12, atol=1e-15)
        assert trace.activation == net.layers[act].label() and trace.head is None
        scale = np.abs(trace.terms()).sum(axis=1) + np.abs(trace.bias)
        for n in trace.neurons:
            assert abs(n.positive + n.negative + n.bias - n.z) <= 1e-12 * scale[n.neuron]
            assert n.a == trace.a[n.neuron]
    out = e.output                                   # the logits, then the softmax the loss applies
    np.testing.assert_allclose(out.z, outputs[-1], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(e.logits, out.z)
    np.testing.assert_allclose(out.a, net.predict_proba(x[None])[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(e.probabilities, out.a)
    assert e.prediction == net.predict(x[None])[0] and e.forward_check < 1e-12
    W_eff, b_eff = effective_affine(net, x)
    np.testing.assert_allclose(W_eff @ x + b_eff, out.z, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("activation", REGISTERED)
def test_traced_step_equals_fit_for_every_activation(activation, seed):
    net = trained_net(activation, seed)
    rng = np.random.default_rng(seed + 400)
    X, y = rng.normal(size=(5, 6)), rng.integers(0, 3, 5)
    step = explain_step(net, X, y, lr=0.05)
    trained = net.copy()
    trained.fit(X, y, epochs=1, batch_size=5, optimizer=gn.SGD(lr=0.05, momentum=0.0), shuffle=False, seed=0,
                verbose=0)
    for a, b in zip(step.apply(net.copy()).parameters(), trained.parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    hidden, above = step.layers[0], step.layers[1]
    f = net.layers[1]                  # the activation after the first Dense layer: delta = f'(z) W^T delta
    np.testing.assert_allclose(hidden.delta, f.derivative(hidden.z) * (above.delta @ net.layers[2].weights),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("activation", REGISTERED)
def test_saliency_is_the_gradient_of_the_probability_for_every_activation(activation):
    net = trained_net(activation, 3)
    x = np.random.default_rng(5).normal(size=6)
    e = explain(net, x)
    c, h = e.prediction, 1e-6
    fd = np.array([(net.predict_proba((x + h * d)[None])[0, c] - net.predict_proba((x - h * d)[None])[0, c]) / (2 * h)
                   for d in np.eye(6)])
    np.testing.assert_allclose(e.maps["saliency"], fd, rtol=1e-5, atol=1e-8)


class Cube(gn.activations.Activation):
    """An activation that is in no registry and no list: explain follows it from its own definition."""

    name = "cube"
    formula = "a = z^3"

    def function(self, z):
        return z * z * z

    def derivative(self, z, a=None):
        return 3 * z * z


def test_an_activation_explain_has_never_heard_of_is_followed():
    rng = np.random.default_rng(20)
    net = gn.Network([gn.Dense(6, 5, seed=0, dtype=np.float64), Cube(), gn.Dense(5, 3, seed=1, dtype=np.float64)])
    x = rng.normal(size=6)
    e = explain(net, x)
    assert e.layers[1].activation == "cube"
    np.testing.assert_allclose(e.layers[1].a, e.layers[1].z ** 3, rtol=1e-12)
    np.testing.assert_allclose(e.probabilities, net.predict_proba(x[None])[0], rtol=1e-12)
    W_eff, b_eff = effective_affine(net, x)
    np.testing.assert_allclose(W_eff @ x + b_eff, e.logits, rtol=1e-9)
    X, y = rng.normal(size=(3, 6)), rng.integers(0, 3, 3)
    copy = net.copy()
    copy.loss_and_gradients(X, y, gn.losses.get("cross_entropy"))
    step = explain_step(net, X, y)
    np.testing.assert_allclose(step.layers[0].dW, copy.layers[0].grads["weights"], rtol=1e-10)


def test_a_layer_explain_cannot_follow_is_refused_by_name():
    class Scale(gn.Layer):
        def forward(self, x, training=False, buffers=None):
            return 2 * x

    net = gn.Network([gn.Dense(3, 2, dtype=np.float64), Scale()])
    with pytest.raises(TypeError, match=r"explain supports Dense and Dropout layers and the activations .*relu.*"
                                        r"received Scale"):
        explain(net, np.zeros(3))


# -- the output as it really is ----------------------------------------------------------------------
def test_the_output_shows_the_logits_then_the_softmax_in_the_loss():
    net = trained_net("relu", 7)                     # no softmax layer: the cross-entropy loss applies it
    x = np.random.default_rng(8).normal(size=6)
    e = explain(net, x)
    out = e.output
    assert out.activation == "softmax (in the loss)" and out.symbol == "p"
    assert (out.head.name, out.head.where) == ("softmax", "in the loss")
    np.testing.assert_allclose(out.a, gn.activations.softmax(out.z[None])[0], rtol=1e-15)
    assert [n.a for n in out.neurons] == out.a.tolist() and sum(out.a) == pytest.approx(1.0)
    assert [n.z for n in out.neurons] == out.z.tolist()
    d = e.to_dict()["layers"][-1]
    assert d["activation"] == "softmax (in the loss)" and d["head"] == {"name": "softmax", "where": "in the loss"}
    assert d["logits"] == d["z"] == e.logits.tolist() and d["probabilities"] == d["a"] == e.probabilities.tolist()
    assert e.to_dict()["layers"][1]["head"] is None and "logits" not in e.to_dict()["layers"][1]
    text = str(e)
    assert "output: 3 neurons, softmax (in the loss) (z are the logits; p = softmax(z))" in text
    assert f"{e.probabilities[e.prediction]:.3g}" in text
    step = explain_step(net, x, e.prediction)        # the step shows what the loss turns into a number
    assert step.layers[-1].activation == "softmax (in the loss)"
    np.testing.assert_allclose(step.layers[-1].a, e.probabilities[None], rtol=1e-12)
    np.testing.assert_allclose(step.output_delta, step.layers[-1].a - np.eye(3)[e.prediction], atol=1e-15)


def test_the_output_of_other_networks_says_where_its_probabilities_come_from():
    x = np.random.default_rng(9).normal(size=6)
    own = random_net("tanh", "softmax")                 # the network's own softmax layer: its values are p
    e = explain(own, x)
    assert e.output.activation == "softmax" and e.output.head is None
    np.testing.assert_allclose(e.output.a, own.predict_proba(x[None])[0], rtol=1e-12)
    assert explain_step(own, x, 0).layers[-1].activation == "softmax"
    mse = random_net("relu")
    mse.loss_ = gn.losses.get("mse")                    # trained on squares: the softmax is predict_proba's only
    e = explain(mse, x)
    assert e.output.activation == "softmax (in predict_proba)"
    np.testing.assert_allclose(e.output.a, mse.predict_proba(x[None])[0], rtol=1e-12)
    assert explain_step(mse, x, 0).layers[-1].activation == "identity"     # the loss reads the raw outputs
    binary = gn.Network.mlp([6, 4, 1], seed=0, dtype=np.float64)
    binary.loss_ = gn.losses.get("binary_cross_entropy")
    e = explain(binary, x)
    assert e.output.activation == "sigmoid (in the loss)"
    np.testing.assert_allclose(e.probabilities, binary.predict_proba(x[None])[0], rtol=1e-12)


# -- the layers' own definitions, on float64 copies --------------------------------------------------
def test_explain_runs_the_layers_own_passes_on_float64_copies(monkeypatch):
    """Dense's maths is written once, in Dense: explain calls its forward and backward, on copies."""
    net = gn.Network.mlp([6, 5, 3], activation="tanh", seed=0)           # float32, as trained
    net.forward(np.ones((2, 6), dtype=np.float32), training=True)        # a pass waiting for its backward
    before = [(dict(layer.params), {k: v.copy() for k, v in layer.params.items()}, dict(layer.grads),
               getattr(layer, "x", None)) for layer in net.layers]
    calls = []
    forward, backward = gn.Dense.forward, gn.Dense.backward

    def spy(name, method):
        def call(self, *args, **kwargs):
            calls.append((name, self in net.layers, self.params["weights"].dtype))
            return method(self, *args, **kwargs)
        return call

    monkeypatch.setattr(gn.Dense, "forward", spy("forward", forward))
    monkeypatch.setattr(gn.Dense, "backward", spy("backward", backward))
    x = np.random.default_rng(1).normal(size=6)
    e = explain(net, x)
    step = explain_step(net, x, 1)
    assert calls and {c[0] for c in calls} == {"forward", "backward"}
    assert all(not own and dtype == np.float64 for _, own, dtype in calls)     # copies, in float64
    assert sum(c[0] == "backward" for c in calls) == 2                          # once per Dense layer
    for layer, (params, values, grads, cached) in zip(net.layers, before):
        assert all(layer.params[k] is params[k] for k in params) and layer.grads == grads
        for k, v in values.items():
            np.testing.assert_array_equal(layer.params[k], v)
        assert getattr(layer, "x", None) is cached
    monkeypatch.undo()
    net64 = net.astype(np.float64)                   # the same numbers as the layers' own float64 passes
    outputs = own_outputs(net64, x)
    np.testing.assert_array_equal(e.layers[1].z, outputs[0])
    np.testing.assert_array_equal(e.logits, outputs[2])
    assert step.layers[0].W.dtype == np.float64 and step.layers[0].dW.dtype == np.float64


def test_layer_copies_are_float64_and_share_no_array():
    from glassnet.explain import layer_copies

    net = random_net("relu", "softmax").astype(np.float32)
    copies = layer_copies(net)
    assert [type(c) for c in copies] == [type(layer) for layer in net.layers]
    for copy, layer in zip(copies, net.layers):
        assert copy is not layer and copy.params is not layer.params and copy.grads is not layer.grads
        for name, p in copy.params.items():
            assert p.dtype == np.float64 and not np.shares_memory(p, layer.params[name])
            np.testing.assert_array_equal(p, layer.params[name].astype(np.float64))


def test_one_rule_names_each_array_of_neurons():
    from glassnet.explain import shown_activation

    x = np.random.default_rng(2).normal(size=6)
    ce = random_net("tanh")
    mse = random_net("relu")
    mse.loss_ = gn.losses.get("mse")
    own = random_net("relu", "softmax")
    after = random_net("relu", "tanh")
    after.loss_ = gn.losses.get("mse")
    cases = [(ce, ["tanh", "tanh", "softmax"], "softmax (in the loss)"),
             (mse, ["relu", "relu", "softmax"], "softmax (in predict_proba)"),
             (own, ["relu", "relu", "softmax"], "softmax"),
             (after, ["relu", "relu", "tanh → softmax"], "tanh → softmax (in predict_proba)")]
    for net, shown, traced in cases:
        assert [shown_activation(net, g) for g in (1, 2, 3)] == shown
        e = explain(net, x)
        assert [layer.activation for layer in e.layers[1:]] == [*shown[:2], traced]    # explain's traces: with where
        assert [shown_activation(net, g, where=True) for g in (1, 2, 3)] == [*shown[:2], traced]
