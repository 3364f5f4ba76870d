"""``glassnet descent``: the descent lab on a saved model: gradient descent with a step too small, about right
and too big, along one weight, along the gradient over all the weights, or in a plane.

It prints each path's rate and verdict, how the rates were chosen, and (one weight) the finite-difference
check of the slope. The examples are the ones the app's Evaluate view uses for the same seed
(:func:`glassnet.descent.lab_examples` of the training set), so the numbers are the same.
Not here: the lab itself (:mod:`glassnet.descent`).
"""

import argparse

from ..descent import descend_gradient, descend_plane, descend_weight, finite_difference, lab_examples
from ..serialization import load
from .common import EXIT_OK, dataset, fitting_dataset, number, print_json, subcommand

SPACES = {"weight": "one weight (the steepest that has a valley)",
          "gradient": "all the weights along the gradient (the direction training takes)",
          "plane": "all the weights in a plane (downhill and a random direction)"}


def add(subparsers):
    """Add ``glassnet descent`` to the subparsers."""
    p = subcommand(subparsers, "descent", run, "the descent lab: a step too small, about right and too big",
                   "Run gradient descent on a saved model's loss with a step too small, about right and too big, "
                   "chosen so that the labels are true, and print what each did. The seed picks the 256 training "
                   "examples, as the app's Evaluate view does.",
                   ["glassnet descent runs/latest/model", "glassnet descent runs/latest/model --space gradient",
                    "glassnet descent runs/latest/model --space plane --seed 3 --json"])
    p.add_argument("model", metavar="MODEL", help="a saved model (directory or .safetensors file)")
    p.add_argument("--space", choices=sorted(SPACES), default="weight",
                   help="what moves: one weight, all weights along the gradient, or a plane (default weight)")
    p.add_argument("--seed", type=number(int, 0), default=0, help="seed that picks the examples (default 0)")
    p.add_argument("--dataset", type=dataset, default="digits", metavar="NAME_OR_PATH",
                   help="dataset whose training examples to use (default digits)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """``glassnet descent``: the three paths and their verdicts."""
    net = load(args.model)
    data = fitting_dataset(net, args.dataset, args.model)
    X, y = lab_examples(data.X_train, data.y_train, args.seed)
    if args.space == "plane":
        lab = descend_plane(net, X, y, seed=args.seed, grid=15)
    else:
        lab = (descend_weight if args.space == "weight" else descend_gradient)(net, X, y)
    fd = finite_difference(net, X, y, param=lab["param"], index=tuple(lab["index"])) if args.space == "weight" else None
    if args.json:
        keys = ("label", "lr", "kind", "verdict", "steps_to_bottom", "progress", "as_labelled", "losses")
        print_json({"model": args.model, "space": args.space, "seed": args.seed, "examples": len(X),
                    "loss0": lab["loss0"], "bottom": lab["bottom"], "rule": lab["rule"], "note": lab["note"],
                    "labels_hold": lab["labels_hold"], "paths": [{k: p[k] for k in keys} for p in lab["paths"]],
                    **({"param": lab["param"], "index": list(lab["index"]), "slope": lab["slope"]} if fd else {}),
                    **({"line_search": lab["line_search"]} if args.space == "gradient" else {})})
        return EXIT_OK
    where = f" {lab['param']}{list(lab['index'])}" if fd else ""
    print(f"descent lab on {args.model}: {SPACES[args.space]}{where}, {len(X)} training examples (seed "
          f"{args.seed}), loss {lab['loss0']:.4g} at the start")
    for p in lab["paths"]:
        print(f"{p['label']:>12}  lr {p['lr']:<9.3g} {p['verdict']}")
    if args.space == "gradient":
        s = lab["line_search"]
        print(f"line search: the lowest loss on the line is {s['loss']:.4g}, at distance {s['distance']:.4g} "
              f"(lr {s['lr']:.3g} lands there in one step)")
    for text in (lab["note"], lab["rule"] and "how the rates were chosen: " + lab["rule"], fd and fd["text"]):
        if text:
            print(text)
    return EXIT_OK


__all__ = ["add", "run"]
