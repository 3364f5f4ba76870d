"""``glassnet report MODEL``: write the self-contained HTML report of a saved model.

The page is :func:`glassnet.report.build_report` (called through its module, so a test may put a
quicker one in its place); this module only picks the dataset, the seed and the output path.
Needs matplotlib (the ``plot`` extra). Not here: the report's content.
"""

import argparse
from pathlib import Path

from .. import report as html_report
from ..errors import GlassnetError, require
from ..lr_finder import lr_find
from ..serialization import load
from .common import EXIT_OK, dataset, fitting_dataset, number, print_json, subcommand


def add(subparsers):
    """Add ``glassnet report`` to the subparsers."""
    p = subcommand(
        subparsers, "report", run, "write an HTML report about a saved model",
        "Write one self-contained HTML file about a saved model: its architecture (table and diagram), its "
        "training history (table and curves), accuracy per class, the confusion matrix, the most confident "
        "mistakes, the first layer's weights as pictures, the neurons' activations, the weights now against at "
        "initialisation, diagnostics, and a few test predictions explained neuron by neuron (one of them a "
        "mistake). Pictures are embedded; the file needs nothing else to open. Needs matplotlib "
        "(pip install \"glassnet[plot]\").",
        ["glassnet report runs/latest/model -o report.html",
         "glassnet report runs/latest/model --dataset digits --explained 6 --lr-find"])
    p.add_argument("model", metavar="MODEL", help="a saved model (directory or .safetensors file)")
    p.add_argument("--dataset", type=dataset, metavar="NAME_OR_PATH",
                   help="dataset whose test set to measure and explain: a name or a path, as for 'glassnet train' "
                        "(default: the one the model was trained on, else digits)")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="the .html file to write (default: report.html beside MODEL)")
    p.add_argument("--explained", type=number(int, 0), default=4, metavar="N",
                   help="test predictions to explain neuron by neuron (default 4)")
    p.add_argument("--seed", type=number(int, 0),
                   help="the seed the network was created with, to show its initial weights (default: the one "
                        "'glassnet train' recorded)")
    p.add_argument("--lr-find", action="store_true",
                   help="also run a learning-rate range test on a fresh network of the same shape and show it")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """``glassnet report``: write the HTML report of a saved model; returns the exit code."""
    require("matplotlib", "plot")
    if args.output and Path(args.output).suffix.lower() not in (".html", ".htm"):    # before the work
        raise GlassnetError(f"-o expected a file name ending in .html, received {args.output!r}")
    net = load(args.model)
    settings = net.metadata_.get("settings")
    settings = settings if isinstance(settings, dict) else {}
    data = fitting_dataset(net, args.dataset or settings.get("dataset") or "digits", args.model)
    output = Path(args.output) if args.output else Path(str(args.model).rstrip("/\\")).parent / "report.html"
    seed = args.seed if args.seed is not None else settings.get("seed")
    result = None
    if args.lr_find:
        fresh = load(args.model)
        fresh.set_weights(html_report.initial_weights(net, seed if seed is not None else 0))
        result = lr_find(fresh, data.X_train, data.y_train, seeds=(0, 1, 2))
    path = html_report.build_report(net, data, path=output, seed=seed, settings=settings or None, lr_find=result,
                                    explained=args.explained, title=f"glassnet report: {args.model}")
    accuracy = net.evaluate(data.X_test, data.y_test).accuracy
    if args.json:
        print_json({"report_path": str(path), "model": str(args.model), "dataset": data.name,
                    "test_accuracy": accuracy})
    else:
        print(f"report: {path}")
    return EXIT_OK


__all__ = ["add", "run"]
