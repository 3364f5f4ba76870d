"""The ``glassnet explain`` and ``glassnet lr-find`` subcommands (registered in ``glassnet.cli``).

``explain`` traces one prediction (an image file, or a test example by ``--index``) neuron by
neuron with :func:`glassnet.explain.explain` and prints it as a table, or as JSON; ``--save``
writes its maps as pictures. ``lr-find`` runs :func:`glassnet.lr_finder.lr_find` on a new
network of the given shape. Both are thin: everything they show, the library computes.
"""

import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np

from ._io import atomic_write_bytes, atomic_write_text
from .errors import GlassnetError, require


# -- explain ------------------------------------------------------------------------------------
def add_explain(subparsers):
    """Add ``glassnet explain`` to the subparsers."""
    from .cli import _dataset, _number, _subcommand

    p = _subcommand(
        subparsers, "explain", cmd_explain, "trace one prediction neuron by neuron",
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
    p.add_argument("--index", type=_number(int, 0), metavar="N", help="explain test example N instead of an image")
    p.add_argument("--dataset", type=_dataset, metavar="NAME_OR_PATH",
                   help="dataset for --index and the nearest training examples (default: the model's, else digits)")
    p.add_argument("--top", type=_number(int, 1), default=5, metavar="K",
                   help="inputs listed per neuron each way, and neurons shown per layer (default 5)")
    p.add_argument("--neighbours", type=_number(int, 0), default=5, metavar="K",
                   help="nearest training examples listed per layer; 0 for none (default 5)")
    p.add_argument("--json", action="store_true", help="print the whole trace as one JSON object")
    p.add_argument("--save", metavar="DIR",
                   help="write the input, contribution map and saliency as PNG pictures (and, for an image, each "
                        "preprocessing step), explanation.json and, with matplotlib, explanation.png into DIR")


def cmd_explain(args):
    """``glassnet explain``: the trace of one prediction."""
    from .cli import EXIT_OK, _print_json
    from .datasets.loader import load as load_dataset
    from .explain import Reference, explain
    from .serialization import load

    if (args.image is None) == (args.index is None):
        raise GlassnetError("explain expected an IMAGE file or --index N (a test example), received "
                            + ("both" if args.image is not None else "neither"))
    net = load(args.model)
    steps, label, source = None, None, args.image
    if args.image is not None:
        from .preprocess import SIZE, load_image, to_mnist_steps

        if net.n_features != SIZE * SIZE:
            raise GlassnetError(f"{args.model}: explain reads {SIZE}x{SIZE} digit images ({SIZE * SIZE} inputs), "
                                f"but this model expects {net.n_features} inputs; use --index N for its test set")
        steps = to_mnist_steps(load_image(args.image), name=args.image)
        x = steps[-1][1].reshape(-1)
    settings = net.metadata_.get("settings") if isinstance(getattr(net, "metadata_", None), dict) else None
    dataset = args.dataset or (settings or {}).get("dataset") or "digits"
    data = None
    if args.index is not None or args.neighbours:
        try:
            data = load_dataset(dataset)
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
            data = None
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
    saved = _save(e, steps, Path(args.save), classes) if args.save is not None else []
    if args.json:
        _print_json({"model": str(args.model), "input": source, "classes": classes, "saved": saved,
                     **e.to_dict()})
        return EXIT_OK
    name = (lambda k: classes[k]) if classes and len(classes) == net.n_outputs else str
    print(f"{source}: the network says {name(e.prediction)}"
          + (f" (true: {name(label)})" if label is not None else ""))
    print(e)
    for path in saved:
        print(f"saved: {path}")
    return EXIT_OK


def _png(array, signed):
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


def _save(e, steps, folder, classes=None):
    """Write the explanation's pictures and JSON into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def write(name, data):
        atomic_write_bytes(folder / name, data)
        written.append(str(folder / name))

    shape = e.image_shape if e.image_shape and len(e.image_shape) == 2 else (1, len(e.x))
    write("input.png", _png(e.x.reshape(shape), signed=bool(e.x.min() < 0)))   # signed inputs: red +, blue -
    for name in ("contribution", "contribution_vs_runner_up", "saliency", "log_saliency"):
        write(f"{name.replace('_', '-')}.png", _png(e.maps[name].reshape(shape), signed=True))
    for k, (step, picture) in enumerate(steps or [], start=1):
        write(f"preprocess-{k}-{step}.png", _png(picture, signed=False))
    atomic_write_text(folder / "explanation.json", json.dumps(e.to_dict(), allow_nan=False) + "\n")
    written.append(str(folder / "explanation.json"))
    if importlib.util.find_spec("matplotlib") is not None:     # the one-figure summary, when plots can be drawn
        from .plots import plot_explanation

        plot_explanation(e, classes=classes, path=folder / "explanation.png")
        written.append(str(folder / "explanation.png"))
    return written


# -- lr-find ------------------------------------------------------------------------------------
def add_lr_find(subparsers):
    """Add ``glassnet lr-find`` to the subparsers."""
    from .cli import ACTIVATIONS, _dataset, _layer_sizes, _number, _subcommand
    from .lr_finder import MAX_SEEDS, MAX_STEPS

    p = _subcommand(
        subparsers, "lr-find", cmd_lr_find, "find a good learning rate (the range test)",
        "Train a new network for a few hundred mini-batches while raising the learning rate exponentially, "
        "from --start to --end, and stop when the loss shoots up. Too small a rate and the loss barely moves; "
        "too big and it explodes; the suggestion is where the smoothed loss falls fastest. With --seeds N the "
        "test is repeated with N batch orders, and the spread of the suggestions says how far to trust them. "
        "The suggestion is for a constant rate (glassnet train --schedule constant --lr RATE).",
        ["glassnet lr-find", "glassnet lr-find --layers 128 --seeds 5",
         "glassnet lr-find --optimizer adam --json", "glassnet lr-find --plot lr.png"])
    p.add_argument("--dataset", type=_dataset, default="digits", metavar="NAME_OR_PATH",
                   help="training data, as for 'glassnet train' (default digits)")
    p.add_argument("--layers", type=_layer_sizes, default=[256, 128], metavar="N,N,...",
                   help="neurons per hidden layer (default 256,128, as glassnet train)")
    p.add_argument("--activation", choices=ACTIVATIONS, default="relu", help="hidden activation (default relu)")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default="sgd", help="optimizer (default sgd)")
    p.add_argument("--momentum", type=_number(float, 0, 1), default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--batch-size", type=_number(int, 1), default=64, help="samples per step (default 64)")
    p.add_argument("--start", type=_number(float, 0, low_open=True), default=1e-6,
                   help="first learning rate (default 1e-6)")
    p.add_argument("--end", type=_number(float, 0, low_open=True), default=10.0,
                   help="last learning rate (default 10)")
    p.add_argument("--steps", type=_number(int, 2, MAX_STEPS), default=100,
                   help="mini-batches per run at most (default 100)")
    p.add_argument("--seeds", type=_number(int, 1, MAX_SEEDS), default=3, metavar="N",
                   help="runs with different batch orders (default 3)")
    p.add_argument("--rule", choices=("steepest", "valley", "minimum"), default="steepest",
                   help="how to read the suggestion off the curve (default steepest)")
    p.add_argument("--seed", type=_number(int, 0), default=0, help="seed of the new network's weights (default 0)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--plot", metavar="PNG", help="also draw the curves into this .png file (needs matplotlib)")


def cmd_lr_find(args):
    """``glassnet lr-find``: the learning-rate range test on a new network."""
    from .cli import EXIT_OK, _print_json
    from .datasets.loader import load as load_dataset
    from .lr_finder import lr_find
    from .network import Network

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
        from .plots import plot_lr_find

        plot_lr_find(result, path=args.plot)
        plot_path = args.plot
    if args.json:
        _print_json({**result.to_dict(), "dataset": data.name, "layers": args.layers, "plot_path": plot_path})
        return EXIT_OK
    print(result)
    print(f"try: glassnet train --optimizer {args.optimizer} --schedule constant --lr {result.suggestion:.2g}"
          + (f" --layers {','.join(map(str, args.layers))}" if args.layers != [256, 128] else ""))
    if plot_path:
        print(f"plot: {plot_path}")
    return EXIT_OK


__all__ = ["add_explain", "add_lr_find", "cmd_explain", "cmd_lr_find"]
