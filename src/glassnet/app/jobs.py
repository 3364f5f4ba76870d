"""Training in the background: one thread per run, controlled from the page, recorded for replay.

A :class:`TrainingJob` runs ``glassnet.fit`` in its own thread (so the server's event loop never
waits for it) with a callback that, after every mini-batch, applies a learning-rate change asked
for by the page, pauses while paused, stops when asked (right after the current mini-batch), and
records a point of the live curve. After every epoch it records the epoch (with the test accuracy)
and a snapshot of the weights in the workspace's timeline.

Every run is a *segment* of the timeline: its settings, seed, the mini-batch after which each
learning-rate change happened and how many mini-batches ran. Replaying the segments from the
starting weights (a job of kind ``"replay"``) repeats the run bit for bit; the digest of the weights
after each segment is kept to check it. :func:`finetune` (on the browser's drawings) and
:func:`find_learning_rate` run in the request's own thread, holding a training slot meanwhile.

The optimizer and its schedule come from the library's one factory (``glassnet.optimizers.build``),
so the app offers every optimizer and schedule the library has, under the same names. Not here: who
may start what and when (the workspace's methods check that, under its lock) and HTTP.
"""

import logging
import math
import threading
import time

import numpy as np

from .. import metrics, optimizers
from ..callbacks import Callback
from ..datasets import Augment
from ..errors import TrainingDiverged
from ..lr_finder import lr_find
from ..serialization import weights_digest
from ..training import fit
from .errors import AppError, BadInput, BadState

log = logging.getLogger("glassnet.app")

POINTS_PER_EPOCH = 20                           # live curve points per epoch (at most)


class _Stop(Exception):
    """Raised inside fit by the control callback to stop right after the current mini-batch."""


def _optimizer(settings):
    """The optimizer (with its schedule) that a run's settings name: the library's one factory decides."""
    return optimizers.build(settings["optimizer"], settings["lr"], momentum=settings.get("momentum", 0.0),
                            schedule=settings.get("schedule", "constant"), epochs=settings.get("epochs"))


class _Control(Callback):
    """fit's callback: live points, learning-rate changes, pause, stop, per-epoch records."""

    def __init__(self, job):
        self.job = job

    def on_train_begin(self, logs):
        self.job._begin(self.run)

    def on_batch_end(self, batch, logs):
        self.job._after_batch(self.run, batch, logs)

    def on_epoch_end(self, epoch, logs):
        self.job._after_epoch(self.run, epoch, logs)


class TrainingJob:
    """One training run of a workspace (``kind="train"``) or a replay of its timeline (``"replay"``)."""

    def __init__(self, ws, settings, *, kind="train", step=False):
        self.ws = ws
        self.settings = dict(settings)
        self.kind = kind
        self.state = "starting"
        self.message = ""
        self.cond = threading.Condition()
        self.pause_requested = False
        self.pause_at_epoch_end = step
        self.stop_requested = False
        self.pending_lr = None
        self.holding_slot = False
        self.steps = 0
        self.batch = 0
        self.steps_per_epoch = 0
        self.epoch_in_run = 0
        self.lr = float(settings.get("lr", 0.0))
        self.replay = None
        self.diverged = None             # the TrainingDiverged of a run that diverged (for the diagnostics)
        self.thread = None
        self.events = 0                  # bumped on every change the event stream should send
        # A new run's epochs count on from the last whole epoch: after a run stopped in epoch 3
        # (snapshot 2.41), the next run's first epoch is epoch 3 again, not 3.41.
        self.base = float(math.ceil(ws.timeline.last_epoch)) if kind == "train" else 0.0
        if kind == "train":
            self.history, self.points = ws.history, ws.points
            self.segment = {"kind": "train", "settings": self.settings, "seed": int(settings["seed"]),
                            "dataset": ws.dataset, "start_epoch": self.base, "steps": 0, "completed": False,
                            "lr_changes": [], "replayable": True}
        else:
            # A replay retrains a copy: its curve is its own (self.history, self.points) and never
            # replaces the timeline's, which is what the page keeps showing (see shown()).
            self.history, self.points = [], []
            self.segment = None
            self.progress = {"segment": 0, "segments": 0}
        self._window = []

    # -- state seen by the page -------------------------------------------------------------------
    @property
    def active(self):
        return self.state in ("starting", "running", "paused")

    @property
    def epoch(self):
        if self.kind == "replay":
            return _round(self.ws.timeline.last_epoch)
        return _round(self.base + self.epoch_in_run)

    def shown(self):
        """The curve the page shows: the timeline's (a replay does not change it)."""
        return (self.ws.history, self.ws.points) if self.kind == "replay" else (self.history, self.points)

    def to_dict(self):
        epochs = self.settings.get("epochs", 0) if self.kind == "train" else 0
        history, points = self.shown()
        out = {"state": self.state, "kind": self.kind, "message": self.message,
               "epoch": self.epoch, "epochs": _round(self.base + epochs) if self.kind == "train" else self.epoch,
               "run_epoch": self.epoch_in_run, "run_epochs": epochs, "batch": self.batch,
               "steps_per_epoch": self.steps_per_epoch, "lr": self.lr, "pending_lr": self.pending_lr,
               "history": list(history), "points": list(points),
               "config": dict(self.settings) if self.kind == "train" else None, "replay": self.replay}
        if self.kind == "replay":
            out["replay_progress"] = dict(self.progress, epoch=self.epoch_in_run, batch=self.batch,
                                          steps_per_epoch=self.steps_per_epoch)
        return out

    def progress_fields(self):
        """What the status line needs, sent with every live point."""
        return {"epoch": self.epoch, "run_epoch": self.epoch_in_run, "batch": self.batch,
                "steps_per_epoch": self.steps_per_epoch, "lr": self.lr, "state": self.state}

    def _notify(self):
        with self.cond:
            self.events += 1
            self.cond.notify_all()

    # -- control, from request handlers ---------------------------------------------------------
    def start(self):
        self.ws.store.acquire_training()
        self.holding_slot = True
        if self.segment is not None:
            self.ws.timeline.segments.append(self.segment)
        self.state = "running"
        self.thread = threading.Thread(target=self._run, name=f"glassnet-train-{self.ws.public_id}", daemon=True)
        self.thread.start()

    def pause(self):
        if self.state != "running":
            raise BadState(f"pause: training is {self.state}, not running")
        with self.cond:
            self.pause_requested = True
            self.cond.notify_all()

    def resume(self, step=False):
        if self.state != "paused":
            raise BadState(f"{'step' if step else 'resume'}: training is {self.state}, not paused")
        self.ws.store.acquire_training()
        with self.cond:
            self.holding_slot = True
            self.pause_at_epoch_end = step
            self.pause_requested = False
            self.state = "running"
            self.cond.notify_all()
        self._notify()

    def stop(self):
        with self.cond:
            self.stop_requested = True
            self.pause_requested = False
            self.cond.notify_all()

    def set_lr(self, lr):
        if not self.active:
            raise BadState(f"learning rate: training is {self.state}; set the rate for the next run in the form")
        with self.cond:
            self.pending_lr = float(lr)
        self._notify()

    def join(self, timeout=None):
        if self.thread is not None:
            self.thread.join(timeout)

    def wait_change(self, seen, timeout):
        """Block until ``self.events`` differs from ``seen`` (or ``timeout``); returns the new count."""
        with self.cond:
            self.cond.wait_for(lambda: self.events != seen, timeout=timeout)
            return self.events

    # -- the thread ---------------------------------------------------------------------------------
    def _run(self):
        state, message = "failed", ""
        try:
            # A diverging run overflows on its way to the non-finite loss that fit reports as
            # TrainingDiverged (shown on the page); NumPy's warnings would only add noise to the log.
            with np.errstate(all="ignore"):
                if self.kind == "replay":
                    self._replay()
                else:
                    self._train()
            state, message = "finished", self.message or f"finished {_count(self.epoch_in_run, 'epoch')}"
        except _Stop:
            state = "stopped"
            where = (f"in epoch {_round(self.base + self.epoch_in_run + 1)} after mini-batch {self.batch} of "
                     f"{self.steps_per_epoch}" if self.batch else f"after epoch {self.epoch}")
            message = f"stopped {where}; the weights are kept"
        except TrainingDiverged as exc:
            state = "diverged"
            self.diverged = exc
            message = str(exc)                   # says where, which weights are kept, and what to try
        except AppError as exc:
            message = str(exc)
        except Exception as exc:          # a bug: say so on the page and in the server's log
            log.exception("training failed")
            message = f"training failed: {type(exc).__name__}: {exc}"
        finally:
            # Everything the run leaves (the segment, the last snapshot, the training slot) is in
            # place before its state says it is over: whoever waits for the state sees all of it.
            try:
                if self.kind == "train":
                    self._close_segment(completed=state == "finished", diverged=state == "diverged")
            except Exception:
                log.exception("could not record the end of a training run")
            finally:
                with self.cond:
                    if self.holding_slot:
                        self.ws.store.release_training()
                        self.holding_slot = False
                    self.message = message
                    self.state = "failed" if state == "diverged" else state
                self.ws.touched = time.monotonic()       # a run that just ended counts as activity
                self._notify()

    def _train(self):
        ws = self.ws
        data = ws.store.data.get(ws.dataset)
        s = self.settings
        self._data = data
        augment = Augment(data.shape) if s.get("augment") else None   # as glassnet train --augment
        fit(ws.net, data.X_train, data.y_train, epochs=s["epochs"], batch_size=s["batch_size"],
            optimizer=_optimizer(s), callbacks=[_Control(self)], seed=int(s["seed"]), augment=augment)

    def _close_segment(self, completed, diverged=False):
        ws, seg = self.ws, self.segment
        seg["steps"] = self.steps
        seg["epochs_done"] = self.epoch_in_run
        seg["completed"] = completed
        if self.steps == 0:                # nothing ran: the segment changed nothing
            ws.timeline.segments.remove(seg)
            ws.changed()
            ws.persist()
            return
        weights = ws.net.get_weights()
        seg["digest"] = weights_digest(weights)
        partial = self.batch and self.batch < self.steps_per_epoch
        if partial:
            position = self.base + self.epoch_in_run + self.batch / self.steps_per_epoch
            what = "diverged" if diverged else "stopped"
            ws.timeline.add(position, f"{what} in epoch {_round(self.base + self.epoch_in_run + 1)}", weights)
        ws.saved = False
        ws.changed()
        ws.persist()

    # -- fit's callback hooks ---------------------------------------------------------------------
    def _begin(self, run):
        self.steps_per_epoch = run.steps_per_epoch
        self.state = "running"
        self._notify()

    def _after_batch(self, run, batch, logs):
        self.steps += 1
        self.batch = batch
        self.lr = float(logs["lr"])
        self._window.append((logs["loss"], logs.get("accuracy")))
        every = max(1, run.steps_per_epoch // POINTS_PER_EPOCH)
        if batch % every == 0 or batch == run.steps_per_epoch:
            losses = [v for v, _ in self._window]
            accs = [a for _, a in self._window if a is not None]
            self.points.append({"t": _round(self.base + self.epoch_in_run + batch / run.steps_per_epoch, 4),
                                "loss": float(np.mean(losses)), "accuracy": float(np.mean(accs)) if accs else None,
                                "batch": batch, "lr": self.lr})
            self._window = []
            _thin(self.points, self.ws.store.limits.max_points)
            self._notify()
        with self.cond:
            if self.pending_lr is not None:
                run.optimizer.lr = self.pending_lr          # a constant rate from the next mini-batch on
                self.lr = self.pending_lr
                if self.segment is not None:
                    self.segment["lr_changes"].append({"after_step": self.steps, "lr": self.pending_lr})
                self.pending_lr = None
            if self.kind == "replay":
                self._replay_controls(run)
        self._check_stop_and_pause()

    def _after_epoch(self, run, epoch, logs):
        record = dict(logs)
        record["epoch"] = _round(self.base + epoch)
        if self.kind == "train":       # the snapshot exists before anything says the epoch is done
            data = self._data
            record["test_loss"], record["test_accuracy"] = run.network.evaluate(data.X_test, data.y_test)
            self.ws.timeline.add(self.base + epoch, f"epoch {_round(self.base + epoch)}", run.network.get_weights())
            self.ws.changed()
        self.epoch_in_run = epoch
        self.batch = 0
        self.history.append({k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in record.items()})
        if self.kind == "train":
            self.ws.saved = False
            self.ws.persist()            # the database has this epoch now: a kill loses at most the next one
        self._notify()
        if self.pause_at_epoch_end and epoch < run.epochs:
            with self.cond:
                self.pause_requested = True
        self._check_stop_and_pause()

    def _check_stop_and_pause(self):
        """Between mini-batches: stop (raise), or wait while paused, holding no training slot."""
        with self.cond:
            if self.stop_requested:
                raise _Stop()
            while self.pause_requested and not self.stop_requested:
                # (again after a resume and a pause that both came before this thread woke up: a double
                # click must not leave the run paused while it says "running" and holds a slot)
                if self.state != "paused":
                    self._paused()
                self.cond.wait(1.0)
            if self.stop_requested:
                raise _Stop()

    def _paused(self):
        """The run now waits (called with ``self.cond`` held): say so and give the training slot back."""
        self.state = "paused"
        if self.holding_slot:
            self.ws.store.release_training()
            self.holding_slot = False
        self.events += 1
        self.cond.notify_all()

    # -- replay ---------------------------------------------------------------------------------
    def _replay(self):
        """Retrain from the timeline's start with each segment's seed and settings; compare the weights."""
        ws = self.ws
        timeline = ws.timeline
        net = ws.net.copy()
        net.set_weights(timeline.first())
        segments = [s for s in timeline.segments if s.get("digest")]
        matches = []
        self.progress = {"segment": 0, "segments": len(segments)}
        for i, seg in enumerate(segments):
            self._segment = seg
            self.epoch_in_run, self.batch = 0, 0
            self.progress = {"segment": i + 1, "segments": len(segments)}
            self.message = f"replaying segment {i + 1} of {len(segments)} ({seg['kind']})"
            self._notify()
            if seg["kind"] == "finetune":
                X, y = _finetune_data(ws, seg)
                fit(net, X, y, epochs=seg["settings"]["epochs"],
                    batch_size=seg["settings"]["batch_size"], optimizer=_optimizer(seg["settings"]),
                    seed=seg["seed"])
            else:
                data = ws.store.data.get(seg["dataset"])
                s = seg["settings"]
                augment = Augment(data.shape) if s.get("augment") else None   # as glassnet train --augment
                self._lr_changes = list(seg["lr_changes"])
                self._segment_steps = 0
                try:
                    fit(net, data.X_train, data.y_train, epochs=s["epochs"], batch_size=s["batch_size"],
                        optimizer=_optimizer(s), callbacks=[_Control(self)], seed=seg["seed"], augment=augment)
                except _ReplayStop:
                    pass
            matches.append(weights_digest(net.get_weights()) == seg["digest"])
        final = net.get_weights()
        recorded = timeline.weights_at(timeline.last_epoch)
        diff = max((float(np.max(np.abs(final[k].astype(np.float64) - recorded[k]))) for k in final), default=0.0)
        ok = bool(matches) and all(matches)
        self.replay = {"matches": ok, "segments": len(segments), "segments_matching": int(sum(matches)),
                       "max_difference": diff}
        self.message = (f"replayed {_count(len(segments), 'segment')} from seed {timeline.seed}: "
                        + ("the weights are identical, bit for bit" if ok else
                           f"the weights differ (largest difference {diff:.3g})"))

    def _replay_controls(self, run):
        """During a replay: the recorded learning-rate changes at their mini-batch, and the recorded end."""
        self._segment_steps += 1
        while self._lr_changes and self._lr_changes[0]["after_step"] == self._segment_steps:
            run.optimizer.lr = self._lr_changes.pop(0)["lr"]
        if self._segment_steps == self._segment["steps"] and not self._segment["completed"]:
            raise _ReplayStop()


class _ReplayStop(Exception):
    """The replayed segment reached the mini-batch where the recorded run was stopped."""


def finetune(ws, *, epochs, lr, mix, batch_size=16, seed=0):
    """Fine-tune ``ws.net`` on its drawings mixed with ``mix`` training examples per drawing.

    Every fourth drawing of a digit with at least four is held out (not trained on), so the
    accuracy on drawings the network has not seen is measured too. Returns before/after numbers.
    """
    data = ws.store.data.get(ws.dataset)
    items = list(ws.drawings.values())
    if not items:
        raise BadState("fine-tune: add some labelled drawings first")
    held = _held_out(items)
    X_d = np.stack([d["x"] for d in items]).astype(np.float32)
    y_d = np.array([d["label"] for d in items], dtype=np.int64)
    train_mask = ~held
    rng = np.random.default_rng(seed)
    n_mix = min(len(data.X_train), MAX_MIXED, int(mix) * int(train_mask.sum()))
    idx = rng.choice(len(data.X_train), size=n_mix, replace=False) if n_mix else np.zeros(0, dtype=np.int64)
    X = np.concatenate([X_d[train_mask], data.X_train[idx]])
    y = np.concatenate([y_d[train_mask], data.y_train[idx]])
    settings = {"optimizer": "sgd", "lr": float(lr), "momentum": 0.9, "schedule": "constant", "epochs": int(epochs),
                "batch_size": int(batch_size), "seed": int(seed), "mix": int(mix)}
    before = _scores(ws.net, X_d, y_d, held, data)
    with ws.store.training_slot():
        try:
            with np.errstate(all="ignore"):       # a diverging run is reported below, not warned about
                fit(ws.net, X, y, epochs=int(epochs), batch_size=int(batch_size),
                    optimizer=_optimizer(settings), seed=int(seed))
        except TrainingDiverged as exc:
            ws.changed()
            raise BadInput(f"fine-tune: {exc}") from None
    after = _scores(ws.net, X_d, y_d, held, data)
    label = f"fine-tuned on {int(train_mask.sum())} drawings"
    epoch = math.floor(ws.timeline.last_epoch) + 1
    ws.timeline.segments.append({"kind": "finetune", "settings": settings, "seed": int(seed), "dataset": ws.dataset,
                                 "start_epoch": ws.timeline.last_epoch, "steps": None, "completed": True,
                                 "drawings": int(train_mask.sum()), "mixed": int(n_mix),
                                 "digest": weights_digest(ws.net.get_weights()), "replayable": True,
                                 # enough to rebuild exactly what it trained on (the mixed rows by index)
                                 "_X_drawings": X_d[train_mask], "_y_drawings": y_d[train_mask],
                                 "_mixed": idx.astype(np.int32)})
    _bound_finetune_data(ws.timeline.segments)
    ws.timeline.add(epoch, label, ws.net.get_weights())
    ws.history.append({"epoch": epoch, "loss": None, "accuracy": None, "test_accuracy": after["test_accuracy"],
                       "lr": float(lr), "seconds": None, "note": label})
    ws.saved = False
    ws.changed()
    ws.persist()
    return {"before": before, "after": after, "trained_on": int(train_mask.sum()), "mixed_with": int(n_mix),
            "held_out": int(held.sum()), "epochs": int(epochs), "lr": float(lr)}


def find_learning_rate(net, data, store, *, steps, batch_size, **settings):
    """The learning-rate range test (:func:`glassnet.lr_find`) on ``net`` (a copy: it is left as it was),
    holding one of the server's training slots; the answer of the Train view's finder."""
    n = min(len(data.X_train), steps * batch_size)
    with store.training_slot():
        try:
            with np.errstate(all="ignore"):   # the test runs the rate up until the loss blows up, on purpose
                result = lr_find(net, data.X_train[:n], data.y_train[:n], steps=steps, batch_size=batch_size,
                                 **settings)
        except ValueError as exc:        # e.g. a loss that is not finite on the first mini-batch
            raise BadInput(f"learning-rate finder: {exc}") from None
    out = result.to_dict()
    curve = out["curves"][0]
    out.update(lrs=curve["lr"], losses=curve["loss"], smoothed=curve["smoothed"], stopped=curve["stopped"])
    return out


MAX_MIXED = 10_000                 # training examples mixed into one fine-tuning, at most
FINETUNE_DATA_BYTES = 16 << 20     # what a workspace keeps to replay its fine-tunings, at most


def _finetune_data(ws, seg):
    """The examples a fine-tuning trained on, rebuilt from its drawings and the indices of the mixed rows."""
    data = ws.store.data.get(seg["dataset"])
    idx = seg["_mixed"].astype(np.int64)
    return (np.concatenate([seg["_X_drawings"], data.X_train[idx]]),
            np.concatenate([seg["_y_drawings"], data.y_train[idx]]))


def _bound_finetune_data(segments):
    """Past the budget, the oldest fine-tunings forget their data (and the timeline can no longer be replayed)."""
    kept = [s for s in segments if s["kind"] == "finetune" and "_X_drawings" in s]
    total = sum(s["_X_drawings"].nbytes + s["_mixed"].nbytes for s in kept)
    for seg in kept:
        if total <= FINETUNE_DATA_BYTES:
            break
        total -= seg["_X_drawings"].nbytes + seg["_mixed"].nbytes
        for key in ("_X_drawings", "_y_drawings", "_mixed"):
            del seg[key]
        seg["replayable"] = False
        seg["why_not_replayable"] = "its drawings were let go to keep the workspace's memory bounded"


def _held_out(items):
    held = np.zeros(len(items), dtype=bool)
    counts = {}
    totals = {}
    for d in items:
        totals[d["label"]] = totals.get(d["label"], 0) + 1
    for i, d in enumerate(items):
        k = counts.get(d["label"], 0)
        counts[d["label"]] = k + 1
        held[i] = totals[d["label"]] >= 4 and k % 4 == 3
    return held


def per_digit(y_true, y_pred):
    """``[{"digit", "n", "correct"}, ...]`` for each digit present in ``y_true`` (``metrics.per_class``)."""
    return [{"digit": row["class"], "n": row["support"], "correct": row["correct"]}
            for row in metrics.per_class(y_true, y_pred) if row["support"]]


def _scores(net, X, y, held, data):
    pred = net.predict(X)
    _, test_accuracy = net.evaluate(data.X_test, data.y_test)
    result = {"accuracy": metrics.accuracy(y, pred), "per_digit": per_digit(y, pred),
              "test_accuracy": float(test_accuracy), "predictions": pred.tolist()}
    result["held_out_accuracy"] = metrics.accuracy(y[held], pred[held]) if held.any() else None
    return result


def _thin(points, limit):
    """Keep a long curve readable and bounded: beyond ``limit`` points, drop every other old one."""
    if len(points) > limit:
        del points[0:len(points) // 2:2]


def _count(n, noun):
    """"1 epoch", "2 epochs": a number with its noun, in the right number."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _round(value, digits=3):
    value = float(value)
    return int(value) if value.is_integer() else round(value, digits)


def wait_for(job, timeout=30.0):
    """Block until ``job`` is no longer active (for tests and shutdown); returns its state."""
    deadline = time.monotonic() + timeout
    seen = job.events
    while job.active and time.monotonic() < deadline:
        seen = job.wait_change(seen, min(0.5, deadline - time.monotonic()))
    return job.state
