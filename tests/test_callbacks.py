import io

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import ProgressBar, format_epoch


def _net(seed=0, dropout=0.0):
    return gn.Network.mlp([5, 16, 3], dropout=dropout, seed=seed)


def test_early_stopping_restores_best_weights(blobs):
    X, y = blobs
    Xv, yv = X[:60], (y[:60] + 1) % 3           # validation labels that training makes worse
    net = _net()
    stopper = gn.EarlyStopping(monitor="val_loss", patience=1)
    history = net.fit(X, y, epochs=30, batch_size=32, validation_data=(Xv, yv), callbacks=[stopper], seed=0)
    assert history.stopped_early and len(history) < 30
    best = int(np.argmin(history.val_loss))
    assert net.evaluate(Xv, yv).loss == pytest.approx(history.val_loss[best], rel=1e-5)


def test_early_stopping_without_validation_data_says_so(blobs):
    X, y = blobs
    net = _net()
    before = net.get_weights()
    with pytest.raises(ValueError, match="pass validation_data"):
        net.fit(X, y, epochs=2, callbacks=[gn.EarlyStopping()], seed=0)
    assert all(np.array_equal(before[k], v) for k, v in net.get_weights().items()) and net.history_ is None


# -- progress output ----------------------------------------------------------------------------
def test_progress_bar_prints_one_line_per_epoch_when_not_a_tty(blobs):
    X, y = blobs
    stream = io.StringIO()
    _net().fit(X, y, epochs=3, batch_size=32, seed=0, callbacks=[gn.ProgressBar(stream)])
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3") and "loss" in lines[0] and "accuracy" in lines[0]
    assert "\r" not in stream.getvalue()


def test_progress_bar_redraws_in_place_on_a_terminal(blobs):
    X, y = blobs

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = gn.ProgressBar(stream)
    _net().fit(X, y, epochs=1, batch_size=8, seed=0, callbacks=[bar])
    text = stream.getvalue()
    assert "\r" in text and "[" in text and "ETA" in text or "s" in text
    assert text.rstrip().splitlines()[-1].lstrip("\r").startswith("epoch 1/1")


def test_verbose_adds_a_progress_bar(blobs, capsys):
    X, y = blobs
    _net().fit(X, y, epochs=2, batch_size=32, seed=0, verbose=1)
    assert capsys.readouterr().err.count("epoch ") == 2
    _net().fit(X, y, epochs=2, batch_size=32, seed=0)
    assert capsys.readouterr().err == ""


def test_checkpoint_writes_model_optimizer_and_position(blobs, tmp_path):
    X, y = blobs
    net = _net()
    net.fit(X, y, epochs=3, batch_size=32, seed=0, optimizer=gn.Adam(0.01),
            callbacks=[gn.Checkpoint(tmp_path / "c", every=2)])
    files = sorted(p.name for p in (tmp_path / "c").iterdir())
    assert files == ["model.json", "optimizer.safetensors", "training.json", "weights.safetensors"]
    saved = gn.load(tmp_path / "c")                 # a checkpoint is also a loadable model
    np.testing.assert_array_equal(saved.predict_proba(X), net.predict_proba(X))
    from glassnet.serialization import load_checkpoint
    state = load_checkpoint(tmp_path / "c")
    assert state["position"]["epoch"] == 3 and len(state["history"]) == 3
    assert state["optimizer"][0]["type"] == "Adam" and state["optimizer"][0]["iterations"] == 30


def test_format_epoch_and_the_progress_bar_without_terminal():
    line = format_epoch({"epoch": 2, "loss": 0.5, "accuracy": 0.9, "val_loss": None, "val_accuracy": None,
                         "lr": 0.1, "seconds": 1.25}, 10)
    assert line == "epoch 2/10  loss 0.5000  accuracy 90.00%  lr 0.1  1.2s"
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar.start(10)
    bar.update(5, "x")
    assert stream.getvalue() == ""                  # nothing until the epoch line in a pipe
    bar.finish("done")
    assert stream.getvalue() == "done\n"


@pytest.mark.parametrize("kwargs, exc", [({"monitor": "val_f1"}, ValueError), ({"patience": -1}, ValueError),
                                          ({"restore_best_weights": 1}, TypeError)])
def test_early_stopping_settings_are_checked(kwargs, exc):
    with pytest.raises(exc):
        gn.EarlyStopping(**kwargs)
