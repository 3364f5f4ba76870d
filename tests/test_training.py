import json
import os
import signal

import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers, training
from glassnet.callbacks import Callback
from optional import need


def _net(seed=0, dropout=0.0):
    return gn.Network.mlp([5, 16, 3], dropout=dropout, seed=seed)


def _weights_equal(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_history_records_each_epoch(blobs):
    X, y = blobs
    net = _net()
    history = net.fit(X, y, epochs=3, batch_size=32, validation_data=(X[:50], y[:50]), seed=0)
    assert len(history) == 3 and history["epoch"] == [1, 2, 3]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"):
        assert all(v is not None for v in history[key]), key
    assert history.loss[-1] < history.loss[0]
    assert history.seed == 0 and net.history_ is history
    loss, acc = net.evaluate(X[:50], y[:50])
    assert history.val_loss[-1] == pytest.approx(loss) and history.val_accuracy[-1] == pytest.approx(acc)


def test_same_seed_same_weights_even_with_dropout(blobs):
    X, y = blobs
    a, b = _net(dropout=0.3), _net(dropout=0.3)
    a.fit(X, y, epochs=3, batch_size=16, optimizer=gn.Adam(0.01), seed=7)
    b.fit(X, y, epochs=3, batch_size=16, optimizer=gn.Adam(0.01), seed=7)
    assert _weights_equal(a, b)
    c = _net(dropout=0.3)
    c.fit(X, y, epochs=3, batch_size=16, optimizer=gn.Adam(0.01), seed=8)
    assert not _weights_equal(a, c)


def test_seed_none_is_recorded_and_replays(blobs):
    X, y = blobs
    a = _net()
    history = a.fit(X, y, epochs=2, batch_size=32)
    assert isinstance(history.seed, int)
    b = _net()
    b.fit(X, y, epochs=2, batch_size=32, seed=history.seed)
    assert _weights_equal(a, b)


def test_fresh_shuffle_every_epoch_and_every_sample_once(blobs):
    X, y = blobs
    batches = {}

    class Inputs(Callback):
        def on_batch_end(self, batch, logs):   # the first layer keeps the batch it just saw
            batches.setdefault(self.run.epoch, []).append(self.run.network.layers[0].x.copy())

    _net().fit(X, y, epochs=3, batch_size=32, seed=0, callbacks=[Inputs()])
    assert sorted(batches) == [1, 2, 3]
    for epoch_batches in batches.values():
        rows = np.concatenate(epoch_batches)
        np.testing.assert_array_equal(rows[np.lexsort(rows.T)], X[np.lexsort(X.T)])   # each sample once
    assert not np.array_equal(batches[1][0], batches[2][0])
    assert not np.array_equal(batches[1][0], X[:32])                                  # shuffled


def test_callback_hooks_are_called_in_order(blobs):
    X, y = blobs
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs):
            calls.append("train_begin")

        def on_epoch_begin(self, epoch, logs):
            calls.append(f"epoch_begin {epoch}")

        def on_batch_end(self, batch, logs):
            assert {"loss", "lr", "size", "accuracy"} <= set(logs)
            calls.append("batch")

        def on_epoch_end(self, epoch, logs):
            calls.append(f"epoch_end {epoch}")

        def on_train_end(self, logs):
            calls.append("train_end")

    _net().fit(X[:64], y[:64], epochs=2, batch_size=32, seed=0, callbacks=[Recorder()])
    assert calls == ["train_begin", "epoch_begin 1", "batch", "batch", "epoch_end 1",
                     "epoch_begin 2", "batch", "batch", "epoch_end 2", "train_end"]


def test_last_partial_batch_is_used(blobs):
    X, y = blobs
    sizes = []

    class Sizes(Callback):
        def on_batch_end(self, batch, logs):
            sizes.append(logs["size"])

    _net().fit(X[:70], y[:70], epochs=1, batch_size=32, seed=0, callbacks=[Sizes()])
    assert sizes == [32, 32, 6]


def test_one_hot_targets_equal_integer_labels(blobs):
    X, y = blobs
    a, b = _net(), _net()
    a.fit(X, y, epochs=2, batch_size=32, seed=0)
    b.fit(X, np.eye(3)[y], epochs=2, batch_size=32, seed=0)
    assert _weights_equal(a, b)


def test_schedule_is_bound_to_the_training_length(blobs):
    X, y = blobs
    schedule = gn.OneCycle(0.1)
    history = _net().fit(X, y, epochs=4, batch_size=30, optimizer=gn.SGD(schedule, momentum=0.9), seed=0)
    assert schedule.total_steps == 4 * 10
    assert history.lr[-1] < 0.1 / 1000            # annealed to nearly zero by the end
    assert max(history.lr) <= 0.1 + 1e-12


# -- never lose work -----------------------------------------------------------------------------
def test_divergence_stops_with_epoch_batch_and_lr_and_keeps_finite_weights(blobs):
    X, y = blobs
    net = _net()
    with np.errstate(all="ignore"):
        with pytest.raises(gn.TrainingDiverged) as info:
            net.fit(X * 100, y, epochs=5, batch_size=32, optimizer=gn.SGD(1e6), seed=0)
    exc = info.value
    assert exc.epoch >= 1 and exc.batch >= 1 and exc.lr == 1e6
    message = str(exc)
    assert f"epoch {exc.epoch}" in message and f"batch {exc.batch}" in message and "learning rate" in message
    assert all(np.isfinite(p).all() for p in net.parameters())
    assert net.history_ is not None


def test_divergence_on_the_last_step_is_caught(blobs):
    X, y = blobs

    class Poison(Callback):
        def on_batch_end(self, batch, logs):
            if batch == self.run.steps_per_epoch:
                self.run.network.layers[0].weights[0, 0] = np.nan

    net = _net()
    with pytest.raises(gn.TrainingDiverged):
        net.fit(X, y, epochs=1, batch_size=32, seed=0, callbacks=[Poison()])
    assert all(np.isfinite(p).all() for p in net.parameters())


class InterruptAt(Callback):
    def __init__(self, epoch, batch, how="raise"):
        self.epoch, self.batch, self.how = epoch, batch, how

    def on_batch_end(self, batch, logs):
        if (self.run.epoch, batch) == (self.epoch, self.batch):
            if self.how == "signal":
                os.kill(os.getpid(), signal.SIGINT)    # a real Ctrl-C, delivered to this process
            else:
                raise KeyboardInterrupt


@pytest.mark.parametrize("how", ["raise", "signal"])
def test_ctrl_c_stops_cleanly_and_keeps_weights_and_history(blobs, how):
    X, y = blobs
    net = _net()
    history = net.fit(X, y, epochs=5, batch_size=32, seed=0, callbacks=[InterruptAt(3, 4, how)])
    assert history.interrupted and len(history) == 2
    assert all(np.isfinite(p).all() for p in net.parameters())
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # handler restored


@pytest.mark.parametrize("stop", [(2, 10), (3, 4)])   # end of an epoch, and mid-epoch
def test_resumed_run_equals_uninterrupted_run(blobs, tmp_path, stop):
    X, y = blobs
    settings = dict(epochs=4, batch_size=32, validation_data=(X[:40], y[:40]))

    reference = _net(dropout=0.2)
    ref_history = reference.fit(X, y, optimizer=gn.SGD(gn.OneCycle(0.1), momentum=0.9, nesterov=True),
                                seed=3, **settings)

    interrupted = _net(dropout=0.2)
    ckpt = tmp_path / "ckpt"
    first = interrupted.fit(X, y, optimizer=gn.SGD(gn.OneCycle(0.1), momentum=0.9, nesterov=True), seed=3,
                            callbacks=[gn.Checkpoint(ckpt), InterruptAt(*stop)], **settings)
    assert first.interrupted

    resumed = _net(seed=99, dropout=0.2)          # different initial weights: all come from the checkpoint
    history = resumed.fit(X, y, resume_from=ckpt, **settings)
    assert _weights_equal(reference, resumed)
    assert history.loss == pytest.approx(ref_history.loss, rel=1e-6)
    assert history["epoch"] == [1, 2, 3, 4] and not history.interrupted


def test_a_resumed_run_takes_the_thread_count_its_checkpoint_recorded(blobs, tmp_path, monkeypatch):
    """OpenBLAS sums the 784-long products in another order on 1 and 2 threads: a resumed run must not
    re-measure (the load may have changed) but use the count the interrupted run used."""
    X, y = blobs
    ckpt = tmp_path / "ckpt"
    first = _net().fit(X, y, epochs=3, batch_size=32, seed=1, threads=1,
                       callbacks=[gn.Checkpoint(ckpt), InterruptAt(2, 3)])
    assert first.interrupted
    assert json.loads((ckpt / "training.json").read_text())["run"]["threads"] == 1
    asked = []
    real = training.blas_threads_for
    monkeypatch.setattr(training, "blas_threads_for", lambda net, bs, threads=None: asked.append(threads)
                        or real(net, bs, threads))
    _net(seed=5).fit(X, y, epochs=3, batch_size=32, resume_from=ckpt)
    assert asked == [1]
    _net(seed=5).fit(X, y, epochs=3, batch_size=32, seed=1)        # a new run measures again
    assert asked == [1, None]


def test_resume_rejects_other_data_or_settings(blobs, tmp_path):
    X, y = blobs
    net = _net()
    net.fit(X, y, epochs=1, batch_size=32, seed=0, callbacks=[gn.Checkpoint(tmp_path / "c")])
    with pytest.raises(ValueError, match="batch_size=32"):
        _net().fit(X, y, epochs=2, batch_size=64, resume_from=tmp_path / "c")
    with pytest.raises(ValueError, match="n_samples=300"):
        _net().fit(X[:100], y[:100], epochs=2, batch_size=32, resume_from=tmp_path / "c")
    with pytest.raises(ValueError, match="architecture differs"):
        gn.Network.mlp([5, 8, 3], seed=0).fit(X, y, epochs=2, batch_size=32, resume_from=tmp_path / "c")
    with pytest.raises(gn.ModelFileError, match="not a glassnet checkpoint"):
        _net().fit(X, y, epochs=2, resume_from=tmp_path)


def test_resume_refuses_tampered_weights_before_changing_anything(blobs, tmp_path):
    from glassnet._safetensors import dumps, loads

    X, y = blobs
    _net().fit(X, y, epochs=1, batch_size=32, seed=0, callbacks=[gn.Checkpoint(tmp_path / "c")])
    path = tmp_path / "c" / "weights.safetensors"
    tensors, meta = loads(path.read_bytes())
    tensors["0.weights"] = tensors["0.weights"] + 1.0
    path.write_bytes(dumps(tensors, meta))
    net = _net(seed=5)
    before = net.get_weights()
    with pytest.raises(gn.ModelFileError, match="SHA-256"):
        net.fit(X, y, epochs=2, batch_size=32, resume_from=tmp_path / "c")
    assert _weights_equal_dict(before, net.get_weights()) and net.history_ is None


# -- bad input is refused before anything changes ---------------------------------------------------
@pytest.mark.parametrize("X_bad, y_bad, exc, message", [
    ("X", None, TypeError, "string"),
    (np.zeros((10, 4)), None, ValueError, r"expected 5 features.*received shape \(10, 4\)"),
    (np.zeros((10, 5, 1)), None, ValueError, "flatten"),
    (np.zeros((0, 5)), np.zeros(0, int), ValueError, "at least one sample"),
    ("nan", None, ValueError, "NaN or inf"),
    (None, np.arange(9) % 3, ValueError, "same length"),
    (None, np.full(10, 3), ValueError, r"labels in \[0, 2\].*from 3 to 3"),
    (None, np.full(10, -1), ValueError, r"labels in \[0, 2\]"),
    (None, np.full(10, 0.5), ValueError, "integer class labels"),
    (None, np.array(["a"] * 10), TypeError, "integer labels"),
    (None, np.full((10, 2), 0), ValueError, "shape"),
])
def test_fit_rejects_bad_data_before_changing_anything(X_bad, y_bad, exc, message):
    X = np.random.default_rng(0).normal(size=(10, 5)).astype(np.float32)
    y = np.arange(10) % 3
    if isinstance(X_bad, str) and X_bad == "nan":
        X_bad = X.copy()
        X_bad[3, 2] = np.inf
    net = _net()
    before = net.get_weights()
    optimizer = gn.SGD(0.1, momentum=0.9)
    with pytest.raises(exc, match=message):
        net.fit(X if X_bad is None else X_bad, y if y_bad is None else y_bad, epochs=1, optimizer=optimizer)
    assert _weights_equal_dict(before, net.get_weights())
    assert optimizer.iterations == 0 and net.history_ is None


def _weights_equal_dict(a, b):
    return all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("kwargs, exc", [
    ({"epochs": 0}, ValueError), ({"epochs": 1.5}, TypeError), ({"batch_size": 0}, ValueError),
    ({"validation_data": np.zeros((3, 5))}, TypeError), ({"callbacks": ["progress"]}, TypeError),
    ({"optimizer": "rmsprop"}, ValueError), ({"loss": "hinge"}, ValueError), ({"seed": -1}, ValueError),
    ({"validation_data": (np.zeros((3, 4)), np.zeros(3, int))}, ValueError),
])
def test_fit_rejects_bad_settings(blobs, kwargs, exc):
    X, y = blobs
    net = _net()
    before = net.get_weights()
    with pytest.raises(exc):
        net.fit(X, y, **kwargs)
    assert _weights_equal_dict(before, net.get_weights())


def test_resume_refuses_a_different_optimizer(blobs, tmp_path):
    X, y = blobs
    _net().fit(X, y, epochs=1, batch_size=32, seed=0, optimizer=gn.SGD(0.1, momentum=0.9),
               callbacks=[gn.Checkpoint(tmp_path / "c")])
    with pytest.raises(ValueError, match="omit optimizer="):
        _net().fit(X, y, epochs=2, batch_size=32, optimizer=gn.Adam(), resume_from=tmp_path / "c")
    same = gn.SGD(0.1, momentum=0.9)
    _net().fit(X, y, epochs=2, batch_size=32, optimizer=same, resume_from=tmp_path / "c")
    assert same.iterations == 2 * 10                 # the state came from the checkpoint and went on


# -- against an independent implementation ---------------------------------------------------------
@pytest.mark.parametrize("activation, optimizer", [("relu", "sgd"), ("tanh", "adam"), ("sigmoid", "adamw")])
def test_training_matches_pytorch_step_for_step(blobs, activation, optimizer):
    """Same weights, same batches, same optimizer: glassnet and torch end with the same weights (float64)."""
    torch = need("torch")
    X, y = blobs
    X = X.astype(np.float64)
    net = gn.Network.mlp([5, 16, 8, 3], activation=activation, dropout=0.0, seed=0, dtype=np.float64)
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[activation]
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), act(), torch.nn.Linear(16, 8), act(),
                                torch.nn.Linear(8, 3)).double()
    with torch.no_grad():
        for dense, linear in zip(net.layers[::2], model[::2]):
            linear.weight.copy_(torch.from_numpy(dense.weights))     # same (n_out, n_in) layout
            linear.bias.copy_(torch.from_numpy(dense.biases))
    if optimizer == "sgd":
        ours = gn.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
        theirs = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    elif optimizer == "adam":
        ours, theirs = gn.Adam(0.01), torch.optim.Adam(model.parameters(), lr=0.01)
    else:
        ours, theirs = gn.AdamW(0.01, weight_decay=0.1), torch.optim.AdamW(model.parameters(), lr=0.01,
                                                                           weight_decay=0.1)
    history = net.fit(X, y, epochs=2, batch_size=50, optimizer=ours, shuffle=False, seed=0)

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    losses = []
    for _ in range(2):
        total = 0.0
        for start in range(0, len(X), 50):
            theirs.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(Xt[start:start + 50]), yt[start:start + 50])
            loss.backward()
            theirs.step()
            total += loss.item() * 50
        losses.append(total / len(X))
    for dense, linear in zip(net.layers[::2], model[::2]):
        np.testing.assert_allclose(dense.weights, linear.weight.detach().numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dense.biases, linear.bias.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(history.loss, losses, rtol=1e-10)


def test_fit_packs_parameters_and_gradients_into_one_array_each_and_keeps_them_there():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)).astype(np.float32), rng.integers(0, 3, 40)
    net = gn.Network.mlp([6, 5, 3], seed=0)
    before = net.get_weights()
    net.fit(X, y, epochs=1, batch_size=8, seed=0, optimizer=gn.SGD(1e-30))    # a tiny rate: the numbers stay
    params = net.parameters()
    assert optimizers.packed(params) is not None and optimizers.packed(net.gradients()) is not None
    for name, value in net.get_weights().items():          # the same numbers under the same names
        np.testing.assert_allclose(value, before[name], rtol=1e-6, atol=1e-20)
    net.fit(X, y, epochs=1, batch_size=8, seed=0)
    assert all(a is b for a, b in zip(net.parameters(), params))           # packed once: the same arrays


def test_a_memory_mapped_X_is_advised_random_while_training_and_normal_after(tmp_path):
    import mmap

    from glassnet.training import _random_access

    if not hasattr(mmap, "MADV_RANDOM"):
        return
    path = tmp_path / "X.npy"
    np.save(path, np.random.default_rng(0).random((64, 4)).astype(np.float32))
    X = np.load(path, mmap_mode="r")

    class Recording:
        def __init__(self, fail=False):
            self.calls, self.fail = [], fail

        def madvise(self, advice):
            self.calls.append(advice)
            if self.fail:
                raise OSError("not supported here")

    X._mmap = Recording()
    with _random_access(X, shuffle=True):
        assert X._mmap.calls == [mmap.MADV_RANDOM]
    assert X._mmap.calls == [mmap.MADV_RANDOM, mmap.MADV_NORMAL]
    X._mmap = Recording(fail=True)                       # refused: nothing to restore, training goes on
    with _random_access(X, shuffle=True):
        pass
    assert X._mmap.calls == [mmap.MADV_RANDOM]
    X._mmap = Recording()
    with _random_access(X, shuffle=False):               # read in order: the default read-ahead suits it
        pass
    assert X._mmap.calls == []
