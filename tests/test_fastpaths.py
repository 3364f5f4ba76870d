"""The training loop's fast paths compute the same numbers as the plain formulas.

Inside ``fit`` the layers write into buffers reused across batches, the first layer skips dL/dX,
cross-entropy computes value and gradient from one softmax, batches are gathered with
``np.take(out=)``, SGD writes its step into a scratch array and no per-batch weight backup is
made. Each test compares with the textbook formula in float64 (or with the plain path), with
tight tolerances, and checks that arrays handed to users are never training buffers.
"""

import contextlib
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet import threads, training
from glassnet.activations import ReLU
from glassnet.layers import Buffers, Dense, Dropout
from glassnet.losses import CrossEntropy, Loss
from optional import need

ROOT = Path(__file__).resolve().parents[1]




def _reference_step(params64, X, y):
    """Forward, cross-entropy and backward of a ReLU MLP in float64, written out by hand."""
    acts, a = [X], X
    n_layers = len(params64) // 2
    for k in range(n_layers):
        W, b = params64[2 * k], params64[2 * k + 1]
        z = a @ W.T + b
        a = np.maximum(z, 0) if k < n_layers - 1 else z
        acts.append(a)
    z = acts[-1]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = float(np.mean(-np.log(p[np.arange(len(y)), y])))
    delta = p.copy()
    delta[np.arange(len(y)), y] -= 1
    delta /= len(y)
    grads = [None] * len(params64)
    for k in reversed(range(n_layers)):
        grads[2 * k] = delta.T @ acts[k]
        grads[2 * k + 1] = delta.sum(axis=0)
        if k:
            delta = (delta @ params64[2 * k]) * (acts[k] > 0)
    return loss, grads


# -- layers ---------------------------------------------------------------------------------
def test_dense_and_relu_reuse_buffers_and_match_float64_formulas_across_batch_sizes():
    rng = np.random.default_rng(0)
    dense, relu = Dense(6, 4, seed=0), ReLU()
    dense_buffers, relu_buffers = Buffers(), Buffers()
    seen = []
    for n in (5, 8, 3, 8):                                   # partial, larger (grows), smaller, full again
        X = rng.normal(size=(n, 6)).astype(np.float32)
        delta = rng.normal(size=(n, 4)).astype(np.float32)
        a = relu.forward(dense.forward(X, training=True, buffers=dense_buffers), training=True, buffers=relu_buffers)
        W, b = dense.weights.astype(np.float64), dense.biases.astype(np.float64)
        z = X.astype(np.float64) @ W.T + b
        np.testing.assert_allclose(a, np.maximum(z, 0), rtol=1e-6, atol=1e-6)
        dz = relu.backward(delta.copy(), buffers=relu_buffers)
        dx = dense.backward(dz, buffers=dense_buffers)
        dz64 = delta.astype(np.float64) * (z > 0)
        np.testing.assert_allclose(dense.grads["weights"], dz64.T @ X, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(dense.grads["biases"], dz64.sum(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(dx, dz64 @ W, rtol=1e-5, atol=1e-6)
        assert a.shape == (n, 4) and dx.shape == (n, 6)
        seen.append(a.base if a.base is not None else a)
    assert seen[2] is seen[3]                                # the grown buffer is reused, not reallocated


def test_first_layer_skips_the_input_gradient_only_on_the_fast_path():
    layer = Dense(3, 2, seed=0)
    X = np.ones((4, 3), dtype=np.float32)
    first = Buffers(need_input_gradient=False)
    layer.forward(X, training=True, buffers=first)
    assert layer.backward(np.ones((4, 2), dtype=np.float32), buffers=first) is None
    layer.forward(X)
    assert layer.backward(np.ones((4, 2), dtype=np.float32)).shape == (4, 3)


def test_dropout_fast_path_draws_the_same_mask_as_the_plain_path():
    X = np.random.default_rng(1).normal(size=(7, 5)).astype(np.float32)
    plain, fast = Dropout(0.3, seed=4), Dropout(0.3, seed=4)
    buffers = Buffers()
    out_plain = plain.forward(X, training=True)
    out_fast = fast.forward(X, training=True, buffers=buffers)
    np.testing.assert_array_equal(out_fast, out_plain)
    delta = np.ones_like(X)
    np.testing.assert_array_equal(fast.backward(delta.copy(), buffers=buffers), plain.backward(delta))


def test_outside_fit_every_call_returns_new_arrays():
    net = gn.Network.mlp([4, 3, 2], seed=0)
    X = np.ones((2, 4), dtype=np.float32)
    first = net.forward(X)
    kept = first.copy()
    second = net.forward(X * 2)
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, kept)


# -- the fused loss ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_cross_entropy_equals_value_and_gradient_and_the_float64_formula(dtype):
    rng = np.random.default_rng(2)
    out = (rng.normal(size=(9, 5)) * 4).astype(dtype)
    y = rng.integers(0, 5, size=9)
    loss = CrossEntropy()
    buffer = np.empty((16, 5), dtype=dtype)[:9]
    value, grad = loss.value_and_gradient(out, y, buffer)
    assert np.shares_memory(grad, buffer)
    assert value == pytest.approx(loss.value(out, y), rel=1e-6)
    np.testing.assert_allclose(grad, loss.gradient(out, y), rtol=1e-6, atol=1e-7)
    z = out.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    expected = p.copy()
    expected[np.arange(9), y] -= 1
    tol = 1e-6 if dtype == np.float32 else 1e-12
    assert value == pytest.approx(np.mean(-np.log(p[np.arange(9), y])), rel=tol)
    np.testing.assert_allclose(grad, expected / 9, rtol=tol * 10, atol=tol)
    assert out.dtype == dtype and grad.dtype == dtype             # no float64 sneaking in


def test_fused_cross_entropy_without_buffer_and_with_one_hot_targets():
    out = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=np.float32)
    y = np.array([1, 2])
    T = np.eye(3, dtype=np.float32)[y]
    loss = CrossEntropy()
    v1, g1 = loss.value_and_gradient(out, y)
    v2, g2 = loss.value_and_gradient(out, T)
    assert v1 == pytest.approx(v2, rel=1e-6)
    np.testing.assert_allclose(g1, g2, rtol=1e-6)
    np.testing.assert_array_equal(out, [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])   # the logits are untouched


# -- one training step and whole runs ----------------------------------------------------------
def test_train_step_matches_float64_backprop_and_reuses_buffers_for_partial_then_full_batches():
    rng = np.random.default_rng(3)
    net = gn.Network.mlp([10, 8, 6, 4], seed=1)
    buffers = gn.StepBuffers(net.layers)
    for n in (5, 12, 5, 12):                 # a last partial batch, then a full one, twice
        X = rng.normal(size=(n, 10)).astype(np.float32)
        y = rng.integers(0, 4, size=n)
        value, out = net.train_step(X, y, CrossEntropy(), buffers)
        params64 = [p.astype(np.float64) for p in net.parameters()]
        ref_loss, ref_grads = _reference_step(params64, X.astype(np.float64), y)
        assert value == pytest.approx(ref_loss, rel=1e-5)
        for got, want in zip(net.gradients(), ref_grads):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
        assert out.shape == (n, 4)
        assert not any(isinstance(v, Buffers) for layer in net.layers for v in vars(layer).values())
    assert buffers.layers[0].arrays["z"].shape == (12, 8)
    assert buffers.layers[0].need_input_gradient is False and buffers.layers[1].need_input_gradient


def _plain_sgd_fit(params, X, y, epochs, batch_size, lr, momentum, seed):
    """fit's loop written out in float64: same shuffles, textbook backprop, SGD with momentum."""
    params = [p.astype(np.float64) for p in params]
    velocity = [np.zeros_like(p) for p in params]
    for epoch in range(1, epochs + 1):
        order = np.random.default_rng([seed, epoch]).permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            _, grads = _reference_step(params, X[idx].astype(np.float64), y[idx])
            for p, v, g in zip(params, velocity, grads):
                v *= momentum
                v += g
                p -= lr * v
    return params


def test_fit_equals_the_plain_float64_loop_with_a_partial_last_batch(blobs):
    X, y = blobs                                  # 300 samples, batch 64: the last batch has 44
    net = gn.Network.mlp([5, 16, 8, 3], seed=0)
    start = [p.copy() for p in net.parameters()]
    net.fit(X, y, epochs=2, batch_size=64, optimizer=gn.SGD(0.05, momentum=0.9), seed=7)
    expected = _plain_sgd_fit(start, X, y, 2, 64, 0.05, 0.9, 7)
    for got, want in zip(net.parameters(), expected):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    assert net.layers[0].weights.dtype == np.float32
    assert not any(isinstance(v, Buffers) for layer in net.layers for v in vars(layer).values())


def test_arrays_from_predict_and_layer_outputs_are_not_overwritten_by_later_training(blobs):
    X, y = blobs
    net = gn.Network.mlp([5, 8, 3], seed=0)
    net.fit(X, y, epochs=1, batch_size=32, seed=0)
    probabilities = net.predict_proba(X[:4])
    output = net.layers[0].output
    kept_p, kept_out = probabilities.copy(), output.copy()
    net.fit(X, y, epochs=1, batch_size=32, seed=1)
    np.testing.assert_array_equal(probabilities, kept_p)
    np.testing.assert_array_equal(output, kept_out)


def test_predict_fast_path_agrees_with_predict_proba(digits):
    net = gn.Network.mlp([784, 32, 10], seed=0)
    net.fit(digits.X_train[:500], digits.y_train[:500], epochs=1, seed=0)
    proba = net.predict_proba(digits.X_test)
    np.testing.assert_array_equal(net.predict(digits.X_test), proba.argmax(axis=1))
    np.testing.assert_array_equal(net.predict(digits.X_test[:1]), proba[:1].argmax(axis=1))


# -- optimizer -------------------------------------------------------------------------------
def test_sgd_scratch_step_is_the_documented_update_and_subnormals_are_flushed():
    w = np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32)
    g = np.array([0.5, 0.25, 0.0, -1.0], dtype=np.float32)
    opt = gn.SGD(0.1, momentum=0.9)
    opt.flush_every = 2
    w64, v64 = w.astype(np.float64), np.zeros(4)
    for _ in range(2):
        opt.step([w], [g])
        v64 = 0.9 * v64 + g
        w64 -= 0.1 * v64
    np.testing.assert_allclose(w, w64, rtol=1e-6)
    velocity = opt.state[0]["velocity"]
    velocity[:] = [1e-40, -1e-39, 1e-30, 0.5]                 # two subnormals, two normal numbers
    assert np.sum((velocity != 0) & (np.abs(velocity) < np.finfo(np.float32).tiny)) == 2
    opt.step([w], [np.zeros_like(g)])
    opt.step([w], [np.zeros_like(g)])                          # iteration 4: flushed
    assert velocity[0] == 0 and velocity[1] == 0
    assert velocity[2] == np.float32(1e-30 * 0.81) and velocity[3] == np.float32(np.float32(0.5 * 0.9) * 0.9)
    assert "_scratch_buffers" not in {k for k in opt.state_dict()[1]}


def test_velocity_of_an_always_zero_gradient_gets_stuck_in_subnormals_without_the_flush():
    """The problem the flush solves: 0.9 * v never reaches 0 once v is the smallest subnormal."""
    v = np.array([1e-3], dtype=np.float32)
    for _ in range(2000):
        v *= np.float32(0.9)
    assert 0 < v[0] < np.finfo(np.float32).tiny


# -- divergence without a per-batch backup --------------------------------------------------
class InfGradient(Loss):
    """A finite loss whose gradient turns infinite at a chosen call."""

    name = "cross_entropy"

    def __init__(self, at):
        self.calls, self.at, self.inner = 0, at, CrossEntropy()

    def value(self, out, y):
        return self.inner.value(out, y)

    def gradient(self, out, y):
        self.calls += 1
        grad = self.inner.gradient(out, y)
        if self.calls == self.at:
            grad[0, 0] = np.inf
        return grad


def test_a_step_with_an_infinite_gradient_is_never_applied(blobs):
    X, y = blobs
    net = gn.Network.mlp([5, 8, 3], seed=0)
    snapshots = []

    class Record(gn.Callback):
        def on_batch_end(self, batch, logs):
            snapshots.append(net.get_weights())

    with np.errstate(all="ignore"), pytest.raises(gn.TrainingDiverged) as info:
        net.fit(X, y, epochs=1, batch_size=32, seed=0, loss=InfGradient(at=4), callbacks=[Record()])
    assert info.value.batch == 4 and "gradient" in str(info.value)
    for name, value in net.get_weights().items():             # exactly the weights after batch 3
        np.testing.assert_array_equal(value, snapshots[-1][name])


# -- batches, augmentation, memory-mapped data --------------------------------------------------
def test_gather_writes_rows_into_one_buffer_and_converts_other_dtypes():
    X = np.arange(40, dtype=np.uint8).reshape(10, 4)
    workspace = Buffers()
    first = training._gather(X, np.array([3, 1, 7]), workspace, np.dtype(np.float32))
    np.testing.assert_array_equal(first, X[[3, 1, 7]].astype(np.float32))
    assert first.dtype == np.float32
    second = training._gather(X, np.array([0, 9]), workspace, np.dtype(np.float32))
    assert np.shares_memory(first, second)                     # the same buffer, a smaller view
    np.testing.assert_array_equal(second, X[[0, 9]])


def _augment_shift(X_batch, rng):
    return X_batch + rng.normal(0, 0.1, size=X_batch.shape).astype(X_batch.dtype)


def test_augment_is_reproducible_changes_training_and_resumes_exactly(blobs, tmp_path):
    X, y = blobs

    def train(**kwargs):
        net = gn.Network.mlp([5, 8, 3], seed=0)
        net.fit(X, y, epochs=3, batch_size=32, seed=0, **kwargs)
        return net.get_weights()

    plain, aug1, aug2 = train(), train(augment=_augment_shift), train(augment=_augment_shift)
    assert any(not np.array_equal(plain[k], aug1[k]) for k in plain)
    for k in plain:
        np.testing.assert_array_equal(aug1[k], aug2[k])

    class StopAt(gn.Callback):
        def on_batch_end(self, batch, logs):
            if (self.run.epoch, batch) == (2, 4):
                raise KeyboardInterrupt

    net = gn.Network.mlp([5, 8, 3], seed=0)
    checkpoint = tmp_path / "ckpt"
    history = net.fit(X, y, epochs=3, batch_size=32, seed=0, augment=_augment_shift,
                      callbacks=[StopAt(), gn.callbacks.Checkpoint(checkpoint)])
    assert history.interrupted
    resumed = gn.Network.mlp([5, 8, 3], seed=0)
    resumed.fit(X, y, epochs=3, batch_size=32, augment=_augment_shift, resume_from=checkpoint)
    for k, value in resumed.get_weights().items():
        np.testing.assert_array_equal(value, aug1[k])
    with pytest.raises(ValueError, match="augment"):
        gn.Network.mlp([5, 8, 3], seed=0).fit(X, y, epochs=3, batch_size=32, resume_from=checkpoint)


def test_augment_errors_are_clear(blobs):
    X, y = blobs
    net = gn.Network.mlp([5, 8, 3], seed=0)
    with pytest.raises(TypeError, match="augment expected a callable"):
        net.fit(X, y, epochs=1, augment="shift")
    with pytest.raises(ValueError, match=r"augment\(X_batch, rng\) expected to return an array of shape"):
        net.fit(X, y, epochs=1, augment=lambda xb, rng: xb[:, :2])


def test_datasets_augment_plugs_into_fit(digits):
    net = gn.Network.mlp([784, 16, 10], seed=0)
    augment = gn.datasets.Augment((28, 28), shift=2, rotate=10)
    history = net.fit(digits.X_train[:256], digits.y_train[:256], epochs=1, batch_size=64, seed=0, augment=augment)
    assert np.isfinite(history.loss[0])


def test_fit_trains_lazily_from_a_memory_mapped_npy_without_copying_it(blobs, tmp_path):
    X, y = blobs
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert training._check_training_X(gn.Network.mlp([5, 3]), mapped) is mapped   # checked, not copied
    a, b = gn.Network.mlp([5, 8, 3], seed=0), gn.Network.mlp([5, 8, 3], seed=0)
    a.fit(X, y, epochs=2, batch_size=32, seed=0)
    b.fit(mapped, y, epochs=2, batch_size=32, seed=0)
    for k, value in a.get_weights().items():
        np.testing.assert_array_equal(b.get_weights()[k], value)


def test_memory_mapped_uint8_rows_are_converted_batch_by_batch(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(120, 6), dtype=np.uint8)
    y = rng.integers(0, 2, size=120)
    np.save(tmp_path / "p.npy", pixels)
    mapped = np.load(tmp_path / "p.npy", mmap_mode="r")
    a, b = gn.Network.mlp([6, 4, 2], seed=0), gn.Network.mlp([6, 4, 2], seed=0)
    a.fit(pixels.astype(np.float32), y, epochs=1, batch_size=16, seed=0, optimizer=gn.SGD(1e-4))
    b.fit(mapped, y, epochs=1, batch_size=16, seed=0, optimizer=gn.SGD(1e-4))
    for k, value in a.get_weights().items():
        np.testing.assert_array_equal(b.get_weights()[k], value)


def test_nan_in_a_memory_mapped_array_is_found_in_chunks(tmp_path, monkeypatch):
    X = np.ones((50, 4), dtype=np.float32)
    X[37, 2] = np.nan
    np.save(tmp_path / "X.npy", X)
    monkeypatch.setattr(training, "_SCAN_BYTES", 64)              # 4 rows per chunk
    with pytest.raises(ValueError, match=r"NaN or inf \(first at index \(37, 2\)\)"):
        gn.Network.mlp([4, 2]).fit(np.load(tmp_path / "X.npy", mmap_mode="r"), np.zeros(50, int), epochs=1)


# -- threads and the benchmark ----------------------------------------------------------------
@pytest.fixture
def fresh_thread_cache(monkeypatch):
    monkeypatch.setattr(threads, "_cache", {})


def test_thread_calibration_picks_one_or_all_threads_and_caches_it(fresh_thread_cache, monkeypatch):
    monkeypatch.setattr(threads, "machine_is_busy", lambda: False)
    net, have = gn.Network.mlp([784, 128, 64, 10]), threads.current()
    chosen = training.blas_threads_for(net, 64)
    assert chosen in {1, have}
    if have > 1 and threads.blas_library() is not None:       # measured once, then taken from the cache
        assert threads.cached() == {(((784, 128), (128, 64), (64, 10)), 64, "float32", have): chosen}
        monkeypatch.setattr(threads, "measure", lambda *a, **k: pytest.fail("measured twice"))
        assert training.blas_threads_for(net, 64) == chosen
    assert threads.current() == have                           # measuring leaves BLAS as it was


def test_thread_calibration_takes_all_threads_only_when_they_win_by_the_margin(fresh_thread_cache, monkeypatch):
    monkeypatch.setattr(threads, "machine_is_busy", lambda: False)
    monkeypatch.setattr(threads, "current", lambda: 4)
    monkeypatch.setattr(threads, "blas_library", lambda: object())
    net = gn.Network.mlp([20, 8, 3])
    monkeypatch.setattr(threads, "measure", lambda products, settings, dtype: {1: 1.0, 4: 0.5})
    assert threads.decide(net, 64) == 4
    monkeypatch.setattr(threads, "measure", lambda products, settings, dtype: {1: 1.0, 4: 0.95})
    assert threads.decide(net, 32) == 1                        # 5% faster: within the noise, one thread
    monkeypatch.setattr(threads, "machine_is_busy", lambda: True)
    monkeypatch.setattr(threads, "measure", lambda *a, **k: pytest.fail("measured on a busy machine"))
    assert threads.decide(net, 16) == 1                        # busy: one thread, nothing measured
    assert threads.decide(net, 16, threads=3) == 3             # forced
    assert threads.decide(net, 16, threads=9) == 4             # never more than BLAS has


def test_a_busy_machine_is_other_work_filling_the_cores_not_this_process(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.1, 1.0, 1.0))
    monkeypatch.setattr(threads, "own_load", lambda: 2.0)        # our own training made that load
    assert not threads.machine_is_busy()
    monkeypatch.setattr(threads, "own_load", lambda: 0.0)        # someone else's
    assert threads.machine_is_busy()
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.2, 1.0, 1.0))
    assert not threads.machine_is_busy()                         # one core's worth: left to the measurement


def test_own_load_is_this_process_cpu_seconds_per_second():
    started = time.process_time()
    while time.process_time() - started < 1.1:                   # keep one core busy
        pass
    assert 0.0 < threads.own_load() <= threads.usable_cores() + 0.5


def test_step_products_are_the_ones_fit_runs():
    assert threads.step_products(gn.Network.mlp([6, 4, 2]), 8) == [
        ((8, 6), (6, 4)), ((4, 8), (8, 6)),                      # first layer: forward, dW (no dX)
        ((8, 4), (4, 2)), ((2, 8), (8, 4)), ((8, 2), (2, 4))]    # second: forward, dW, dX


def test_fit_threads_can_be_forced_and_are_checked(blobs, monkeypatch):
    X, y = blobs
    seen = []
    monkeypatch.setattr(training, "limit_blas_threads", lambda n: seen.append(n) or contextlib.nullcontext())
    gn.Network.mlp([5, 3], seed=0).fit(X, y, epochs=1, seed=0, threads=1)
    assert seen == [1]
    with pytest.raises(ValueError, match=r"fit: threads expected a value in \[1, inf\], received 0"):
        gn.Network.mlp([5, 3], seed=0).fit(X, y, epochs=1, threads=0)


def test_openblas_thread_control_needs_no_extra():
    """With NumPy's own OpenBLAS the thread count is set through ctypes, without threadpoolctl; the count is
    read from NumPy's copy even when SciPy's copy was loaded (and mapped) first."""
    blas = threads._find_openblas()
    if blas is None:
        pytest.skip("NumPy is not linked to OpenBLAS here")
    numpy_libs = Path(np.__file__).resolve().parents[1] / "numpy.libs"
    if numpy_libs.is_dir() and any("openblas" in p.name for p in numpy_libs.iterdir()):
        assert Path(threads._openblas_paths()[0]).parent == numpy_libs
    before = blas.get()
    try:
        blas.set(1)
        assert blas.get() == 1
    finally:
        blas.set(before)
    assert blas.get() == before


def test_the_blas_limit_is_set_from_the_main_thread_only():
    """The thread count is process-wide: a worker thread (the app's training) never changes it under the
    feet of other threads' BLAS calls; the main thread limits it for the run and restores it after."""
    threadpoolctl = need("threadpoolctl")

    def blas_threads():
        return min(lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas")

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        seen = {}

        def worker():
            with training.limit_blas_threads(1):
                seen["inside"] = blas_threads()

        t = threading.Thread(target=worker)
        t.start()
        t.join(30)
        assert seen == {"inside": before}                           # left as the process has it
        with training.limit_blas_threads(1):
            assert blas_threads() == 1                              # the main thread: limited...
        assert blas_threads() == before                             # ...and restored


def test_training_works_when_threadpoolctl_is_missing(blobs, monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)      # import threadpoolctl -> ImportError
    X, y = blobs
    history = gn.Network.mlp([5, 3], seed=0).fit(X, y, epochs=1, seed=0)
    assert len(history) == 1


def test_benchmark_quick_run_writes_results(tmp_path):
    need("threadpoolctl")
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--libraries", "glassnet",
                           "--skip", "latency", "--skip", "scaling", "--skip", "memmap", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = (tmp_path / "results.md").read_text()
    assert "GEMM peak" in text and "| digits | A 784-128-64-10 | 256 | glassnet |" in text
    assert (tmp_path / "results.json").stat().st_size > 0


def test_an_eval_forward_during_a_training_step_never_writes_into_training_buffers():
    """A prediction from another thread while fit runs must not touch (or alias) the workspace."""
    dense, relu = Dense(3, 2, seed=0), ReLU()
    dense_buffers, relu_buffers = Buffers(), Buffers()
    X = np.ones((4, 3), dtype=np.float32)
    trained = relu.forward(dense.forward(X, training=True, buffers=dense_buffers), training=True, buffers=relu_buffers)
    predicted = relu.forward(dense.forward(X * 2), training=False)
    assert not np.shares_memory(trained, predicted)
    assert not any(np.shares_memory(predicted, buf) for buf in relu_buffers.arrays.values())


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_inference_path_gives_the_same_numbers_as_forward(activation):
    # predict/predict_proba run each layer's ``infer`` (no caches for backward): same outputs as forward
    net = gn.Network.mlp([12, 9, 7, 4], activation=activation, dropout=0.3, seed=3, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(11, 12))
    for layer in net.layers:
        x = np.random.default_rng(1).normal(size=(5, layer.params["weights"].shape[1] if "weights" in layer.params
                                                  else 9 if isinstance(layer, gn.Dense) else 7))
        if "weights" not in layer.params:
            x = x[:, :layer.output_size(x.shape[1])]
        np.testing.assert_array_equal(layer.infer(x.copy()), layer.forward(x.copy(), training=False))
    np.testing.assert_array_equal(net.infer(X), net.forward(X))
    np.testing.assert_array_equal(net.infer(X, upto=4), net.forward(X, upto=4))      # evaluate's pass
    np.testing.assert_array_equal(net.predict(X), net.forward(X).argmax(axis=1))


def test_fit_fast_loop_equals_the_textbook_loop_number_for_number(blobs):
    """fit (buffers reused, first layer without dL/dX, bias-gradient divergence check) against the textbook
    passes (new arrays, ``buffers=None``) with the same batches and the same optimizer: identical float32 weights."""
    X, y = blobs                                  # 300 samples, batch 64: a partial last batch too
    fast, plain = gn.Network.mlp([5, 16, 8, 3], seed=0), gn.Network.mlp([5, 16, 8, 3], seed=0)
    fast.fit(X, y, epochs=2, batch_size=64, optimizer=gn.SGD(0.05, momentum=0.9), seed=7)
    optimizer, loss = gn.SGD(0.05, momentum=0.9), CrossEntropy()
    for epoch in (1, 2):
        order = np.random.default_rng([7, epoch]).permutation(len(X))
        for start in range(0, len(X), 64):
            idx = order[start:start + 64]
            plain.loss_and_gradients(X[idx], y[idx], loss)        # the textbook lines
            optimizer.step(plain.parameters(), plain.gradients())
    for got, want in zip(fast.parameters(), plain.parameters()):
        np.testing.assert_array_equal(got, want)
