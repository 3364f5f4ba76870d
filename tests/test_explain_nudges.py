"""explain.nudges: one SGD step ranked for a reader equals explain_step's numbers, and its loss after is the
loss the step really gives."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.explain import effective_affine, explain_step, forward_values, nudges


def trained(activation="relu", sizes=(784, 16, 12, 10), seed=0, epochs=1):
    data = gn.datasets.load_digits()
    net = gn.Network.mlp(list(sizes), activation=activation, seed=seed)
    net.fit(data.X_train[::40], data.y_train[::40], epochs=epochs, seed=seed)
    return net, data


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_ranked_delta_and_dW_are_explain_steps_numbers(activation):
    net, data = trained(activation)
    x, label = data.X_test[3], int(data.y_test[3])
    n = nudges(net, x, label, lr=0.2, top=7)
    step = explain_step(net, x[None, :], [label], lr=0.2)
    assert [layer.name for layer in n.layers] == ["output", "hidden 2", "hidden 1"]       # going back
    assert n.loss_before == step.loss
    for layer in n.layers:
        s = step.layers[layer.index - 1]
        np.testing.assert_array_equal(layer.delta, s.delta[0])
        np.testing.assert_array_equal(layer.dW, s.dW)
        deltas = [abs(m.delta) for m in layer.neurons]
        assert deltas == sorted(deltas, reverse=True) and 0 < len(deltas) <= 7 and 0 not in deltas
        assert deltas[0] == np.max(np.abs(s.delta[0]))
        for m in layer.neurons:
            assert m.delta == s.delta[0][m.j] and m.direction == ("up" if m.delta < 0 else "down")
        sizes = [abs(w.dW) for w in layer.weights]
        assert sizes == sorted(sizes, reverse=True) and sizes[0] == np.max(np.abs(s.dW))
        for w in layer.weights:
            assert w.dW == s.dW[w.j, w.i] == w.delta * w.x and w.update == s.update_W[w.j, w.i]
            if layer.index == 1:
                assert w.pixel == (w.i // 28, w.i % 28)
            else:
                assert w.pixel is None
    out = step.layers[-1]
    assert [o.k for o in n.outputs] == list(np.argsort(-np.abs(step.output_delta[0]), kind="stable"))
    for o in n.outputs:
        assert o.delta == step.output_delta[0][o.k] and o.move == -o.delta and o.value == out.a[0][o.k]
        assert o.target == (1.0 if o.k == label else 0.0)


def test_applying_the_step_changes_the_loss_by_the_amount_shown():
    net, data = trained()
    x, label = data.X_test[5], int(data.y_test[5])
    n = nudges(net, x, label, lr=0.5)
    after = net.astype(np.float64)
    explain_step(net, x[None, :], [label], lr=0.5).apply(after)
    before = net.astype(np.float64).evaluate(x[None, :].astype(np.float64), [label]).loss
    assert before == pytest.approx(n.loss_before, rel=1e-12)
    assert after.evaluate(x[None, :].astype(np.float64), [label]).loss == pytest.approx(n.loss_after, rel=1e-12)
    assert n.loss_change == n.loss_after - n.loss_before < 0
    small = nudges(net, x, label, lr=1e-4)                   # a small step: the gradient's promise holds
    assert small.loss_change == pytest.approx(small.linear_change, rel=1e-2)
    assert np.isfinite(n.linear_change) and n.linear_change < 0


def test_a_sure_network_shows_one_minus_p_not_one():
    net = gn.Network.mlp([4, 3], seed=0)
    net.layers[0].params["weights"][...] = 0.0
    net.layers[0].params["biases"][...] = np.array([0.0, 40.0, 0.0], dtype=np.float32)
    n = nudges(net, [1.0, 0.0, 0.0, 0.0], 1)
    assert n.p_label == 1.0                                  # rounded to 1 in float64...
    assert n.p_others == pytest.approx(2 * np.exp(-40.0), rel=1e-9)       # ...its complement is not
    assert n.image_shape is None and n.layers[0].weights[0].pixel is None


def test_plain_data_and_text():
    net, data = trained(sizes=(784, 8, 10))
    n = nudges(net, data.X_test[0], int(data.y_test[0]), top=3)
    d = n.to_dict()
    assert d["loss_change"] == n.loss_after - n.loss_before and len(d["layers"][1]["weights"]) == 3
    assert "dW" not in d["layers"][0] and len(n.to_dict(full=True)["layers"][0]["dW"]) == 10
    text = str(n)
    assert "true label" in text and "hidden 1" in text and "W[" in text


def test_bad_inputs_are_refused():
    net = gn.Network.mlp([4, 3, 2], seed=0)
    with pytest.raises(ValueError, match="label expected a class in"):
        nudges(net, [0.0] * 4, 2)
    with pytest.raises(ValueError, match="top expected"):
        nudges(net, [0.0] * 4, 1, top=0)
    with pytest.raises(ValueError, match="explain expected one sample of 4 features"):
        nudges(net, [0.0] * 5, 1)
    with pytest.raises(ValueError, match="lr"):
        nudges(net, [0.0] * 4, 1, lr=-1.0)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_effective_weights_of_a_hidden_layer_give_its_weighted_sums(activation):
    net, data = trained(activation)
    x = np.asarray(data.X_test[8], dtype=np.float64)
    values = forward_values(net, x[None, :])
    for g in (1, 2, 3):
        W, b = effective_affine(net, x, layer=g)
        np.testing.assert_allclose(W @ x + b, values[g][0][0], rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(effective_affine(net, x, layer=3)[0], effective_affine(net, x)[0])
    with pytest.raises(ValueError, match="layer expected an array of neurons 1 to 3"):
        effective_affine(net, x, layer=4)


def test_the_top_terms_are_those_a_stable_sort_gives_ties_included():
    """neuron_traces picks each neuron's top terms without sorting every row: the same ones, in the same order."""
    from glassnet.explain import neuron_traces

    rng = np.random.default_rng(0)
    for trial in range(300):
        n_in, n_out, top = rng.integers(1, 30), rng.integers(1, 6), int(rng.integers(1, 12))
        if trial % 2:                                     # many equal terms
            W, x = rng.integers(-3, 4, size=(n_out, n_in)).astype(float), rng.integers(0, 3, size=n_in).astype(float)
        else:
            W, x = rng.normal(size=(n_out, n_in)), rng.random(n_in)
        traces = neuron_traces(W, np.zeros(n_out), x, W @ x, W @ x, top)
        T, k = W * x, min(top, n_in)
        for j, trace in enumerate(traces):
            order = np.argsort(T[j], kind="stable")
            assert [t.input for t in trace.up] == [i for i in order[::-1][:k] if T[j][i] > 0]
            assert [t.input for t in trace.down] == [i for i in order[:k] if T[j][i] < 0]
