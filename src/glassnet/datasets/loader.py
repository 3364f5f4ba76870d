"""``load(name_or_path)``: one way in for every dataset, named or on disk.

A name (``digits``, ``mnist``, ``fashion-mnist``, ``kmnist``, ``emnist-digits``) loads the
bundled digits or a downloaded, verified dataset from the cache; anything else is taken as a
path (see :mod:`glassnet.datasets.local` for the formats). Either way the result is a
:class:`Dataset` whose images are, by default, rows of float32 pixels in [0, 1].
"""

import os
from pathlib import Path

import numpy as np

from . import catalog, local, named, plane
from .digits import Dataset, load_digits
from .errors import DatasetError
from .idx import read_idx

NAMES = ("digits", *catalog.CATALOG, *plane.NAMES)


def load(name_or_path: str | os.PathLike[str], *, flatten: bool = True, scale: bool = True, download: bool = True,
         cache_dir: str | os.PathLike[str] | None = None, label_column: str | int | None = None,
         image_size: tuple[int, int] | None = None, progress: bool = True, **generated: object) -> Dataset:
    """A dataset by name or path, as a :class:`Dataset` with a training and a test set.

    Args:
        name_or_path: one of ``digits`` (bundled), ``mnist``, ``fashion-mnist``, ``kmnist``,
            ``emnist-digits`` (downloaded once into the cache), or a path to a folder of IDX files,
            a folder of images (one sub-folder per class), a ``.npz`` or a ``.csv``. A name wins
            over a folder of the same name: write ``./mnist`` for the folder.
        flatten: examples as rows ``(n, n_features)``; ``False`` keeps images ``(n, h, w)``.
        scale: 8-bit pixels (uint8) as float32 in [0, 1] (``x / 255``); other numbers become
            float32 as they are (standardise them with :func:`glassnet.datasets.standardise`).
            ``False`` keeps the stored dtype.
        download: fetch a named dataset that is not in the cache (else raise).
        cache_dir: the cache folder (default ``$GLASSNET_DATA``, then the per-user cache folder).
        label_column: CSV only: the label column's name or 0-based index.
        image_size: image folders only: ``(height, width)`` to resize to.
        progress: progress bar on standard error while downloading.
        **generated: the 2-D sets of :mod:`glassnet.datasets.plane` (``spiral``, ``xor``, ...) only:
            ``noise``, ``n``, ``seed``, ``features``, ``test_fraction`` (see ``plane.load``).

    Raises:
        DatasetError: unknown name, missing path, or data that cannot be used (the message says why).
        DownloadError: a named dataset is not cached and cannot be downloaded.

    Example:
        >>> data = load("digits")
        >>> data.X_train.shape, data.classes[:3]
        ((8004, 784), ['0', '1', '2'])
    """
    if not isinstance(name_or_path, (str, Path)):
        raise TypeError(f"load expected a dataset name or a path, received {type(name_or_path).__name__}")
    text = str(name_or_path)
    if text.strip().lower() in plane.NAMES:
        return plane.load(text, **generated)
    if generated:
        raise DatasetError(f"{', '.join(sorted(generated))}: settings of the generated 2-D sets "
                           f"({', '.join(plane.NAMES)}) only, received them for {text!r}")
    if text.strip().lower() == "digits":
        return load_digits(flatten=flatten, scale=scale)
    entry = None if _looks_like_path(text) else catalog.lookup(text)
    if entry is not None:
        return _load_named(entry, flatten=flatten, scale=scale, download=download, cache_dir=cache_dir,
                           progress=progress)
    path = Path(text).expanduser()
    if not path.exists():
        raise DatasetError(_unknown(text))
    kind = local.kind_of(path)
    if label_column is not None and kind != "csv":
        raise DatasetError(f"{path}: label_column applies to .csv files only, received it for a {kind} source")
    if image_size is not None:
        if kind != "images":
            raise DatasetError(f"{path}: image_size applies to folders of images only, received it for a {kind} "
                               f"source")
        if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
                or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1
                           for n in image_size)):
            raise DatasetError(f"image_size expected (height, width), two positive integers, received {image_size!r}")
    raw = local.read_path(path, label_column=label_column, image_size=image_size)
    return _to_dataset(raw, flatten=flatten, scale=scale)


def check(name_or_path):
    """Raise DatasetError unless ``name_or_path`` is a known name or an existing path (cheap; reads nothing)."""
    text = str(name_or_path)
    if (text.strip().lower() in ("digits", *plane.NAMES) or catalog.lookup(text) is not None
            or Path(text).expanduser().exists()):
        return text
    raise DatasetError(_unknown(text))


def _looks_like_path(text):
    """``./mnist``, ``data/mnist``, ``~/mnist``, ``mnist.csv``: a path even if a name matches."""
    return "/" in text or "\\" in text or text.startswith(("~", ".")) or Path(text).suffix != ""


def _unknown(text):
    return (f"unknown dataset {text!r}; available: {', '.join(NAMES)}, or a path to a folder of IDX files, a folder "
            f"of images (one sub-folder per class), a .npz or a .csv (no such file or folder)")


def _load_named(entry, *, flatten, scale, download, cache_dir, progress):
    folder = named.folder_for(entry, cache_dir)
    if not named.is_cached(entry.name, cache_dir):
        if not download:
            raise DatasetError(f"{entry.name} is not in the cache ({folder}); call glassnet.datasets.fetch("
                               f"{entry.name!r}) or run 'glassnet datasets fetch {entry.name}'")
        named.fetch(entry.name, cache_dir=cache_dir, progress=progress)
    names = entry.file_names()
    arrays = {role: read_idx(folder / file_name) for role, file_name in names.items()}
    X_train, X_test = arrays["train_images"], arrays["test_images"]
    if entry.transpose:
        X_train, X_test = X_train.transpose(0, 2, 1), X_test.transpose(0, 2, 1)
    raw = local.Raw(X_train, arrays["train_labels"].astype(np.int64), X_test, arrays["test_labels"].astype(np.int64),
                    entry.classes, entry.shape, name=entry.name, description=entry.description,
                    licence=entry.licence, source=entry.source, extra={"citation": entry.citation,
                                                                        "folder": str(folder)})
    for split in ("train", "test"):
        images, labels = getattr(raw, f"X_{split}"), getattr(raw, f"y_{split}")
        if len(images) != len(labels) or (labels.size and labels.max() >= len(entry.classes)):
            raise DatasetError(f"{folder}: the {split} images and labels do not fit together; delete the folder "
                               f"and fetch {entry.name} again")
    return _to_dataset(raw, flatten=flatten, scale=scale)


def _to_dataset(raw, *, flatten, scale):
    X_train, X_test = raw.X_train, raw.X_test
    if scale:
        X_train, X_test = _scaled(X_train), _scaled(X_test)
    if flatten:
        X_train, X_test = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
    return Dataset(X_train, raw.y_train, X_test, raw.y_test, classes=list(raw.classes), shape=tuple(raw.shape),
                   name=raw.name, description=raw.description, licence=raw.licence, source=raw.source,
                   extra=raw.extra)


def _scaled(X):
    if X.dtype == np.uint8:
        return X.astype(np.float32) / np.float32(255.0)   # astype copies out of a memory map
    return np.asarray(X, dtype=np.float32)
