"""Datasets: labelled examples to learn from, named or your own.

- ``load(name_or_path)``: the bundled ``digits`` (10,000 real MNIST digits, no download), the
  named ``mnist``, ``fashion-mnist``, ``kmnist`` and ``emnist-digits`` (downloaded once,
  checked by SHA-256, cached), or your own data by path: a folder of IDX files, a folder of
  images with one sub-folder per class, a ``.npz`` or a ``.csv``.
- ``read_idx``: the MNIST file format, checked before anything is allocated.
- ``validation_split``, ``scale``, ``standardise``, ``flatten``, ``one_hot``: small transforms.
- ``Augment``: random shifts, rotations and noise for each mini-batch.
- ``plane``: small generated 2-D sets (``spiral``, ``xor``, ...; ``load("spiral", noise=0.1)``).

Nothing is read or downloaded at import time.
"""

from . import plane
from .catalog import CATALOG
from .digits import Dataset, load_digits
from .download import cache_dir
from .errors import ChecksumError, DatasetError, DownloadError
from .idx import read_idx, write_idx
from .loader import NAMES, load
from .named import fetch, is_cached
from .transforms import Augment, flatten, one_hot, scale, standardise, validation_split

__all__ = ["Dataset", "load", "load_digits", "read_idx", "write_idx", "fetch", "is_cached", "cache_dir", "CATALOG",
           "NAMES", "Augment", "validation_split", "scale", "standardise", "flatten", "one_hot", "DatasetError",
           "DownloadError", "ChecksumError", "plane"]
