"""``glassnet train``: fit a network, then write model/, checkpoint/, settings.json and report.md.

The command is ``Network.mlp`` + ``fit`` (with a ``ProgressBar`` and a ``Checkpoint``) + ``save``,
over the library's public API: the optimizer and its schedule come from
:func:`glassnet.optimizers.build`, the test-set numbers from :mod:`glassnet.metrics`. A run can be
interrupted and continued with ``--resume``; ``--report`` also writes the HTML report of
:mod:`glassnet.report`.

Shutdown keeps the work: Ctrl-C (SIGINT), SIGTERM (a scheduler, ``docker stop``) and SIGHUP (a
closed terminal, a dropped SSH session) all stop training after the current batch, then the
checkpoint, model/ and the report are written and a one-line hint says how to resume (exit 130).
A second (or third) signal does not cut that short: it is told the work is being saved. A
checkpoint is written after every epoch, so even SIGKILL loses at most the epoch in progress.
Starting again into a folder that holds an interrupted run is refused unless ``--resume`` (continue
it) or ``--overwrite`` (start over) says which.

Not here: the training loop itself (``glassnet.training``), or the HTML report's content.
"""

import argparse
import json
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

from .. import optimizers, schedules, serialization
from .. import report as html_report
from .._io import atomic_write_text
from ..callbacks import Callback, Checkpoint, ProgressBar
from ..datasets import Augment, validation_split
from ..datasets.loader import check as check_dataset
from ..datasets.loader import load as load_dataset
from ..diagnostics import diagnose
from ..errors import GlassnetError, ModelFileError, TrainingDiverged, require
from ..modelfile import read_document
from ..network import Network
from ..serialization import load
from .common import (
    ACTIVATIONS,
    DATASETS,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    activation_name,
    dataset,
    evaluate_test_set,
    layer_sizes,
    number,
    number_text,
    percent,
    plural,
    print_json,
    subcommand,
)

#: ``glassnet train`` defaults: the demo's settings (about 98% test accuracy on the digits in about 10 seconds:
#: 784-256-128-10, 30 epochs of batch 64, SGD momentum 0.9 with a one-cycle schedule peaking at 0.1, and every
#: training image randomly shifted and rotated anew each epoch; see benchmarks/README.md).
DEFAULTS = {"dataset": "digits", "layers": [256, 128], "activation": "relu", "optimizer": "sgd", "lr": None,
            "momentum": 0.9, "schedule": "one-cycle", "epochs": 30, "batch_size": 64, "dropout": 0.0, "seed": 0,
            "augment": True, "validation": 0.0, "l1": 0.0}
#: What ``--augment`` does to image datasets: ``Augment``'s defaults, random shifts of up to 2 pixels and
#: rotations of up to 10 degrees (the app's "augment" box does the same).
AUGMENT = {"shift": Augment().shift, "rotate": Augment().rotate}
DEFAULT_OUT = "runs/latest"
#: The most parameters ``glassnet train`` builds (about 200 MB of float32 each for the weights, the
#: gradients and the optimizer's state): checked before anything is allocated.
MAX_PARAMETERS = 50_000_000
#: The signals that stop training the way Ctrl-C does, keeping the work.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def schedule_name(text):
    """An argparse type: a schedule name in its canonical spelling (``one_cycle`` -> ``one-cycle``)."""
    try:
        return schedules.canonical(text)
    except ValueError:
        return text                      # argparse's choices then names the choices


def add(subparsers):
    """Add ``glassnet train`` to the subparsers."""
    p = subcommand(
        subparsers, "train", run, "train a network on a dataset",
        "Train a multi-layer perceptron and write, into --out: model/ (the trained network), checkpoint/ "
        "(to resume), settings.json and report.md (settings, architecture, per-epoch history, test accuracy, "
        "per-class accuracy and confusion matrix). Ctrl-C stops after the current batch and keeps the work "
        "(exit 130); continue with --resume. The defaults reach about 98% test accuracy on the bundled digits "
        "in about ten seconds.",
        ["glassnet train", "glassnet train --layers 128,64 --optimizer adam --epochs 10 --out runs/adam",
         "glassnet train --resume runs/adam --epochs 15", "glassnet train --epochs 5 --json > result.json"])
    d = DEFAULTS
    p.add_argument("--dataset", type=dataset, metavar="NAME_OR_PATH",
                   help=f"dataset to learn: {', '.join(DATASETS)} (see 'glassnet datasets'), or a folder of IDX "
                        f"files, a folder of images (one sub-folder per class), a .npz or a .csv "
                        f"(default {d['dataset']})")
    p.add_argument("--layers", type=layer_sizes, metavar="N,N,...",
                   help="neurons per hidden layer, comma-separated (default 256,128)")
    p.add_argument("--activation", type=activation_name, choices=ACTIVATIONS,
                   help=f"hidden activation (default {d['activation']})")
    p.add_argument("--optimizer", choices=optimizers.names(), help="optimizer (default sgd)")
    p.add_argument("--lr", type=number(float, 0, low_open=True),
                   help="(peak) learning rate (default " + ", ".join(
                       f"{rate:g} for {name}" for name, rate in optimizers.DEFAULT_LR.items()) + ")")
    p.add_argument("--momentum", type=number(float, 0, 1), help="SGD momentum (default 0.9)")
    p.add_argument("--l1", type=number(float, 0), help="L1 penalty on the weights, l1*sign(w) added to their "
                   "gradient (default 0)")
    p.add_argument("--schedule", type=schedule_name, choices=schedules.names(),
                   help="learning-rate schedule: one-cycle (warm up, then anneal), cosine, step (divide by 10 "
                        "every third of the epochs) or constant (default one-cycle)")
    p.add_argument("--epochs", type=number(int, 1), help=f"passes over the training set (default {d['epochs']})")
    p.add_argument("--batch-size", type=number(int, 1), help=f"samples per step (default {d['batch_size']})")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction,
                   help="randomly shift (up to 2 pixels) and rotate (up to 10 degrees) each training image, anew "
                        "every epoch; image datasets only (default: on for the bundled digits, off otherwise)")
    p.add_argument("--dropout", type=number(float, 0, 0.99), help="dropout after each hidden layer (default 0)")
    p.add_argument("--validation", type=number(float, 0, 0.5), metavar="FRACTION",
                   help="hold out this share of each class of the training set as validation data, measured "
                        "after every epoch: curves for training and validation, and the overfitting check "
                        "(default 0: train on all of it)")
    p.add_argument("--seed", type=number(int, 0), help="random seed: weights, shuffling, dropout (default 0)")
    p.add_argument("--out", help=f"run directory to write (default {DEFAULT_OUT})")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run from RUN_DIR/checkpoint with its own settings "
                        "(only --epochs may change)")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in --out even if it holds an interrupted run (its checkpoint and model are "
                        "replaced); without it such a folder is refused")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object (the last line)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--threads", type=number(int, 1), help="BLAS threads for the matrix products (default: "
                   "measured at the start, one on a busy machine; see glassnet.threads)")
    p.add_argument("--report", action="store_true",
                   help="also write report.html: the report with pictures and explained predictions (needs "
                        "matplotlib: pip install \"glassnet[plot]\")")


def run(args: argparse.Namespace) -> int:
    """``glassnet train``: fit a network, then write model/, checkpoint/, settings.json and report.md."""
    with Shutdown() as shutdown:         # before training, a stop signal ends the command as Ctrl-C does
        return _run(args, shutdown)


def _run(args, shutdown):
    if args.report:                      # checked before training: the HTML report needs matplotlib
        require("matplotlib", "plot")
    if args.resume is not None:
        if args.overwrite:
            raise GlassnetError("--resume continues a run and --overwrite starts one over; give one of them")
        run_dir, checkpoint, settings, net = resume_plan(args)
    else:
        settings = new_settings(args)
        run_dir = Path(args.out if args.out is not None else DEFAULT_OUT)
        checkpoint, net = run_dir / "checkpoint", None
        if not args.overwrite:
            check_not_interrupted(run_dir, checkpoint)
    data = load_dataset(settings["dataset"])
    if not data.classes:
        raise GlassnetError(
            f"glassnet train trains classifiers, and {data.name!r} is a regression data set (real-valued targets, "
            f"no classes); train it in Python (e.g. gn.Network.mlp([{data.n_features}, 8, 8, 1], activation='tanh')"
            f".fit(data.X_train, data.y_train, loss='mse')) or in the app's Plane view")
    if settings.get("augment") and len(data.shape) != 2:
        if args.resume is None and args.augment:
            raise GlassnetError(f"--augment needs image data; {data.name} holds examples of shape {data.shape}")
        settings["augment"] = False          # the default applies to images only
    if net is None:
        sizes = [data.n_features, *settings["layers"], len(data.classes)]
        check_size(sizes)
        net = Network.mlp(sizes, activation=settings["activation"], dropout=settings["dropout"],
                          seed=settings["seed"])
    check_run_dir(run_dir, checkpoint)
    atomic_write_text(run_dir / "settings.json", json.dumps(settings, indent=2) + "\n")
    if not (args.quiet or args.json):
        action = f"resuming {run_dir}" if args.resume else "training"
        print(f"{action}: {_shape(net, settings)} on {data.name} ({len(data.X_train):,} images), "
              f"{settings['epochs']} epochs", file=sys.stderr)
    shutdown.deferring = True            # from here on, a stop signal keeps the work
    history, diverged, seconds = _fit(net, data, settings, checkpoint, args, shutdown)
    return _finish(net, data, settings, run_dir, checkpoint, history, diverged, seconds, args)


class Shutdown(Callback):
    """SIGINT, SIGTERM and SIGHUP stop training after the current batch; later ones cannot cut the save short.

    Until training starts (``deferring`` false) each of them raises ``KeyboardInterrupt`` as Ctrl-C
    does. From then on a signal only sets a flag (a handler that raises could do it in the middle of
    a step or of a save); ``on_batch_end`` then raises ``KeyboardInterrupt`` at a clean point, where
    ``fit`` ends the run as for Ctrl-C and the ``Checkpoint`` saves the exact position.
    """

    def __init__(self):
        self.received = []
        self.previous = {}
        self.deferring = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self.previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            # Once asked to stop, the command is ending: a late signal must not turn its exit code 130 into a
            # death by signal after the work and the hint are written (the soak script caught one in 40).
            signal.signal(signum, signal.SIG_IGN if self.received else handler)
        return False

    def _handler(self, signum, frame):
        if not self.deferring:
            raise KeyboardInterrupt
        self.received.append(signum)
        if len(self.received) > 1:       # os.write: safe in a handler, even while the main thread prints
            os.write(2, b"\nglassnet: still saving the work; it stops as soon as the model is written\n")

    def on_batch_end(self, batch, logs):
        if self.received:
            raise KeyboardInterrupt


def check_size(sizes):
    """Refuse, before allocating, a network of more than MAX_PARAMETERS parameters."""
    n = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    if n > MAX_PARAMETERS:
        raise GlassnetError(f"--layers {','.join(map(str, sizes[1:-1]))} makes a {'-'.join(map(str, sizes))} network "
                            f"of {n:,} parameters, more than the limit of {MAX_PARAMETERS:,}; use fewer or "
                            f"smaller layers")


def check_not_interrupted(run_dir, checkpoint):
    """Refuse to start a new run over an interrupted one (continue it with --resume, or --overwrite it)."""
    try:
        training = json.loads((checkpoint / "training.json").read_text(encoding="utf-8"))
        epochs, done = training["run"]["epochs"], len(training["history"]["epochs"])
        # killed after its last epoch but before model/ was written: interrupted too (--resume writes model/)
        interrupted = training["history"].get("interrupted") or done < epochs or not (run_dir / "model").is_dir()
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        interrupted, epochs, done = True, "?", "?"     # a damaged checkpoint is not replaced silently either
    if interrupted and _outcome(run_dir) != "diverged":
        raise GlassnetError(f"{run_dir} holds an interrupted run ({done} of {epochs} epochs); continue it with "
                            f"'glassnet train --resume {shlex.quote(str(run_dir))}' or start over with --overwrite")


def _outcome(run_dir):
    """How the run in ``run_dir`` ended as its model/ records it (``finished``, ``interrupted``, ``diverged``)."""
    try:
        return read_document(run_dir / "model" / "model.json")["metadata"].get("outcome")
    except (ModelFileError, KeyError, AttributeError):
        return None


# -- the run's settings -------------------------------------------------------------------------
def new_settings(args):
    """The run's settings: the flags given, defaults for the rest."""
    settings = {key: getattr(args, key) if getattr(args, key) is not None else default
                for key, default in DEFAULTS.items()}
    if settings["lr"] is None:
        settings["lr"] = optimizers.DEFAULT_LR[settings["optimizer"]]
    if args.augment is None and settings["dataset"] != DEFAULTS["dataset"]:
        settings["augment"] = False          # on by default for the bundled digits; other data: ask for it
    if settings["optimizer"] != "sgd":
        if args.momentum is not None:
            raise GlassnetError(f"--momentum applies to --optimizer sgd only, received --optimizer "
                                f"{settings['optimizer']} (Adam's momentum is built in)")
        settings["momentum"] = None
    return settings


def resume_plan(args):
    """``(run_dir, checkpoint_dir, settings, network)`` to continue the run in ``--resume``."""
    fixed = [f"--{key.replace('_', '-')}" for key in DEFAULTS if key != "epochs" and getattr(args, key) is not None]
    if args.out is not None:
        fixed.append("--out")
    if fixed:
        raise GlassnetError(f"--resume continues a run with its own settings; leave out {', '.join(fixed)} "
                            f"(only --epochs, --json and --quiet may be given)")
    run_dir, checkpoint = find_checkpoint(Path(args.resume))
    settings = stored_settings(run_dir)
    net = load(checkpoint)
    done = len(net.history_) if net.history_ is not None else 0
    planned, target = settings["epochs"], args.epochs if args.epochs is not None else settings["epochs"]
    if target < done:
        raise GlassnetError(f"--epochs {target} is fewer than the {done} epochs {run_dir} has already trained")
    if done >= target and not net.history_.interrupted and (run_dir / "model").is_dir():
        raise GlassnetError(f"{run_dir} already finished its {done} epochs; to train longer, add --epochs N "
                            f"with N > {done}")
    if target > planned and settings["schedule"] != "constant" and not (args.quiet or args.json):
        print(f"note: the {settings['schedule']} learning-rate schedule was planned for {planned} epochs; "
              f"it stays as planned, so the extra epochs run at its final learning rate", file=sys.stderr)
    settings["epochs"] = target
    return run_dir, checkpoint, settings, net


def find_checkpoint(path):
    """``(run_dir, checkpoint_dir)`` from a run directory or the checkpoint directory itself."""
    if (path / "training.json").is_file():
        return path.parent, path
    if (path / "checkpoint" / "training.json").is_file():
        return path, path / "checkpoint"
    raise GlassnetError(f"{path}: nothing to resume there (expected {path / 'checkpoint'} written by "
                        f"'glassnet train --out {path}')")


def stored_settings(run_dir):
    """The settings a run was started with, from settings.json (or the saved model's metadata)."""
    path = run_dir / "settings.json"
    if path.is_file():
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise GlassnetError(f"{path}: damaged settings file ({exc})") from None
    elif (run_dir / "model").is_dir():
        settings = load(run_dir / "model").metadata_.get("settings")
    else:
        raise GlassnetError(f"{run_dir}: no settings.json to resume with; was it made by 'glassnet train'?")
    if isinstance(settings, dict):
        settings.setdefault("augment", False)     # runs made before --augment existed trained without it
        settings.setdefault("validation", 0.0)    # ... and before --validation, on the whole training set
        settings.setdefault("l1", 0.0)            # ... and before --l1, without an L1 penalty
    missing = [key for key in DEFAULTS if not isinstance(settings, dict) or key not in settings]
    if missing:
        raise GlassnetError(f"{path}: expected the run's settings, missing {', '.join(missing)}")
    try:
        check_dataset(settings["dataset"])
    except GlassnetError as exc:
        raise GlassnetError(f"{path}: {exc}") from None
    return settings


def check_run_dir(run_dir, checkpoint):
    """Refuse, before training, a run directory whose model/ or checkpoint/ cannot be written."""
    for folder, owned in ((run_dir / "model", serialization.MODEL_FILES),
                          (checkpoint, serialization.CHECKPOINT_FILES)):
        if folder.exists() and not folder.is_dir():
            raise GlassnetError(f"{folder} exists and is a file; choose another --out directory")
        foreign = sorted(p.name for p in folder.iterdir() if p.name not in owned) if folder.is_dir() else []
        if foreign:
            raise GlassnetError(f"{folder} holds files glassnet did not write ({', '.join(foreign[:3])}); "
                                f"choose an empty or new --out directory")
    run_dir.mkdir(parents=True, exist_ok=True)


def build_optimizer(settings):
    """The optimizer the settings name, with its learning-rate schedule (``optimizers.build``)."""
    # Adam's settings hold momentum None (its momentum is built in): build's default then applies, unused.
    momentum = {} if settings["momentum"] is None else {"momentum": settings["momentum"]}
    return optimizers.build(settings["optimizer"], settings["lr"], schedule=settings["schedule"],
                            epochs=settings["epochs"], l1=settings["l1"], **momentum)


# -- training and what it writes ----------------------------------------------------------------
def _fit(net, data, settings, checkpoint, args, shutdown):
    """Train; returns ``(history, divergence message or None, seconds)``. A stop signal ends it cleanly."""
    callbacks = [] if (args.quiet or args.json) else [ProgressBar()]
    callbacks += [Checkpoint(checkpoint), shutdown]
    resume_from = checkpoint if args.resume is not None else None
    started = time.perf_counter()
    try:
        augment = Augment(data.shape, **AUGMENT) if settings.get("augment") else None
        X, y, validation = _training_part(data, settings)
        history = net.fit(X, y, epochs=settings["epochs"], batch_size=settings["batch_size"],
                          optimizer=build_optimizer(settings), callbacks=callbacks, seed=settings["seed"],
                          resume_from=resume_from, augment=augment, validation_data=validation,
                          threads=getattr(args, "threads", None))
        diverged = None
    except TrainingDiverged as exc:      # the network kept its last good weights: save those
        history, diverged = net.history_, str(exc)
    return history, diverged, time.perf_counter() - started


def _training_part(data, settings):
    """``(X, y, validation_data)``: with ``--validation F``, a stratified share F of each class (chosen with
    the run's seed, so a resumed run holds out the same examples) is kept apart to measure each epoch."""
    if not settings.get("validation"):
        return data.X_train, data.y_train, None
    X, y, X_val, y_val = validation_split(data.X_train, data.y_train, settings["validation"], seed=settings["seed"])
    return X, y, (X_val, y_val)


def _finish(net, data, settings, run_dir, checkpoint, history, diverged, seconds, args):
    """Evaluate, save the model and the report, print the results; returns the exit code."""
    results = evaluate_test_set(net, data)
    model_path, report_path = run_dir / "model", run_dir / "report.md"
    outcome = "diverged" if diverged else "interrupted" if history.interrupted else "finished"
    metadata = {"dataset": data.name, "settings": settings, "command": command_line(settings),
                "test_accuracy": results["test_accuracy"], "test_loss": results["test_loss"], "outcome": outcome}
    net.save(model_path, metadata=metadata)
    status = _status(history, diverged, run_dir)
    findings = diagnose(history, net, data.X_train, diverged=diverged, validation=(data.X_test, data.y_test))
    atomic_write_text(report_path, markdown_report(net, data, settings, history, results, seconds, status, findings))
    html_path = write_html_report(net, data, settings, history, diverged, run_dir) if args.report else None
    if args.json:
        print_json({"test_accuracy": results["test_accuracy"], "test_loss": results["test_loss"],
                    "epochs": len(history), "seconds": seconds, "model_path": str(model_path),
                    "report_path": str(report_path), "checkpoint_path": str(checkpoint),
                    "history": history.epochs, "interrupted": history.interrupted, "diverged": diverged,
                    "settings": settings, "html_report_path": str(html_path) if html_path else None,
                    "diagnostics": [f.to_dict() for f in findings]})
    else:
        print(f"test accuracy {percent(results['test_accuracy'])} (loss {number_text(results['test_loss'])}) "
              f"after {plural(len(history), 'epoch')} in {seconds:.1f} s")
        print(f"model:  {model_path}")
        print(f"report: {report_path}")
        if html_path:
            print(f"html report: {html_path}")
        print(_findings_text(findings))
    if diverged:
        print(f"glassnet: {diverged}; saved the last good weights to {model_path}", file=sys.stderr)
        return EXIT_FAILED
    if history.interrupted:
        print(f"interrupted after {plural(len(history), 'complete epoch')}; saved {model_path} and {checkpoint}; "
              f"resume with: glassnet train --resume {shlex.quote(str(run_dir))}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def write_html_report(net, data, settings, history, diverged, run_dir):
    """``glassnet train --report``: write ``run_dir/report.html`` with :func:`glassnet.report.build_report`."""
    return html_report.build_report(net, data, history, path=Path(run_dir) / "report.html", seed=settings.get("seed"),
                                    settings=settings, diverged=diverged, title=f"glassnet report: {run_dir}")


def _status(history, diverged, run_dir):
    if diverged:
        return f"**Training diverged.** {diverged}."
    if history.interrupted:
        return (f"**Interrupted** after {plural(len(history), 'complete epoch')}. Resume with "
                f"`glassnet train --resume {shlex.quote(str(run_dir))}`.")
    return f"Finished {plural(len(history), 'epoch')}."


def _findings_text(findings):
    if not findings:
        return "diagnostics: no problems found (loss, overfitting and dead-neuron checks)"
    return "diagnostics:\n" + "\n".join(f"  {f.name}: {f.message}\n    fix: {f.fix}" for f in findings)


def _shape(net, settings):
    sizes = "-".join(str(n) for n in [net.n_features, *settings["layers"], net.n_outputs])
    return f"{sizes} {settings['activation']} network"


def command_line(settings):
    """The ``glassnet train`` command that repeats these settings."""
    parts = ["glassnet", "train"]
    for key, value in settings.items():
        if value is None:
            continue
        if key == "augment":
            parts.append("--augment" if value else "--no-augment")
            continue
        text = ",".join(map(str, value)) if key == "layers" else str(value)
        parts += [f"--{key.replace('_', '-')}", shlex.quote(text)]
    return " ".join(parts)


def markdown_report(net, data, settings, history, results, seconds, status, findings=()):
    """The Markdown training report (report.md)."""
    C = results["confusion_matrix"]
    lines = ["# glassnet training report", "", status, "",
             "## Settings", "", "| setting | value |", "| --- | --- |"]
    lines += [f"| {key} | {_cell(value)} |" for key, value in settings.items()]
    lines += ["", f"To repeat: `{command_line(settings)}`", "",
              "## Network", "", "```text", net.summary(), "```", "",
              "## Training", "", "| epoch | loss | accuracy | learning rate | seconds |",
              "| ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['epoch']} | {r['loss']:.4f} | {percent(r['accuracy'])} | {r['lr']:.3g} | {r['seconds']:.2f} |"
              for r in history.epochs]
    if not history.epochs:
        lines.append("| - | - | - | - | - |")
    lines += ["", f"## Test set ({data.name}, {results['n_test']:,} examples)", "",
              (f"Test accuracy **{percent(results['test_accuracy'])}**, test loss "
               f"{number_text(results['test_loss'])}."), "",
              "### Accuracy per class", "", "| class | examples | correct | accuracy |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {sum(C[i])} | {C[i][i]} | {percent(results['per_class_accuracy'][name])} |"
              for i, name in enumerate(results["classes"])]
    lines += ["", "### Confusion matrix", "",
              "Rows: the true class; columns: the predicted class. The diagonal counts the right answers.", "",
              "| true \\ predicted | " + " | ".join(results["classes"]) + " |",
              "| --- |" + " ---: |" * len(results["classes"])]
    lines += [f"| **{name}** | " + " | ".join(str(n) for n in C[i]) + " |" for i, name in enumerate(results["classes"])]
    lines += ["", "## Diagnostics", ""]
    lines += [f"- **{f.name}**: {f.message}. Fix: {f.fix}." for f in findings] or [
        "No problems found: the loss fell without exploding or stalling, training and test accuracy agree, "
        "and the hidden ReLU neurons fire."]
    lines += ["", f"Training took {seconds:.1f} s.", ""]
    return "\n".join(lines)


def _cell(value):
    if isinstance(value, list):
        return ",".join(map(str, value))
    return "-" if value is None else str(value)


__all__ = ["AUGMENT", "DEFAULTS", "DEFAULT_OUT", "add", "build_optimizer", "command_line", "markdown_report", "run"]
