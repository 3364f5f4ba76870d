"""Training: show the network labelled examples, measure the loss, step downhill, repeat.

One *epoch* is one pass over the training set in mini-batches from a fresh shuffle.
For each mini-batch: forward pass, loss, backward pass (the gradient: which way is
uphill), optimizer step (move the other way). ``fit`` reads on one screen: ``_plan`` checks
every argument (nothing changes until all are valid), ``_start`` applies them, ``_train`` runs
the epochs and ``_run_epoch`` the mini-batches of one. Everything else (progress bars, early
stopping, checkpoints, live plots) is a :class:`~glassnet.callbacks.Callback` plugged into five hooks.

The fast path is explicit, never a hidden mode: ``fit`` creates one :class:`StepBuffers` (the
arrays a training step reuses from mini-batch to mini-batch: each layer's
:class:`~glassnet.layers.Buffers`, the loss gradient, the gathered batch) and passes it to every
``Network.train_step``, which lends each layer its own ``buffers=``. The layers write the same
formulas into that memory; their textbook line stands beside each fast line. Called outside
``fit``, every layer runs its textbook line and returns new arrays.

Work is never lost: a NaN/inf loss stops training with :class:`TrainingDiverged` and keeps the last good
weights; Ctrl-C stops cleanly at the end of the current batch (twice: at once) keeping the weights and history;
a ``Checkpoint`` makes ``fit(..., resume_from=...)`` continue exactly where it stopped. Randomness comes from
``seed`` and the epoch (shuffle, dropout masks): the same seed and BLAS thread count give the same weights.
Not here: the callbacks (``glassnet.callbacks``), the record of epochs (``glassnet.history``),
the checkpoint files (``glassnet.modelfile``), the network's passes (``glassnet.network``).
"""

import contextlib
import inspect
import json
import math
import mmap
import signal
import threading
import time

import numpy as np

from . import losses, optimizers
from . import threads as _threads
from ._memory import ALIGN, aligned_zeros
from ._validation import check_params, describe
from .callbacks import Callback, CallbackList, ProgressBar
from .errors import TrainingDiverged
from .history import History
from .layers import Buffers, Dense
from .losses import labels_from_outputs, prepare_targets
from .modelfile import check_tensors, read_checkpoint


class StepBuffers:
    """Every array ``fit``'s training step reuses from mini-batch to mini-batch (the fast path), in one place.

    ``layers[i]`` is layer ``i``'s :class:`~glassnet.layers.Buffers`, or None for a layer whose
    ``forward``/``backward`` take no ``buffers`` (it runs its textbook line); ``loss`` holds the loss
    gradient; ``batch`` the gathered mini-batch. The first layer is told that nobody needs ``dL/dX``.
    Created once per ``fit`` and passed explicitly to ``Network.train_step``.
    """

    def __init__(self, layers):
        self.layers = [Buffers(need_input_gradient=i > 0) if _takes_buffers(layer) else None
                       for i, layer in enumerate(layers)]
        self.loss = Buffers()
        self.batch = Buffers()

    def __repr__(self):
        fast = sum(b is not None for b in self.layers)
        return f"StepBuffers({fast} of {len(self.layers)} layers on the fast path)"


def _takes_buffers(layer):
    """Whether both passes of ``layer`` accept ``buffers`` (a subclass may override one without it)."""
    return all("buffers" in inspect.signature(method).parameters for method in (layer.forward, layer.backward))


class TrainingRun:
    """The state of one ``fit`` call, shared with callbacks (each gets it as ``callback.run``).

    Callbacks read ``network``, ``optimizer``, ``loss``, ``history``, ``epoch``, ``epochs``,
    ``steps_per_epoch`` and ``position``, and call ``stop()``. The loop keeps here too what it
    works from: the checked data (``X``, ``y``, ``is_labels``, ``validation_data``), the
    ``callbacks``, the ``buffers`` every step reuses, the Ctrl-C ``interrupt`` and, when resuming,
    the ``resumed`` checkpoint.
    """

    def __init__(self, network, optimizer, loss, *, epochs, batch_size, n_samples, seed, history, shuffle,
                 augment=None):
        self.network, self.optimizer, self.loss = network, optimizer, loss
        self.epochs, self.batch_size, self.n_samples = epochs, batch_size, n_samples
        self.steps_per_epoch = math.ceil(n_samples / batch_size)
        self.seed, self.history, self.shuffle = seed, history, shuffle
        self.augment = augment
        self.epoch = 0
        self._at = None                 # (the epoch in progress, batches done): read as ``position``
        self.stop_requested = False
        self.X = self.y = self.validation_data = self.resumed = self.buffers = self.interrupt = None
        self.l1 = None                  # fit(l1=...): set on the optimizer by _start
        self.threads = None             # the BLAS threads the run uses (glassnet.threads)
        self.is_labels = False
        self.callbacks = CallbackList(())

    @property
    def position(self):
        """Where training stands, for mid-epoch checkpoints (None before the first batch): built when read
        (a checkpoint, an interrupt), not after every batch."""
        return None if self._at is None else self._at[0].position(self._at[1])

    def stop(self):
        """Ask training to stop after the current epoch (used by EarlyStopping)."""
        self.stop_requested = True

    def config(self):
        return {"epochs": self.epochs, "batch_size": self.batch_size, "n_samples": self.n_samples,
                "seed": self.seed, "loss": self.loss.name, "shuffle": self.shuffle, "augment": self.augment is not None,
                "threads": self.threads}


class _DeferredInterrupt:
    """Turn the first Ctrl-C into a request to stop after the current batch; a second one stops at once."""

    def __enter__(self):
        self.requested = False
        self.previous = None
        on_main = threading.current_thread() is threading.main_thread()
        if on_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


_fit_limits = {"epochs": ("int", 1, None, False), "batch_size": ("int", 1, None, False),
               "verbose": ("int", 0, 2, False), "shuffle": ("bool", None, None, False)}


def fit(net, X, y, *, epochs=10, batch_size=32, optimizer=None, loss="cross_entropy", validation_data=None,
        callbacks=(), seed=None, verbose=0, shuffle=True, resume_from=None, augment=None, l1=None, threads=None):
    """Train ``net`` on ``(X, y)`` with mini-batch gradient descent; returns a :class:`~glassnet.history.History`.

    Args:
        X: ``(n_samples, n_features)`` inputs.
        y: integer labels ``(n_samples,)``, one-hot rows, or real targets (for ``loss="mse"``).
        epochs: passes over the training set (the total, counting resumed ones).
        batch_size: samples per gradient step.
        optimizer: an ``Optimizer`` or name; default ``SGD(lr=0.01, momentum=0.9)``.
        loss: ``"cross_entropy"`` (default), ``"mse"``, ``"binary_cross_entropy"`` or a ``Loss``.
        validation_data: ``(X_val, y_val)`` evaluated after each epoch.
        callbacks: ``Callback`` objects (``ProgressBar``, ``EarlyStopping``, ``Checkpoint``...).
        seed: int for shuffling and dropout; ``None`` picks one and records it in ``history.seed``.
        verbose: 0 silent, 1 a progress bar (one line per epoch when not on a terminal).
        shuffle: reshuffle the samples every epoch.
        resume_from: a ``Checkpoint`` directory to continue from (same data and batch size).
        augment: optional ``augment(X_batch, rng) -> X_batch`` applied to every mini-batch (for example
            ``glassnet.datasets.Augment``); ``rng`` is a Generator derived from ``seed`` and the epoch,
            so augmented runs are reproducible and resume exactly. It may change ``X_batch`` in place.
        l1: the L1 penalty on the weights (``l1 * sign(w)`` added to their gradient, never the biases'),
            set on the optimizer (``optimizer.l1``); ``None`` keeps the optimizer's own (0 unless given).
        threads: BLAS threads for the matrix products; ``None`` decides by measuring (a few milliseconds at
            the start, cached per shape; one thread on a busy machine), a number forces it. See
            :mod:`glassnet.threads`.

    ``X`` may be a memory-mapped array (``np.load(path, mmap_mode="r")``) larger than memory: it is
    checked in chunks and each mini-batch is read from it when needed, never copied as a whole.

    Raises:
        TrainingDiverged: the loss became NaN/inf; the network keeps the last good weights.
    """
    run = _plan(net, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer, loss=loss,
                validation_data=validation_data, callbacks=callbacks, seed=seed, verbose=verbose, shuffle=shuffle,
                resume_from=resume_from, augment=augment, l1=l1)
    if threads is not None:
        check_params("fit", {"threads": ("int", 1, None, False)}, {"threads": threads})
    _start(run)                     # everything is valid: from here on, state changes
    if threads is None and run.resumed is not None:   # the sums' order depends on it: resume bit for bit
        threads = run.resumed["run"].get("threads")
    run.threads = blas_threads_for(net, batch_size, threads)
    with _DeferredInterrupt() as run.interrupt, limit_blas_threads(run.threads), \
            _random_access(run.X, shuffle):
        _train(run)
    return run.history


# -- before training: check everything, change nothing -----------------------------------------------
def _plan(net, X, y, *, epochs, batch_size, optimizer, loss, validation_data, callbacks, seed, verbose, shuffle,
          resume_from, augment, l1):
    """Check every argument of ``fit`` and return the :class:`TrainingRun` they describe; nothing changes yet."""
    check_params("fit", _fit_limits, {"epochs": epochs, "batch_size": batch_size, "verbose": verbose,
                                      "shuffle": shuffle})
    if l1 is not None:
        check_params("fit", {"l1": ("float", 0.0, None, False)}, {"l1": l1})
    loss = losses.get(loss)
    X = _check_training_X(net, X)
    if augment is not None and not callable(augment):
        raise TypeError(f"fit: augment expected a callable augment(X_batch, rng), received {describe(augment)}")
    y, is_labels = prepare_targets(y, len(X), net.n_outputs, loss)
    validation_data = _check_validation_data(net, validation_data, loss)
    callbacks = _check_callbacks(callbacks, verbose)
    resumed = None
    if resume_from is not None:
        resumed = _read_checkpoint(resume_from, net, loss, optimizer, {
            "batch_size": batch_size, "n_samples": len(X), "shuffle": shuffle, "seed": seed, "augment": augment})
        seed = resumed["run"]["seed"]
    if optimizer is None:
        optimizer = optimizers.from_config(*resumed["optimizer"]) if resumed else optimizers.SGD(lr=0.01, momentum=0.9)
    optimizer = optimizers.get(optimizer)
    if l1 is not None and resumed and float(l1) != resumed["optimizer"][0].get("l1", 0.0):
        raise ValueError(f"resume_from: the checkpoint was trained with l1={resumed['optimizer'][0].get('l1', 0.0)}, "
                         f"received l1={l1}; resume with the same penalty")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    check_params("fit", {"seed": ("int", 0, None, False)}, {"seed": seed})
    run = TrainingRun(net, optimizer, loss, epochs=epochs, batch_size=batch_size, n_samples=len(X), seed=seed,
                      history=resumed["history"] if resumed else History(seed), shuffle=shuffle, augment=augment)
    run.X, run.y, run.is_labels, run.validation_data = X, y, is_labels, validation_data
    run.callbacks, run.resumed = CallbackList(callbacks), resumed
    run.l1 = l1
    return run


def _check_validation_data(net, validation_data, loss):
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise TypeError(f"validation_data expected a pair (X_val, y_val), received {describe(validation_data)}")
    X_val = net.check_X(validation_data[0])
    y_val, _ = prepare_targets(validation_data[1], len(X_val), net.n_outputs, loss)
    return X_val, y_val


def _check_callbacks(callbacks, verbose):
    """The callbacks as a new list (with a ``ProgressBar`` when ``verbose`` asks for one and none is there)."""
    callbacks = list(callbacks or ())
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks expected Callback objects, received {describe(cb)}")
    if verbose and not any(isinstance(cb, ProgressBar) for cb in callbacks):
        callbacks.append(ProgressBar())
    return callbacks


def _read_checkpoint(path, net, loss, optimizer, settings):
    """The checkpoint at ``path``, refused if it was made for another network, data, batch size or optimizer.

    ``settings``: this call's ``batch_size``, ``n_samples``, ``shuffle``, ``seed`` and ``augment``.
    Returns ``read_checkpoint``'s contents with the checked ``weights``.
    """
    resumed = read_checkpoint(path)
    doc, tensors, source = resumed["model"]
    saved_config = resumed["optimizer"][0]
    if optimizer is not None:
        optimizer = optimizers.get(optimizer)
        mine = {"type": type(optimizer).__name__, **optimizer.get_config()}
        theirs = {k: v for k, v in saved_config.items() if k not in ("lr", "iterations")}
        if mine != theirs:
            raise ValueError(f"resume_from: the checkpoint was trained with {theirs}, received optimizer {mine}; "
                             f"omit optimizer= to continue with the checkpoint's optimizer and its state")
    if doc["architecture"] != json.loads(json.dumps(net.get_config())):     # compared as saved (JSON)
        raise ValueError("resume_from: the checkpoint's architecture differs from this network's; "
                         "resume with the network the checkpoint was made for")
    check_tensors(tensors, {name: p.shape for name, p in net.named_parameters()}, doc, source)
    expected, augment = resumed["run"], settings["augment"]
    got = {"batch_size": settings["batch_size"], "n_samples": settings["n_samples"], "loss": loss.name,
           "shuffle": settings["shuffle"]}
    for key, value in got.items():
        if expected[key] != value:
            raise ValueError(f"resume_from: the checkpoint was made with {key}={expected[key]!r}, "
                             f"received {key}={value!r}; resume with the same data and settings")
    if settings["seed"] is not None and settings["seed"] != expected["seed"]:
        raise ValueError(f"resume_from: the checkpoint was made with seed={expected['seed']}, "
                         f"received seed={settings['seed']}")
    if expected.get("augment", False) != (augment is not None):
        was = "with" if expected.get("augment", False) else "without"
        raise ValueError(f"resume_from: the checkpoint was made {was} augment=; resume with the same augmentation")
    return {**resumed, "weights": tensors}


# -- training ------------------------------------------------------------------------------------
def _start(run):
    """Apply the plan: the checkpoint's weights and optimizer state, the schedule's length, the buffers."""
    if run.resumed is not None:
        run.network.set_weights(run.resumed["weights"])
        run.optimizer.load_state_dict(*run.resumed["optimizer"])
    if run.l1 is not None:
        run.optimizer.l1 = float(run.l1)                 # fit(l1=...): the penalty the optimizer adds
    run.history.interrupted = False
    run.optimizer.schedule.bind(run.epochs * run.steps_per_epoch, run.steps_per_epoch)
    run.buffers = StepBuffers(run.network.layers)       # the fast path: arrays every step reuses
    _pack(run.network.layers, "params")                 # ... and one array for all parameters,
    _pack(run.network.layers, "grads")                  # one for all gradients (see _pack)
    run.callbacks.bind(run)


def _train(run):
    """The epochs, between ``on_train_begin`` and ``on_train_end``; Ctrl-C ends them keeping the history."""
    cbs, history = run.callbacks, run.history
    cbs.on_train_begin({"epochs": run.epochs, "steps_per_epoch": run.steps_per_epoch, "seed": run.seed,
                        "validation": run.validation_data is not None, "threads": run.threads})
    run.network.loss_, run.network.history_ = run.loss, history
    end_logs = {}
    try:
        for epoch in range(_first_epoch(run), run.epochs + 1):
            _run_epoch(run, epoch)
            if run.stop_requested:
                history.stopped_early = True
                break
    except KeyboardInterrupt:
        history.interrupted = True
        end_logs["interrupted"] = True
    except TrainingDiverged as exc:
        cbs.on_train_end({"diverged": str(exc)})
        raise
    cbs.on_train_end(end_logs)


def _first_epoch(run):
    """The first epoch to run: 1, or where a resumed run stands.

    An epoch whose last batch ran but whose record was not written yet is finished first.
    """
    position = run.resumed["position"] if run.resumed else None
    if not position:
        return 1
    return position["epoch"] + (len(run.history) >= position["epoch"])


def _run_epoch(run, epoch):
    """One pass over the data in mini-batches; appends the epoch's record to the history."""
    net, optimizer, loss, buffers, cbs = run.network, run.optimizer, run.loss, run.buffers, run.callbacks
    run.epoch = epoch
    state = _Epoch(run, epoch)
    X, y, batch_size, dtype = run.X, run.y, run.batch_size, net.dtype
    order, augment_rng, params, grads, sentinels = state.order, state.augment_rng, state.params, state.grads, \
        state.sentinels
    cbs.on_epoch_begin(epoch, {})
    state.started = time.perf_counter()
    for b in range(state.first, run.steps_per_epoch):
        idx = order[b * batch_size:(b + 1) * batch_size]
        xb, yb = _gather(X, idx, buffers.batch, dtype), y[idx]
        if augment_rng is not None:
            xb = _augmented(run.augment, xb, augment_rng, dtype)
        lr = optimizer.lr
        value, out = net.train_step(xb, yb, loss, buffers)   # forward, loss, backward: fills grads
        if not (math.isfinite(value) and _all_finite(sentinels)):
            _diverged(state, b + 1, lr, value)               # checked before the step: it is never applied
        optimizer.step(params, grads)
        logs = state.count(value, len(idx), lr, out, yb)
        run._at = (state, b + 1)                             # run.position, built only when read
        cbs.on_batch_end(b + 1, logs)
        if run.interrupt.requested:
            raise KeyboardInterrupt
    if not _all_finite(params):
        _diverged(state, run.steps_per_epoch, state.sums["lr"], float("nan"))
    record = state.record()
    if run.validation_data is not None:
        record["val_loss"], record["val_accuracy"] = net.evaluate(*run.validation_data, loss=loss)
    run.history.append(record)
    cbs.on_epoch_end(epoch, record)


class _Epoch:
    """One epoch in progress: its batch order and random streams (from ``(seed, epoch)``), the batch it
    starts from (mid-epoch when resuming), its running sums, and the weights it started with."""

    def __init__(self, run, epoch):
        net = self.net = run.network
        self.run, self.epoch = run, epoch
        rng = np.random.default_rng([run.seed, epoch])
        self.order = rng.permutation(run.n_samples) if run.shuffle else np.arange(run.n_samples)
        for i, layer in enumerate(net.layers):
            if layer.has_training_mode:              # dropout masks: seeded per epoch and layer
                layer.rng = np.random.default_rng([run.seed, epoch, i])
        self.augment_rng = np.random.default_rng([run.seed, epoch, _AUGMENT_STREAM]) if run.augment else None
        self.first, self.sums = 0, {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0, "lr": run.optimizer.lr}
        position = run.resumed["position"] if run.resumed else None
        if position and position["epoch"] == epoch:  # resume mid-epoch: its batch, sums and random streams
            self.first, self.sums = position["batch"], dict(position["sums"])
            for i, state in position["rng"].items():
                generator = self.augment_rng if i == "augment" else net.layers[int(i)].rng
                if generator is not None:
                    generator.bit_generator.state = state
        self.params, self.grads = net.parameters(), net.gradients()
        self.sentinels = _finite_sentinels(net)
        # No per-batch backup copy of the weights: every step is checked *before* it is applied (finite
        # loss, finite gradients), so the weights only ever hold the result of good steps. The one copy
        # per epoch below covers weights spoiled from outside the loop (a callback writing NaN).
        self.weights_at_start = [p.copy() for p in self.params]
        self.probabilities = net.outputs_probabilities(net.body(run.loss))
        self.started = time.perf_counter()

    def count(self, value, n, lr, out, yb):
        """Add one mini-batch to the running sums; returns its logs for ``on_batch_end``."""
        sums = self.sums
        sums["loss"] += value * n
        sums["seen"] += n
        sums["lr"] = lr
        logs = {"loss": value, "size": n, "lr": lr}
        if self.run.is_labels:
            correct = int(np.count_nonzero(labels_from_outputs(out, self.probabilities) == yb))
            sums["correct"] += correct
            logs["accuracy"] = correct / n
        return logs

    def seconds(self):
        return self.sums["seconds"] + time.perf_counter() - self.started

    def position(self, batch):
        """Where training stands after ``batch``: what a mid-epoch checkpoint saves to resume exactly."""
        states = {str(i): layer.rng.bit_generator.state for i, layer in enumerate(self.net.layers)
                  if layer.has_training_mode}
        if self.augment_rng is not None:
            states["augment"] = self.augment_rng.bit_generator.state
        return {"epoch": self.epoch, "batch": batch, "sums": {**self.sums, "seconds": self.seconds()}, "rng": states}

    def record(self):
        """The epoch's line in the history (validation is added by the loop)."""
        sums = self.sums
        return {"epoch": self.epoch, "loss": sums["loss"] / sums["seen"],
                "accuracy": sums["correct"] / sums["seen"] if self.run.is_labels else None,
                "val_loss": None, "val_accuracy": None, "lr": sums["lr"], "seconds": self.seconds()}


#: Third word of the augmentation generator's seed ``[seed, epoch, _AUGMENT_STREAM]``: dropout
#: layers use their layer index there, and no network has this many layers.
_AUGMENT_STREAM = 1 << 30


def _gather(X, idx, buffers, dtype):
    """The rows ``X[idx]`` as a ``dtype`` array, written into a buffer reused across batches.

    ``np.take(..., out=)`` copies the chosen rows straight into the buffer (``X[idx]`` would
    allocate a new array per batch). A memory-mapped ``X`` is read here, one batch at a time;
    rows of another dtype (uint8 pixels, float64) are converted batch by batch.
    """
    n = len(idx)
    xb = buffers.array("x", (n, X.shape[1]), dtype)
    if X.dtype == dtype:
        return np.take(X, idx, axis=0, out=xb, mode="clip")   # "clip": idx is valid, skips a checked copy
    raw = buffers.array("x_raw", (n, X.shape[1]), X.dtype)
    np.take(X, idx, axis=0, out=raw, mode="clip")
    np.copyto(xb, raw, casting="unsafe")
    return xb


def _augmented(augment, xb, rng, dtype):
    """Apply the user's ``augment(X_batch, rng)`` and check what comes back."""
    out = augment(xb, rng)
    if not isinstance(out, np.ndarray) or out.shape != xb.shape:
        raise ValueError(f"fit: augment(X_batch, rng) expected to return an array of shape {xb.shape}, "
                         f"received {describe(out)}")
    return out if out.dtype == dtype else out.astype(dtype)


@contextlib.contextmanager
def _random_access(X, shuffle):
    """Tell the kernel that a memory-mapped ``X`` is read in random order while training.

    By default each page fault also reads the pages around it (read-ahead, about 128 KiB), which
    suits reading a file in order; mini-batches of shuffled rows would then read far more from disk
    than they use. ``MADV_RANDOM`` reads only the pages needed; the default is restored afterwards.
    """
    mapping = getattr(X, "_mmap", None) if isinstance(X, np.memmap) else None
    wanted, advised = shuffle and mapping is not None and hasattr(mmap, "MADV_RANDOM"), False
    with contextlib.suppress(OSError, ValueError, AttributeError):    # AttributeError: no madvise here
        advised = wanted and mapping.madvise(mmap.MADV_RANDOM) is None
    try:
        yield
    finally:
        if advised:
            with contextlib.suppress(OSError, ValueError):
                mapping.madvise(mmap.MADV_NORMAL)


def _check_training_X(net, X):
    """Validate ``X`` for fit without copying a large (possibly memory-mapped) array.

    A NumPy array of the right shape is kept as it is when it already has the network's dtype or
    is memory-mapped (rows are then converted per batch), and is scanned for NaN/inf in chunks
    (a whole-array check would build a boolean array a quarter of the data's size). Anything else
    goes through the usual check, which converts it once.
    """
    lazy = (isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "biuf" and len(X) > 0
            and X.shape[1] == net.n_features and (X.dtype == net.dtype or isinstance(X, np.memmap)))
    if not lazy:
        return net.check_X(X)
    if X.dtype.kind == "f":
        rows = max(1, _SCAN_BYTES // max(1, X.shape[1] * X.itemsize))
        for start in range(0, len(X), rows):
            chunk = X[start:start + rows]
            if not np.isfinite(chunk).all():
                where = tuple(int(i) for i in np.argwhere(~np.isfinite(chunk))[0])
                where = (where[0] + start, where[1])
                raise ValueError(f"X expected finite numbers, received NaN or inf (first at index {where})")
    return X


_SCAN_BYTES = 16 << 20     # NaN/inf scan: 16 MiB of X at a time


def blas_threads_for(net, batch_size, threads=None):
    """How many BLAS threads ``fit`` uses for ``net`` at ``batch_size``: measured, cached per shape, or forced.

    See :mod:`glassnet.threads` for the rule (``threads=n`` forces ``n``; one thread on a busy machine
    or under a limit set outside ``fit``; else the measured faster of 1 and all threads).
    """
    return _threads.decide(net, batch_size, threads)


def limit_blas_threads(n):
    """A context manager: BLAS on ``n`` threads while training (never more than it already had).

    The count is process-wide, so it is set only from the main thread: a training run in a worker
    thread (the app trains one per browser, beside requests that also multiply matrices) leaves the
    BLAS library as the process has it, because changing its thread count while another thread is in
    a BLAS call is not safe (OpenBLAS can hang), and two runs restoring each other's limits would race.
    """
    return _threads.limited(n)


def _pack(layers, attr):
    """Move every layer's ``attr`` arrays (``"params"`` or ``"grads"``) into one contiguous array, in order.

    Each array is replaced by a view of the packed array holding the same numbers (same shape, dtype and
    name), so layers, ``set_weights``, checkpoints and users see no difference, except that an array
    object taken from a layer before the first ``fit`` is a copy from then on. The optimizer can then
    update every parameter with one pass per operation (``SGD.step``; ``optimizers.packed``) instead of
    a handful of NumPy calls per parameter: Python work per step that no longer grows with the layers.
    Already packed (every later ``fit``): nothing changes.
    """
    owners = [(getattr(layer, attr), name) for layer in layers for name in layer.params]
    arrays = [owner[name] for owner, name in owners]
    if not arrays or optimizers.packed(arrays) is not None or len({a.dtype for a in arrays}) != 1:
        return
    step = max(1, ALIGN // arrays[0].itemsize)          # each array starts on a cache line (glassnet._memory)
    offsets = np.cumsum([0] + [-(-a.size // step) * step for a in arrays])
    flat = aligned_zeros(int(offsets[-1]), arrays[0].dtype)   # the numbers between arrays stay 0
    for (owner, name), a, offset in zip(owners, arrays, offsets):
        view = flat[offset:offset + a.size].reshape(a.shape)
        view[...] = a
        owner[name] = view


def _finite_sentinels(net):
    """The gradients whose being finite shows that every gradient of the step is: checked before each step.

    A ``Dense`` layer's ``db = sum_n delta[n]`` is finite exactly when every ``delta`` it summed is (a NaN or
    inf entry makes its column's sum NaN or inf), and then ``dW = delta.T @ x`` is finite too (``x``, the
    layer's input, is finite when the loss is), unless a product overflows float32, which needs entries
    near 1e19 and shows up as a non-finite loss one step later. So for a ``Dense`` layer its few bias
    gradients stand for its weight gradients, and the check reads ``n_out`` numbers instead of
    ``n_in * n_out`` (textbook: every gradient, one pass over all of them per step). Any other layer
    with parameters has every gradient checked.
    """
    sentinels = []
    for layer in net.layers:
        if type(layer).backward is Dense.backward and "biases" in layer.grads:
            sentinels.append(layer.grads["biases"])
        else:
            sentinels.extend(layer.grads.values())
    return sentinels


def _all_finite(arrays):
    """Whether every entry of every array is finite, in one fast read-only pass per array.

    ``x · x`` (a BLAS dot product) is finite exactly when no entry is NaN/inf or larger than about
    1e19 in size; the rare finite-but-huge case is treated as diverged, which it is in practice.
    """
    for a in arrays:
        flat = a if a.ndim == 1 else a.reshape(-1)
        if not math.isfinite(np.dot(flat, flat)):
            return False
    return True


def _diverged(epoch, batch, lr, value):
    """Raise TrainingDiverged during ``epoch`` (an ``_Epoch``), keeping the last good weights.

    Steps are applied only after their loss and gradients are checked, so the current weights are
    the last good ones. If they are not finite (something outside the loop, such as a callback,
    spoiled them), the weights from the start of the epoch are put back.
    """
    if _all_finite(epoch.params):
        kept = "the weights from before that step (the step was not applied)"
    else:
        for saved, p in zip(epoch.weights_at_start, epoch.params):
            np.copyto(p, saved)
        kept = f"the weights from the start of epoch {epoch.epoch}"
    what = f"the loss became {value}" if not math.isfinite(value) else "the gradient became inf or NaN"
    raise TrainingDiverged(
        f"training stopped: {what} at epoch {epoch.epoch}, batch {batch} with learning rate {lr:.4g}; "
        f"the network keeps {kept}. The learning rate is probably too high: try a smaller one "
        f"(e.g. {lr / 10:.2g})", epoch=epoch.epoch, batch=batch, lr=lr, loss=value)


__all__ = ["StepBuffers", "TrainingRun", "blas_threads_for", "fit", "limit_blas_threads"]
