"""Callbacks: code that runs during ``fit``, through five hooks, and the ones that come with glassnet.

:class:`Callback` is the base class (``on_train_begin``, ``on_epoch_begin``, ``on_batch_end``,
``on_epoch_end``, ``on_train_end``) and :class:`CallbackList` calls a list of them in order. The
fit loop (``glassnet.training``) calls only these hooks and knows nothing about what they do:
a progress bar, early stopping, checkpoints, the notebook's ``LivePlot``, the LR finder and
the web app's live stream are all callbacks. Each gets the run's state as ``self.run``.
Not here: the loop itself, or anything that changes how a step is computed.
"""

import math
import os
import sys
import time
from typing import Any, TextIO

from . import views
from ._validation import check_params
from .modelfile import save_checkpoint


class Callback:
    """Base class for code that runs during ``fit``. Override any of the five hooks.

    ``self.run`` (a :class:`~glassnet.training.TrainingRun`) gives the network, optimizer, history and
    ``run.stop()`` to end training after the current epoch.
    """

    run: Any = None  # a glassnet.training.TrainingRun while fit runs (not imported: training imports this module)

    def on_train_begin(self, logs: dict) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        pass

    def on_batch_end(self, batch: int, logs: dict) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        pass

    def on_train_end(self, logs: dict) -> None:
        pass


class CallbackList(Callback):
    """Calls each hook on every callback, in order."""

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)

    def bind(self, run):
        for cb in self.callbacks:
            cb.run = run

    def on_train_begin(self, logs: dict) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_batch_end(self, batch: int, logs: dict) -> None:
        for cb in self.callbacks:
            cb.on_batch_end(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict) -> None:
        for cb in self.callbacks:
            cb.on_train_end(logs)


def _duration(seconds):
    if not math.isfinite(seconds):
        return "?"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def format_epoch(record: dict, epochs: int) -> str:
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
    """Shows training progress: a live bar with running loss and ETA on a terminal, one line per epoch otherwise.

    On a terminal the bar redraws in place (at most every ``interval`` seconds); elsewhere (a pipe,
    CI, a log file) nothing is written until the epoch's line. Writes to ``stream`` (default:
    standard error). In a Jupyter notebook (no ``stream`` given) it is one live bar under the cell,
    updated in place through IPython's display handle (no ipywidgets needed), with the epochs' lines
    folded under it. The drawing (``start``, ``update``, ``finish``) works without ``fit`` too.

    Example:
        >>> import io
        >>> bar = ProgressBar(io.StringIO())
        >>> bar.start(10); bar.update(5, "half way"); bar.finish("done")
        >>> bar.stream.getvalue()
        'done\\n'
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30, interval: float = 0.05) -> None:
        self.stream, self.width, self.interval = stream, width, interval
        self.total = None
        self.loss_sum, self.seen = 0.0, 0
        self.lines: list[str]
        self.handle, self.lines = None, []           # the notebook's display handle and the epochs' lines

    # -- drawing ----------------------------------------------------------------------------------
    def start(self, total):
        """Begin a bar of ``total`` steps (the stream is looked up now: default standard error)."""
        self.out = self.stream if self.stream is not None else sys.stderr
        self.notebook = self.stream is None and views.in_notebook()
        self.interactive = bool(getattr(self.out, "isatty", lambda: False)()) and not self.notebook
        self.total, self.started, self.last_draw = total, time.perf_counter(), 0.0

    def update(self, done, text="", force=False):
        """Redraw the bar at ``done`` of ``total`` steps with ``text`` before it (terminals and notebooks)."""
        if not (self.interactive or self.notebook):
            return
        now = time.perf_counter()
        interval = max(self.interval, 0.25) if self.notebook else self.interval   # each redraw is a message
        if not force and now - self.last_draw < interval and done < self.total:
            return
        self.last_draw = now
        filled = int(self.width * done / max(self.total, 1))
        bar = "=" * max(filled - 1, 0) + (">" if 0 < filled < self.width else "=" * (filled > 0))
        elapsed = now - self.started
        eta = elapsed / done * (self.total - done) if done else float("nan")
        eta_text = f"ETA {_duration(eta)}" if done < self.total else f"{_duration(elapsed)}"
        if self.notebook:
            self._show(done / max(self.total, 1), f"{text} {done}/{self.total} {eta_text}")
            return
        self.out.write(f"\r{text} [{bar:<{self.width}}] {done}/{self.total} {eta_text}\033[K")
        self.out.flush()

    def finish(self, line):
        """Replace the bar with ``line`` (on a terminal and in a notebook), or just write ``line``."""
        if self.notebook:
            self.lines.append(line)
            self._show(1.0, line)
            return
        self.out.write(("\r" if self.interactive else "") + line + ("\033[K" if self.interactive else "") + "\n")
        self.out.flush()

    def _show(self, fraction, text):
        self.handle = views.show_live(views.Progress(fraction, text, self.lines), self.handle)

    # -- the hooks --------------------------------------------------------------------------------
    def on_train_begin(self, logs):
        self.handle, self.lines = None, []           # a new live bar for each fit

    def on_epoch_begin(self, epoch, logs):
        self.start(self.run.steps_per_epoch)
        self.loss_sum, self.seen = 0.0, 0

    def on_batch_end(self, batch, logs):
        self.loss_sum += logs["loss"] * logs["size"]
        self.seen += logs["size"]
        self.update(batch, f"epoch {self.run.epoch}/{self.run.epochs} loss {self.loss_sum / self.seen:.4f}")

    def on_epoch_end(self, epoch, logs):
        self.finish(format_epoch(logs, self.run.epochs))

    def on_train_end(self, logs):
        if self.total is None:
            return                                   # stopped before the first epoch began
        if logs.get("interrupted"):
            self.finish(f"interrupted during epoch {self.run.epoch}: keeping the weights and history so far")
        elif logs.get("diverged"):
            self.finish(logs["diverged"])


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

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 restore_best_weights: bool = True) -> None:
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
    gives the same weights as a run that was never interrupted. Writes are atomic: the folder is
    built beside ``path`` and swapped in whole, so a process killed at any moment (even SIGKILL)
    leaves the previous checkpoint or the new one, and at most the epoch in progress is lost.
    """

    def __init__(self, path: str | os.PathLike[str], every: int = 1) -> None:
        check_params("Checkpoint", {"every": ("int", 1, None, False)}, {"every": every})
        self.path, self.every = path, every

    def on_epoch_end(self, epoch, logs):
        if epoch % self.every == 0 or epoch == self.run.epochs:
            self._save()

    def on_train_end(self, logs):
        if logs.get("interrupted") and self.run.position is not None:
            self._save()

    def _save(self):
        save_checkpoint(self.path, self.run)


__all__ = ["Callback", "CallbackList", "ProgressBar", "EarlyStopping", "Checkpoint", "format_epoch"]
