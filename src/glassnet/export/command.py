"""``glassnet export MODEL --format onnx|torch [-o PATH]``: the command-line face of this package.

Registered in ``glassnet.cli.build_parser``; exits 0 when the export matches glassnet, 1 when the
parity check fails (nothing is written), 2 for a usage error (bad flag, missing file or extra).
"""

import json
import sys
from pathlib import Path

from ._common import TOLERANCE, ParityError

FORMATS = ("onnx", "torch")


def add_export(subparsers):
    """Add the ``export`` subcommand to ``glassnet``'s subparsers."""
    from ..cli import _number, _subcommand
    from .onnx import DEFAULT_OPSET

    p = _subcommand(
        subparsers, "export", cmd_export, "export a saved model to ONNX or PyTorch",
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
    p.add_argument("--opset", type=_number(int, 1), help=f"onnx: opset version (default {DEFAULT_OPSET})")
    p.add_argument("--tolerance", type=_number(float, 0, low_open=True), default=TOLERANCE,
                   help=f"largest absolute difference from glassnet accepted, for outputs up to 1 (scaled by the "
                        f"largest |output| above 1; default {TOLERANCE:g})")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_export(args):
    """``glassnet export``: write the export, print where and its parity report; returns the exit code."""
    from ..cli import EXIT_FAILED, EXIT_OK
    from ..errors import GlassnetError
    from ..serialization import load

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
            from .onnx import DEFAULT_OPSET, to_onnx

            report = to_onnx(net, output, softmax=args.softmax, opset=args.opset or DEFAULT_OPSET,
                             tolerance=args.tolerance)
            files = [str(output)]
        else:
            from .torch import save_torch

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
