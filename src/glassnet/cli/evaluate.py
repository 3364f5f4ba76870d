"""``glassnet evaluate``: test loss, accuracy and accuracy per class of a saved model.

Not here: the numbers themselves (``Network.evaluate`` and :mod:`glassnet.metrics`, through
:func:`glassnet.cli.common.evaluate_test_set`, which ``glassnet train`` uses too).
"""

import argparse

from ..serialization import load
from .common import EXIT_OK, dataset, evaluate_test_set, fitting_dataset, number_text, percent, print_json, subcommand


def add(subparsers):
    """Add ``glassnet evaluate`` to the subparsers."""
    p = subcommand(subparsers, "evaluate", run, "test loss and accuracy of a saved model",
                   "Measure a saved model on the test set: loss, accuracy and accuracy per class.",
                   ["glassnet evaluate runs/latest/model", "glassnet evaluate runs/latest/model --json"])
    p.add_argument("model", metavar="MODEL", help="a saved model (directory or .safetensors file)")
    p.add_argument("--dataset", type=dataset, default="digits", metavar="NAME_OR_PATH",
                   help="dataset whose test set to use: a name or a path, as for 'glassnet train' (default digits)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """``glassnet evaluate``: test loss, accuracy and per-class accuracy of a saved model."""
    net = load(args.model)
    data = fitting_dataset(net, args.dataset, args.model)
    results = evaluate_test_set(net, data)
    if args.json:
        print_json({"model": args.model, "dataset": data.name, **results})
        return EXIT_OK
    print(f"{args.model} on {data.name} ({results['n_test']:,} test examples)")
    print(f"test accuracy {percent(results['test_accuracy'])}  loss {number_text(results['test_loss'])}")
    print("accuracy per class:")
    C = results["confusion_matrix"]
    for i, name in enumerate(results["classes"]):
        print(f"  {name}: {percent(results['per_class_accuracy'][name]):>7}  ({C[i][i]}/{sum(C[i])})")
    return EXIT_OK


__all__ = ["add", "run"]
