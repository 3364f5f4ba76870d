"""The notebook views without a kernel (fast): the PNG writer, short reprs, the HTML of each result
object, ``Text``, ``Record``, ``picture`` and the exercises' ``check``. ``test_notebook_kernel.py``
shows the same objects in a real Jupyter kernel."""

import io
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import notebook, views
from glassnet.explain import nudges
from optional import need


def test_png_writer_round_trips_through_pillow():
    Image = need("PIL.Image")
    rgb = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    with Image.open(io.BytesIO(views.png(rgb))) as img:
        assert img.format == "PNG" and img.size == (7, 5)
        assert np.array_equal(np.asarray(img.convert("RGB")), rgb)


def test_colour_is_ink_for_images_and_red_blue_for_signed_values():
    ink = views.colour(np.array([[0.0, 1.0]]))
    assert ink[0, 0].tolist() == [255, 255, 255] and ink[0, 1].tolist() == [0, 0, 0]
    signed = views.colour(np.array([[-1.0, 0.0, 1.0]]))
    assert signed[0, 0, 2] > signed[0, 0, 0] and signed[0, 2, 0] > signed[0, 2, 2]
    assert signed[0, 1].tolist() == [255, 255, 255]


def test_short_cuts_long_text_and_says_so():
    assert views.short("abc") == "abc"
    cut = views.short("x" * 5000)
    assert len(cut) == views.MAX_TEXT and cut.endswith("print() shows them all)")


def test_summary_is_a_string_that_shows_itself_and_a_table():
    net = gn.Network.mlp([4, 3, 2], seed=0)
    summary = net.summary()
    assert isinstance(summary, str) and summary.startswith("#") and repr(summary) == str(summary)
    assert "<table" in summary._repr_html_() and "Total parameters: <b>23</b>" in summary._repr_html_()


def test_result_objects_have_short_reprs_and_html_views(blobs):
    X, y = blobs
    net = gn.Network.mlp([5, 8, 3], seed=0)
    history = net.fit(X, y, epochs=2, batch_size=50, seed=0, validation_data=(X[:40], y[:40]))
    objects = [history, net.evaluate(X, y), gn.gradcheck(gn.Network.mlp([5, 4, 3], seed=0), X[:4], y[:4]),
               net.explain(X[0], label=int(y[0]), reference=(X, y)), gn.explain_step(net, X[:2], y[:2]),
               gn.lr_find(net, X, y, steps=20, batch_size=16), gn.datasets.load_digits(),
               nudges(net, X[0], int(y[0])),
               gn.descend_weight(net, X[:100], y[:100], steps=5), gn.finite_difference(net, X[:100], y[:100]),
               gn.loss_surface(net, X[:100], y[:100], points=5),
               views.Record({"loss0": 0.5, "path": list(range(50))}, name="Descent")]
    for obj in objects:
        text, page = repr(obj), obj._repr_html_()
        assert len(text) <= views.MAX_TEXT and "array(" not in text, type(obj)
        assert page.startswith("<div") and page.endswith("</div>"), type(obj)
    assert "History(2 epochs" in repr(history) and "curves" not in repr(history)
    assert "PASS" in objects[2]._repr_html_()
    assert objects[6]._repr_html_().count("<img") == 10                # one example of each digit
    lab = gn.descend_weight(net, X[:100], y[:100], steps=5)
    assert type(lab) is not dict and isinstance(lab, dict) and repr(lab).startswith("descend_weight(")
    assert "<polyline" in lab._repr_html_() and "verdict" in lab._repr_html_()   # the paths' curves and verdicts
    assert json.loads(json.dumps(gn.finite_difference(net, X[:100], y[:100])))["slope"] is not None


def test_history_without_epochs_and_long_tables_fold():
    assert "no epochs" in gn.History()._repr_html_()
    h = gn.History()
    for k in range(1, 31):
        h.append({"epoch": k, "loss": 1 / k, "accuracy": 0.5, "lr": 0.1, "seconds": 0.1})
    page = h._repr_html_()
    assert "<details" in page and f"{30 - views.MAX_ROWS} more rows" in page


def test_record_is_still_a_plain_dict_for_json():
    record = views.Record({"w0": 1.5, "losses": [1.0, 0.5]}, name="Descent")
    assert json.loads(json.dumps(record)) == {"w0": 1.5, "losses": [1.0, 0.5]}
    assert repr(record) == "Descent(w0=1.5; lists: losses)" and "w0" in record._repr_html_()


def test_progress_view_shows_the_bar_and_folds_earlier_lines():
    progress = views.Progress(0.5, "epoch 2/3 loss 0.5 5/10 ETA 1.0s", ["epoch 1/3  loss 0.7"])
    assert '<progress value="0.500"' in progress._repr_html_() and "1 earlier epoch line(s)" in progress._repr_html_()
    assert repr(progress) == "epoch 1/3  loss 0.7\nepoch 2/3 loss 0.5 5/10 ETA 1.0s"


def test_outside_a_kernel_nothing_changes():
    assert views.in_notebook() is False
    assert views.show_figures_in_notebooks(lambda fig: b"") is False


def test_picture_shows_an_array_as_an_enlarged_png():
    Image = need("PIL.Image")
    shown = notebook.picture(np.linspace(0, 1, 784), size=56)
    with Image.open(io.BytesIO(shown._repr_png_())) as img:
        assert img.size == (56, 56)
    with pytest.raises(ValueError, match="pass shape"):
        notebook.picture(np.zeros(10))


def test_check_passes_right_answers_and_fails_wrong_ones_with_the_hint(capsys):
    notebook.check(784, 28 * 28)
    notebook.check((10, 784), np.zeros((10, 784)).shape)
    notebook.check(np.float32(0.1) * 3, 0.3, tolerance=1e-6)
    assert capsys.readouterr().out.splitlines() == ["right: 784", "right: (10, 784)", "right: 0.3"]
    with pytest.raises(AssertionError, match="Hint: rows times columns"):
        notebook.check(700, 784, hint="rows times columns")
    with pytest.raises(AssertionError, match="not answered yet"):
        notebook.check(..., 784)
    with pytest.raises(AssertionError, match="not quite"):
        notebook.check((7, 16), (16, 7))
    with pytest.raises(AssertionError, match="not quite"):
        notebook.check("relu", "tanh")
