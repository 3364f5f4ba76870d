"""``python -m benchmarks [--quick] [--out DIR]``: glassnet against every baseline, each alone.

What it does, in order (each part is printed as it finishes):

1. records the machine: CPU model, cores, BLAS library and kernel (threadpoolctl), versions, load average;
2. measures the float32 GEMM peak of this machine (1024x1024 products, 1 thread and all threads);
3. trains networks A 784-128-64-10, B 784-256-128-10 and deep 784-512-256-128-10 at batch sizes
   32, 64, 256, 1024 on Fashion-MNIST (and network A on the bundled digits) with SGD, momentum 0.9,
   lr 0.01, float32: glassnet, a textbook NumPy loop (``textbook.py``), neural-network-digits and
   PyTorch from the same initial weights in the same batch order, scikit-learn's MLPClassifier with
   its own initialisation; each library in its own worker process, alone (``--mode alone``, the
   default: one worker alive at a time) or with all alive and their epochs taking turns
   (``--mode interleaved``). Reports the median seconds per epoch over epochs 2..N (the first warms
   up), min-max, samples/s, glassnet's speed-up over each library, test accuracy after the last
   epoch, GFLOP/s and % of the GEMM peak, the load average per row, peak RSS per library, and the
   targets of issue 17 met or missed;
4. single-image and batch-1000 prediction latency;
5. scaling: seconds per epoch on 10k, 30k, 60k and 600k samples (600k = Fashion-MNIST plus
   randomly shifted copies);
6. training straight from a 4 GiB memory-mapped ``.npy`` in a child process limited to 2 GiB of
   memory (a cgroup), with the peak RSS; and, as a control, the same limit killing a plain load.

Writes ``results.json`` and ``results.md`` next to this file (or in ``--out``).
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the environment before any library loads
(the results record whether they were set).
"""

import os
import sys

# Before NumPy loads OpenBLAS: let it pick its own kernel and cache sizes (recorded in the results).
REMOVED_ENV = {key: os.environ.pop(key) for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if key in os.environ}

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from . import report, workers  # noqa: E402

HERE = Path(__file__).resolve().parent
FASHION = "/usr/share/datasets/fashion-mnist"
NETWORKS = {"A": [784, 128, 64, 10], "B": [784, 256, 128, 10], "deep": [784, 512, 256, 128, 10]}
LR = 0.01


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run on tiny sizes (about a minute)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for results.json and results.md")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per configuration and pass (default 3, the first not timed; quick 2)")
    parser.add_argument("--passes", type=int, default=None,
                        help="alone mode: how many times every library runs, the order reversed each time "
                             "(default 2; quick 1): the median is over all passes, so a machine whose speed "
                             "drifts during the run favours nobody")
    parser.add_argument("--threads", type=int, default=None, help="thread budget for every library (default: cores)")
    parser.add_argument("--no-sklearn", action="store_true", help="leave scikit-learn out")
    parser.add_argument("--libraries", default=",".join(workers.WORKERS),
                        help="comma-separated libraries to compare (default " + ",".join(workers.WORKERS) + ")")
    parser.add_argument("--mode", choices=["alone", "interleaved"], default="alone",
                        help="alone: one library at a time, each in its own process with no other worker alive "
                             "(default); interleaved: all alive, their epochs taking turns")
    parser.add_argument("--skip", action="append", default=[], choices=["train", "latency", "scaling", "memmap"],
                        help="leave a part out (repeatable)")
    parser.add_argument("--networks", default=",".join(NETWORKS), help="networks to train (default A,B,deep)")
    parser.add_argument("--batches", default="32,64,256,1024", help="batch sizes (default 32,64,256,1024)")
    parser.add_argument("--memmap-gib", type=float, default=4.0, help="size of the memory-mapped file (default 4)")
    parser.add_argument("--memory-limit-gib", type=float, default=2.0, help="memory limit for that run (default 2)")
    args = parser.parse_args(argv)
    threads = args.threads or len(os.sched_getaffinity(0))
    epochs = args.epochs or (2 if args.quick else 3)
    passes = args.passes or (1 if args.quick else 2)
    dataset = FASHION if Path(FASHION, "train-images-idx3-ubyte.gz").exists() else "digits"

    results = {"machine": machine(threads), "settings": {
        "quick": args.quick, "epochs": epochs, "threads": threads, "lr": LR, "momentum": 0.9, "dtype": "float32",
        "mode": args.mode, "passes": passes if args.mode == "alone" else 1,
        "dataset": "fashion-mnist" if dataset == FASHION else "digits",
        "removed_env": REMOVED_ENV, "command": " ".join(["python -m benchmarks", *(argv or sys.argv[1:])])}}
    say(f"machine: {results['machine']['cpu']}, {threads} threads; BLAS {results['machine']['blas']}")
    results["gemm"] = gemm_peak(threads, size=256 if args.quick else 1024, seconds=0.2 if args.quick else 1.0)
    say(f"float32 GEMM peak: {results['gemm']['gflops_1']:.0f} GFLOP/s (1 thread), "
        f"{results['gemm']['gflops_all']:.0f} GFLOP/s ({threads} threads)")

    wanted = [name.strip() for name in args.libraries.split(",")]
    if args.no_sklearn and "sklearn" in wanted:
        wanted.remove("sklearn")
    libraries = ["glassnet"] + [lib for lib, module in workers.MODULES.items()
                                if lib != "glassnet" and lib in wanted and _importable(module)]
    results["libraries"] = libraries

    if "train" not in args.skip or "latency" not in args.skip:
        if args.quick:
            plan = [("digits", "A", 256)]
        else:
            nets = [name for name in args.networks.split(",") if name in NETWORKS]
            batches = [int(b) for b in args.batches.split(",")]
            plan = [("digits", "A", 64)] * ("A" in nets) + [(dataset, net, bs) for net in nets for bs in batches]
        results["training"], results["latency"], results["memory"] = train_all(
            plan, libraries, threads, epochs, quick=args.quick, skip=args.skip, mode=args.mode, passes=passes)
    if "scaling" not in args.skip:
        results["scaling"] = scaling(dataset, threads, quick=args.quick)
    if "memmap" not in args.skip:
        results["memmap"] = memmap_run(dataset, gib=0.05 if args.quick else args.memmap_gib,
                                       limit_gib=0.5 if args.quick else args.memory_limit_gib)
    # Again at the end: the machine's load may have changed during the run.
    results["gemm_end"] = gemm_peak(threads, size=256 if args.quick else 1024, seconds=0.2 if args.quick else 1.0)
    args.out.mkdir(parents=True, exist_ok=True)
    _atomic_write(args.out / "results.json", json.dumps(results, indent=1, default=_json_default) + "\n")
    _atomic_write(args.out / "results.md", report.markdown(results))
    say(f"wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    return 0


def say(text):
    print(text, flush=True)


def _importable(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


def _atomic_write(path, text):
    from glassnet._io import atomic_write_text

    atomic_write_text(path, text)


# -- the machine ------------------------------------------------------------------------------
def machine(threads):
    import glassnet

    info = {"platform": platform.platform(), "python": platform.python_version(), "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)), "threads": threads, "numpy": np.__version__,
            "glassnet": glassnet.__version__, "cpu": report.cpu_model(), "load_average": os.getloadavg()}
    try:
        import threadpoolctl

        blas = [lib for lib in threadpoolctl.threadpool_info() if lib.get("user_api") == "blas"]
        info["blas_libraries"] = blas
        info["blas"] = ", ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture', '?')} kernel)"
                                 for b in blas) or "unknown"
        info["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:
        info["blas"] = "unknown (threadpoolctl not installed)"
    for name in ("torch", "sklearn"):
        if _importable(name):
            info[name] = __import__(name).__version__
    if _importable("nn_digits"):
        from importlib.metadata import version

        info["peer"] = f"neural-network-digits {version('neural-network-digits')}"
    blas = glassnet.threads.blas_library()
    info["glassnet_thread_control"] = blas.name if blas is not None else "none (BLAS keeps its own setting)"
    return info


def gemm_peak(threads, size=1024, seconds=1.0):
    """Best GFLOP/s of a float32 ``size x size`` matrix product, with 1 thread and with ``threads``."""
    import threadpoolctl

    rng = np.random.default_rng(0)
    A, B = (rng.random((size, size), dtype=np.float32) for _ in range(2))
    out = np.empty_like(A)
    result = {"size": size}
    for key, n in (("gflops_1", 1), ("gflops_all", threads)):
        with threadpoolctl.threadpool_limits(n, user_api="blas"):
            best = float("inf")
            deadline = time.perf_counter() + seconds
            np.matmul(A, B, out=out)
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                np.matmul(A, B, out=out)
                best = min(best, time.perf_counter() - t)
        result[key] = 2 * size**3 / best / 1e9
    return result


# -- training, interleaved ----------------------------------------------------------------------
class Worker:
    """A child process running one library (see workers.py)."""

    def __init__(self, kind, threads, dataset, n_train=None):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.kind = kind
        self.process = context.Process(target=workers.serve, args=(child, kind, threads, dataset, n_train),
                                       daemon=True)
        self.process.start()
        answer = self.conn.recv()
        if not answer["ok"]:
            raise RuntimeError(f"{kind} worker failed to start: {answer['error']}")

    def __call__(self, command, *args):
        self.conn.send((command, args))
        answer = self.conn.recv()
        if not answer["ok"]:
            raise RuntimeError(f"{self.kind}: {command} failed: {answer['error']}")
        return answer.get("result")

    def stop(self):
        try:
            self("stop")
        finally:
            self.process.join(timeout=30)


def train_flops(sizes, n_samples):
    """Multiply-adds x 2 for one epoch: forward (1 product per layer), backward (dW for every layer,
    dX for all but the first). The same count for every library."""
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    first = sizes[0] * sizes[1]
    return 2 * n_samples * (3 * macs - first)


#: Rows where the targets are judged; there the baselines also run on one thread.
TARGETS = (("A", 64), ("B", 256))
#: Extra entries: (library, threads) on the target rows.
ONE_THREAD = {"pytorch-1thread": "pytorch", "textbook-1thread": "textbook"}


def _entries(libraries, threads, quick):
    """``{entry name: (library kind, threads)}``: each library, plus one-thread runs of two baselines."""
    entries = {lib: (lib, threads) for lib in libraries}
    if not quick and threads > 1:
        entries.update({name: (kind, 1) for name, kind in ONE_THREAD.items() if kind in libraries})
    return entries


def _configs_for(entry, configs):
    return [c for c in configs if entry not in ONE_THREAD or (c[0], c[1]) in TARGETS]


def _result(runs, n, flops, accuracy, passes=None):
    """Statistics of one library on one row. ``runs``: its epochs in order; ``passes``: the same epochs split
    by pass (alone mode), each pass's first epoch a warm-up; the median is over every pass's timed epochs."""
    seconds = [r["seconds"] for r in runs]
    timed = [r["seconds"] for p in (passes or [runs]) for r in (p[1:] if len(p) > 2 else p)]
    median = float(np.median(timed))
    return {"epoch_seconds": seconds, "median": median, "min": min(timed), "max": max(timed),
            "samples_per_s": n / median, "gflops": flops / median / 1e9, "threads": runs[-1].get("threads"),
            "accuracy": accuracy, "fit_wall": [r["wall"] for r in runs], "dtype": runs[-1].get("dtype"),
            "load": [r["load"] for r in runs], "passes": len(passes or [runs])}


def train_all(plan, libraries, threads, epochs, quick=False, skip=(), mode="alone", passes=2):
    """Train every configuration of ``plan`` with every library; returns ``(training, latency, memory)``.

    ``mode="alone"``: one library at a time, in its own process, with no other worker alive (what a user
    sees). ``"interleaved"``: one process per library, all alive, their epochs taking turns.
    """
    training, latency, memory = [], [], {}
    by_dataset = {}
    for dataset, net_name, batch in plan:
        by_dataset.setdefault(dataset, []).append((net_name, batch))
    for dataset, configs in by_dataset.items():
        name = "digits" if dataset == "digits" else "fashion-mnist"
        n_train = 1000 if quick else None
        entries = _entries(libraries, threads, quick)
        X, y, _, _ = workers.load_data(dataset, n_train)
        results, lat, mem = (_train_alone(entries, configs, (dataset, n_train, len(X)), epochs, skip, passes)
                             if mode == "alone" else
                             _train_interleaved(entries, configs, (dataset, n_train, len(X)), epochs, skip))
        memory[name] = mem
        for net_name, batch in configs:
            if (net_name, batch) in results:
                sizes = NETWORKS[net_name]
                row = {"dataset": name, "network": net_name, "sizes": sizes, "batch": batch, "n_train": len(X),
                       "flops_per_epoch": train_flops(sizes, len(X)), "mode": mode,
                       "results": results[(net_name, batch)]}
                training.append(row)
                say(report.training_line(row))
        for net_name, entry in lat.items():
            latency.append({"dataset": name, "network": net_name, "results": entry})
            say(report.latency_line(latency[-1]))
    return training, latency, memory


def _initial_weights(net_name):
    import glassnet as gn

    return [p for _, p in gn.Network.mlp(NETWORKS[net_name], seed=0).named_parameters()]


def _train_alone(entries, configs, data, epochs, skip, passes=2):
    """Each entry in its own process, started after the previous one has exited; ``passes`` times, the
    entries in the given order and then in reverse (and so on), so that a machine that gets slower or
    faster during the run does not favour whoever ran first: every row is the median over all passes.
    Prediction latency is measured in every pass too; each library keeps the lower of its medians."""
    (dataset, n_train, n), latency, memory = data, {}, {}
    runs, accuracy = {}, {}                                    # (row, entry) -> [epochs of each pass]
    order = list(entries)
    for p in range(passes):
        for entry in (order if p % 2 == 0 else order[::-1]):
            kind, threads = entries[entry]
            worker, timed = Worker(kind, threads, dataset, n_train), set()
            try:
                for net_name, batch in _configs_for(entry, configs):
                    worker("setup", NETWORKS[net_name], _initial_weights(net_name), LR, batch)
                    if "train" not in skip:
                        key = ((net_name, batch), entry)
                        runs.setdefault(key, []).append([worker("epoch", 1000 + e) for e in range(1, epochs + 1)])
                        accuracy.setdefault(key, worker("accuracy"))        # the same batches every pass
                    if "latency" not in skip and entry not in ONE_THREAD and (net_name, p) not in timed:
                        timed.add((net_name, p))           # once per network and pass; the lower median counts
                        new, old = worker("latency"), latency.setdefault(net_name, {}).get(entry)
                        latency[net_name][entry] = new if old is None else {k: min(v, old[k]) for k, v in new.items()}
                peak, current = worker("memory")
                old = memory.get(entry, {"peak_rss": 0, "rss": 0})
                memory[entry] = {"peak_rss": max(peak, old["peak_rss"]), "rss": max(current, old["rss"])}
            finally:
                worker.stop()
    results = {}
    for ((net_name, batch), entry), by_pass in runs.items():
        flops = train_flops(NETWORKS[net_name], n)
        results.setdefault((net_name, batch), {})[entry] = _result(
            [r for p in by_pass for r in p], n, flops, accuracy[((net_name, batch), entry)], passes=by_pass)
    return {row: {e: results[row][e] for e in order if e in results[row]} for row in results}, latency, memory


def _train_interleaved(entries, configs, data, epochs, skip):
    """Every entry's process alive at once; for each configuration their epochs take turns (order alternating)."""
    (dataset, n_train, n), results, latency, memory = data, {}, {}, {}
    pool = {entry: Worker(kind, threads, dataset, n_train) for entry, (kind, threads) in entries.items()}
    try:
        for net_name, batch in configs:
            names = [e for e in pool if (net_name, batch) in _configs_for(e, [(net_name, batch)])]
            for entry in names:
                pool[entry]("setup", NETWORKS[net_name], _initial_weights(net_name), LR, batch)
            if "train" not in skip:
                runs = {entry: [] for entry in names}
                for epoch in range(1, epochs + 1):
                    for entry in (names if epoch % 2 else names[::-1]):       # alternate who goes first
                        runs[entry].append(pool[entry]("epoch", 1000 + epoch))
                results[(net_name, batch)] = {
                    entry: _result(runs[entry], n, train_flops(NETWORKS[net_name], n), pool[entry]("accuracy"))
                    for entry in names}
            if "latency" not in skip and net_name not in latency:
                latency[net_name] = {e: pool[e]("latency") for e in names if e not in ONE_THREAD}
        for entry in pool:
            peak, current = pool[entry]("memory")
            memory[entry] = {"peak_rss": peak, "rss": current}
    finally:
        for worker in pool.values():
            worker.stop()
    return results, latency, memory


# -- scaling ------------------------------------------------------------------------------------
def shifted_copies(X, n_total, rng, side=28, max_shift=2):
    """``X`` followed by randomly shifted copies (up to ``max_shift`` pixels, black fill) up to ``n_total`` rows."""
    out = np.empty((n_total, X.shape[1]), dtype=np.float32)
    out[:len(X)] = X
    for start in range(len(X), n_total, len(X)):
        stop = min(start + len(X), n_total)
        _shift_into(X[:stop - start], out[start:stop], rng, side, max_shift)
    return out


def _shift_into(X, out, rng, side, max_shift):
    images = X.reshape(len(X), side, side)
    target = out.reshape(len(X), side, side)
    target[...] = 0
    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(X), 2))
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            rows = np.flatnonzero((shifts[:, 0] == dy) & (shifts[:, 1] == dx))
            if len(rows) == 0:
                continue
            src = images[rows][:, max(0, -dy):side - max(0, dy), max(0, -dx):side - max(0, dx)]
            target[rows, max(0, dy):side - max(0, -dy), max(0, dx):side - max(0, -dx)] = src


def scaling(dataset, threads, quick=False):
    """glassnet, network A, batch 64: seconds per epoch for growing training sets (median of 3 epochs)."""
    import threadpoolctl

    import glassnet as gn

    X, y, _, _ = workers.load_data(dataset)
    sizes = [1000, 2000] if quick else [10_000, 30_000, 60_000, 600_000]
    rows = []
    with threadpoolctl.threadpool_limits(threads, user_api="blas"):
        for n in sizes:
            if n <= len(X):
                Xn, yn = X[:n], y[:n]
            else:
                Xn, yn = shifted_copies(X, n, np.random.default_rng(0)), np.resize(y, n)
            net = gn.Network.mlp(NETWORKS["A"], seed=0)
            history = net.fit(Xn, yn, epochs=3, batch_size=64, optimizer=gn.SGD(LR, momentum=0.9), seed=0)
            median = float(np.median(history.seconds))
            rows.append({"n_samples": n, "epoch_seconds": history.seconds, "median": median,
                         "us_per_sample": median / n * 1e6, "augmented": n > len(X)})
            say(f"scaling: {n:>7,} samples: {median:.3f} s/epoch ({median / n * 1e6:.2f} us/sample)")
            del Xn, yn
    return rows


# -- memory-mapped training under a memory limit ------------------------------------------------
CGROUP_V1 = Path("/sys/fs/cgroup/memory")


def memmap_run(dataset, gib=4.0, limit_gib=2.0):
    """Write a ``gib`` GiB float32 .npy, then train from it memory-mapped in a child limited to ``limit_gib``."""
    X, y, _, _ = workers.load_data(dataset)
    row_bytes = X.shape[1] * 4
    n = int(gib * 2**30 // row_bytes)
    folder = Path(tempfile.mkdtemp(prefix="glassnet-bench-", dir="/var/tmp"))
    result = {"file_gib": n * row_bytes / 2**30, "n_samples": n, "memory_limit_gib": limit_gib}
    try:
        path = folder / "X.npy"
        started = time.perf_counter()
        big = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, X.shape[1]))
        rng = np.random.default_rng(1)
        for start in range(0, n, len(X)):
            stop = min(start + len(X), n)
            if start == 0:
                big[:stop] = X[:stop]
            else:
                _shift_into(X[:stop - start], big[start:stop], rng, 28, 2)
        big.flush()
        del big
        np.save(folder / "y.npy", np.resize(y, n))
        _drop_from_page_cache(path)           # so the child reads from disk, charged to its own limit
        result["write_seconds"] = time.perf_counter() - started
        say(f"memmap: wrote {result['file_gib']:.2f} GiB ({n:,} samples) in {result['write_seconds']:.1f} s")
        limiter = _MemoryLimit(int(limit_gib * 2**30))
        result["limit_mechanism"] = limiter.mechanism
        if limiter.group is None:
            say("memmap: no writable cgroup v1 memory controller: the limited run is left out")
            return result
        for mode in ("mmap", "load"):        # the real run, then the control that must not fit
            code = _MEMMAP_CHILD.format(path=str(path), ypath=str(folder / "y.npy"), mode=mode, dataset=dataset)
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  preexec_fn=limiter.enter, timeout=1800)
            entry = {"returncode": proc.returncode, "wall_seconds": time.perf_counter() - started,
                     "cgroup_peak_bytes": limiter.peak(), "limit_hits": limiter.failcnt()}
            try:
                entry.update(json.loads(proc.stdout.strip().splitlines()[-1]))
            except (IndexError, ValueError):
                entry["stderr_tail"] = proc.stderr[-800:]
            result[mode] = entry
            limiter.reset()
            _drop_from_page_cache(path)
            say(f"memmap: {mode}: returncode {proc.returncode}, " + (
                f"{entry['epoch_seconds']:.1f} s/epoch, peak RSS {entry['peak_rss'] / 2**30:.2f} GiB, "
                f"accuracy {entry['accuracy']:.4f}" if "epoch_seconds" in entry else
                "killed or failed as expected under the limit" if mode == "load" else entry.get("stderr_tail", "")))
        limiter.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result


_MEMMAP_CHILD = """
import json, resource, time
import numpy as np
import glassnet as gn
X = np.load({path!r}, mmap_mode="r") if {mode!r} == "mmap" else np.load({path!r})
y = np.load({ypath!r})
net = gn.Network.mlp([784, 128, 64, 10], seed=0)
t = time.perf_counter()
history = net.fit(X, y, epochs=1, batch_size=64, optimizer=gn.SGD(0.01, momentum=0.9), seed=0)
wall = time.perf_counter() - t
test = gn.datasets.load({dataset!r}, progress=False)
print(json.dumps({{"epoch_seconds": history.seconds[-1], "fit_seconds": wall,
                  "accuracy": float(np.mean(net.predict(test.X_test) == test.y_test)),
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "is_memmap": isinstance(X, np.memmap)}}))
"""


def _drop_from_page_cache(path):
    with open(path, "rb") as f:
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


class _MemoryLimit:
    """A memory limit for child processes: a cgroup v1 memory group (needs root; else no limit).

    The cgroup counts everything the child uses, page cache of the mapped file included, and the
    kernel reclaims clean file pages when it reaches the limit; a process that needs more anonymous
    memory than the limit is killed (OOM).
    """

    def __init__(self, limit):
        self.limit = limit
        self.group = None
        if CGROUP_V1.is_dir() and os.access(CGROUP_V1, os.W_OK):
            group = CGROUP_V1 / f"glassnet-bench-{os.getpid()}"
            try:
                group.mkdir(exist_ok=True)
                (group / "memory.limit_in_bytes").write_text(str(limit))
                self.group = group
            except OSError:
                self.group = None
        self.mechanism = f"cgroup v1 memory.limit_in_bytes={limit} ({self.group})" if self.group else None

    def enter(self):      # runs in the child, before it starts Python
        (self.group / "cgroup.procs").write_text(str(os.getpid()))

    def peak(self):
        return int((self.group / "memory.max_usage_in_bytes").read_text()) if self.group else None

    def failcnt(self):
        return int((self.group / "memory.failcnt").read_text()) if self.group else None

    def reset(self):
        if self.group:
            for name in ("memory.max_usage_in_bytes", "memory.failcnt"):
                try:
                    (self.group / name).write_text("0")
                except OSError:
                    pass

    def close(self):
        if self.group:
            try:
                (self.group / "memory.force_empty").write_text("0")
            except OSError:
                pass
            try:
                self.group.rmdir()
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main())
