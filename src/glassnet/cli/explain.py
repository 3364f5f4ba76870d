"""``glassnet explain``: trace one prediction neuron by neuron, as a table, as JSON or as pictures.

The input is an image file (made MNIST-like first, as ``glassnet predict`` does) or a test example
(``--index``); :func:`glassnet.explain.explain` computes everything shown, this module only picks
the input and prints or saves the result (``--save``: PNG maps, explanation.json and, with
matplotlib, one summary figure).
Not here: any of the explanation's numbers.
"""

import argparse
import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np

from .._io import atomic_write_bytes, atomic_write_text
from ..datasets.loader import load as load_dataset
from ..errors import GlassnetError, require
from ..explain import Reference, explain
from ..plots import plot_explanation
from ..preprocess import SIZE, load_image, to_mnist_steps
from ..serialization import load
from .common import EXIT_OK, dataset, number, print_json, subcommand


def add(subparsers):
    """Add ``glassnet explain`` to the subparsers."""
    p = subcommand(
        subparsers, "explain", run, "trace one prediction neuron by neuron",
        "Show how a saved model reaches its answer for one input: every layer's neurons, each neuron's weighted "
        "sum z = w.x + b with the inputs that pushed it most up and down, the activation, the probabilities, "
        "why the winner beat the runner-up, the contribution map (input x effective weight, adding up exactly "
        "to the winner's score) and the nearest training examples in every layer. The input is an image file "
        "(made MNIST-like first, as 'glassnet predict' does; needs Pillow) or a test example (--index).",
        ["glassnet explain runs/latest/model seven.png", "glassnet explain runs/latest/model --index 7",
         "glassnet explain runs/latest/model seven.png --save explained/ --top 8",
         "glassnet explain runs/latest/model --index 7 --json > trace.json"])
    p.add_argument("model", metavar="MODEL", help="a saved model (directory or .safetensors file)")
    p.add_argument("image", metavar="IMAGE", nargs="?", help="an image file (PNG or JPEG) of one digit")
    p.add_argument("--index", type=number(int, 0), metavar="N", help="explain test example N instead of an image")
    p.add_argument("--dataset", type=dataset, metavar="NAME_OR_PATH",
                   help="dataset for --index and the nearest training examples (default: the model's, else digits)")
    p.add_argument("--top", type=number(int, 1), default=5, metavar="K",
                   help="inputs listed per neuron each way, and neurons shown per layer (default 5)")
    p.add_argument("--neighbours", type=number(int, 0), default=5, metavar="K",
                   help="nearest training examples listed per layer; 0 for none (default 5)")
    p.add_argument("--json", action="store_true", help="print the whole trace as one JSON object")
    p.add_argument("--save", metavar="DIR",
                   help="write the input, contribution map and saliency as PNG pictures (and, for an image, each "
                        "preprocessing step), explanation.json and, with matplotlib, explanation.png into DIR")


def run(args: argparse.Namespace) -> int:
    """``glassnet explain``: the trace of one prediction."""
    if (args.image is None) == (args.index is None):
        raise GlassnetError("explain expected an IMAGE file or --index N (a test example), received "
                            + ("both" if args.image is not None else "neither"))
    net = load(args.model)
    steps, label, source = None, None, args.image
    if args.image is not None:
        if net.n_features != SIZE * SIZE:
            raise GlassnetError(f"{args.model}: explain reads {SIZE}x{SIZE} digit images ({SIZE * SIZE} inputs), "
                                f"but this model expects {net.n_features} inputs; use --index N for its test set")
        steps = to_mnist_steps(load_image(args.image), name=args.image)
        x = steps[-1][1].reshape(-1)
    data = _model_dataset(net, args)
    if args.index is not None:
        if args.index >= len(data.X_test):
            raise GlassnetError(f"--index expected a test example in 0..{len(data.X_test) - 1} ({data.name} has "
                                f"{len(data.X_test)}), received {args.index}")
        x, label = data.X_test[args.index], int(data.y_test[args.index])
        source = f"{data.name} test example {args.index}"
    if args.save is not None:
        require("PIL.Image", "image")                     # fail before the work, not after
        if Path(args.save).exists() and not Path(args.save).is_dir():
            raise GlassnetError(f"--save expected a folder to write the pictures into, received {args.save}, "
                                f"which is a file")
    reference = Reference(net, data.X_train, data.y_train) if data is not None and args.neighbours else None
    e = explain(net, x, top=args.top, reference=reference, neighbours=max(args.neighbours, 1), label=label)
    classes = list(data.classes) if data is not None else None
    saved = save_pictures(e, steps, Path(args.save), classes) if args.save is not None else []
    if args.json:
        print_json({"model": str(args.model), "input": source, "classes": classes, "saved": saved, **e.to_dict()})
        return EXIT_OK
    name = (lambda k: classes[k]) if classes and len(classes) == net.n_outputs else str
    print(f"{source}: the network says {name(e.prediction)}"
          + (f" (true: {name(label)})" if label is not None else ""))
    print(e)
    for path in saved:
        print(f"saved: {path}")
    return EXIT_OK


def _model_dataset(net, args):
    """The dataset for ``--index`` and the nearest training examples, or None when an image needs none."""
    if args.index is None and not args.neighbours:
        return None
    settings = net.metadata_.get("settings") if isinstance(getattr(net, "metadata_", None), dict) else None
    name = args.dataset or (settings or {}).get("dataset") or "digits"
    try:
        data = load_dataset(name)
        if data.n_features != net.n_features:
            raise GlassnetError(f"{args.model}: the model expects {net.n_features} inputs, but {data.name} "
                                f"examples have {data.n_features}; use --dataset with the model's dataset")
        if len(data.classes) != max(net.n_outputs, 2):
            raise GlassnetError(f"{args.model}: the model has {net.n_outputs} outputs, but {data.name} has "
                                f"{len(data.classes)} classes; use --dataset with the model's dataset")
    except GlassnetError as exc:
        if args.index is not None or args.dataset is not None:
            raise
        # an image needs the model's dataset only for its nearest training examples: go on without them
        print(f"glassnet: note: no nearest training examples ({exc})", file=sys.stderr)
        return None
    return data


def png(array, signed):
    """A 2-D array as PNG bytes, ten times larger: grey for values in [0, 1]; red (+) / blue (-) if ``signed``."""
    Image = require("PIL.Image", "image")
    a = np.asarray(array, dtype=np.float64)
    if signed:
        v = a / (np.max(np.abs(a)) or 1.0)
        fade = (255 * (1 - np.abs(v))).astype(np.uint8)
        full = np.full_like(fade, 255)
        rgb = np.where((v >= 0)[..., None], np.stack([full, fade, fade], -1), np.stack([fade, fade, full], -1))
        img = Image.fromarray(rgb.astype(np.uint8), "RGB")
    else:
        top = float(a.max()) or 1.0
        img = Image.fromarray((255 * np.clip(a / top, 0, 1)).astype(np.uint8), "L")
    scale = max(1, 280 // max(a.shape))
    img = img.resize((a.shape[1] * scale, a.shape[0] * scale), Image.NEAREST)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def save_pictures(e, steps, folder, classes=None):
    """Write the explanation's pictures and JSON into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def write(name, data):
        atomic_write_bytes(folder / name, data)
        written.append(str(folder / name))

    shape = e.image_shape if e.image_shape and len(e.image_shape) == 2 else (1, len(e.x))
    write("input.png", png(e.x.reshape(shape), signed=bool(e.x.min() < 0)))   # signed inputs: red +, blue -
    for name in ("contribution", "contribution_vs_runner_up", "saliency", "log_saliency"):
        write(f"{name.replace('_', '-')}.png", png(e.maps[name].reshape(shape), signed=True))
    for k, (step, picture) in enumerate(steps or [], start=1):
        write(f"preprocess-{k}-{step}.png", png(picture, signed=False))
    atomic_write_text(folder / "explanation.json", json.dumps(e.to_dict(), allow_nan=False) + "\n")
    written.append(str(folder / "explanation.json"))
    if importlib.util.find_spec("matplotlib") is not None:     # the one-figure summary, when plots can be drawn

        plot_explanation(e, classes=classes, path=folder / "explanation.png")
        written.append(str(folder / "explanation.png"))
    return written


__all__ = ["add", "png", "run", "save_pictures"]
