"""What a learner sees in a real Jupyter kernel (ipykernel driven by nbclient, no ``%matplotlib inline``).

A cell ending in a figure shows ``image/png``; an ``Explanation``, a ``History``, a ``GradcheckReport``
(and the other result objects) show ``text/html``; ``net.summary()`` shows its table; training with
``verbose=1`` is one live bar updated in place; no glassnet object's ``text/plain`` is over 2,000
characters; nothing is written to standard error.
"""

import pytest

from kernels import TEXT_LIMIT, execute, notebook, problems
from optional import need

SETUP = """\
import numpy as np
import glassnet as gn
from glassnet import plots
d = gn.datasets.load_digits()
rng = np.random.default_rng(0)
pick = rng.permutation(len(d.X_train))[:600]
X, y = d.X_train[pick], d.y_train[pick]
net = gn.Network.mlp([784, 16, 10], seed=0)
h = net.fit(X, y, epochs=2, batch_size=64, seed=0, validation_data=(d.X_test[:200], d.y_test[:200]))
e = net.explain(d.X_test[0], label=int(d.y_test[0]), reference=(X, y))
"""

CELLS = {                      # name: (source, the mime types it must show)
    "history": ("h", {"text/html"}),
    "figure": ("fig = plots.plot_history(h)\nfig", {"image/png"}),
    "display": ("display(fig)", {"image/png"}),
    "explain_figure": ("plots.plot_explanation(e)", {"image/png"}),
    "explanation": ("e", {"text/html"}),
    "gradcheck": ("gn.gradcheck(gn.Network.mlp([5, 4, 3], seed=0), np.ones((3, 5)), [0, 1, 2])", {"text/html"}),
    "summary": ("net.summary()", {"text/html"}),
    "evaluation": ("net.evaluate(d.X_test[:200], d.y_test[:200])", {"text/html"}),
    "dataset": ("d", {"text/html"}),
    "network": ("net", {"text/html"}),
    "lr_find": ("gn.lr_find(net, X, y, steps=30, batch_size=32)", {"text/html"}),
    "step": ("from glassnet.explain import explain_step\nexplain_step(net, d.X_test[:2], d.y_test[:2])", {"text/html"}),
    "descent": ("gn.descend_weight(net, X[:200], y[:200], steps=10)", {"text/html"}),
    "nudges": ("from glassnet.explain import nudges\nnudges(net, d.X_test[0], int(d.y_test[0]))", {"text/html"}),
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    need("matplotlib")
    monkeypatch = pytest.MonkeyPatch()
    try:
        cells = [SETUP] + [source for source, _ in CELLS.values()]
        cells.append("net.fit(X, y, epochs=3, batch_size=64, seed=0, callbacks=[gn.LivePlot(interval=None)]); None")
        cells.append("net.fit(X, y, epochs=3, batch_size=64, seed=0, verbose=1); None")
        nb = execute(notebook(*cells), tmp_path_factory.mktemp("kernel"), monkeypatch, timeout=120)
    finally:
        monkeypatch.undo()
    return nb


@pytest.mark.parametrize("name", list(CELLS))
def test_a_cell_ending_in_a_glassnet_object_shows_a_rich_view(executed, name):
    cell = executed.cells[1 + list(CELLS).index(name)]
    shown = set().union(*(out.get("data", {}).keys() for out in cell.outputs))
    assert CELLS[name][1] <= shown, (name, shown)
    for out in cell.outputs:
        text = out.get("data", {}).get("text/plain", "")
        assert len(text) <= TEXT_LIMIT, (name, len(text))
        assert not text.startswith("'"), text[:80]           # never a quoted string with literal \n


def test_nothing_fails_and_nothing_is_written_to_standard_error(executed):
    assert problems(executed) == []


def test_summary_shows_its_table_and_plain_text_without_escapes(executed):
    out = executed.cells[1 + list(CELLS).index("summary")].outputs[0]
    assert "<table" in out["data"]["text/html"] and "Total parameters" in out["data"]["text/html"]
    assert "\\n" not in out["data"]["text/plain"] and out["data"]["text/plain"].startswith("#")


def test_liveplot_shows_one_picture_redrawn_in_place(executed):
    outputs = executed.cells[-2].outputs
    assert [out["output_type"] for out in outputs] == ["display_data"], outputs
    assert "image/png" in outputs[0]["data"]


def test_training_shows_one_live_bar_updated_in_place(executed):
    outputs = executed.cells[-1].outputs
    assert [out["output_type"] for out in outputs] == ["display_data"], outputs
    html = outputs[0]["data"]["text/html"]
    assert "<progress" in html and "epoch 3/3" in html and "2 earlier epoch line(s)" in html
    assert outputs[0]["data"]["text/plain"].startswith("epoch 3/3")
