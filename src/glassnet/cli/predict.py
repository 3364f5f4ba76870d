"""``glassnet predict``: the digit in each image file, with the probabilities of every class.

Each image is first made to look like MNIST by :mod:`glassnet.preprocess` (needs Pillow).
Not here: any other kind of input than 28x28 digit pictures (use the library's ``predict``).
"""

import argparse

import numpy as np

from ..errors import GlassnetError
from ..preprocess import SIZE, load_image, to_mnist
from ..serialization import load
from .common import EXIT_OK, print_json, subcommand


def add(subparsers):
    """Add ``glassnet predict`` to the subparsers."""
    p = subcommand(subparsers, "predict", run, "read digits from image files",
                   "Predict the digit in each image (PNG or JPEG, any size, dark-on-light or light-on-dark). "
                   "Each image is first made to look like MNIST: grayscale, ink bright on black, cropped, "
                   "scaled to 20 pixels and centred by its centre of mass in 28x28. Needs Pillow "
                   "(pip install \"glassnet[image]\").",
                   ["glassnet predict runs/latest/model seven.png", "glassnet predict runs/latest/model *.png --json"])
    p.add_argument("model", metavar="MODEL", help="a saved model trained on 28x28 digits")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    p.add_argument("--json", action="store_true", help="print one JSON object per image, one per line")


def run(args: argparse.Namespace) -> int:
    """``glassnet predict``: the digit in each image, with the ten probabilities."""
    net = load(args.model)
    if net.n_features != SIZE * SIZE:
        raise GlassnetError(f"{args.model}: predict reads {SIZE}x{SIZE} digit images ({SIZE * SIZE} inputs), but "
                            f"this model expects {net.n_features} inputs")
    # Read every image first, so a bad file stops the command before anything is printed.
    X = np.stack([to_mnist(load_image(path), name=path).reshape(-1) for path in args.images])
    probabilities, labels = net.predict_proba(X), net.predict(X)
    for path, p, label in zip(args.images, probabilities, labels):
        if args.json:
            print_json({"image": path, "prediction": int(label), "probabilities": [float(q) for q in p]})
        else:
            print(f"{path}: {label}  (" + "  ".join(f"{k}: {q:.2f}" for k, q in enumerate(p)) + ")")
    return EXIT_OK


__all__ = ["add", "run"]
