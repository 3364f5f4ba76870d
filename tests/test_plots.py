"""Every picture function writes a real PNG: opened with Pillow, of the expected size, not blank."""

import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import plots
from glassnet.preprocess import to_mnist_steps
from optional import need


@pytest.fixture(autouse=True)
def plot_extra():
    """These tests need matplotlib (skipped without it locally; a failure in CI)."""
    need("matplotlib")


def check_png(path, min_width=300, min_height=150):
    """Open ``path`` as a PNG and check it has a sensible size and is not one flat colour."""
    Image = need("PIL.Image")
    with Image.open(path) as img:
        assert img.format == "PNG"
        img.load()
        width, height = img.size
        pixels = np.asarray(img.convert("L"), dtype=np.float64)
    assert width >= min_width and height >= min_height, img.size
    assert pixels.std() > 10, f"{path} looks blank (pixel std {pixels.std():.2f})"
    return width, height


@pytest.fixture(scope="module")
def trained(digits):
    """A tiny network trained for two epochs on every 8th training digit (all ten classes)."""
    net = gn.Network.mlp([784, 24, 12, 10], seed=1)
    initial = net.get_weights()
    history = net.fit(digits.X_train[::8], digits.y_train[::8], epochs=2, batch_size=32,
                      optimizer=gn.SGD(0.1, momentum=0.9), validation_data=(digits.X_test[::4], digits.y_test[::4]),
                      seed=0)
    return net, initial, history


def test_history_curves(trained, tmp_path):
    net, _, history = trained
    fig = plots.plot_history(history, path=tmp_path / "curves.png")
    width, height = check_png(tmp_path / "curves.png")
    assert (width, height) == tuple(round(v * plots.DPI) for v in fig.get_size_inches())
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "train" in labels and "validation" in labels


def test_history_without_validation_or_accuracy(tmp_path):
    records = [{"epoch": e, "loss": 1.0 / e, "accuracy": None, "val_loss": None, "val_accuracy": None,
                "lr": 0.1, "seconds": 0.1} for e in range(1, 6)]
    fig = plots.plot_history(records, path=tmp_path / "loss.png")
    check_png(tmp_path / "loss.png")
    assert len(fig.axes) == 2                     # loss and learning rate; no accuracy panel
    fig = plots.plot_history({"epochs": records[:1]})   # a History.to_dict() with one epoch
    assert fig.axes[0].get_lines()


def test_history_errors(tmp_path):
    with pytest.raises(ValueError, match="at least one epoch"):
        plots.plot_history(gn.History())
    with pytest.raises(TypeError, match="expected a History"):
        plots.plot_history("loss.csv")
    records = [{"epoch": 1, "loss": 0.5}]
    with pytest.raises(ValueError, match=r"ending in \.png"):
        plots.plot_history(records, path=tmp_path / "curves.jpg")
    assert not (tmp_path / "curves.jpg").exists()


def test_confusion_matrix(trained, digits, tmp_path):
    net, _, _ = trained
    y_pred = net.predict(digits.X_test)
    fig = plots.plot_confusion_matrix(digits.y_test, y_pred, classes=digits.classes, path=tmp_path / "cm.png")
    check_png(tmp_path / "cm.png")
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (10, 10)
    np.testing.assert_allclose(np.asarray(shown).sum(axis=1), 1.0)      # each row: shares of the true class
    with pytest.raises(ValueError, match="same length"):
        plots.plot_confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match="integer class labels"):
        plots.plot_confusion_matrix([0.5, 1.0], [0, 1])


def test_most_confident_mistakes_are_wrong_and_sorted(trained, digits):
    net, _, _ = trained
    X, y = digits.X_test[::4], digits.y_test[::4]
    mistakes = plots.most_confident_mistakes(net, X, y, n=10)
    assert 1 <= len(mistakes) <= 10
    proba = net.predict_proba(X)
    for m in mistakes:
        assert m["true"] == y[m["index"]] != m["predicted"] == proba[m["index"]].argmax()
        assert m["probability"] == pytest.approx(proba[m["index"]].max())
    confidences = [m["probability"] for m in mistakes]
    assert confidences == sorted(confidences, reverse=True)
    wrong = np.flatnonzero(proba.argmax(axis=1) != y)
    assert confidences[0] == pytest.approx(proba[wrong].max())


def test_mistakes_picture(trained, digits, tmp_path):
    net, _, _ = trained
    fig = plots.plot_mistakes(net, digits.X_test[::4], digits.y_test[::4], n=6, path=tmp_path / "mistakes.png")
    check_png(tmp_path / "mistakes.png")
    assert len([ax for ax in fig.axes if ax.images]) == 6
    right = net.predict(digits.X_test[:20])
    plots.plot_mistakes(net, digits.X_test[:20], right, path=tmp_path / "none.png")   # no mistakes: says so
    check_png(tmp_path / "none.png", min_height=100)


def test_first_layer_weights(trained, tmp_path):
    net, _, _ = trained
    fig = plots.plot_first_layer(net, path=tmp_path / "first.png")
    check_png(tmp_path / "first.png")
    shown = np.asarray(fig.axes[0].images[0].get_array().filled(np.nan))      # 8 columns x 3 rows of 28x28
    assert shown.shape == (3 * 30 - 2, 8 * 30 - 2)                            # 2 blank pixels between tiles
    w = net.layers[0].weights[11]                                             # row 1, column 3
    np.testing.assert_allclose(shown[30:30 + 28, 3 * 30:3 * 30 + 28], (w / np.abs(w).max()).reshape(28, 28),
                               rtol=1e-6)
    assert np.isnan(shown[28:30]).all()
    with pytest.raises(ValueError, match="not a square image"):
        plots.plot_first_layer(gn.Network.mlp([10, 4, 2], seed=0))
    plots.plot_first_layer(gn.Network.mlp([10, 4, 2], seed=0), image_shape=(2, 5), path=tmp_path / "small.png")
    check_png(tmp_path / "small.png", min_width=100, min_height=100)
    with pytest.raises(ValueError, match=r"n expected a number of neurons in \[1, 24\]"):
        plots.plot_first_layer(net, n=25)


def test_activations_count_dead_neurons(digits, tmp_path):
    net = gn.Network.mlp([784, 8, 6, 10], seed=0)
    net.layers[0].weights[2] = 0.0
    net.layers[0].biases[2] = -1.0          # neuron 2 of the first layer can never fire: it is dead
    stats = plots.activation_stats(net, digits.X_test[:50])
    assert [s["layer"] for s in stats] == [1, 3]
    assert stats[0]["never_fire"] >= 1
    assert np.all(stats[0]["values"][:, 2] == 0)
    alive = np.any(stats[0]["values"] > 0, axis=0)
    assert stats[0]["never_fire"] == int(np.sum(~alive))
    fig = plots.plot_activations(net, digits.X_test[:50], path=tmp_path / "act.png")
    check_png(tmp_path / "act.png")
    assert "never fire" in fig.axes[0].get_title()


def test_activations_of_tanh_report_saturation(digits):
    net = gn.Network.mlp([784, 5, 10], activation="tanh", seed=0)
    net.layers[0].biases[0] = 50.0          # always near +1: saturated
    stats = plots.activation_stats(net, digits.X_test[:20])
    assert stats[0]["never_fire"] is None and stats[0]["saturated"] >= 1
    with pytest.raises(ValueError, match="hidden activation layers"):
        plots.plot_activations(gn.Network([gn.Dense(784, 10)]), digits.X_test[:5])


def test_weights_now_against_initialisation(trained, tmp_path):
    net, initial, _ = trained
    fig = plots.plot_weight_distribution(net, initial, path=tmp_path / "weights.png")
    check_png(tmp_path / "weights.png")
    assert len([ax for ax in fig.axes if ax.patches]) == 3          # three Dense layers
    with pytest.raises(ValueError, match="same parameters"):
        plots.plot_weight_distribution(net, {"0.weights": initial["0.weights"]})
    with pytest.raises(TypeError, match="get_weights"):
        plots.plot_weight_distribution(net, [1, 2, 3])


def test_preprocess_steps_strip(tmp_path):
    paper = np.full((60, 40, 3), 250, dtype=np.uint8)
    paper[10:50, 18:24] = 20                                      # a dark "1" on light paper
    fig = plots.plot_preprocess_steps(paper, path=tmp_path / "steps.png")
    check_png(tmp_path / "steps.png")
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == [
        "1. grayscale", "2. scaled", "3. ink", "4. cropped", "5. resized", "6. centred"]
    steps = to_mnist_steps(paper)
    fig = plots.plot_preprocess_steps(steps)
    np.testing.assert_array_equal(fig.axes[-1].images[0].get_array(), steps[-1][1])


def test_lr_find_curve_from_plain_data(tmp_path):
    lr = np.geomspace(1e-5, 1.0, 40)
    loss = 2.3 - 1.5 / (1 + np.exp(-(np.log10(lr) + 2.5) * 3)) + np.where(lr > 0.3, 5 * (lr - 0.3), 0)
    result = {"suggestion": 3e-3, "rule": "valley", "spread": 0.2,
              "curves": [{"seed": s, "lr": lr.tolist(), "loss": (loss + 0.01 * s).tolist(),
                          "smoothed": (loss + 0.01 * s).tolist(), "suggestion": 3e-3 * (1 + s / 10)}
                         for s in range(2)]}
    fig = plots.plot_lr_find(result, path=tmp_path / "lr.png")
    check_png(tmp_path / "lr.png")
    assert fig.axes[0].get_xscale() == "log"
    with pytest.raises(ValueError, match="curves"):
        plots.plot_lr_find({"curves": []})


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # import matplotlib now raises ImportError
    with pytest.raises(gn.MissingExtraError, match=r'glassnet\[plot\]'):
        plots.plot_history([{"epoch": 1, "loss": 0.5}])


def test_lr_find_curve_from_a_real_range_test(trained, digits, tmp_path):
    from glassnet.lr_finder import lr_find

    net = gn.Network.mlp([784, 16, 10], seed=0)
    result = lr_find(net, digits.X_train[::16], digits.y_train[::16], steps=30, batch_size=32, seeds=(0, 1))
    fig = plots.plot_lr_find(result, path=tmp_path / "lr.png")
    check_png(tmp_path / "lr.png")
    assert f"{result.suggestion:.2g}" in " ".join(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    plots.plot_lr_find(result.to_dict())              # the JSON form draws too


def test_explanation_picture(trained, digits, tmp_path):
    from glassnet.explain import explain

    net, _, _ = trained
    e = explain(net, digits.X_test[7], label=int(digits.y_test[7]))
    fig = plots.plot_explanation(e, classes=digits.classes, path=tmp_path / "explain.png")
    check_png(tmp_path / "explain.png", min_width=1000)
    maps = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(maps) == 3                             # the input, the contribution map, the saliency
    np.testing.assert_allclose(np.asarray(maps[1]), e.maps["contribution"].reshape(28, 28))
    assert f"Prediction '{e.prediction}'" in fig.get_suptitle()
    with pytest.raises(TypeError, match="Explanation"):
        plots.plot_explanation({"x": None})


def test_explanation_picture_of_a_non_image_input(blobs, tmp_path):
    from glassnet.explain import explain

    X, y = blobs
    net = gn.Network.mlp([5, 6, 3], seed=0)
    fig = plots.plot_explanation(explain(net, X[0], label=int(y[0])), path=tmp_path / "explain.png")
    check_png(tmp_path / "explain.png")
    assert not any(ax.images for ax in fig.axes)      # bars instead of maps


def test_descent_lab_pictures(blobs, tmp_path):
    from glassnet import descent

    X, y = blobs
    X, y = X[:60], y[:60]
    net = gn.Network.mlp([5, 8, 3], seed=0)
    net.fit(X, y, epochs=3, seed=0)
    along = descent.loss_along_weight(net, X, y, points=21)
    fd = descent.finite_difference(net, X, y, param=along["param"], index=along["index"])
    steps = descent.descend_weight(net, X, y, param=along["param"], index=along["index"], steps=8)
    fig = plots.plot_descent_1d(along, fd, steps, path=tmp_path / "one.png")
    check_png(tmp_path / "one.png", min_width=1000)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert any(label.startswith("backprop slope") for label in labels)
    assert any(label.startswith("finite difference") for label in labels)
    assert len(fig.axes[1].get_lines()) == len(steps["paths"])              # the loss per step, one line per rate
    assert len(fig.axes) == 2 + len(steps["paths"])                          # then each path on its own scale
    assert [ax.get_title().split(",")[0] for ax in fig.axes[2:]] == [p["label"] for p in steps["paths"]]
    plots.plot_descent_1d(along)                                             # the curve alone draws too
    line = descent.descend_gradient(net, X, y, steps=8)
    fig = plots.plot_descent_line(line, path=tmp_path / "line.png")
    check_png(tmp_path / "line.png", min_width=1000)
    assert len(fig.axes) == 2 + len(line["paths"])

    plane = descent.descend_plane(net, X, y, steps=8, grid=9)
    fig = plots.plot_descent_2d(plane, path=tmp_path / "two.png")
    check_png(tmp_path / "two.png")
    drawn = {line.get_label().split(" (")[0] for line in fig.axes[0].get_lines()}
    assert {"too small", "about right", "too big"} <= drawn
    surface = descent.loss_surface(net, X, y, points=7)
    plots.plot_descent_2d(surface, path=tmp_path / "surface.png")
    check_png(tmp_path / "surface.png")
    with pytest.raises(TypeError, match="descend_plane"):
        plots.plot_descent_2d({"paths": []})
    with pytest.raises(TypeError, match="loss_along_weight"):
        plots.plot_descent_1d({"weights": [1.0]})


def test_image_shape_refuses_what_is_not_two_sizes():
    with pytest.raises(TypeError, match="image_shape expected two sizes .height, width., received int 5"):
        plots.image_shape(784, 5)
    with pytest.raises(TypeError, match="received str 'ab'"):
        plots.image_shape(784, "ab")
    with pytest.raises(ValueError, match="whose product is 784"):
        plots.image_shape(784, (27, 28))


def test_activation_stats_leave_the_layers_caches_alone(digits):
    net = gn.Network.mlp([784, 8, 10], seed=0)
    net.forward(digits.X_train[:4], training=True)            # waiting for its backward pass
    cached = net.layers[0].x
    stats = plots.activation_stats(net, digits.X_test[:20])
    assert net.layers[0].x is cached
    assert stats[0]["values"].shape == (20, 8)
    np.testing.assert_array_equal(stats[0]["values"], net.forward(digits.X_test[:20], upto=2))


def test_activation_stats_show_every_hidden_activation_of_the_registry(digits, tmp_path):
    """An activation without a dead-or-saturated test (identity here) is still shown, with its values."""
    need("matplotlib")
    net = gn.Network.mlp([784, 6, 10], activation="identity", seed=0)
    stats = plots.activation_stats(net, digits.X_test[:20])
    assert [s["name"] for s in stats] == ["Identity"]
    assert stats[0]["never_fire"] is None and stats[0]["saturated"] is None
    fig = plots.plot_activations(net, digits.X_test[:20], path=tmp_path / "identity.png")
    assert "values from" in fig.axes[0].get_title()
