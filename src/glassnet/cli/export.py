"""``glassnet export MODEL --format onnx|torch [-o PATH]``: a saved model to ONNX or PyTorch.

Exit 0 when the export matches glassnet, 1 when the parity check fails (nothing is written), 2 for
a usage error (bad flag, missing file or extra). Not here: the exporters (:mod:`glassnet.export`).
"""

import argparse
import json
import sys
from pathlib import Path

from ..errors import GlassnetError
from ..export import DEFAULT_OPSET, TOLERANCE, ParityError, save_torch, to_onnx
from ..serialization import load
from .common import EXIT_FAILED, EXIT_OK, number, subcommand

FORMATS = ("onnx", "torch")


def add(subparsers):
    """Add ``glassnet export`` to the subparsers."""
    p = subcommand(
        subparsers, "export", run, "export a saved model to ONNX or PyTorch",
        "Export a saved model without retraining. --format onnx writes an ONNX model (float32, dynamic batch "
        f"axis, opset {DEFAULT_OPSET}) to serve with ONNX Runtime; --format torch writes a PyTorch state dict "
        "(.pt, tensors only) and, beside it, a short Python file whose load() rebuilds the torch.nn.Sequential "
        "with those weights, to keep training in PyTorch. Before anything is written, the export is run on "
        "real inputs (the bundled digits for a 784-input model) and must match glassnet to the tolerance; "
        "exit 1 if it does not. Needs pip install \"glassnet[onnx]\" or \"glassnet[torch]\".",
        ["glassnet export runs/latest/model --format onnx",
         "glassnet export runs/latest/model --format onnx --softmax -o digits.onnx",
         "glassnet export runs/latest/model --format torch -o digits.pt   # writes digits.pt and digits.py"])
    p.add_argument("model", metavar="MODEL", help="a saved model (directory or .safetensors file)")
    p.add_argument("--format", required=True, choices=FORMATS, help="onnx or torch")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="file to write: a .onnx file, or a .pt file with its .py beside it (default: MODEL's "
                        "path with .onnx or .pt)")
    p.add_argument("--softmax", action="store_true",
                   help="onnx: end the model with a softmax, so it returns probabilities (default: logits)")
    p.add_argument("--opset", type=number(int, 1), help=f"onnx: opset version (default {DEFAULT_OPSET})")
    p.add_argument("--tolerance", type=number(float, 0, low_open=True), default=TOLERANCE,
                   help=f"largest absolute difference from glassnet accepted, for outputs up to 1 (scaled by the "
                        f"largest |output| above 1; default {TOLERANCE:g})")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """``glassnet export``: write the export, print where and its parity report; returns the exit code."""
    if args.format == "torch" and (args.softmax or args.opset is not None):
        raise GlassnetError("--softmax and --opset apply to --format onnx only")
    suffix = ".onnx" if args.format == "onnx" else ".pt"
    output = Path(args.output) if args.output else Path(args.model.rstrip("/\\")).with_suffix(suffix)
    if output.suffix != suffix:
        raise GlassnetError(f"--output expected a path ending in {suffix} for --format {args.format}, "
                            f"received {str(output)!r}")
    model = Path(args.model)
    if (model / "model").is_dir() and not (model / "model.json").exists():      # a run folder of 'glassnet train'
        raise GlassnetError(f"{model}: expected a saved model, received a training run's folder; "
                            f"export its model: glassnet export {model / 'model'} --format {args.format}")
    net = load(args.model)
    try:
        if args.format == "onnx":
            report = to_onnx(net, output, softmax=args.softmax, opset=args.opset or DEFAULT_OPSET,
                             tolerance=args.tolerance)
            files = [str(output)]
        else:
            report = save_torch(net, output, tolerance=args.tolerance)
            files = [str(output), str(output.with_suffix(".py"))]
    except ParityError as exc:
        print(f"glassnet: {' '.join(str(exc).split())}", file=sys.stderr)
        if args.json:
            print(json.dumps({"format": args.format, "files": [], "parity": exc.report.to_dict()}))
        return EXIT_FAILED
    if args.json:
        print(json.dumps({"format": args.format, "files": files, "parity": report.to_dict()}))
        return EXIT_OK
    print(f"wrote {' and '.join(files)}")
    if args.format == "torch":
        print(f"in PyTorch: load() in {files[1]} rebuilds the module with these weights "
              f"(python {files[1]} prints it)")
    print(report)
    return EXIT_OK


__all__ = ["FORMATS", "add", "run"]
