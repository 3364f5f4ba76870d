"""The ``glassnet`` command (also ``python -m glassnet``): one module per command over shared helpers.

Each command is a module here with ``add(subparsers)`` (its options and ``--help``) and
``run(args)`` (what it does, over the library's public API, so the command line does nothing the
library cannot): ``train``, ``evaluate``, ``predict``, ``info``, ``gradcheck``, ``explain``,
``lr_find`` (``lr-find``), ``report``, ``datasets``, ``export`` and ``app``. What they share (the
argument types, the parser, the exit codes, JSON printing) is in :mod:`glassnet.cli.common`, a
leaf that imports no command. A new command is a new module here plus one entry in
:data:`COMMANDS`.

Exit codes: 0 success; 1 training diverged or a check failed; 2 a usage error (bad flag or value,
a missing, damaged or hostile file, data too large for memory), printed as one line
``glassnet: error: ...`` and never a traceback; 130 interrupted (Ctrl-C, or SIGTERM/SIGHUP in
``train``), after saving the work so far; 141 the reader of standard output went away
(``glassnet info m | head -1``), quietly. Only the standard library's ``argparse``
is used here. Not here: any computation (that is the library's).
"""

import argparse
import os
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import GlassnetError
from ..metrics import confusion_matrix  # its home is glassnet.metrics; importable from here as before
from . import app, datasets, descent, evaluate, explain, export, gradcheck, info, lr_find, predict, report, train
from .common import ACTIVATIONS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, LOSSES, Parser, usage_error
from .train import AUGMENT, DEFAULT_OUT, DEFAULTS  # the command's settings, importable from glassnet.cli as before

#: The commands in the order ``glassnet --help`` lists them: learn, see through it, data in and models out, the app.
COMMANDS = (train, evaluate, predict, explain, report, lr_find, descent, gradcheck, info, datasets, export, app)


def build_parser() -> argparse.ArgumentParser:
    """The ``glassnet`` argument parser with its subcommands."""
    parser = Parser(prog="glassnet", allow_abbrev=False,
                    description="glassnet: the neural network you can see through. Train, inspect and use "
                                "small neural networks (multi-layer perceptrons) written in NumPy.",
                    epilog="Run 'glassnet COMMAND --help' for the options of each command.")
    parser.add_argument("--version", action="version", version=f"glassnet {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
    except BrokenPipeError:
        return _reader_gone()
    except RecursionError:
        return usage_error("the input nests too deeply to be read (a damaged or hostile file)")
    except MemoryError:
        return usage_error("not enough memory for this input; use smaller data or a smaller network")
    except (GlassnetError, ValueError, TypeError, OSError) as exc:
        return usage_error(exc)


def _reader_gone():
    """Standard output's reader closed the pipe (``| head -1``): stop quietly, as ``yes | head -1`` does."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())     # Python's final flush of stdout must not fail again
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


#: Exit code when the reader of standard output went away (128 + SIGPIPE, as for other tools).
EXIT_BROKEN_PIPE = 141


__all__ = ["ACTIVATIONS", "AUGMENT", "COMMANDS", "DEFAULTS", "DEFAULT_OUT", "LOSSES", "build_parser",
           "confusion_matrix", "main"]
