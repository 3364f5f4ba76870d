"""``glassnet lr-find``: the learning-rate range test on a new network of the given shape.

Runs :func:`glassnet.lr_finder.lr_find` and prints its suggestion (and, with ``--plot``, draws
the curves with matplotlib). Not here: the test itself or its suggestion rules.
"""

import argparse
import sys

from .. import optimizers
from ..datasets.loader import load as load_dataset
from ..errors import GlassnetError, require
from ..lr_finder import MAX_SEEDS, MAX_STEPS, lr_find
from ..network import Network
from ..plots import plot_lr_find
from .common import ACTIVATIONS, EXIT_OK, activation_name, dataset, layer_sizes, number, print_json, subcommand


def add(subparsers):
    """Add ``glassnet lr-find`` to the subparsers."""
    p = subcommand(
        subparsers, "lr-find", run, "find a good learning rate (the range test)",
        "Train a new network for a few hundred mini-batches while raising the learning rate exponentially, "
        "from --start to --end, and stop when the loss shoots up. Too small a rate and the loss barely moves; "
        "too big and it explodes; the suggestion is where the smoothed loss falls fastest. With --seeds N the "
        "test is repeated with N batch orders, and the spread of the suggestions says how far to trust them. "
        "The suggestion is for a constant rate (glassnet train --schedule constant --lr RATE).",
        ["glassnet lr-find", "glassnet lr-find --layers 128 --seeds 5",
         "glassnet lr-find --optimizer adam --json", "glassnet lr-find --plot lr.png"])
    p.add_argument("--dataset", type=dataset, default="digits", metavar="NAME_OR_PATH",
                   help="training data, as for 'glassnet train' (default digits)")
    p.add_argument("--layers", type=layer_sizes, default=[256, 128], metavar="N,N,...",
                   help="neurons per hidden layer (default 256,128, as glassnet train)")
    p.add_argument("--activation", type=activation_name, choices=ACTIVATIONS,
                   default="relu", help="hidden activation (default relu)")
    p.add_argument("--optimizer", choices=optimizers.names(), default="sgd", help="optimizer (default sgd)")
    p.add_argument("--momentum", type=number(float, 0, 1), default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--batch-size", type=number(int, 1), default=64, help="samples per step (default 64)")
    p.add_argument("--start", type=number(float, 0, low_open=True), default=1e-6,
                   help="first learning rate (default 1e-6)")
    p.add_argument("--end", type=number(float, 0, low_open=True), default=10.0,
                   help="last learning rate (default 10)")
    p.add_argument("--steps", type=number(int, 2, MAX_STEPS), default=100,
                   help="mini-batches per run at most (default 100)")
    p.add_argument("--seeds", type=number(int, 1, MAX_SEEDS), default=3, metavar="N",
                   help="runs with different batch orders (default 3)")
    p.add_argument("--rule", choices=("steepest", "valley", "minimum"), default="steepest",
                   help="how to read the suggestion off the curve (default steepest)")
    p.add_argument("--seed", type=number(int, 0), default=0, help="seed of the new network's weights (default 0)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--plot", metavar="PNG", help="also draw the curves into this .png file (needs matplotlib)")


def run(args: argparse.Namespace) -> int:
    """``glassnet lr-find``: the learning-rate range test on a new network."""
    if args.plot is not None:                           # check before the work
        if not args.plot.lower().endswith(".png"):
            raise GlassnetError(f"--plot expected a file name ending in .png, received {args.plot!r}")
        require("matplotlib", "plot")
    if not args.start < args.end:
        raise GlassnetError(f"--start must be below --end, received --start {args.start:g} --end {args.end:g}")
    data = load_dataset(args.dataset)
    net = Network.mlp([data.n_features, *args.layers, len(data.classes)], activation=args.activation, seed=args.seed)
    if not args.json:
        print(f"learning-rate range test: {data.n_features}-{'-'.join(map(str, args.layers))}-{len(data.classes)} "
              f"{args.activation} network on {data.name}, {args.seeds} seed(s)", file=sys.stderr)
    result = lr_find(net, data.X_train, data.y_train, start=args.start, end=args.end, steps=args.steps,
                     batch_size=args.batch_size, optimizer=args.optimizer, momentum=args.momentum,
                     seeds=args.seeds, rule=args.rule)
    plot_path = None
    if args.plot is not None:

        plot_lr_find(result, path=args.plot)
        plot_path = args.plot
    if args.json:
        print_json({**result.to_dict(), "dataset": data.name, "layers": args.layers, "plot_path": plot_path})
        return EXIT_OK
    print(result)
    print(f"try: glassnet train --optimizer {args.optimizer} --schedule constant --lr {result.suggestion:.2g}"
          + (f" --layers {','.join(map(str, args.layers))}" if args.layers != [256, 128] else ""))
    if plot_path:
        print(f"plot: {plot_path}")
    return EXIT_OK


__all__ = ["add", "run"]
