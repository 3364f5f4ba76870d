"""``glassnet.app.analysis``: what the Draw, Inside and Evaluate views show, without the server.

The prediction is the library's own (``net.predict_proba``, ``net.predict``); the neurons come from
``glassnet.explain`` (the layers' own definitions) and the output is shown as it is: logits, then
``p = softmax(z)``; the confusion matrix is ``glassnet.metrics``.
"""

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.app import analysis
from glassnet.app.errors import BadInput
from glassnet.explain import forward_values, shown_activation


@pytest.fixture(scope="module")
def data():
    return gn.datasets.load_digits()


@pytest.fixture(scope="module")
def net(data):
    """A float32 network as the app trains them: no softmax layer, cross-entropy applies it."""
    net = gn.Network.mlp([784, 16, 10], seed=0)
    net.fit(data.X_train[:600], data.y_train[:600], epochs=2, seed=0, verbose=0)
    return net


def test_predict_is_the_librarys_predict_proba_exactly(net, data):
    for i in range(5):
        x = np.asarray(data.X_test[i], dtype=np.float32)
        out = json.loads(json.dumps(analysis.predict(net, x, list(data.classes))))     # as the page receives it
        np.testing.assert_array_equal(np.array(out["probabilities"], dtype=net.dtype), net.predict_proba(x[None])[0])
        assert out["prediction"] == net.predict(x[None])[0]
        assert out["label"] == data.classes[out["prediction"]]
        values = [np.array(layer["values"]) for layer in out["layers"]]
        assert [len(v) for v in values] == [784, 16, 10] and [layer["name"] for layer in out["layers"]] == \
            ["input", "hidden 1", "output"]
        logits = forward_values(net, x[None])[-1][1][0]
        np.testing.assert_allclose(values[-1], logits, rtol=1e-12)     # the output's values are the logits


def test_a_drawing_is_predicted_as_the_library_would(net):
    image = np.zeros((56, 56), dtype=np.uint8)
    image[10:46, 25:31] = 255                                   # a bar: a "1"
    x = analysis.drawing_steps(image)[-1][1].reshape(-1)
    out = analysis.predict(net, x, [str(c) for c in range(10)])
    np.testing.assert_array_equal(np.array(out["probabilities"], dtype=np.float32), net.predict_proba(x[None])[0])


def test_an_output_neuron_shows_its_logit_and_its_probability(net, data):
    x = np.asarray(data.X_test[3], dtype=np.float32)
    p = net.predict_proba(x[None])[0]
    for j in range(10):
        n = analysis.neuron(net, x, 2, j)
        assert n["name"] == "output" and n["activation"] == "softmax" and n["where"] == "in the loss"
        assert n["symbol"] == "p" and n["equation"] == f"p = softmax(z)_{j} = {n['a']:.4g}"
        assert n["a"] == pytest.approx(float(p[j]), rel=1e-5, abs=1e-7)             # the probability, not z
        assert n["positive"] + n["negative"] + n["bias"] == pytest.approx(n["z"], abs=1e-12)
    logits = forward_values(net, x[None])[-1][1][0]
    assert analysis.neuron(net, x, 2, 4)["z"] == pytest.approx(logits[4], rel=1e-12)


def test_a_hidden_neuron_shows_its_own_activation(net, data):
    x = np.asarray(data.X_test[3], dtype=np.float32)
    n = analysis.neuron(net, x, 1, 5)
    assert n["activation"] == "relu" and n["where"] is None and n["symbol"] == "a"
    assert n["a"] == max(n["z"], 0.0) and n["equation"] == f"a = relu(z) = relu({n['z']:.4g}) = {n['a']:.4g}"
    assert n["weights"]["width"] == 28 and sum(n["terms"]["values"]) + n["bias"] == pytest.approx(n["z"], abs=1e-9)


def test_inside_shows_the_output_as_logits_then_probabilities(net, data):
    x = np.asarray(data.X_test[4], dtype=np.float32)
    out = analysis.inside(net, x, 2, 1, label=3, lr=0.5)
    hidden, output = out["forward"]
    assert hidden["activation"] == "relu" and output["activation"] == "softmax"
    np.testing.assert_allclose(output["a"], net.predict_proba(x[None])[0], rtol=1e-5, atol=1e-7)
    assert out["softmax"]["probabilities"] == output["a"] and out["softmax"]["logits"] == output["z"]
    assert output["neuron"]["a"] == output["a"][1] and output["neuron"]["z"] == output["z"][1]
    np.testing.assert_allclose(out["backward"]["output_delta"], np.array(output["a"]) - np.eye(10)[3], atol=1e-12)


@pytest.mark.parametrize("activation", gn.activations.names())
def test_every_registered_activation_is_shown(activation, data):
    net = gn.Network.mlp([784, 8, 10], activation=activation, seed=0)
    x = np.asarray(data.X_test[0], dtype=np.float32)
    layer = net.layers[1]
    n = analysis.neuron(net, x, 1, 2)
    assert n["activation"] == layer.label() and n["a"] == pytest.approx(float(layer.function(np.array([n["z"]]))[0]))
    inside = analysis.inside(net, x, 1, 2, label=0)
    assert inside["forward"][0]["activation"] == layer.label() and inside["backward"]["label"] == 0
    out = analysis.predict(net, x, list(data.classes))
    np.testing.assert_array_equal(np.array(out["probabilities"], dtype=np.float32), net.predict_proba(x[None])[0])


def test_evaluate_counts_with_glassnet_metrics(net, data):
    out = analysis.evaluate(net, data)
    predicted = net.predict(data.X_test)
    assert out["confusion"] == gn.metrics.confusion_matrix(data.y_test, predicted, 10).tolist()
    assert out["accuracy"] == pytest.approx(gn.metrics.accuracy(data.y_test, predicted), rel=1e-6)
    for c, row in enumerate(out["per_class"]):
        assert row["class"] == data.classes[c] and row["n"] == int(np.sum(data.y_test == c))
        assert row["accuracy"] == pytest.approx(np.mean(predicted[data.y_test == c] == c))


def test_bad_examples_are_refused_as_bad_input(data):
    with pytest.raises(BadInput, match="expected a drawing or a test_index, received neither"):
        analysis.example(None, data, {})
    with pytest.raises(BadInput, match="test_index: expected 0 to"):
        analysis.example(None, data, {"test_index": len(data.X_test)})
    with pytest.raises(BadInput, match="no ink"):
        analysis.drawing_steps(np.zeros((20, 20), dtype=np.uint8))


def test_the_servers_predict_and_neuron_answers_are_the_librarys(app, client, data):
    """Through HTTP and JSON: ``POST /api/predict`` is ``net.predict_proba`` to the last bit."""
    from appserver import workspace_of

    assert client.post("/api/network", json={"layers": [12], "seed": 3}).status_code == 200
    ws = workspace_of(app, client)
    for i in (0, 7):
        body = client.post("/api/predict", json={"test_index": i}).json()
        expected = ws.net.predict_proba(data.X_test[i:i + 1])[0]
        np.testing.assert_array_equal(np.array(body["probabilities"], dtype=ws.net.dtype), expected)
        assert body["prediction"] == ws.net.predict(data.X_test[i:i + 1])[0]
        out = client.post("/api/neuron", json={"test_index": i, "layer": 2, "neuron": body["prediction"]}).json()
        assert out["equation"].startswith(f"p = softmax(z)_{body['prediction']} = ")
        assert out["a"] == pytest.approx(float(expected[body["prediction"]]), rel=1e-5)


# -- the formulas shown are the registry's text, and one rule names the output --------------------------
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "gelu", "softplus"])
def test_the_formulas_shown_are_each_activations_own(activation, data):
    net = gn.Network.mlp([784, 8, 10], activation=activation, seed=0)
    x = np.asarray(data.X_test[1], dtype=np.float32)
    own = gn.activations.ACTIVATIONS[activation]
    softmax = gn.activations.ACTIVATIONS["softmax"]              # the output's: cross-entropy applies it
    hidden, output = analysis.neuron(net, x, 1, 3), analysis.neuron(net, x, 2, 3)
    assert (hidden["formula"], hidden["derivative_formula"]) == (own.formula, own.derivative_formula)
    assert (output["formula"], output["derivative_formula"]) == (softmax.formula, softmax.derivative_formula)
    inside = analysis.inside(net, x, 1, 3)["forward"]
    assert [(f["formula"], f["derivative_formula"]) for f in inside] == \
        [(own.formula, own.derivative_formula), (softmax.formula, softmax.derivative_formula)]
    assert inside[0]["neuron"]["equation"] == hidden["equation"]          # one way to write it, on both views
    assert own.formula and own.derivative_formula


def test_an_output_without_activation_or_softmax_shows_the_identity(data):
    net = gn.Network([gn.Dense(784, 6, seed=0), gn.Tanh(), gn.Dropout(0.5), gn.Dense(6, 10, seed=1), gn.Softmax()])
    x = np.asarray(data.X_test[1], dtype=np.float32)
    tanh, softmax = gn.activations.ACTIVATIONS["tanh"], gn.activations.ACTIVATIONS["softmax"]
    first, output = analysis.inside(net, x, 1, 0)["forward"]
    assert first["activation"] == "tanh → dropout (off)" and first["formula"] == tanh.formula     # dropout is off
    assert output["activation"] == "softmax" and output["formula"] == softmax.formula
    logits = gn.Network([gn.Dense(784, 10, seed=0)])
    logits.loss_ = gn.losses.get("mse")                           # a regression-like model: no softmax anywhere...
    only = analysis.inside(logits, x, 1, 0)["forward"][0]         # ...but predict_proba applies one
    assert only["formula"] == softmax.formula


@pytest.mark.parametrize("loss,head", [("cross_entropy", "softmax"), ("mse", None)])
def test_the_backward_step_shows_its_losss_own_formula(loss, head, net, data):
    model = net.copy()
    model.loss_ = gn.losses.get(loss)                     # as an uploaded model trained with that loss
    x = np.asarray(data.X_test[2], dtype=np.float32)
    out = analysis.inside(model, x, 1, 0, label=4, lr=0.1)
    b, output = out["backward"], out["forward"][-1]
    own = gn.losses.LOSSES[loss]
    assert (b["loss_name"], b["loss_formula"], b["gradient_formula"]) == (loss, own.formula, own.gradient_formula)
    assert b["head"] == head
    y = np.eye(10)[4]
    if head == "softmax":                                  # the loss turns p into a number: delta = p - y
        np.testing.assert_allclose(b["values"], output["a"], rtol=1e-12)
        np.testing.assert_allclose(b["output_delta"], np.array(b["values"]) - y, atol=1e-12)
        assert b["loss"] == pytest.approx(-np.log(b["values"][4]), rel=1e-12)
    else:                                                  # squares of the raw outputs: delta = 2 (a - y) / 10
        np.testing.assert_allclose(b["values"], output["z"], rtol=1e-12)
        np.testing.assert_allclose(b["output_delta"], 2 * (np.array(b["values"]) - y) / 10, rtol=1e-12, atol=1e-15)
        assert b["loss"] == pytest.approx(np.mean((np.array(b["values"]) - y) ** 2), rel=1e-12)
        assert output["activation"] == "softmax"         # what predict_proba shows, not what the loss reads


def _networks():
    """Networks whose output is named differently: the softmax in the loss, in predict_proba, their own."""
    ce = gn.Network.mlp([784, 8, 10], seed=0)
    mse = gn.Network.mlp([784, 8, 10], seed=0)
    mse.loss_ = gn.losses.get("mse")
    own = gn.Network.mlp([784, 8, 10], output="softmax", seed=0)
    tanh = gn.Network.mlp([784, 8, 10], output="tanh", seed=0)
    tanh.loss_ = gn.losses.get("mse")
    return {"in the loss": ce, "in predict_proba": mse, "its own": own, "after tanh": tanh}


@pytest.mark.parametrize("case,shown,where,equation", [
    ("in the loss", "softmax", "in the loss", "p = softmax(z)_5 = "),
    ("in predict_proba", "softmax", "in predict_proba", "p = softmax(z)_5 = "),
    ("its own", "softmax", None, "a = softmax(z)_5 = "),
    ("after tanh", "tanh → softmax", "in predict_proba", "p = softmax(tanh(z))_5 = "),
])
def test_one_rule_names_the_output_everywhere(case, shown, where, equation, data, tmp_path):
    from appserver import make_store, small_workspace

    net = _networks()[case]
    x = np.asarray(data.X_test[0], dtype=np.float32)
    assert shown_activation(net, 2) == shown
    n = analysis.neuron(net, x, 2, 5)
    assert (n["activation"], n["where"]) == (shown, where) and n["equation"].startswith(equation)
    assert n["a"] == pytest.approx(float(net.predict_proba(x[None])[0][5]), rel=1e-5)
    assert analysis.inside(net, x, 2, 5)["forward"][-1]["activation"] == shown
    ws = small_workspace(make_store(tmp_path))     # the diagram (workspace.describe_network) names it the same way
    ws.replace_network(net, "digits", "new", "new network")
    assert ws.describe_network()["layers"][-1]["activation"] == shown


def test_the_softmax_steps_start_from_what_the_softmax_reads(data):
    """A hand-built ``tanh → softmax`` output: the softmax reads tanh(z), not the logits, and the steps say so."""
    net = gn.Network([gn.Dense(784, 6, seed=0), gn.ReLU(), gn.Dense(6, 10, seed=1), gn.Tanh(), gn.Softmax()])
    x = np.asarray(data.X_test[5], dtype=np.float32)
    out = analysis.inside(net, x, 2, 0)
    s, output = out["softmax"], out["forward"][-1]
    assert s["reads"] == "tanh(z)" and s["logits"] == output["z"]
    np.testing.assert_allclose(s["inputs"], np.tanh(output["z"]), rtol=1e-12)
    e = np.exp(np.array(s["inputs"]) - max(s["inputs"]))
    np.testing.assert_allclose(np.array(s["exp"]) / s["sum"], s["probabilities"], rtol=1e-12)   # the steps add up
    np.testing.assert_allclose(e / e.sum(), output["a"], rtol=1e-12)
    np.testing.assert_allclose(s["probabilities"], net.predict_proba(x[None])[0], rtol=1e-5, atol=1e-7)
    plain = analysis.inside(gn.Network.mlp([784, 4, 10], seed=0), x, 1, 0)["softmax"]
    assert plain["reads"] == "z" and plain["inputs"] == plain["logits"]         # the usual case: the logits
    one = gn.Network([gn.Dense(784, 4, seed=0), gn.ReLU(), gn.Dense(4, 1, seed=1)])
    assert analysis.inside(one, x, 1, 0)["softmax"] is None           # one output: a sigmoid, no softmax steps


def test_the_backward_nudges_are_explain_steps_numbers_and_the_step_lowers_the_loss_by_what_is_shown(net, data):
    from glassnet.explain import explain_step, nudges

    x, label = np.asarray(data.X_test[7], dtype=np.float32), int(data.y_test[7])
    b = json.loads(json.dumps(analysis.inside(net, x, 1, 3, label=label, lr=0.3)["backward"]))
    step = explain_step(net, x[None, :].astype(np.float64), [label], lr=0.3)
    assert [layer["name"] for layer in b["layers"]] == ["output", "hidden 1"]           # going back
    for layer in b["layers"]:
        s = step.layers[layer["index"] - 1]
        np.testing.assert_array_equal(layer["delta"], s.delta[0])
        assert [m["delta"] for m in layer["neurons"]] == [s.delta[0][m["j"]] for m in layer["neurons"]]
        assert abs(layer["neurons"][0]["delta"]) == np.max(np.abs(s.delta[0]))
        for w in layer["weights"]:
            assert w["dW"] == s.dW[w["j"], w["i"]] and w["update"] == s.update_W[w["j"], w["i"]]
        assert abs(layer["weights"][0]["dW"]) == np.max(np.abs(s.dW))
        np.testing.assert_array_equal(layer["dW_row"], s.dW[layer["row_neuron"]])
    assert b["layers"][1]["row_neuron"] == 3 and b["layers"][1]["weights"][0]["pixel"] == \
        [b["layers"][1]["weights"][0]["i"] // 28, b["layers"][1]["weights"][0]["i"] % 28]
    stepped = net.astype(np.float64)
    step.apply(stepped)
    after = stepped.evaluate(x[None, :].astype(np.float64), [label]).loss
    assert b["loss_after"] == pytest.approx(after, rel=1e-12) and b["loss_before"] == step.loss == b["loss"]
    assert b["loss_change"] == pytest.approx(after - step.loss, rel=1e-12, abs=1e-15)
    library = json.loads(json.dumps(nudges(net, x.astype(np.float64), label, lr=0.3).to_dict()))
    assert {k: b[k] for k in library if k != "layers"} == {k: v for k, v in library.items() if k != "layers"}
    assert [{k: layer[k] for k in own} for layer, own in zip(b["layers"], library["layers"])] == library["layers"]


def test_why_this_digit_is_explains_maps_and_path(net, data):
    from glassnet.explain import explain

    x = np.asarray(data.X_test[4], dtype=np.float32)
    why = json.loads(json.dumps(analysis.predict(net, x, list(data.classes))["why"]))
    e = explain(net, x, top=3)
    assert (why["winner"], why["runner_up"]) == (e.prediction, e.runner_up)
    np.testing.assert_array_equal(why["contribution"]["values"], e.maps["contribution"].ravel())
    np.testing.assert_array_equal(why["contrast"]["values"], e.maps["contribution_vs_runner_up"].ravel())
    assert why["contribution_sum"] + why["effective_bias"][e.prediction] == pytest.approx(e.logits[e.prediction])
    first = [edge for edge in why["path"] if edge["to"] == [2, e.prediction]]
    assert [(edge["from"][1], edge["term"]) for edge in first] == [(t.input, t.term) for t in e.layers[2].neurons[
        e.prediction].up]
    assert all(edge["term"] > 0 for edge in why["path"]) and {edge["from"][0] for edge in why["path"]} == {0, 1}


def test_a_neurons_connections_output_numbers_and_drivers(net, data):
    from glassnet.explain import trace_layers

    x = np.asarray(data.X_test[9], dtype=np.float32)
    n = analysis.neuron(net, x, 1, 6)
    traces, values = trace_layers(net, x, neurons=False)
    terms = traces[1].weights[6] * traces[1].inputs
    assert [c["i"] for c in n["incoming"]][:3] == list(np.argsort(-np.abs(terms), kind="stable")[:3])
    assert all(c["pixel"] == [c["i"] // 28, c["i"] % 28] and c["term"] == terms[c["i"]] for c in n["incoming"])
    out = traces[2].weights[:, 6] * traces[1].a[6]
    assert len(n["outgoing"]) == 8 and [c["j"] for c in n["outgoing"]][:3] == list(np.argsort(-np.abs(out),
                                                                                              kind="stable")[:3])
    assert all(c["w"] == traces[2].weights[c["j"], 6] and c["term"] == out[c["j"]] for c in n["outgoing"])
    assert "logits" not in n
    o = analysis.neuron(net, x, 2, 1)
    assert o["logits"] == traces[2].z.tolist() and o["probabilities"] == traces[2].a.tolist() and o["outgoing"] == []
    assert n["effective"] is None                                 # a first layer's own weights are that picture
    terms = np.array(o["effective"]["terms"]["values"])           # deeper: effective_affine's weights, per pixel
    assert terms.sum() + o["effective"]["bias"] == pytest.approx(o["z"], rel=1e-9, abs=1e-12)
    d = analysis.drivers(net, data, 1, 6, count=4)
    a = forward_values(net, np.asarray(data.X_test, dtype=np.float64))[1][1][:, 6]
    assert [im["a"] for im in d] == sorted(a, reverse=True)[:4] and d[0]["image"]["width"] == 28
