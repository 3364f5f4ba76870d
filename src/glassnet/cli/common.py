"""What every ``glassnet`` command shares: argument types, the parser, exit codes, printing.

A leaf of the CLI package: it imports no command module, so any command can use it and none
depends on another. Argument types reject a bad value with "expected ..., received ..." so that
argparse prints it as one line ``glassnet: error: ...``. Also here: the test-set results that
``train`` and ``evaluate`` both print, computed with :mod:`glassnet.metrics`.

Not here: any command's options or behaviour (one module per command, beside this one).
"""

import argparse
import json
import math
import sys
import textwrap

import numpy as np

from .. import activations, losses, metrics
from ..datasets.loader import NAMES as DATASETS
from ..datasets.loader import check as check_dataset
from ..datasets.loader import load as load_dataset
from ..errors import GlassnetError

#: Exit codes: success; training diverged or a check failed; a usage error; interrupted (Ctrl-C).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: Hidden-layer activations a command can name: the registry's (a new activation appears here by itself).
ACTIVATIONS = tuple(activations.names())
#: Losses ``glassnet gradcheck --loss`` can differentiate: the registry's.
LOSSES = tuple(losses.names())
__all__ = ["ACTIVATIONS", "DATASETS", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "LOSSES", "Parser",
           "activation_name", "check_fits", "dataset", "evaluate_test_set", "finite", "fitting_dataset", "json_default",
           "layer_sizes", "number", "number_text", "percent", "plural", "print_json", "subcommand", "usage_error"]


# -- argument types: each rejects a bad value with "expected ..., received ..." ----------------
def activation_name(text):
    """An argparse type: an activation's registry name from any spelling (``swish``, ``Leaky-ReLU``);
    an unknown name is passed on as it is, for ``choices`` to refuse with the list."""
    try:
        return activations.canonical(text)
    except ValueError:
        return text


def number(kind, low, high=None, low_open=False):
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


def layer_sizes(text):
    """``"256,128"`` -> ``[256, 128]``: neurons per hidden layer."""
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected hidden-layer sizes as positive integers separated by "
                                         f"commas, like 256,128; received {text!r}")
    return sizes


def dataset(text):
    """A dataset name or an existing path (loaded later, by ``glassnet.datasets.load``)."""
    try:
        return check_dataset(text)
    except GlassnetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- the parser -------------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    """argparse, with each usage error on one line: ``glassnet: error: ... (see 'glassnet train --help')``."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"glassnet: error: {message} (see '{self.prog} --help')\n")


def subcommand(subparsers, name, handler, help, description, examples):
    """Add the command ``name``, run by ``handler(args)``, with its description and examples in ``--help``."""
    parser = subparsers.add_parser(name, help=help, description=textwrap.fill(description, 78), allow_abbrev=False,
                                   epilog="examples:\n" + "\n".join(f"  {line}" for line in examples),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(handler=handler)
    return parser


# -- printing -------------------------------------------------------------------------------
def usage_error(problem):
    """Print ``glassnet: error: ...`` as one line on standard error; returns exit code 2."""
    if isinstance(problem, OSError) and not isinstance(problem, GlassnetError) and problem.filename:
        problem = f"{problem.filename}: {problem.strerror}"
    print(f"glassnet: error: {' '.join(str(problem).split())}", file=sys.stderr)
    return EXIT_USAGE


def json_default(value):
    """``json.dumps`` helper: NumPy scalars and arrays become plain numbers and lists."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def print_json(obj):
    """Print ``obj`` as one line of strict JSON (no NaN or infinity)."""
    print(json.dumps(obj, default=json_default, allow_nan=False))


def finite(value):
    """A float, or None when NaN/inf (JSON has no infinity)."""
    return float(value) if value is not None and np.isfinite(value) else None


def percent(value):
    return "n/a" if value is None else f"{100 * value:.2f}%"


def plural(n, noun):
    return f"{n} {noun}" + ("" if n == 1 else "s")


def number_text(value):
    return "not finite" if value is None else f"{value:.4f}"


# -- test-set results, shared by train and evaluate ---------------------------------------
def fitting_dataset(net, name, source):
    """The dataset ``name``, loaded and checked to fit the model ``net`` (read from ``source``)."""
    data = load_dataset(name)
    check_fits(net, data, source)
    return data


def check_fits(net, data, source):
    """The model must take the dataset's inputs and give one output per class."""
    if net.n_features != data.n_features:
        raise GlassnetError(f"{source}: the model expects {net.n_features} inputs, but {data.name} examples have "
                            f"{data.n_features} ({'x'.join(map(str, data.shape))}); use a model trained on {data.name}")
    if net.n_outputs != len(data.classes):
        raise GlassnetError(f"{source}: the model has {net.n_outputs} outputs, but {data.name} has "
                            f"{len(data.classes)} classes; use a model trained on {data.name}")


def evaluate_test_set(net, data):
    """Loss, accuracy, per-class accuracy and the confusion matrix on the test set."""
    loss, accuracy = net.evaluate(data.X_test, data.y_test)
    predicted = net.predict(data.X_test)
    C = metrics.confusion_matrix(data.y_test, predicted, len(data.classes))
    rows = metrics.per_class(data.y_test, predicted, len(data.classes))
    per_class = {name: finite(row["accuracy"]) for name, row in zip(data.classes, rows)}
    return {"test_loss": finite(loss), "test_accuracy": finite(accuracy), "n_test": len(data.y_test),
            "per_class_accuracy": per_class, "confusion_matrix": C.tolist(), "classes": list(data.classes)}

