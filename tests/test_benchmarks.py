"""The benchmark's baselines do the same work as glassnet (untimed): same weights after the same batches,
and the report judges the targets of every row."""

import sys
from pathlib import Path

import numpy as np

import glassnet as gn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import __main__ as bench  # noqa: E402
from benchmarks import report, workers  # noqa: E402
from benchmarks.textbook import TextbookMLP  # noqa: E402

from optional import need  # noqa: E402


def _glassnet_epoch(X, y, sizes, batch):
    net = gn.Network.mlp(sizes, seed=0)
    start = [p.copy() for p in net.parameters()]
    net.fit(X, y, epochs=1, batch_size=batch, optimizer=gn.SGD(0.05, momentum=0.9), seed=11)
    return start, net.parameters()


def test_the_textbook_loop_trains_like_glassnet(blobs):
    X, y = blobs
    start, trained = _glassnet_epoch(X, y, [5, 16, 8, 3], 32)
    textbook = TextbookMLP(start[0::2], start[1::2], lr=0.05, momentum=0.9)
    textbook.epoch(X, y, workers.epoch_order(11, len(X)), 32)
    for got, want in zip([p for pair in zip(textbook.W, textbook.b) for p in pair], trained):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(textbook.predict(X[:5]).shape, (5,))


def test_the_peer_library_trains_like_glassnet(blobs):
    need("nn_digits")                  # neural-network-digits (the dev and bench extras)
    X, y = blobs
    start, trained = _glassnet_epoch(X, y, [5, 16, 8, 3], 32)
    peer = workers.PeerWorker(threads=1)
    peer.setup([5, 16, 8, 3], start, 0.05, 32)
    peer.epoch(X, y, 11)
    for k, (W, b) in enumerate(zip(peer.model.weights, peer.model.biases)):
        np.testing.assert_allclose(W.T, trained[2 * k], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(b, trained[2 * k + 1], rtol=1e-4, atol=1e-5)


def test_one_thread_runs_only_on_target_rows_and_never_in_quick_runs():
    entries = bench._entries(["glassnet", "textbook", "pytorch"], 2, quick=False)
    assert entries["pytorch-1thread"] == ("pytorch", 1) and entries["textbook-1thread"] == ("textbook", 1)
    assert set(bench._entries(["glassnet", "textbook"], 2, quick=True)) == {"glassnet", "textbook"}
    assert set(bench._entries(["glassnet", "pytorch"], 1, quick=False)) == {"glassnet", "pytorch"}
    configs = [("A", 64), ("A", 256), ("B", 256)]
    assert bench._configs_for("pytorch-1thread", configs) == [("A", 64), ("B", 256)]
    assert bench._configs_for("textbook", configs) == configs


def _row(network, batch, seconds, accuracy=0.85):
    return {"dataset": "fashion-mnist", "network": network, "batch": batch,
            "results": {lib: {"median": s, "accuracy": accuracy} for lib, s in seconds.items()}}


def test_targets_are_judged_against_every_baseline():
    results = {"training": [
        _row("A", 64, {"glassnet": 0.40, "textbook": 0.45, "peer": 0.50, "pytorch": 0.61}),
        _row("B", 256, {"glassnet": 0.50, "textbook": 0.52, "peer": 0.60, "pytorch": 0.70}),
        _row("deep", 64, {"glassnet": 1.0, "textbook": 1.2, "peer": 1.3, "pytorch": 0.99})]}
    lines = report._targets(results)
    assert lines[0].startswith("- A/64: met") and "1.52x PyTorch (target 1.5x)" in lines[0]
    assert lines[1].startswith("- B/256: MISSED") and "1.04x textbook NumPy loop (target 1.1x)" in lines[1]
    assert lines[2].startswith("- deep/64: MISSED") and "0.99x PyTorch (target 1.0x)" in lines[2]
    table = report._speedups(results)
    assert table[2] == "| fashion-mnist | A | 64 | 1.52x | 1.12x | 1.25x | +0.00 |"


def _child_memory(conn):
    conn.send(workers.memory())


def test_a_worker_reports_its_own_peak_memory_not_its_parents():
    """Workers start by fork and exec; Linux carries the parent's ru_maxrss across exec, VmHWM is the child's own."""
    import multiprocessing

    if not Path("/proc/self/status").exists():
        return
    ballast = np.ones(300 * 2**20 // 8)                  # the parent holds 300 MiB while it starts the child
    parent_peak, _ = workers.memory()
    assert parent_peak >= ballast.nbytes
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_child_memory, args=(theirs,))
    child.start()
    try:
        assert ours.poll(60)
        peak, current = ours.recv()
    finally:
        child.join(60)
    assert 0 < current <= peak < ballast.nbytes          # a bare interpreter with NumPy, far below the parent


def test_alone_mode_takes_the_median_over_every_pass_without_warm_ups():
    def epoch(seconds):
        return {"seconds": seconds, "wall": seconds, "load": 0.0, "threads": 2, "dtype": "float32"}

    passes = [[epoch(9.0), epoch(1.0), epoch(2.0)], [epoch(8.0), epoch(4.0), epoch(3.0)]]   # 9, 8: warm-ups
    result = bench._result([e for p in passes for e in p], 100, 1e9, 0.5, passes=passes)
    assert result["median"] == 2.5 and (result["min"], result["max"]) == (1.0, 4.0) and result["passes"] == 2
    single = bench._result(passes[0], 100, 1e9, 0.5)
    assert single["median"] == 1.5 and single["passes"] == 1


def test_gemm_check_times_every_product_of_a_step_and_writes_the_ceilings(tmp_path):
    """The products of one step are the ones the layers compute (shapes, count), and the report renders."""
    import json

    need("torch")
    need("threadpoolctl")
    from benchmarks import gemm_check

    products = gemm_check.step_products([784, 128, 64, 10], 32, np.random.default_rng(0))
    assert len(products) == 3 + 3 + 2                     # forward and dW per layer, dX but for the first
    for name, a, b, out in products:
        assert (a @ b).shape == out.shape and out.dtype == np.float32, name
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"training": [{"dataset": "fashion-mnist", "network": "A", "batch": 256,
                                                 "n_train": 60_000, "results": {
                                                     "glassnet": {"median": 0.5}, "textbook": {"median": 0.6}}}]}))
    gemm_check.main(["--networks", "A", "--batches", "256", "--out", str(tmp_path), "--results", str(results)])
    report = json.loads((tmp_path / "gemm-check.json").read_text())
    row = report["rows"][0]
    assert row["numpy_epoch"] > 0 and row["pytorch_epoch"] > 0 and set(row["per_threads"]) >= {"1"}
    ceiling = report["ceilings"][0]["libraries"]["textbook"]["ceiling"]
    assert abs(ceiling - 0.6 / row["numpy_epoch"]) < 1e-9
    text = (tmp_path / "gemm-check.md").read_text()
    assert "| A | 256 |" in text and "## Ceilings" in text


def test_every_worker_measures_latency_without_training_first(blobs, monkeypatch):
    """``python -m benchmarks --skip train``: latency right after setup (scikit-learn predicts only once fitted)."""
    X, _ = blobs
    quick = workers._latency
    monkeypatch.setattr(workers, "_latency", lambda predict, one, batch: quick(predict, one, batch, seconds=0.01))
    sizes = [5, 16, 8, 3]
    start = [p for _, p in gn.Network.mlp(sizes, seed=0).named_parameters()]
    for kind, cls in workers.WORKERS.items():
        if kind != "textbook" and kind != "glassnet" and not _available(workers.MODULES[kind]):
            continue
        worker = cls(threads=1)
        worker.setup(sizes, start, 0.05, 32)
        times = worker.latency(X)
        assert set(times) == {"single", "batch1000"} and all(t > 0 for t in times.values()), kind


def _available(module):
    import importlib.util
    return importlib.util.find_spec(module) is not None
