"""``glassnet gradcheck``: backpropagation against central finite differences, in float64.

Exit 0 when every relative error is below 1e-6, 1 otherwise. Without MODEL a small new network is
checked on the first bundled digits; a saved MODEL is checked with random labels.
Not here: the check itself (:func:`glassnet.gradcheck.gradcheck`).
"""

import argparse

import numpy as np

from ..datasets import load_digits
from ..errors import GlassnetError
from ..gradcheck import gradcheck
from ..network import Network
from ..serialization import load
from .common import ACTIVATIONS, EXIT_FAILED, EXIT_OK, LOSSES, activation_name, layer_sizes, number, subcommand


def max_checks(text):
    """An argparse type: a positive number of entries, or ``all`` (None)."""
    return None if text == "all" else number(int, 1)(text)


def add(subparsers):
    """Add ``glassnet gradcheck`` to the subparsers."""
    p = subcommand(subparsers, "gradcheck", run, "check backpropagation against finite differences",
                   "Compare the gradients backpropagation computes with central finite differences "
                   "(L(w + h) - L(w - h)) / 2h, in float64, for every weight tensor and the input. Without MODEL, "
                   "a small new network is checked on the first few bundled digits; a saved MODEL is checked "
                   "on them with random labels (a trained network's gradients for the true labels are too small "
                   "to measure). Exit 0 if every relative error is below 1e-6, 1 otherwise.",
                   ["glassnet gradcheck", "glassnet gradcheck --layers 32 --activation relu --max-checks all",
                    "glassnet gradcheck runs/latest/model"])
    p.add_argument("model", metavar="MODEL", nargs="?", help="a saved model to check (default: a new small network)")
    p.add_argument("--layers", type=layer_sizes, metavar="N,N,...",
                   help="hidden layers of the new network (default 16,8)")
    p.add_argument("--activation", type=activation_name, choices=ACTIVATIONS,
                   help="activation of the new network (default tanh)")
    p.add_argument("--loss", choices=LOSSES, help="loss to differentiate (default: the model's, or cross_entropy)")
    p.add_argument("--samples", type=number(int, 1), default=4, help="digits in the batch (default 4)")
    p.add_argument("--max-checks", type=max_checks, default=200, metavar="N",
                   help="entries checked per tensor, chosen at random, or 'all' (default 200)")
    p.add_argument("--seed", type=number(int, 0), default=0, help="seed for the network and the sampled entries")


def run(args: argparse.Namespace) -> int:
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
    X, y = batch(net, args.samples, args.seed, true_labels=args.model is None)
    print(f"gradient check of {what}: {len(X)} samples, loss {loss}, float64, "
          f"{'every entry' if args.max_checks is None else f'up to {args.max_checks} entries per tensor'}")
    report = gradcheck(net, X, y, loss=loss, max_checks=args.max_checks, seed=args.seed)
    print(report)
    return EXIT_OK if report.passed else EXIT_FAILED


def batch(net, n_samples, seed, true_labels):
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


__all__ = ["add", "batch", "max_checks", "run"]
