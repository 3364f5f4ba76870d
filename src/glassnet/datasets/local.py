"""Data you already have, by path: a folder of IDX files, a ``.npz``, a ``.csv``, a folder of images.

Each reader returns raw arrays and facts, ``(X_train, y_train, X_test, y_test, classes, shape,
info)``; :func:`glassnet.datasets.load` turns them into a :class:`Dataset` (scaling, flattening).
Every problem is reported as one line naming the file and, for CSV, the row and column.

- Folder of IDX files: the four MNIST-style files ``train-images``, ``train-labels``,
  ``t10k-images`` (or ``test-images``) and ``t10k-labels``, raw or ``.gz``. A folder holding a
  dataset glassnet knows (recognised by checksum, else by the folder's name) gets its class
  names and licence, so Debian's ``/usr/share/datasets/fashion-mnist`` loads as Fashion-MNIST.
- ``.npz``: arrays ``X`` and ``y``, optionally ``X_test``/``y_test`` and ``classes``.
- ``.csv``: one example per row, separated by commas, semicolons or tabs (whichever the first
  line holds most); the label column by name or index (default: a column called
  ``label``, ``class``, ``target`` or ``y``, else the only column of words, else the first); a
  header row is detected when its cells are not all numbers. Labels may be integers 0..k-1 or
  class names.
- Folder of images: one sub-folder per class (its name is the class name), PNG/JPEG/BMP/GIF
  files, read with Pillow as grayscale (as a viewer shows them: upright by their EXIF
  orientation, transparency on white, 16-bit scaled to 8) and resized to one size; or
  ``train/`` and ``test/`` sub-folders each organised that way.

Whatever the format, the data must hold at least two classes and give a non-empty training
and test set, else a :class:`DatasetError` says what was found.

Limits, each checked before the memory it guards is allocated (the README lists them): class
numbers below :data:`MAX_CLASSES`; an ``.npz`` member's declared shape must match its stored size,
at most :data:`MAX_NPZ_BYTES`; an image may declare at most :data:`MAX_SOURCE_PIXELS` pixels and
the size all images are resized to at most :data:`MAX_IMAGE_PIXELS`. Only regular files are read
(a device, a FIFO or a socket is refused), and a symbolic link in a folder may not lead out of it.

Without a test set of their own (npz without ``X_test``, CSV, image folders without ``test/``),
one fifth of each class is held out as the test set (seeded, stratified).
Not here: colour images, regression targets, files larger than memory (except raw IDX, memory-mapped).

Size: about 630 lines: four readers (IDX folder, npz, CSV, image folder) that share ``Raw``, the
label numbering and the limits above; each reader with its checks stays next to the others.
"""

import csv
import hashlib
import itertools
import math
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .._io import check_regular
from ..errors import require
from . import catalog
from .errors import DatasetError
from .idx import read_idx
from .transforms import validation_split

TEST_FRACTION = 0.2
SPLIT_SEED = 0
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
LABEL_COLUMN_NAMES = ("label", "labels", "class", "target", "y")
MAX_CLASSES = 100_000                  #: class numbers 0 .. MAX_CLASSES - 1 (a name is made for each)
MAX_NPZ_BYTES = 4 * 1024 ** 3          #: one array in a .npz, as stored (uncompressed)
MAX_SOURCE_PIXELS = 89_478_485         #: pixels an image file may declare (Pillow's own warning threshold)
MAX_IMAGE_PIXELS = 1024 * 1024         #: pixels of the size every image is resized to (the first image's, by default)
DEFLATE_MAX_RATIO = 1032               #: bytes one compressed byte can become


def check_class_numbers(path, largest, what="label"):
    """Refuse a class number at or above :data:`MAX_CLASSES` (a name would be made for every number below it)."""
    if largest >= MAX_CLASSES:
        raise DatasetError(f"{path}: {what} {largest:.6g} is not a class number below the limit of {MAX_CLASSES:,} "
                           f"classes; expected class numbers 0, 1, 2, ... or class names")


class Raw:
    """What a reader found: arrays, class names, example shape and a description of the source."""

    def __init__(self, X_train, y_train, X_test, y_test, classes, shape, *, name, description="", licence="",
                 source="", extra=None):
        self.X_train, self.y_train, self.X_test, self.y_test = X_train, y_train, X_test, y_test
        self.classes, self.shape = list(classes), tuple(shape)
        self.name, self.description, self.licence, self.source = name, description, licence, source
        self.extra = dict(extra or {})


def kind_of(path):
    """What ``path`` holds: ``"idx"``, ``"images"``, ``"npz"``, ``"csv"``; DatasetError if none of these."""
    path = Path(path)
    if path.is_dir():
        if _idx_files(path, strict=False):
            return "idx"
        return "images"
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return "npz"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    raise DatasetError(f"{path}: expected a folder (of IDX files or of class sub-folders of images), "
                       f"a .npz or a .csv file, received a {suffix or 'suffix-less'} file")


def read_path(path, *, label_column=None, image_size=None):
    """Read the data at ``path`` (see the module docstring for the formats) into a :class:`Raw`."""
    path = Path(path)
    kind = kind_of(path)
    if kind == "idx":
        raw = read_idx_folder(path)
    elif kind == "images":
        raw = read_image_folder(path, image_size=image_size)
    elif kind == "npz":
        raw = read_npz(path)
    else:
        raw = read_csv(path, label_column=label_column)
    return _check_learnable(path, raw)


def _check_learnable(path, raw):
    """``raw`` if a classifier can learn from it and be tested: both sets non-empty, two classes or more."""
    n_train, n_test = len(raw.X_train), len(raw.X_test)
    present = np.union1d(raw.y_train, raw.y_test)
    if n_train and n_test and len(present) >= 2:
        return raw
    if len(present) == 1:
        raise DatasetError(f"{path}: expected examples of at least 2 classes, received {n_train + n_test} examples "
                           f"all of class {raw.classes[int(present[0])]!r}")
    raise DatasetError(f"{path}: expected at least one training and one test example, received {n_train} training "
                       f"and {n_test} test examples (without a test set of its own, {TEST_FRACTION:.0%} of each "
                       f"class with 2 or more examples is held out)")


# -- a folder of IDX files ---------------------------------------------------------------------
def _idx_role(name):
    """``train_images`` ... from a file name like ``t10k-labels-idx1-ubyte.gz``, or None."""
    lower = name.lower()
    if lower.endswith((".part", ".tmp")) or lower.startswith("."):
        return None
    split = "train" if "train" in lower else "test" if ("t10k" in lower or "test" in lower) else None
    what = ("images" if ("images" in lower or "idx3" in lower)
            else "labels" if ("labels" in lower or "idx1" in lower) else None)
    if split is None or what is None or not re.search(r"idx\d|ubyte", lower):
        return None
    return f"{split}_{what}"


def _idx_files(folder, strict=True):
    """role -> path of the four IDX files in ``folder`` (``{}`` if it holds none and not ``strict``)."""
    found = {}
    for child in sorted(folder.iterdir()):
        role = _idx_role(child.name)
        if role:
            check_regular(child, DatasetError, root=folder)
            if role in found:
                raise DatasetError(f"{folder}: two files look like the {role.replace('_', ' ')}: "
                                   f"{found[role].name} and {child.name}; keep one")
            found[role] = child
    if found and len(found) < 4 or (strict and not found):
        missing = [r.replace("_", " ") for r in catalog.ROLES if r not in found]
        raise DatasetError(f"{folder}: expected four IDX files (train-images, train-labels, t10k-images, "
                           f"t10k-labels, raw or .gz); missing the {', '.join(missing)}")
    return found


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def identify(files, folder_name=""):
    """``(catalog entry or None, how)``: which known dataset these IDX files are, by checksum or folder name."""
    for entry in catalog.CATALOG.values():
        if entry.archive is not None:
            continue
        matches = 0
        for role, remote in entry.files.items():
            path = files.get(role)
            if path is None or path.stat().st_size not in {remote.size, *(_known_sizes(remote))}:
                break
            if _sha256(path) not in {remote.sha256, *remote.also_known}:
                break
            matches += 1
        if matches == 4:
            return entry, "checksums match"
    entry = catalog.lookup(folder_name)
    return (entry, "recognised by the folder's name") if entry else (None, "")


def _known_sizes(remote):
    # Debian's Fashion-MNIST files lack the gzip file-name field: 24 (train) or 23 (t10k) bytes shorter.
    return {remote.size - len(remote.name.removesuffix(".gz")) - 1} if remote.size else set()


def read_idx_folder(folder):
    """The four IDX files of an MNIST-style folder, checked to agree with each other."""
    folder = Path(folder)
    files = _idx_files(folder)
    arrays = {role: read_idx(path) for role, path in files.items()}
    entry, how = identify(files, folder.name)
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim not in (2, 3) or labels.ndim != 1:
            raise DatasetError(f"{files[split + '_images']}: expected images (n, rows, cols) and labels (n,), "
                               f"received {images.shape} and {labels.shape}")
        if len(images) != len(labels):
            raise DatasetError(f"{folder}: {len(images)} {split} images but {len(labels)} {split} labels")
        if labels.dtype.kind not in "iu" or (labels.size and labels.min() < 0):
            raise DatasetError(f"{files[split + '_labels']}: expected non-negative integer labels, "
                               f"received {labels.dtype}")
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DatasetError(f"{folder}: train images are {arrays['train_images'].shape[1:]} but test images are "
                           f"{arrays['test_images'].shape[1:]}")
    X_train, X_test = arrays["train_images"], arrays["test_images"]
    if entry is not None and entry.transpose:
        X_train, X_test = X_train.transpose(0, 2, 1), X_test.transpose(0, 2, 1)
    y_train = arrays["train_labels"].astype(np.int64)
    y_test = arrays["test_labels"].astype(np.int64)
    for split, labels in (("train", y_train), ("test", y_test)):
        check_class_numbers(files[f"{split}_labels"], int(labels.max(initial=0)))
    n_classes = int(max(y_train.max(initial=-1), y_test.max(initial=-1))) + 1
    if entry is not None and n_classes <= len(entry.classes):
        classes = list(entry.classes)
        info = dict(name=entry.name, description=f"{entry.description} (from {folder}; {how})",
                    licence=entry.licence, source=entry.source)
    else:
        classes = [str(k) for k in range(n_classes)]
        info = dict(name=folder.name, description=f"IDX files in {folder}", source=str(folder))
    return Raw(X_train, y_train, X_test, y_test, classes, X_train.shape[1:], **info)


# -- .npz ------------------------------------------------------------------------------------
def read_npz(path):
    """``X``, ``y`` (and optional ``X_test``, ``y_test``, ``classes``) from a NumPy archive (no pickles)."""
    path = Path(path)
    check_regular(path, DatasetError)
    with open(path, "rb") as f:
        start = f.read(4)
    if start not in (b"PK\x03\x04", b"PK\x05\x06"):       # a zip archive (numpy.savez), possibly empty
        what = "a single .npy array" if start[:4] == b"\x93NUM" else f"a file starting with {start!r}"
        raise DatasetError(f"{path}: not a readable .npz archive (expected a zip of arrays as numpy.savez writes, "
                           f"received {what})")
    try:
        _check_npz_members(path)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except MemoryError:
        raise DatasetError(f"{path}: not enough memory to load its arrays") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = ("an array of Python objects (dtype object), which is never unpickled; save numbers, and names "
                  "as strings (e.g. y.astype(str))") if "allow_pickle" in str(exc) else exc
        raise DatasetError(f"{path}: not a readable .npz archive ({reason})") from None
    missing = [key for key in ("X", "y") if key not in arrays]
    if missing:
        raise DatasetError(f"{path}: expected arrays named X and y (and optionally X_test, y_test, classes), "
                           f"found {', '.join(sorted(arrays)) or 'none'}")
    if ("X_test" in arrays) != ("y_test" in arrays):
        raise DatasetError(f"{path}: X_test and y_test go together; found only one of them")
    X, y = arrays["X"], arrays["y"]
    if "classes" in arrays and arrays["classes"].ndim != 1:
        raise DatasetError(f"{path}: classes expected one name per class, in one dimension, received shape "
                           f"{arrays['classes'].shape}")
    names = [str(c) for c in arrays["classes"].tolist()] if "classes" in arrays else None
    _check_arrays(path, X, y, "X", "y")
    if "X_test" in arrays:
        X_test, y_test = arrays["X_test"], arrays["y_test"]
        _check_arrays(path, X_test, y_test, "X_test", "y_test")
        if X_test.shape[1:] != X.shape[1:]:
            raise DatasetError(f"{path}: X has examples of shape {X.shape[1:]} but X_test {X_test.shape[1:]}")
        labels, classes = _labels_to_classes(np.concatenate([y, y_test]), path, names)
        y, y_test = labels[:len(y)], labels[len(y):]
        held_out = False
    else:
        y, classes = _labels_to_classes(y, path, names)
        X, y, X_test, y_test = validation_split(X, y, TEST_FRACTION, seed=SPLIT_SEED)
        held_out = True
    return Raw(X, y, X_test, y_test, classes, X.shape[1:], name=path.stem, source=str(path),
               description=f"arrays from {path}" + (_held_out_note() if held_out else ""))


def _check_npz_members(path):
    """Refuse, before NumPy allocates anything, a member whose header declares more than it stores.

    Each ``.npy`` member's header (shape, dtype) must account exactly for the member's stored size,
    which must be at most :data:`MAX_NPZ_BYTES` and at most what its compressed bytes can hold.
    """
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            where = f"{path}: array {info.filename[:-4]!r}"
            if info.file_size > MAX_NPZ_BYTES:
                raise DatasetError(f"{where} stores {info.file_size:,} bytes, more than the limit of "
                                   f"{MAX_NPZ_BYTES:,}")
            compressed = info.compress_type != zipfile.ZIP_STORED
            if compressed and info.file_size > DEFLATE_MAX_RATIO * info.compress_size + 4096:
                raise DatasetError(f"{where} claims {info.file_size:,} bytes from {info.compress_size:,} compressed "
                                   f"bytes, more than compression can give; the file is damaged")
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                if version not in reader:
                    raise ValueError(f"unsupported .npy version {version}")
                shape, _, dtype = reader[version](member, max_header_size=10_000)
                header_length = member.tell() if hasattr(member, "tell") else None
            declared = math.prod(shape) * dtype.itemsize
            if header_length is not None and not dtype.hasobject and declared != info.file_size - header_length:
                raise DatasetError(f"{where} declares shape {shape} of {dtype} ({declared:,} bytes) but stores "
                                   f"{info.file_size - header_length:,} bytes; the file is damaged")


def _check_arrays(path, X, y, x_name, y_name):
    if X.dtype.kind not in "biuf":
        raise DatasetError(f"{path}: {x_name} expected numbers, received dtype {X.dtype}")
    if X.ndim < 2:
        raise DatasetError(f"{path}: {x_name} expected one example per row (n_samples, ...), received shape {X.shape}")
    if y.ndim != 1 or len(y) != len(X):
        raise DatasetError(f"{path}: {y_name} expected {len(X)} labels in one dimension, received shape {y.shape}")
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(X))[0])
        raise DatasetError(f"{path}: {x_name} expected finite numbers, received NaN or inf (first at {where})")


def _labels_to_classes(y, path, names=None):
    """Labels as integers 0..k-1 and the class names: integers are kept, anything else is named."""
    y = np.asarray(y)
    if y.dtype.kind in "iu" or (y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all()):
        if y.size:
            check_class_numbers(path, y.max().item())
        y = y.astype(np.int64)
        if y.size and y.min() < 0:
            raise DatasetError(f"{path}: labels must be class numbers 0, 1, 2, ... or class names; "
                               f"received {int(y.min())}")
        n = int(y.max()) + 1 if y.size else 0
        if names is not None and len(names) < n:
            raise DatasetError(f"{path}: label {n - 1} has no name in classes ({len(names)} names)")
        return y, names if names is not None else [str(k) for k in range(n)]
    if y.dtype.kind == "f":
        bad = int(np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))[0])
        raise DatasetError(f"{path}: label {y[bad].item()!r} (example {bad + 1}) is not a class: expected class "
                           f"numbers 0, 1, 2, ... or class names")
    if names is not None:                    # labels that are names: numbered in the order of classes
        number = {name: k for k, name in enumerate(names)}
        unknown = sorted(set(y.astype(str).tolist()) - set(number))
        if unknown:
            raise DatasetError(f"{path}: labels {', '.join(map(repr, unknown[:5]))} are not among the classes "
                               f"({', '.join(names[:8])}{'...' if len(names) > 8 else ''})")
        return np.array([number[label] for label in y.astype(str).tolist()], dtype=np.int64), names
    classes, y = np.unique(y.astype(str), return_inverse=True)
    return y.astype(np.int64), [str(c) for c in classes]


def _held_out_note():
    return f"; no test set given, so {TEST_FRACTION:.0%} of each class is held out (seed {SPLIT_SEED})"


# -- .csv ------------------------------------------------------------------------------------
def read_csv(path, *, label_column=None):
    """One example per row, numbers only except the label column; see the module docstring.

    The file is read in one streaming pass (memory: the numbers, as float32). Errors name the
    file, the row (1-based, as a spreadsheet counts, header included) and the column. Features
    that are all whole numbers from 0 to 255 are kept as 8-bit pixels (uint8), so that
    ``load(..., scale=True)`` divides them by 255 like any image.
    """
    path = Path(path)
    check_regular(path, DatasetError)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            sample = f.read(65536)
            f.seek(0)
            delimiter = _delimiter(path, sample)
            rows = ((n, row) for n, row in enumerate(csv.reader(f, delimiter=delimiter), start=1)
                    if row and any(cell.strip() for cell in row))
            X, labels, row_numbers, header, label = _read_csv_rows(path, rows, label_column)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not a text CSV file ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DatasetError(f"{path}: not a readable CSV file ({exc})") from None
    if X.size and (X == np.round(X)).all() and X.min() >= 0 and X.max() <= 255:
        X = X.astype(np.uint8)
    y, classes = _csv_labels(path, labels, row_numbers, label, header)
    X_train, y_train, X_test, y_test = validation_split(X, y, TEST_FRACTION, seed=SPLIT_SEED)
    return Raw(X_train, y_train, X_test, y_test, classes, (X.shape[1],), name=path.stem, source=str(path),
               description=f"{len(X):,} rows of {path}" + _held_out_note(),
               extra={"label_column": _column_name(label, header)})


def _delimiter(path, sample):
    """Tab for ``.tsv``; else whichever of comma, semicolon, tab the first line holds most (ties: comma)."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    first_line = next((line for line in sample.splitlines() if line.strip()), "")
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] > counts[","] else ","


def _read_csv_rows(path, rows, label_column):
    """``(X float32, labels, row numbers, header or None, label column)`` from the non-blank rows."""
    first = next(rows, None)
    if first is None:
        raise DatasetError(f"{path}: the file is empty (expected a header or one example per row)")
    header = None
    if not all(_is_number(cell) for cell in first[1]):
        header = [cell.strip() for cell in first[1]]
        first = next(rows, None)
        if first is None:
            raise DatasetError(f"{path}: the file has a header row but no examples")
    width = len(header) if header is not None else len(first[1])
    if width < 2:
        raise DatasetError(f"{path}: expected a label column and at least one feature column, "
                           f"received {width} column")
    label = _label_index(path, label_column, header, width, first_row=first[1])
    features = [c for c in range(width) if c != label]
    rows_per_block = max(1, min(4096, (1 << 20) // width))      # a block of about 4 MB however wide the rows
    block, blocks, labels, row_numbers, i = np.empty((rows_per_block, width - 1), dtype=np.float32), [], [], [], 0
    for n, row in itertools.chain([first], rows):
        if len(row) != width:
            raise DatasetError(f"{path}, row {n}: expected {width} columns "
                               f"({'as in the header' if header else 'as in row ' + str(first[0])}), "
                               f"received {len(row)}")
        try:
            with np.errstate(over="ignore"):                   # beyond float32 becomes inf, refused below
                block[i] = row[:label] + row[label + 1:]       # NumPy parses the numbers
        except ValueError:
            c = next(c for c in features if not _is_number(row[c]))
            comma = _is_number(row[c].replace(",", ".")) and "," in row[c]
            raise DatasetError(f"{path}, row {n}, column {_column_name(c, header)}: expected a number, "
                               f"received {row[c]!r}" + (" (write decimals with a point)" if comma else "")) from None
        if not np.isfinite(block[i]).all():
            c = features[int(np.flatnonzero(~np.isfinite(block[i]))[0])]
            raise DatasetError(f"{path}, row {n}, column {_column_name(c, header)}: expected a finite number, "
                               f"received {row[c]!r}")
        labels.append(row[label].strip())
        row_numbers.append(n)
        i += 1
        if i == len(block):
            blocks.append(block)
            block, i = np.empty_like(block), 0
    blocks.append(block[:i])
    return np.concatenate(blocks), np.array(labels), row_numbers, header, label


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_name(c, header):
    return f"{c + 1} ({header[c]!r})" if header else str(c + 1)


def _label_index(path, label_column, header, width, first_row):
    """The 0-based index of the label column.

    By default: a column named like a label (``label``, ``class``...), else the only column whose
    first value is not a number (class names), else the first column.
    """
    if label_column is None:
        if header:
            for name in LABEL_COLUMN_NAMES:
                matches = [c for c, h in enumerate(header) if h.lower() == name]
                if matches:
                    return matches[0]
        words = [c for c, cell in enumerate(first_row) if not _is_number(cell)]
        return words[0] if len(words) == 1 else 0
    if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
        if not header or label_column not in header:
            raise DatasetError(f"{path}: no column named {label_column!r}"
                               + (f" (columns: {', '.join(header[:8])}{'...' if len(header) > 8 else ''})"
                                  if header else " (the file has no header row)"))
        return header.index(label_column)
    index = int(label_column)
    if not -width <= index < width:
        raise DatasetError(f"{path}: label column {index} is out of range for {width} columns")
    return index % width


def _csv_labels(path, labels, row_numbers, label, header):
    """Integer labels 0..k-1 and class names; numeric labels must be whole numbers >= 0."""
    numeric = np.array([_is_number(v) for v in labels])
    if numeric.all():
        values = labels.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)) | (values < 0))
        if bad.size:
            i = int(bad[0])
            raise DatasetError(f"{path}, row {row_numbers[i]}, column {_column_name(label, header)}: label "
                               f"{str(labels[i])!r} is not a class (expected whole numbers 0, 1, 2, ... "
                               f"or class names)")
        largest = int(np.argmax(values))
        if values[largest] >= MAX_CLASSES:
            raise DatasetError(f"{path}, row {row_numbers[largest]}, column {_column_name(label, header)}: label "
                               f"{str(labels[largest])!r} is not a class number below the limit of {MAX_CLASSES:,} "
                               f"classes (expected whole numbers 0, 1, 2, ... or class names)")
        y = values.astype(np.int64)
        return y, [str(k) for k in range(int(y.max()) + 1)]
    if numeric.any():
        i = int(np.flatnonzero(numeric)[0]) if numeric.sum() < len(numeric) / 2 else int(np.flatnonzero(~numeric)[0])
        raise DatasetError(f"{path}, row {row_numbers[i]}, column {_column_name(label, header)}: label "
                           f"{str(labels[i])!r} mixes with the other labels (some are numbers, some are names); "
                           f"use one kind")
    classes, y = np.unique(labels, return_inverse=True)
    return y.astype(np.int64), [str(c) for c in classes]


# -- a folder of images ------------------------------------------------------------------------
def read_image_folder(folder, *, image_size=None):
    """Images in one sub-folder per class (or ``train/`` and ``test/`` folders of those), as grayscale uint8.

    Args:
        image_size: ``(height, width)`` to resize every image to; default: the size of the first
            image (sorted by class, then file name).
    """
    require("PIL.Image", "image")
    folder = Path(folder)
    split = (folder / "train").is_dir() and (folder / "test").is_dir()
    train_dir = folder / "train" if split else folder
    classes = _class_folders(train_dir)
    size = tuple(image_size) if image_size is not None else None
    if size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise DatasetError(f"image_size {size[0]}x{size[1]} is more than the limit of {MAX_IMAGE_PIXELS:,} pixels")
    X_train, y_train, size = _read_images(train_dir, classes, size)
    if split:
        test_classes = _class_folders(folder / "test")
        unknown = sorted(set(test_classes) - set(classes))
        if unknown:
            raise DatasetError(f"{folder / 'test'}: class folders {', '.join(unknown)} are not in {train_dir}")
        X_test, y_test, _ = _read_images(folder / "test", classes, size)
        note = ""
    else:
        X_train, y_train, X_test, y_test = validation_split(X_train, y_train, TEST_FRACTION, seed=SPLIT_SEED)
        note = _held_out_note()
    return Raw(X_train, y_train, X_test, y_test, classes, size, name=folder.name, source=str(folder),
               description=f"{len(X_train) + len(X_test):,} images in {len(classes)} class folders of {folder}, "
                           f"grayscale {size[0]}x{size[1]}" + note)


def _class_folders(folder):
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for name in classes:
        _check_inside(folder / name, folder)
    if not classes:
        raise DatasetError(f"{folder}: expected one sub-folder of images per class (e.g. {folder}/cat/1.png), "
                           f"found no sub-folders")
    return classes


def _read_images(folder, classes, size):
    from PIL import Image, UnidentifiedImageError

    images, labels = [], []
    for k, name in enumerate(classes):
        class_dir = folder / name
        if not class_dir.is_dir():          # a class with no test images
            continue
        files = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for path in files:
            check_regular(path, DatasetError, root=folder)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    image = Image.open(path)
                with image:
                    _check_pixels(path, image, size)
                    image = _grayscale(image)
                    if size is None:
                        size = (image.height, image.width)
                    if (image.height, image.width) != size:
                        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                    images.append(np.asarray(image, dtype=np.uint8))
            except DatasetError:
                raise
            except UnidentifiedImageError:
                raise DatasetError(f"{path}: not a readable image (an unknown format, or damaged)") from None
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise DatasetError(f"{path}: declares more than the limit of {MAX_SOURCE_PIXELS:,} pixels") from None
            except MemoryError:
                raise DatasetError(f"{path}: not enough memory to decode it") from None
            except (OSError, ValueError, SyntaxError) as exc:   # e.g. a truncated file
                reason = " ".join(str(exc).replace(repr(str(path)), "").replace(str(path), "").split())
                raise DatasetError(f"{path}: not a readable image ({reason or type(exc).__name__})") from None
            labels.append(k)
    if not images:
        nested = next((p for name in classes if (folder / name).is_dir() for p in (folder / name).iterdir()
                       if p.is_dir()), None)
        hint = f"; images must lie directly in the class folders, not in sub-folders such as {nested}" if nested else ""
        raise DatasetError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in its class folders{hint}")
    return np.stack(images), np.array(labels, dtype=np.int64), size


def _check_inside(path, root):
    """Refuse a symbolic link that leads out of ``root``."""
    if path.is_symlink():
        target, base = path.resolve(), Path(root).resolve()
        if base not in target.parents:
            raise DatasetError(f"{path}: a symbolic link to {target}, outside {root}; expected a folder inside it")


def _check_pixels(path, image, size):
    """Refuse, from the header alone, an image too large to decode, or a first image too large to be the size."""
    pixels = image.width * image.height
    if pixels > MAX_SOURCE_PIXELS:
        raise DatasetError(f"{path}: {image.width}x{image.height} pixels, more than the limit of "
                           f"{MAX_SOURCE_PIXELS:,} pixels for one image")
    if size is None and pixels > MAX_IMAGE_PIXELS:
        raise DatasetError(f"{path}: the first image is {image.height}x{image.width} pixels and would set the size of "
                           f"every image, more than the limit of {MAX_IMAGE_PIXELS:,} pixels; pass image_size="
                           f"(height, width) to glassnet.datasets.load")


def _grayscale(image):
    """An 8-bit grayscale ("L") copy of a Pillow image, as an image viewer shows it.

    Turned upright as its EXIF orientation says (photos from phones); 16-bit grayscale is scaled
    (``x * 255 / 65535``), not clipped; transparent pixels are shown on white
    (``alpha * colour + (1 - alpha) * 255``), not by their hidden colour.
    """
    from PIL import Image, ImageOps

    if image.getexif().get(0x0112, 1) != 1:        # EXIF orientation tag: 1 is upright
        image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I;16"):
        pixels = np.asarray(image, dtype=np.float64) * (255.0 / 65535.0)
        return Image.fromarray(np.rint(pixels).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("L")
    return image.convert("L")
