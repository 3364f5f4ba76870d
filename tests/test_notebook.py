"""The notebook view of a network (inline SVG + table) and the LivePlot callback, without Jupyter."""

import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import glassnet as gn
from glassnet import notebook
from optional import need

SVG = "{http://www.w3.org/2000/svg}"


def test_repr_html_shows_a_diagram_and_the_summary():
    net = gn.Network.mlp([784, 256, 128, 10], dropout=0.2, seed=0)
    page = net._repr_html_()
    assert page == notebook.network_html(net)
    svg = ET.fromstring(page[page.index("<svg"):page.index("</svg>") + 6])     # well-formed SVG
    circles = svg.findall(f"{SVG}circle")
    assert len(circles) == 3 * (notebook.MAX_DRAWN - 1) + 10      # big layers drawn with a gap, 10 outputs in full
    texts = " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    assert "775 more" in texts and "784 neurons" in texts and "Dropout(p=0.2)" in texts
    for row in ("Dense(784 -&gt; 256)", "200,960", "Total parameters: <b>235,146</b>"):
        assert row in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")          # nothing to fetch


def test_neuron_layers_group_activations_with_their_dense_layer():
    net = gn.Network([gn.Dense(3, 4, seed=0), gn.Tanh(), gn.Dense(4, 2, seed=1), gn.Softmax()])
    columns = notebook.neuron_layers(net)
    assert [(c["name"], c["neurons"], c["detail"]) for c in columns] == [
        ("input", 3, []), ("hidden 1", 4, ["Tanh()"]), ("output", 2, ["Softmax()"])]
    svg = ET.fromstring(notebook.network_svg(net))
    assert len(svg.findall(f"{SVG}circle")) == 9
    assert len(svg.findall(f"{SVG}line")) == 3 * 4 + 4 * 2           # one line per weight when all are drawn


def test_trained_network_mentions_its_training(blobs):
    X, y = blobs
    net = gn.Network.mlp([5, 8, 3], seed=0)
    net.fit(X, y, epochs=2, seed=0)
    assert "Trained 2 epochs" in net._repr_html_()


class FakeDisplay:
    """Stands in for IPython's display: records each picture; the handle records the updates."""

    def __init__(self):
        self.shown, self.updates = [], []

    def __call__(self, picture, display_id=False):
        assert display_id is True
        self.shown.append(picture)
        return self

    def update(self, picture):
        self.updates.append(picture)


def _decode(picture):
    Image = need("PIL.Image")
    with Image.open(io.BytesIO(picture._repr_png_())) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("L"), dtype=float)


def test_liveplot_redraws_in_place_after_every_epoch(blobs):
    need("matplotlib")
    X, y = blobs
    display = FakeDisplay()
    net = gn.Network.mlp([5, 8, 3], seed=0)
    net.fit(X, y, epochs=2, batch_size=100, validation_data=(X[:50], y[:50]), seed=0,
            callbacks=[gn.LivePlot(display=display, interval=None)])
    assert len(display.shown) == 1                   # one picture, then replaced in place
    assert len(display.updates) == 2                 # epoch 2 and the end of training
    first, last = _decode(display.shown[0]), _decode(display.updates[-1])
    assert first.std() > 10 and last.std() > 10
    assert not np.array_equal(first, last)           # the curves grew


def test_liveplot_draws_during_long_epochs_and_into_a_file(blobs, tmp_path):
    need("matplotlib")
    X, y = blobs
    live = gn.LivePlot(path=tmp_path / "live" / "curves.png", interval=0)
    gn.Network.mlp([5, 8, 3], seed=0).fit(X, y, epochs=1, batch_size=150, seed=0, callbacks=[live])
    assert live.draws == 2 + 1 + 1                   # every batch (interval=0), the epoch's end, the end
    assert len(live.batch_loss) == 2
    Image = need("PIL.Image")
    with Image.open(tmp_path / "live" / "curves.png") as img:
        assert img.format == "PNG" and img.size[0] >= 300
    fig = live.figure()
    assert "train (each mini-batch)" in [line.get_label() for line in fig.axes[0].get_lines()]


def test_liveplot_outside_jupyter_says_what_to_do():
    need("matplotlib")
    with pytest.raises(gn.GlassnetError, match=r"not running in one.*path='curves.png'"):
        gn.LivePlot()
    with pytest.raises(ValueError, match=r"\.png"):
        gn.LivePlot(path="curves.jpg")
    with pytest.raises(TypeError, match="display expected a function"):
        gn.LivePlot(display="yes")
    with pytest.raises(ValueError, match=r"interval expected seconds >= 0 or None, received '2'"):
        gn.LivePlot(path="curves.png", interval="2")
    with pytest.raises(ValueError, match=r"interval expected seconds >= 0 or None, received -1"):
        gn.LivePlot(path="curves.png", interval=-1)
