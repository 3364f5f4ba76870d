"""``glassnet info``: what a saved model is (layers, format, dtype, loss), how it was trained, its metadata.

Not here: reading or checking the model files (``glassnet.serialization.load`` does that first).
"""

import argparse
import json
from pathlib import Path

from ..modelfile import read_model
from ..network import Network
from .common import EXIT_OK, json_default, percent, print_json, subcommand


def add(subparsers):
    """Add ``glassnet info`` to the subparsers."""
    p = subcommand(subparsers, "info", run, "describe a saved model",
                   "Show a saved model: layers and parameter counts, file format, dtype, loss, training "
                   "history and metadata.",
                   ["glassnet info runs/latest/model", "glassnet info model.safetensors --json"])
    p.add_argument("model", metavar="MODEL", help="a saved model (directory or .safetensors file)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """``glassnet info``: what a saved model is, how it was trained, and its layers."""
    doc, tensors, source = read_model(Path(args.model))     # read once: one version, even while it is re-saved
    net = Network.from_saved(doc, tensors, source)
    history = net.history_.epochs if net.history_ is not None else []
    info = {"model": args.model, "format": doc["format"], "format_version": doc["format_version"],
            "glassnet_version": doc.get("glassnet_version"), "dtype": str(net.dtype),
            "loss": net.loss_.name if net.loss_ is not None else None, "n_features": net.n_features,
            "n_outputs": net.n_outputs, "n_params": net.n_params, "architecture": net.get_config(),
            "epochs_trained": len(history), "last_epoch": history[-1] if history else None,
            "metadata": net.metadata_, "summary": net.summary()}
    if args.json:
        print_json(info)
        return EXIT_OK
    print(f"model: {args.model}")
    print(f"format: {info['format']} version {info['format_version']} (written by glassnet {info['glassnet_version']})")
    print(f"dtype: {info['dtype']}")
    print(f"loss: {info['loss'] or 'not recorded'}")
    last = info["last_epoch"]
    trained = f"{len(history)} epochs" + (f"; last: loss {last['loss']:.4f}, accuracy {percent(last['accuracy'])}"
                                          if last else "")
    print(f"training history: {trained}")
    print("metadata:" + ("" if net.metadata_ else " none"))
    for key, value in net.metadata_.items():
        print(f"  {key}: {json.dumps(value, default=json_default)}")
    print()
    print(net.summary())
    return EXIT_OK


def model_document(path):
    """The JSON document of a saved model (format, versions, architecture...), as ``glassnet.modelfile`` reads it."""
    document, _, _ = read_model(path)
    return document


__all__ = ["add", "model_document", "run"]
