"""BLAS threads for training: how many the matrix products use, decided by measuring them.

A matrix product can be split over several threads; for the small products of mini-batch training
the hand-over between threads can cost more than it saves, and on a machine whose other cores are
busy an extra thread waits for a free core at every product. No fixed size threshold is right on
every CPU, so ``fit`` measures: :func:`decide` times the products of one training step of the real
network (forward, ``dW``, ``dX``) on one thread and on every thread BLAS has, alternating, and keeps
the faster setting, cached per shape (:func:`cached`). The rule, in full:

1. ``fit(threads=n)`` (``glassnet train --threads n``) forces ``n`` (at most the threads BLAS has).
2. If BLAS already has one thread (a limit set outside ``fit``), one thread: ``fit`` never uses more
   threads than the limit it finds.
3. A busy machine: when other work already fills the cores, extra threads would queue behind it at
   every product: one thread, nothing measured. "Other work" is the 1-minute load average
   (``os.getloadavg``: threads running or waiting for a core, on the whole machine) minus this
   process's own share, its CPU seconds per second over about the last minute (so a training that
   kept every core busy does not count itself); busy when that is at least the usable cores - 0.5.
   Lighter load is left to the measurement, which then sees the shared core in its timings.
4. Otherwise: the measured faster of 1 and all threads; all threads must win by at least
   ``MARGIN`` (10%), since a gain smaller than that is within the noise and can turn into a loss when
   load arrives. The decision is cached for the process per (shapes, batch, dtype, threads).

The thread count changes the last bits of some sums (OpenBLAS adds a 784-long product in another order on
one and on two threads), so runs with the same seed are equal number for number only on the same thread
count: ``threads=`` repeats a run exactly, and a resumed run takes the count its checkpoint recorded.

The thread count is set through OpenBLAS's own ``openblas_set_num_threads``, found with ``ctypes``
in the library NumPy has loaded (:func:`blas_library`), so the default install (NumPy only) gets it;
with another BLAS (MKL, BLIS, Accelerate) threadpoolctl is used when installed, else nothing is
changed and BLAS keeps its own setting. The count is process-wide, so only the main thread changes
it (a training in a worker thread, as the app runs them, leaves BLAS as it is: changing OpenBLAS's
thread count while another thread is inside a BLAS call can hang it).
Not here: the training loop (``glassnet.training``).
"""

import contextlib
import ctypes
import glob
import os
import threading
import time

import numpy as np

from .layers import Dense

#: All threads are chosen only when they make the step's products at least this much faster.
MARGIN = 0.10
#: Measurement budget per setting: repetitions of one step's products (the best one counts).
REPEATS = 5

_cache: dict[tuple, int] = {}           # (shapes, batch, dtype, threads) -> chosen thread count
_library: "list[_Blas | None]" = []     # [_Blas or None], found once


def usable_cores():
    """How many cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


_LOAD_WINDOW = 60.0                 # seconds: about what the 1-minute load average reflects
#: (monotonic seconds, this process's CPU seconds): the first from when this module was imported, then the last minute.
_own_cpu: list[tuple[float, float]] = [(time.monotonic(), time.process_time())]


def own_load():
    """This process's average number of busy cores over about the last minute (its CPU seconds per second)."""
    now, cpu = time.monotonic(), time.process_time()
    _own_cpu.append((now, cpu))
    while len(_own_cpu) > 2 and now - _own_cpu[1][0] >= _LOAD_WINDOW:
        _own_cpu.pop(0)                                 # keep one sample at least a window old
    then, cpu_then = _own_cpu[0]
    return (cpu - cpu_then) / (now - then) if now - then >= 1.0 else 0.0     # under a second: unknown, none


def machine_is_busy():
    """Whether other work already fills the cores: load average minus this process's own >= cores - 0.5."""
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):       # no load average on this platform: assume quiet
        return False
    return load - own_load() >= usable_cores() - 0.5


class _Blas:
    """Get and set a BLAS library's thread count: OpenBLAS via ctypes, or threadpoolctl for others."""

    def __init__(self, name, get, set_):
        self.name, self._get, self._set = name, get, set_

    def get(self):
        return int(self._get())

    def set(self, n):
        self._set(int(n))


def _openblas_paths():
    """Files of the OpenBLAS libraries in this process: NumPy's own first (its wheel's ``numpy.libs``), then any
    other loaded one (SciPy's, a system library NumPy links to), as listed in ``/proc/self/maps``."""
    numpy_libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    paths = sorted(glob.glob(os.path.join(numpy_libs, "*openblas*")))
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rsplit(" ", 1)[-1].strip()
                if "openblas" in os.path.basename(path).lower() and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    return paths


def _find_openblas():
    """Every loaded OpenBLAS as one control: the count is read from NumPy's and set in all of them."""
    found = []
    for path in _openblas_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", ""),
                               ("openblas", "64_")):
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                found.append((os.path.basename(path), get, set_))
                break
    if not found:
        return None

    def set_all(n):
        for _, _, set_ in found:
            set_(n)
    return _Blas("OpenBLAS (" + ", ".join(name for name, _, _ in found) + ")", found[0][1], set_all)


def _find_threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        return None
    blas = threadpoolctl.ThreadpoolController().select(user_api="blas")
    if not blas.info():
        return None

    def get():
        return min(lib["num_threads"] for lib in blas.info())

    def set_(n):
        blas.limit(limits=n)      # stays in effect until set again (the context manager form restores it)
    return _Blas("threadpoolctl", get, set_)


def blas_library():
    """The BLAS thread control found (OpenBLAS by ctypes, else threadpoolctl), or None; looked up once."""
    if not _library:
        _library.append(_find_openblas() or _find_threadpoolctl())
    return _library[0]


def current():
    """The number of threads BLAS uses now (1 when it cannot be known)."""
    blas = blas_library()
    return blas.get() if blas is not None else 1


def step_products(net, batch_size):
    """The matrix products of one training step of ``net``: ``(a_shape, b_shape)`` pairs, as ``fit`` runs them.

    Forward ``X @ W.T`` and ``dW = delta.T @ X`` for every dense layer, ``dX = delta @ W`` for all but the first.
    """
    products = []
    for i, (n_in, n_out) in enumerate(_dense_sizes(net)):
        products += [((batch_size, n_in), (n_in, n_out)), ((n_out, batch_size), (batch_size, n_in))]
        if i > 0:
            products.append(((batch_size, n_out), (n_out, n_in)))
    return products


def _dense_sizes(net):
    return [(layer.n_in, layer.n_out) for layer in net.layers if isinstance(layer, Dense)]


def measure(products, threads, dtype=np.float32, repeats=REPEATS):
    """``{n: best seconds}`` for running every product in ``products`` once, for each ``n`` in ``threads``.

    The settings alternate repetition by repetition, so a burst of load from elsewhere hits all of them.
    Changes the BLAS thread count while it runs (main thread only) and puts it back.
    """
    blas = blas_library()
    rng = np.random.default_rng(0)
    operands = [(rng.random(a, dtype=np.float32).astype(dtype, copy=False),
                 rng.random(b, dtype=np.float32).astype(dtype, copy=False), np.empty((a[0], b[1]), dtype))
                for a, b in products]
    before = blas.get()
    best = {n: float("inf") for n in threads}
    try:
        for _ in range(repeats):
            for n in threads:
                blas.set(n)
                started = time.perf_counter()
                for x, w, out in operands:
                    np.matmul(x, w, out=out)
                best[n] = min(best[n], time.perf_counter() - started)
    finally:
        blas.set(before)
    return best


def decide(net, batch_size, threads=None):
    """How many BLAS threads ``fit`` uses for ``net`` at ``batch_size``: the rule in this module's docstring.

    ``threads``: a number to force (capped at what BLAS has). Returns an int >= 1. Measures (about
    ``2 * REPEATS`` steps' products, a few milliseconds for the usual networks) only from the main
    thread, on a quiet machine, with a BLAS whose thread count it can set, and once per shape.
    """
    have = current()
    if threads is not None:
        return max(1, min(int(threads), have))
    if have <= 1 or threading.current_thread() is not threading.main_thread() or blas_library() is None:
        return 1 if have <= 1 else have
    if machine_is_busy():
        return 1
    key = (tuple(_dense_sizes(net)), int(batch_size), str(net.dtype), have)
    if key not in _cache:
        products = step_products(net, batch_size)
        if not products:
            return 1
        best = measure(products, (1, have), net.dtype)
        _cache[key] = have if best[have] < (1 - MARGIN) * best[1] else 1
    return _cache[key]


def cached():
    """The decisions made so far: ``{(layer sizes, batch, dtype, threads BLAS had): threads chosen}``."""
    return dict(_cache)


@contextlib.contextmanager
def limited(n):
    """Run the block with BLAS on ``n`` threads (never more than it has), then restore; main thread only.

    In any other thread, or without a BLAS whose count can be set, the block runs with BLAS as it is.
    """
    blas = blas_library()
    if blas is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = blas.get()
    if n >= before:
        yield
        return
    blas.set(n)
    try:
        yield
    finally:
        blas.set(before)
