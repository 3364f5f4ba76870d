"""The ``glassnet`` command (also ``python -m glassnet``): train, evaluate, predict, info, gradcheck.

Each subcommand is one short function over the library's public API, so the command
line does nothing the library cannot: ``train`` is ``Network.mlp`` + ``fit`` with a
``ProgressBar`` and a ``Checkpoint``, then ``save`` and a Markdown report.

Exit codes: 0 success; 1 training diverged or a gradient check failed; 2 a usage error
(bad flag or value, a missing or damaged file), printed as one line
``glassnet: error: ...`` and never a traceback; 130 interrupted (Ctrl-C), after saving
the work so far. Only the standard library's ``argparse`` is used here.
``--dataset`` takes a name or a path, loaded by ``glassnet.datasets.load``; ``glassnet datasets``
lives in ``glassnet/datasets/cli.py``.
``glassnet app`` (the web app) lives in ``glassnet/app/command.py``.
"""

import argparse
import json
import math
import shlex
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from . import __version__, optimizers, schedules, serialization
from ._io import atomic_write_text
from .app.command import add_app
from .callbacks import Checkpoint, ProgressBar
from .datasets import Augment, load_digits, validation_split
from .datasets.cli import add_datasets
from .datasets.loader import NAMES as DATASET_NAMES
from .datasets.loader import check as check_dataset
from .datasets.loader import load as load_dataset
from .errors import GlassnetError, TrainingDiverged
from .explain_cli import add_explain, add_lr_find
from .export.command import add_export
from .gradcheck import gradcheck
from .network import Network
from .report import add_report, train_report
from .serialization import load

#: Datasets ``--dataset`` can name (or give a path: see ``glassnet.datasets.load``).
DATASETS = DATASET_NAMES

#: ``glassnet train`` defaults: the demo's settings (about 98% test accuracy on the digits in about 10 seconds:
#: 784-256-128-10, 30 epochs of batch 64, SGD momentum 0.9 with a one-cycle schedule peaking at 0.1, and every
#: training image randomly shifted and rotated anew each epoch; see benchmarks/README.md).
DEFAULTS = {"dataset": "digits", "layers": [256, 128], "activation": "relu", "optimizer": "sgd", "lr": None,
            "momentum": 0.9, "schedule": "one-cycle", "epochs": 30, "batch_size": 64, "dropout": 0.0, "seed": 0,
            "augment": True, "validation": 0.0}
#: What ``--augment`` does to image datasets: random shifts of up to 2 pixels and rotations of up to 10 degrees.
AUGMENT = {"shift": 2.0, "rotate": 10.0}
DEFAULT_LR = {"sgd": 0.1, "adam": 0.001, "adamw": 0.001}
DEFAULT_OUT = "runs/latest"
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
SCHEDULES = ("one-cycle", "cosine", "step", "constant")
LOSSES = ("cross_entropy", "mse", "binary_cross_entropy")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


# -- argument types: each rejects a bad value with "expected ..., received ..." ----------------
def _number(kind, low, high=None, low_open=False):
    """An argparse type: an int or float within ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"received {text!r}") from None
        too_low = value <= low if low_open else value < low
        if too_low or (high is not None and value > high) or not math.isfinite(value):
            limits = f"{'>' if low_open else '>='} {low}" + (f" and <= {high}" if high is not None else "")
            raise argparse.ArgumentTypeError(f"expected a value {limits}, received {text!r}")
        return value
    return convert


def _layer_sizes(text):
    """``"256,128"`` -> ``[256, 128]``: neurons per hidden layer."""
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected hidden-layer sizes as positive integers separated by "
                                         f"commas, like 256,128; received {text!r}")
    return sizes


def _dataset(text):
    """A dataset name or an existing path (loaded later, by ``glassnet.datasets.load``)."""
    try:
        return check_dataset(text)
    except GlassnetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _max_checks(text):
    return None if text == "all" else _number(int, 1)(text)


# -- the parser -------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, with each usage error on one line: ``glassnet: error: ... (see 'glassnet train --help')``."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"glassnet: error: {message} (see '{self.prog} --help')\n")


def _subcommand(subparsers, name, handler, help, description, examples):
    parser = subparsers.add_parser(name, help=help, description=textwrap.fill(description, 78), allow_abbrev=False,
                                   epilog="examples:\n" + "\n".join(f"  {line}" for line in examples),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(handler=handler)
    return parser


def build_parser():
    """The ``glassnet`` argument parser with its subcommands."""
    parser = _Parser(prog="glassnet", allow_abbrev=False,
                     description="glassnet: the neural network you can see through. Train, inspect and use "
                                 "small neural networks (multi-layer perceptrons) written in NumPy.",
                     epilog="Run 'glassnet COMMAND --help' for the options of each command.")
    parser.add_argument("--version", action="version", version=f"glassnet {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(subparsers)           # learn
    _add_evaluate(subparsers)
    _add_predict(subparsers)
    add_explain(subparsers)          # see through it
    add_report(subparsers)
    add_lr_find(subparsers)
    _add_gradcheck(subparsers)
    _add_info(subparsers)
    add_datasets(subparsers)         # data in, models out
    add_export(subparsers)
    add_app(subparsers)              # the web app
    return parser


def _add_train(subparsers):
    p = _subcommand(
        subparsers, "train", cmd_train, "train a network on a dataset",
        "Train a multi-layer perceptron and write, into --out: model/ (the trained network), checkpoint/ "
        "(to resume), settings.json and report.md (settings, architecture, per-epoch history, test accuracy, "
        "per-class accuracy and confusion matrix). Ctrl-C stops after the current batch and keeps the work "
        "(exit 130); continue with --resume. The defaults reach about 98% test accuracy on the bundled digits "
        "in about ten seconds.",
        ["glassnet train", "glassnet train --layers 128,64 --optimizer adam --epochs 10 --out runs/adam",
         "glassnet train --resume runs/adam --epochs 15", "glassnet train --epochs 5 --json > result.json"])
    d = DEFAULTS
    p.add_argument("--dataset", type=_dataset, metavar="NAME_OR_PATH",
                   help=f"dataset to learn: {', '.join(DATASETS)} (see 'glassnet datasets'), or a folder of IDX "
                        f"files, a folder of images (one sub-folder per class), a .npz or a .csv "
                        f"(default {d['dataset']})")
    p.add_argument("--layers", type=_layer_sizes, metavar="N,N,...",
                   help="neurons per hidden layer, comma-separated (default 256,128)")
    p.add_argument("--activation", choices=ACTIVATIONS, help=f"hidden activation (default {d['activation']})")
    p.add_argument("--optimizer", choices=sorted(optimizers.OPTIMIZERS), help="optimizer (default sgd)")
    p.add_argument("--lr", type=_number(float, 0, low_open=True),
                   help="(peak) learning rate (default 0.1 for sgd, 0.001 for adam and adamw)")
    p.add_argument("--momentum", type=_number(float, 0, 1), help="SGD momentum (default 0.9)")
    p.add_argument("--schedule", choices=SCHEDULES,
                   help="learning-rate schedule: one-cycle (warm up, then anneal), cosine, step (divide by 10 "
                        "every third of the epochs) or constant (default one-cycle)")
    p.add_argument("--epochs", type=_number(int, 1), help=f"passes over the training set (default {d['epochs']})")
    p.add_argument("--batch-size", type=_number(int, 1), help=f"samples per step (default {d['batch_size']})")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction,
                   help="randomly shift (up to 2 pixels) and rotate (up to 10 degrees) each training image, anew "
                        "every epoch; image datasets only (default: on for the bundled digits, off otherwise)")
    p.add_argument("--dropout", type=_number(float, 0, 0.99), help="dropout after each hidden layer (default 0)")
    p.add_argument("--validation", type=_number(float, 0, 0.5), metavar="FRACTION",
                   help="hold out this share of each class of the training set as validation data, measured "
                        "after every epoch: curves for training and validation, and the overfitting check "
                        "(default 0: train on all of it)")
    p.add_argument("--seed", type=_number(int, 0), help="random seed: weights, shuffling, dropout (default 0)")
    p.add_argument("--out", help=f"run directory to write (default {DEFAULT_OUT})")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run from RUN_DIR/checkpoint with its own settings "
                        "(only --epochs may change)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object (the last line)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--report", action="store_true",
                   help="also write report.html: the report with pictures and explained predictions (needs "
                        "matplotlib: pip install \"glassnet[plot]\")")


def _add_evaluate(subparsers):
    p = _subcommand(subparsers, "evaluate", cmd_evaluate, "test loss and accuracy of a saved model",
                    "Measure a saved model on the test set: loss, accuracy and accuracy per class.",
                    ["glassnet evaluate runs/latest/model", "glassnet evaluate runs/latest/model --json"])
    p.add_argument("model", metavar="MODEL", help="a saved model (directory or .safetensors file)")
    p.add_argument("--dataset", type=_dataset, default="digits", metavar="NAME_OR_PATH",
                   help="dataset whose test set to use: a name or a path, as for 'glassnet train' (default digits)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _add_predict(subparsers):
    p = _subcommand(subparsers, "predict", cmd_predict, "read digits from image files",
                    "Predict the digit in each image (PNG or JPEG, any size, dark-on-light or light-on-dark). "
                    "Each image is first made to look like MNIST: grayscale, ink bright on black, cropped, "
                    "scaled to 20 pixels and centred by its centre of mass in 28x28. Needs Pillow "
                    "(pip install \"glassnet[image]\").",
                    ["glassnet predict runs/latest/model seven.png", "glassnet predict runs/latest/model *.png --json"])
    p.add_argument("model", metavar="MODEL", help="a saved model trained on 28x28 digits")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    p.add_argument("--json", action="store_true", help="print one JSON object per image, one per line")


def _add_info(subparsers):
    p = _subcommand(subparsers, "info", cmd_info, "describe a saved model",
                    "Show a saved model: layers and parameter counts, file format, dtype, loss, training "
                    "history and metadata.",
                    ["glassnet info runs/latest/model", "glassnet info model.safetensors --json"])
    p.add_argument("model", metavar="MODEL", help="a saved model (directory or .safetensors file)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _add_gradcheck(subparsers):
    p = _subcommand(subparsers, "gradcheck", cmd_gradcheck, "check backpropagation against finite differences",
                    "Compare the gradients backpropagation computes with central finite differences "
                    "(L(w + h) - L(w - h)) / 2h, in float64, for every weight tensor and the input. Without MODEL, "
                    "a small new network is checked on the first few bundled digits; a saved MODEL is checked "
                    "on them with random labels (a trained network's gradients for the true labels are too small "
                    "to measure). Exit 0 if every relative error is below 1e-6, 1 otherwise.",
                    ["glassnet gradcheck", "glassnet gradcheck --layers 32 --activation relu --max-checks all",
                     "glassnet gradcheck runs/latest/model"])
    p.add_argument("model", metavar="MODEL", nargs="?", help="a saved model to check (default: a new small network)")
    p.add_argument("--layers", type=_layer_sizes, metavar="N,N,...",
                   help="hidden layers of the new network (default 16,8)")
    p.add_argument("--activation", choices=ACTIVATIONS, help="activation of the new network (default tanh)")
    p.add_argument("--loss", choices=LOSSES, help="loss to differentiate (default: the model's, or cross_entropy)")
    p.add_argument("--samples", type=_number(int, 1), default=4, help="digits in the batch (default 4)")
    p.add_argument("--max-checks", type=_max_checks, default=200, metavar="N",
                   help="entries checked per tensor, chosen at random, or 'all' (default 200)")
    p.add_argument("--seed", type=_number(int, 0), default=0, help="seed for the network and the sampled entries")


# -- main -----------------------------------------------------------------------------
def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:          # --help, --version and usage errors end here
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("glassnet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (GlassnetError, ValueError, TypeError, OSError) as exc:
        return _usage_error(exc)


def _usage_error(problem):
    """Print ``glassnet: error: ...`` as one line on standard error; returns exit code 2."""
    if isinstance(problem, OSError) and not isinstance(problem, GlassnetError) and problem.filename:
        problem = f"{problem.filename}: {problem.strerror}"
    print(f"glassnet: error: {' '.join(str(problem).split())}", file=sys.stderr)
    return EXIT_USAGE


def _json_default(value):
    """``json.dumps`` helper: NumPy scalars and arrays become plain numbers and lists."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _print_json(obj):
    print(json.dumps(obj, default=_json_default, allow_nan=False))


def _finite(value):
    """A float, or None when NaN/inf (JSON has no infinity)."""
    return float(value) if value is not None and np.isfinite(value) else None


# -- train ------------------------------------------------------------------------------
def cmd_train(args):
    """``glassnet train``: fit a network, then write model/, checkpoint/, settings.json and report.md."""
    if args.report:                      # checked before training: the HTML report needs matplotlib
        from .errors import require
        require("matplotlib", "plot")
    if args.resume is not None:
        run_dir, checkpoint, settings, net = _resume_plan(args)
    else:
        settings = _new_settings(args)
        run_dir = Path(args.out if args.out is not None else DEFAULT_OUT)
        checkpoint, net = run_dir / "checkpoint", None
    data = load_dataset(settings["dataset"])
    if settings.get("augment") and len(data.shape) != 2:
        if args.resume is None and args.augment:
            raise GlassnetError(f"--augment needs image data; {data.name} holds examples of shape {data.shape}")
        settings["augment"] = False          # the default applies to images only
    if net is None:
        net = Network.mlp([data.n_features, *settings["layers"], len(data.classes)], activation=settings["activation"],
                          dropout=settings["dropout"], seed=settings["seed"])
    _check_run_dir(run_dir, checkpoint)
    atomic_write_text(run_dir / "settings.json", json.dumps(settings, indent=2) + "\n")
    if not (args.quiet or args.json):
        action = f"resuming {run_dir}" if args.resume else "training"
        print(f"{action}: {_shape(net, settings)} on {data.name} ({len(data.X_train):,} images), "
              f"{settings['epochs']} epochs", file=sys.stderr)
    history, diverged, seconds = _fit(net, data, settings, checkpoint, args)
    return _finish_training(net, data, settings, run_dir, checkpoint, history, diverged, seconds, args)


def _new_settings(args):
    """The run's settings: the flags given, defaults for the rest."""
    settings = {key: getattr(args, key) if getattr(args, key) is not None else default
                for key, default in DEFAULTS.items()}
    if settings["lr"] is None:
        settings["lr"] = DEFAULT_LR[settings["optimizer"]]
    if args.augment is None and settings["dataset"] != DEFAULTS["dataset"]:
        settings["augment"] = False          # on by default for the bundled digits; other data: ask for it
    if settings["optimizer"] != "sgd":
        if args.momentum is not None:
            raise GlassnetError(f"--momentum applies to --optimizer sgd only, received --optimizer "
                                f"{settings['optimizer']} (Adam's momentum is built in)")
        settings["momentum"] = None
    return settings


def _resume_plan(args):
    """``(run_dir, checkpoint_dir, settings, network)`` to continue the run in ``--resume``."""
    fixed = [f"--{key.replace('_', '-')}" for key in DEFAULTS if key != "epochs" and getattr(args, key) is not None]
    if args.out is not None:
        fixed.append("--out")
    if fixed:
        raise GlassnetError(f"--resume continues a run with its own settings; leave out {', '.join(fixed)} "
                            f"(only --epochs, --json and --quiet may be given)")
    run_dir, checkpoint = _find_checkpoint(Path(args.resume))
    settings = _stored_settings(run_dir)
    net = load(checkpoint)
    done = len(net.history_) if net.history_ is not None else 0
    planned, target = settings["epochs"], args.epochs if args.epochs is not None else settings["epochs"]
    if target < done:
        raise GlassnetError(f"--epochs {target} is fewer than the {done} epochs {run_dir} has already trained")
    if done >= target and not net.history_.interrupted:
        raise GlassnetError(f"{run_dir} already finished its {done} epochs; to train longer, add --epochs N "
                            f"with N > {done}")
    if target > planned and settings["schedule"] != "constant" and not (args.quiet or args.json):
        print(f"note: the {settings['schedule']} learning-rate schedule was planned for {planned} epochs; "
              f"it stays as planned, so the extra epochs run at its final learning rate", file=sys.stderr)
    settings["epochs"] = target
    return run_dir, checkpoint, settings, net


def _find_checkpoint(path):
    """``(run_dir, checkpoint_dir)`` from a run directory or the checkpoint directory itself."""
    if (path / "training.json").is_file():
        return path.parent, path
    if (path / "checkpoint" / "training.json").is_file():
        return path, path / "checkpoint"
    raise GlassnetError(f"{path}: nothing to resume there (expected {path / 'checkpoint'} written by "
                        f"'glassnet train --out {path}')")


def _stored_settings(run_dir):
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
    missing = [key for key in DEFAULTS if not isinstance(settings, dict) or key not in settings]
    if missing:
        raise GlassnetError(f"{path}: expected the run's settings, missing {', '.join(missing)}")
    try:
        check_dataset(settings["dataset"])
    except GlassnetError as exc:
        raise GlassnetError(f"{path}: {exc}") from None
    return settings


def _check_run_dir(run_dir, checkpoint):
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


def _optimizer(settings):
    """The optimizer the settings name, with its learning-rate schedule."""
    schedule = _schedule(settings["schedule"], settings["lr"], settings["epochs"])
    if settings["optimizer"] == "sgd":
        return optimizers.SGD(lr=schedule, momentum=settings["momentum"])
    return optimizers.get(settings["optimizer"], lr=schedule)


def _schedule(name, lr, epochs):
    """``lr`` as a schedule: one-cycle peaks at ``lr``; step divides it by 10 every third of the epochs."""
    if name == "one-cycle":
        return schedules.OneCycle(max_lr=lr)
    if name == "cosine":
        return schedules.Cosine(lr)
    if name == "step":
        return schedules.StepDecay(lr, gamma=0.1, step_size=max(1, round(epochs / 3)))
    if name == "constant":
        return schedules.Constant(lr)
    raise GlassnetError(f"schedule expected one of {', '.join(SCHEDULES)}, received {name!r}")


def _fit(net, data, settings, checkpoint, args):
    """Train; returns ``(history, divergence message or None, seconds)``. Ctrl-C ends it cleanly."""
    callbacks = [] if (args.quiet or args.json) else [ProgressBar()]
    callbacks.append(Checkpoint(checkpoint))
    resume_from = checkpoint if args.resume is not None else None
    started = time.perf_counter()
    try:
        augment = Augment(data.shape, **AUGMENT) if settings.get("augment") else None
        X, y, validation = _training_part(data, settings)
        history = net.fit(X, y, epochs=settings["epochs"], batch_size=settings["batch_size"],
                          optimizer=_optimizer(settings), callbacks=callbacks, seed=settings["seed"],
                          resume_from=resume_from, augment=augment, validation_data=validation)
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


def _finish_training(net, data, settings, run_dir, checkpoint, history, diverged, seconds, args):
    """Evaluate, save the model and the report, print the results; returns the exit code."""
    results = _test_results(net, data)
    model_path, report_path = run_dir / "model", run_dir / "report.md"
    metadata = {"dataset": data.name, "settings": settings, "command": _command_line(settings),
                "test_accuracy": results["test_accuracy"], "test_loss": results["test_loss"]}
    net.save(model_path, metadata=metadata)
    status = _status(history, diverged, run_dir)
    findings = _diagnose(net, data, history, diverged)
    atomic_write_text(report_path, _report(net, data, settings, history, results, seconds, status, findings))
    html_path = train_report(net, data, settings, history, diverged, run_dir) if args.report else None
    if args.json:
        _print_json({"test_accuracy": results["test_accuracy"], "test_loss": results["test_loss"],
                     "epochs": len(history), "seconds": seconds, "model_path": str(model_path),
                     "report_path": str(report_path), "checkpoint_path": str(checkpoint),
                     "history": history.epochs, "interrupted": history.interrupted, "diverged": diverged,
                     "settings": settings, "html_report_path": str(html_path) if html_path else None,
                     "diagnostics": [f.to_dict() for f in findings]})
    else:
        print(f"test accuracy {_percent(results['test_accuracy'])} (loss {_number_text(results['test_loss'])}) "
              f"after {_plural(len(history), 'epoch')} in {seconds:.1f} s")
        print(f"model:  {model_path}")
        print(f"report: {report_path}")
        if html_path:
            print(f"html report: {html_path}")
        print(_findings_text(findings))
    if diverged:
        print(f"glassnet: {diverged}; saved the last good weights to {model_path}", file=sys.stderr)
        return EXIT_FAILED
    if history.interrupted:
        print(f"interrupted after {_plural(len(history), 'complete epoch')}; saved {model_path} and {checkpoint}; "
              f"resume with: glassnet train --resume {shlex.quote(str(run_dir))}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _status(history, diverged, run_dir):
    if diverged:
        return f"**Training diverged.** {diverged}."
    if history.interrupted:
        return (f"**Interrupted** after {_plural(len(history), 'complete epoch')}. Resume with "
                f"`glassnet train --resume {shlex.quote(str(run_dir))}`.")
    return f"Finished {_plural(len(history), 'epoch')}."


def _diagnose(net, data, history, diverged):
    """The diagnostics rules on this run: its history, its hidden ReLUs, training against test accuracy."""
    from .diagnostics import diagnose

    return diagnose(history, net, data.X_train, diverged=diverged, validation=(data.X_test, data.y_test))


def _findings_text(findings):
    if not findings:
        return "diagnostics: no problems found (loss, overfitting and dead-neuron checks)"
    return "diagnostics:\n" + "\n".join(f"  {f.name}: {f.message}\n    fix: {f.fix}" for f in findings)


def _shape(net, settings):
    sizes = "-".join(str(n) for n in [net.n_features, *settings["layers"], net.n_outputs])
    return f"{sizes} {settings['activation']} network"


def _command_line(settings):
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


def _percent(value):
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _plural(n, noun):
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _number_text(value):
    return "not finite" if value is None else f"{value:.4f}"


# -- test-set results, shared by train and evaluate ---------------------------------------
def _check_fits(net, data, source):
    """The model must take the dataset's inputs and give one output per class."""
    if net.n_features != data.n_features:
        raise GlassnetError(f"{source}: the model expects {net.n_features} inputs, but {data.name} examples have "
                            f"{data.n_features} ({'x'.join(map(str, data.shape))}); use a model trained on {data.name}")
    if net.n_outputs != len(data.classes):
        raise GlassnetError(f"{source}: the model has {net.n_outputs} outputs, but {data.name} has "
                            f"{len(data.classes)} classes; use a model trained on {data.name}")


def confusion_matrix(y_true, y_pred, n_classes):
    """``C[i, j]``: how many examples of class ``i`` were predicted as class ``j``.

    Example:
        >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
        [[1, 0], [1, 1]]
    """
    C = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(C, (y_true, y_pred), 1)
    return C


def _test_results(net, data):
    """Loss, accuracy, per-class accuracy and the confusion matrix on the test set."""
    loss, accuracy = net.evaluate(data.X_test, data.y_test)
    C = confusion_matrix(data.y_test, net.predict(data.X_test), len(data.classes))
    per_class = {name: _finite(C[i, i] / C[i].sum()) if C[i].sum() else None for i, name in enumerate(data.classes)}
    return {"test_loss": _finite(loss), "test_accuracy": _finite(accuracy), "n_test": len(data.y_test),
            "per_class_accuracy": per_class, "confusion_matrix": C.tolist(), "classes": list(data.classes)}


def _report(net, data, settings, history, results, seconds, status, findings=()):
    """The Markdown training report."""
    C = np.array(results["confusion_matrix"])
    lines = ["# glassnet training report", "", status, "",
             "## Settings", "", "| setting | value |", "| --- | --- |"]
    lines += [f"| {key} | {_cell(value)} |" for key, value in settings.items()]
    lines += ["", f"To repeat: `{_command_line(settings)}`", "",
              "## Network", "", "```text", net.summary(), "```", "",
              "## Training", "", "| epoch | loss | accuracy | learning rate | seconds |",
              "| ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['epoch']} | {r['loss']:.4f} | {_percent(r['accuracy'])} | {r['lr']:.3g} | {r['seconds']:.2f} |"
              for r in history.epochs]
    if not history.epochs:
        lines.append("| - | - | - | - | - |")
    lines += ["", f"## Test set ({data.name}, {results['n_test']:,} examples)", "",
              (f"Test accuracy **{_percent(results['test_accuracy'])}**, test loss "
               f"{_number_text(results['test_loss'])}."), "",
              "### Accuracy per class", "", "| class | examples | correct | accuracy |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {C[i].sum()} | {C[i, i]} | {_percent(results['per_class_accuracy'][name])} |"
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


# -- evaluate, predict, info ---------------------------------------------------------------
def cmd_evaluate(args):
    """``glassnet evaluate``: test loss, accuracy and per-class accuracy of a saved model."""
    net = load(args.model)
    data = load_dataset(args.dataset)
    _check_fits(net, data, args.model)
    results = _test_results(net, data)
    if args.json:
        _print_json({"model": args.model, "dataset": data.name, **results})
        return EXIT_OK
    print(f"{args.model} on {data.name} ({results['n_test']:,} test examples)")
    print(f"test accuracy {_percent(results['test_accuracy'])}  loss {_number_text(results['test_loss'])}")
    print("accuracy per class:")
    C = np.array(results["confusion_matrix"])
    for i, name in enumerate(results["classes"]):
        print(f"  {name}: {_percent(results['per_class_accuracy'][name]):>7}  ({C[i, i]}/{C[i].sum()})")
    return EXIT_OK


def cmd_predict(args):
    """``glassnet predict``: the digit in each image, with the ten probabilities."""
    from .preprocess import SIZE, load_image, to_mnist

    net = load(args.model)
    if net.n_features != SIZE * SIZE:
        raise GlassnetError(f"{args.model}: predict reads {SIZE}x{SIZE} digit images ({SIZE * SIZE} inputs), but "
                            f"this model expects {net.n_features} inputs")
    # Read every image first, so a bad file stops the command before anything is printed.
    X = np.stack([to_mnist(load_image(path), name=path).reshape(-1) for path in args.images])
    probabilities, labels = net.predict_proba(X), net.predict(X)
    for path, p, label in zip(args.images, probabilities, labels):
        if args.json:
            _print_json({"image": path, "prediction": int(label), "probabilities": [float(q) for q in p]})
        else:
            print(f"{path}: {label}  (" + "  ".join(f"{k}: {q:.2f}" for k, q in enumerate(p)) + ")")
    return EXIT_OK


def cmd_info(args):
    """``glassnet info``: what a saved model is, how it was trained, and its layers."""
    net = load(args.model)
    doc = _model_document(Path(args.model))
    history = net.history_.epochs if net.history_ is not None else []
    info = {"model": args.model, "format": doc["format"], "format_version": doc["format_version"],
            "glassnet_version": doc.get("glassnet_version"), "dtype": str(net.dtype),
            "loss": net.loss_.name if net.loss_ is not None else None, "n_features": net.n_features,
            "n_outputs": net.n_outputs, "n_params": net.n_params, "architecture": net.get_config(),
            "epochs_trained": len(history), "last_epoch": history[-1] if history else None,
            "metadata": net.metadata_, "summary": net.summary()}
    if args.json:
        _print_json(info)
        return EXIT_OK
    print(f"model: {args.model}")
    print(f"format: {info['format']} version {info['format_version']} (written by glassnet {info['glassnet_version']})")
    print(f"dtype: {info['dtype']}")
    print(f"loss: {info['loss'] or 'not recorded'}")
    last = info["last_epoch"]
    trained = f"{len(history)} epochs" + (f"; last: loss {last['loss']:.4f}, accuracy {_percent(last['accuracy'])}"
                                          if last else "")
    print(f"training history: {trained}")
    print("metadata:" + ("" if net.metadata_ else " none"))
    for key, value in net.metadata_.items():
        print(f"  {key}: {json.dumps(value, default=_json_default)}")
    print()
    print(net.summary())
    return EXIT_OK


def _model_document(path):
    """The JSON document of a saved model (already validated by ``load``)."""
    from . import _safetensors

    if path.is_dir():
        return json.loads((path / "model.json").read_text(encoding="utf-8"))
    _, meta = _safetensors.loads(path.read_bytes(), source=str(path))
    return json.loads(meta["glassnet.model"])


# -- gradcheck -------------------------------------------------------------------------------
def cmd_gradcheck(args):
    """``glassnet gradcheck``: backpropagation against finite differences; exit 1 if they disagree."""
    if args.model is not None:
        if args.layers is not None or args.activation is not None:
            raise GlassnetError("--layers and --activation describe a new network; leave them out when "
                                "checking MODEL")
        net = load(args.model)
        loss = args.loss or (net.loss_.name if net.loss_ is not None else "cross_entropy")
        what = args.model
    else:
        layers, activation = args.layers or [16, 8], args.activation or "tanh"
        net = Network.mlp([784, *layers, 10], activation=activation, seed=args.seed)
        loss = args.loss or "cross_entropy"
        what = f"a new 784-{'-'.join(map(str, layers))}-10 {activation} network"
    X, y = _gradcheck_batch(net, args.samples, args.seed, true_labels=args.model is None)
    print(f"gradient check of {what}: {len(X)} samples, loss {loss}, float64, "
          f"{'every entry' if args.max_checks is None else f'up to {args.max_checks} entries per tensor'}")
    report = gradcheck(net, X, y, loss=loss, max_checks=args.max_checks, seed=args.seed)
    print(report)
    return EXIT_OK if report.passed else EXIT_FAILED


def _gradcheck_batch(net, n_samples, seed, true_labels):
    """The first bundled test digits when the network takes them (random inputs otherwise).

    A trained network is nearly sure of the true labels, so its gradients are tiny (about 1e-8)
    and drown in the finite differences' rounding error; random labels give it real gradients
    to compare. The gradient formula is the same whichever labels are used.
    """
    rng = np.random.default_rng(seed)
    if net.n_features == 784 and net.n_outputs == 10:
        data = load_digits()
        X, y = data.X_test[:n_samples], data.y_test[:n_samples]
    else:
        X, y = rng.random((n_samples, net.n_features)), None
    if y is None or not true_labels:
        y = rng.integers(0, max(net.n_outputs, 2), n_samples)
    return X, y


__all__ = ["build_parser", "confusion_matrix", "main"]
