"""``glassnet datasets``: list the named datasets, fetch one, or show what a dataset holds.

- ``glassnet datasets`` lists the named datasets: size, licence, and whether they are cached.
- ``glassnet datasets fetch NAME`` downloads one into the cache (checked by SHA-256).
- ``glassnet datasets show NAME_OR_PATH`` prints the number of examples per class and saves two
  PNG pictures: a grid of examples (one row per class) and the mean image of each class.

Exit 0 on success, 2 for a usage error (unknown name, bad path, download failure), printed as one
line. Not here: loading, downloading or checking data (:mod:`glassnet.datasets`).
"""

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from .._io import atomic_write_bytes
from ..datasets import catalog, download, named
from ..datasets.loader import load
from ..errors import GlassnetError, require
from .common import EXIT_OK, number, print_json, subcommand


def add(subparsers):
    """Add ``glassnet datasets`` (and its ``fetch`` and ``show`` actions) to the subparsers."""
    p = subcommand(
        subparsers, "datasets", run, "list, fetch and look at datasets",
        "Without an action: list the named datasets with their size, licence and whether they are in the "
        f"cache (GLASSNET_DATA, else the per-user cache folder; now {download.cache_dir()}). 'fetch NAME' "
        "downloads one, checking its SHA-256; 'show NAME_OR_PATH' prints the examples per class and saves a "
        "PNG grid of examples and one of each class's mean image (needs Pillow: pip install \"glassnet[image]\").",
        ["glassnet datasets", "glassnet datasets fetch fashion-mnist",
         "glassnet datasets show fashion-mnist --out pictures/",
         "glassnet datasets show /usr/share/datasets/fashion-mnist", "glassnet datasets show my_images/ --json"])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    fetch = actions.add_parser("fetch", help="download a named dataset into the cache",
                               description="Download a named dataset into the cache, checking each file's SHA-256.")
    fetch.add_argument("name", metavar="NAME", help=f"one of {', '.join(catalog.CATALOG)}")
    fetch.add_argument("--timeout", type=number(float, 0, low_open=True), default=download.TIMEOUT,
                       help=f"seconds to wait for the server each time (default {download.TIMEOUT:g})")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.add_argument("--json", action="store_true", help="print one JSON object")
    fetch.set_defaults(handler=run_fetch)
    show = actions.add_parser("show", help="examples per class, and pictures of the examples and class means",
                              description="Print the number of training and test examples per class and save "
                                          "NAME-examples.png (a grid, one row per class) and NAME-class-means.png.")
    show.add_argument("dataset", metavar="NAME_OR_PATH", help="a dataset name or a path, as for 'glassnet train'")
    show.add_argument("--out", default=".", metavar="DIR", help="folder for the PNG files (default: here)")
    show.add_argument("--per-class", type=number(int, 1, 100), default=10, metavar="N",
                      help="examples per class in the grid (default 10)")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=run_show)


def dataset_rows():
    """One row per dataset ``glassnet datasets`` lists: the bundled digits, then the named catalogue."""
    cache = download.cache_dir()
    rows = [{"name": "digits", "title": "MNIST sample, bundled with glassnet", "classes": 10, "train": 8004,
             "test": 1996, "download_bytes": 0, "licence": "CC BY-SA 3.0 (MNIST)", "cached": True,
             "path": "(bundled)", "source": "http://yann.lecun.com/exdb/mnist/"}]
    for entry in catalog.CATALOG.values():
        rows.append({"name": entry.name, "title": entry.title, "classes": len(entry.classes), "train": entry.n_train,
                     "test": entry.n_test, "download_bytes": entry.download_size, "licence": entry.licence,
                     "cached": named.is_cached(entry.name), "path": str(named.folder_for(entry, cache)),
                     "source": entry.source})
    return rows


def run(args: argparse.Namespace) -> int:
    """``glassnet datasets``: the named datasets, their size and licence, and whether they are cached."""
    rows = dataset_rows()
    if args.json:
        print_json({"cache_dir": str(download.cache_dir()), "datasets": rows})
        return EXIT_OK
    print(f"{'name':<14} {'examples':>16} {'download':>9}  {'cached':<6}  licence")
    for row in rows:
        size = "bundled" if row["name"] == "digits" else f"{row['download_bytes'] / 1e6:.0f} MB"
        examples = f"{row['train']:,}+{row['test']:,}"
        print(f"{row['name']:<14} {examples:>16} {size:>9}  {'yes' if row['cached'] else 'no':<6}  "
              f"{row['licence']}")
    print(f"cache: {download.cache_dir()} (set GLASSNET_DATA to move it); "
          f"fetch one with: glassnet datasets fetch NAME")
    return EXIT_OK


def run_fetch(args: argparse.Namespace) -> int:
    """``glassnet datasets fetch NAME``: download into the cache, verified."""
    if args.name.strip().lower() == "digits":
        print("digits is bundled with glassnet: nothing to download")
        return EXIT_OK
    folder = named.fetch(args.name, progress=not (args.quiet or args.json), timeout=args.timeout)
    entry = catalog.lookup(args.name)
    if args.json:
        print_json({"name": entry.name, "path": str(folder), "cached": True})
    else:
        print(f"{entry.name}: verified and cached in {folder}")
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    """``glassnet datasets show``: counts per class, and PNGs of examples and class means."""
    taken = next((p for p in (Path(args.out), *Path(args.out).parents) if p.exists()), None)
    if taken is not None and not taken.is_dir():
        raise GlassnetError(f"--out expected a folder for the PNG files, received {args.out!r}, "
                            f"where {taken} is a file")
    data = load(args.dataset, flatten=False, scale=False, progress=not args.json)
    counts = {name: {"train": int(np.sum(data.y_train == k)), "test": int(np.sum(data.y_test == k))}
              for k, name in enumerate(data.classes)}
    pictures = save_pictures(data, Path(args.out), per_class=args.per_class)
    if args.json:
        print_json({"dataset": data.name, "description": data.description, "licence": data.licence,
                    "source": data.source, "shape": list(data.shape), "n_train": len(data.X_train),
                    "n_test": len(data.X_test), "counts": counts, "pictures": pictures})
        return EXIT_OK
    print(f"{data.name}: {data.description}")
    if data.licence:
        print(f"licence: {data.licence}")
    print(f"examples of shape {'x'.join(map(str, data.shape))}; {len(data.X_train):,} train, "
          f"{len(data.X_test):,} test")
    width = max(len("class"), *(len(name) for name in data.classes))
    print(f"  {'class':<{width}}  {'train':>8}  {'test':>7}")
    for name, count in counts.items():
        print(f"  {name:<{width}}  {count['train']:>8,}  {count['test']:>7,}")
    if pictures:
        print(f"saved {pictures['examples']} and {pictures['class_means']}")
    else:
        print("no pictures: the examples are not images", file=sys.stderr)
    return EXIT_OK


def as_images(data):
    """Training examples as (n, h, w) arrays in [0, 255] (float), or None if they are not images.

    8-bit pixels are kept; other numbers are stretched from their smallest to their largest value.
    """
    X = np.asarray(data.X_train)
    if X.ndim == 2:
        side = int(round(np.sqrt(X.shape[1])))
        if side * side != X.shape[1]:
            return None
        X = X.reshape(len(X), side, side)
    if X.ndim != 3:
        return None
    if X.dtype != np.uint8 and X.size:          # other numbers (floats in [0, 1], standardised...): stretched
        low, high = float(X.min()), float(X.max())
        return (X.astype(np.float32) - low) * np.float32(255.0 / max(high - low, 1e-12))
    return X.astype(np.float32)


def save_pictures(data, out, per_class=10):
    """Save ``NAME-examples.png`` and ``NAME-class-means.png`` in ``out``; returns their paths (or {})."""
    require("PIL.Image", "image")
    images = as_images(data)
    if images is None:
        return {}
    out.mkdir(parents=True, exist_ok=True)
    n_classes, (h, w) = len(data.classes), images.shape[1:]
    examples = np.zeros((n_classes, per_class, h, w), dtype=np.float32)
    means = np.zeros((n_classes, 1, h, w), dtype=np.float32)
    for k in range(n_classes):
        members = np.flatnonzero(data.y_train == k)
        examples[k, :min(per_class, len(members))] = images[members[:per_class]]
        if len(members):
            mean = images[members].mean(axis=0)
            means[k, 0] = 255.0 * mean / max(float(mean.max()), 1e-6)   # stretched so faint means show
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in data.name) or "dataset"
    paths = {"examples": out / f"{stem}-examples.png", "class_means": out / f"{stem}-class-means.png"}
    atomic_write_bytes(paths["examples"], _png(_grid(examples), data.classes))
    atomic_write_bytes(paths["class_means"], _png(_grid(means), data.classes))
    return {key: str(path) for key, path in paths.items()}


def _grid(blocks, gap=2, zoom=2):
    """``(rows, cols, h, w)`` images as one picture with a gap between them, each pixel ``zoom`` times."""
    rows, cols, h, w = blocks.shape
    picture = np.full((rows * (h + gap) + gap, cols * (w + gap) + gap), 64.0, dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            picture[gap + r * (h + gap):gap + r * (h + gap) + h, gap + c * (w + gap):gap + c * (w + gap) + w] = \
                blocks[r, c]
    picture = np.clip(picture, 0, 255).astype(np.uint8)
    return picture.repeat(zoom, axis=0).repeat(zoom, axis=1)


def _png(picture, classes, label_width=110):
    """The grid as PNG bytes, with each row's class name written on its left."""
    from PIL import Image, ImageDraw

    height = picture.shape[0]
    canvas = Image.new("L", (picture.shape[1] + label_width, height), color=255)
    canvas.paste(Image.fromarray(picture), (label_width, 0))
    draw = ImageDraw.Draw(canvas)
    row_height = height / max(len(classes), 1)
    for k, name in enumerate(classes):
        text = name.encode("ascii", "ignore").decode().strip() or f"class {k}"   # the default font is ASCII
        draw.text((4, int(k * row_height + row_height / 2) - 5), text[:18], fill=0)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


__all__ = ["add", "as_images", "dataset_rows", "run", "run_fetch", "run_show", "save_pictures"]
