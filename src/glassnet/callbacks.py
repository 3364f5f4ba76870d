"""Callbacks that come with glassnet: a progress bar, early stopping and checkpoints.

Each one plugs into the five hooks of :class:`glassnet.training.Callback`; the fit loop
knows nothing about them.
"""

import math
import sys
import time

from ._validation import check_params
from .training import Callback


class Progbar:
    """A text progress bar. On a terminal it redraws in place (at most every ``interval`` s);
    elsewhere (a pipe, CI, a log file) it prints nothing until ``finish`` writes one line."""

    def __init__(self, total, stream=None, width=30, interval=0.05):
        self.total, self.width, self.interval = total, width, interval
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self.last_draw = 0.0

    def update(self, done, text="", force=False):
        if not self.interactive:
            return
        now = time.perf_counter()
        if not force and now - self.last_draw < self.interval and done < self.total:
            return
        self.last_draw = now
        filled = int(self.width * done / max(self.total, 1))
        bar = "=" * max(filled - 1, 0) + (">" if 0 < filled < self.width else "=" * (filled > 0))
        elapsed = now - self.started
        eta = elapsed / done * (self.total - done) if done else float("nan")
        eta_text = f"ETA {_duration(eta)}" if done < self.total else f"{_duration(elapsed)}"
        self.stream.write(f"\r{text} [{bar:<{self.width}}] {done}/{self.total} {eta_text}\033[K")
        self.stream.flush()

    def finish(self, line):
        self.stream.write(("\r" if self.interactive else "") + line + ("\033[K" if self.interactive else "") + "\n")
        self.stream.flush()


def _duration(seconds):
    if not math.isfinite(seconds):
        return "?"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def format_epoch(record, epochs):
    """One line for an epoch: ``epoch 3/10  loss 0.2345  accuracy 93.12%  ...  1.2s``."""
    parts = [f"epoch {record['epoch']}/{epochs}", f"loss {record['loss']:.4f}"]
    if record.get("accuracy") is not None:
        parts.append(f"accuracy {100 * record['accuracy']:.2f}%")
    if record.get("val_loss") is not None:
        parts.append(f"val_loss {record['val_loss']:.4f}")
    if record.get("val_accuracy") is not None:
        parts.append(f"val_accuracy {100 * record['val_accuracy']:.2f}%")
    parts += [f"lr {record['lr']:.3g}", f"{record['seconds']:.1f}s"]
    return "  ".join(parts)


class ProgressBar(Callback):
    """Shows training progress: a live bar with running loss and ETA on a terminal,
    one line per epoch otherwise. Writes to ``stream`` (default: standard error)."""

    def __init__(self, stream=None):
        self.stream = stream
        self.bar = None

    def on_epoch_begin(self, epoch, logs):
        self.bar = Progbar(self.run.steps_per_epoch, stream=self.stream)
        self.loss_sum, self.seen = 0.0, 0

    def on_batch_end(self, batch, logs):
        self.loss_sum += logs["loss"] * logs["size"]
        self.seen += logs["size"]
        self.bar.update(batch, f"epoch {self.run.epoch}/{self.run.epochs} loss {self.loss_sum / self.seen:.4f}")

    def on_epoch_end(self, epoch, logs):
        self.bar.finish(format_epoch(logs, self.run.epochs))

    def on_train_end(self, logs):
        if logs.get("interrupted") and self.bar is not None:
            self.bar.finish(f"interrupted during epoch {self.run.epoch}: keeping the weights and history so far")
        elif logs.get("diverged") and self.bar is not None:
            self.bar.finish(logs["diverged"])


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs, and restore the best weights.

    Args:
        monitor: ``"val_loss"`` (default), ``"val_accuracy"``, ``"loss"`` or ``"accuracy"``.
        patience: epochs without improvement before stopping.
        min_delta: smallest change that counts as an improvement.
        restore_best_weights: put back the weights of the best epoch when training ends.
    """

    _limits = {"patience": ("int", 0, None, False), "min_delta": ("float", 0.0, None, False),
               "restore_best_weights": ("bool", None, None, False)}

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, restore_best_weights=True):
        check_params("EarlyStopping", self._limits, {"patience": patience, "min_delta": min_delta,
                                                     "restore_best_weights": restore_best_weights})
        if monitor not in ("val_loss", "val_accuracy", "loss", "accuracy"):
            raise ValueError(f"EarlyStopping: monitor expected 'val_loss', 'val_accuracy', 'loss' or 'accuracy', "
                             f"received {monitor!r}")
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.restore_best_weights = restore_best_weights
        self.higher_is_better = monitor.endswith("accuracy")

    def on_train_begin(self, logs):
        if self.monitor.startswith("val_") and not logs.get("validation"):
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, which needs validation data: "
                             f"pass validation_data to fit (or monitor 'loss')")
        self.best, self.best_epoch, self.best_weights, self.wait = None, None, None, 0

    def _improved(self, value):
        if self.best is None:
            return True
        if self.higher_is_better:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, epoch, logs):
        value = logs.get(self.monitor)
        if value is None:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, which this training does not report"
                             + ("; pass validation_data to fit" if self.monitor.startswith("val_") else ""))
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.run.network.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.run.stop()

    def on_train_end(self, logs):
        if self.restore_best_weights and self.best_weights is not None:
            self.run.network.set_weights(self.best_weights)


class Checkpoint(Callback):
    """Save everything needed to resume training to the directory ``path``.

    Writes after every ``every`` epochs, and when training is interrupted (Ctrl-C) at the
    exact batch where it stopped. ``fit(..., resume_from=path)`` continues from there and
    gives the same weights as a run that was never interrupted. Writes are atomic.
    """

    def __init__(self, path, every=1):
        check_params("Checkpoint", {"every": ("int", 1, None, False)}, {"every": every})
        self.path, self.every = path, every

    def on_epoch_end(self, epoch, logs):
        if epoch % self.every == 0 or epoch == self.run.epochs:
            self._save()

    def on_train_end(self, logs):
        if logs.get("interrupted") and self.run.position is not None:
            self._save()

    def _save(self):
        from .serialization import save_checkpoint

        save_checkpoint(self.path, self.run)


__all__ = ["ProgressBar", "EarlyStopping", "Checkpoint", "Progbar", "format_epoch"]
