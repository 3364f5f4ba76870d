"""Read IDX files, the format MNIST and its relatives are distributed in.

An IDX file is a header and then the numbers, big-endian, row after row (LeCun et al.,
http://yann.lecun.com/exdb/mnist/):

    bytes 0-1   0x00 0x00
    byte  2     the type of the numbers: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     the number of dimensions, d
    then        d sizes, each a big-endian uint32 (e.g. 60000, 28, 28)
    then        prod(sizes) numbers of that type

Everything in the header is checked, and the exact length the header promises is compared
with the file's before a single array is allocated, so a damaged or hostile file gives a
:class:`DatasetError` naming the file, never a crash or a huge allocation. Raw files are
memory-mapped (read-only, nothing read until used); ``.gz`` files (detected by their magic
bytes, not their name) are decompressed in chunks straight into one array, a gzip file cannot
promise more than about 1032 bytes per compressed byte (deflate's limit), which is checked first,
and no file read into memory may hold more than :data:`MAX_BYTES` of data (checked before
allocating; a raw file is memory-mapped instead). Only
regular files are read (not a device, a FIFO or a socket).
Not here: writing IDX files other than :func:`write_idx`, used by the tests and examples.
"""

import gzip
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .._io import atomic_write_bytes, check_regular
from .errors import DatasetError

#: IDX type code -> NumPy dtype (big-endian, as stored).
DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
MAX_DIMS = 8                    # MNIST needs 3; more is certainly a damaged header
GZIP_MAGIC = b"\x1f\x8b"
DEFLATE_MAX_RATIO = 1032        # deflate cannot expand one compressed byte into more than ~1032 bytes
CHUNK = 1 << 22                 # decompress 4 MiB at a time
MAX_BYTES = 512 * 1024 ** 2     #: data read into memory from one IDX file (EMNIST digits' training images: 188 MB)


def read_idx(path_or_file, *, mmap=True, name=None):
    """The array stored in an IDX file (``.gz`` or raw), checked against its header.

    Args:
        path_or_file: a path, or a binary file object (read from its current position).
        mmap: memory-map a raw (uncompressed) file instead of reading it (read-only array).
        name: how errors call the file (default: its path).

    Returns:
        an array of the header's shape; uint8/int8 as stored, wider types converted to native
        byte order.

    Raises:
        DatasetError: not an IDX file, an unknown type code, or a length that disagrees with the header.

    Example:
        >>> import io
        >>> buf = io.BytesIO(); write_idx(buf, np.arange(6, dtype=np.uint8).reshape(2, 3))
        >>> read_idx(io.BytesIO(buf.getvalue()))
        array([[0, 1, 2],
               [3, 4, 5]], dtype=uint8)
    """
    if isinstance(path_or_file, (str, os.PathLike)):
        path = Path(path_or_file)
        name = name or str(path)
        check_regular(path, DatasetError)
        try:
            with open(path, "rb") as f:
                return _read(f, name, path if mmap else None)
        except IsADirectoryError:
            raise DatasetError(f"{name}: expected an IDX file, received a directory") from None
        except FileNotFoundError:
            raise DatasetError(f"{name}: no such file") from None
    if not hasattr(path_or_file, "read"):
        raise TypeError(f"read_idx expected a path or a binary file object, received {type(path_or_file).__name__}")
    return _read(path_or_file, name or getattr(path_or_file, "name", "IDX data"), None)


def _read(f, name, mmap_path):
    start = f.read(2)
    seekable = getattr(f, "seekable", lambda: False)()
    if start == GZIP_MAGIC:
        compressed_size = _remaining_size(f) + 2 if seekable else None
        if seekable:
            f.seek(-2, io.SEEK_CUR)
        try:
            with gzip.GzipFile(fileobj=f if seekable else _Prepend(start, f), mode="rb") as stream:
                return _read_stream(stream, name, compressed_size=compressed_size)
        except (OSError, EOFError, zlib.error) as exc:   # gzip.BadGzipFile is an OSError
            raise DatasetError(f"{name}: damaged gzip data ({exc})") from None
    dtype, shape, offset = _header(start, f, name)
    expected = _n_bytes(dtype, shape)
    size = _remaining_size(f) if seekable else None
    if size is not None and size != expected:
        raise DatasetError(f"{name}: the header promises {_shape_text(shape)} {dtype.name} values ({expected:,} bytes "
                           f"of data), but the file holds {size:,} bytes after the header; the file is "
                           f"{'truncated' if size < expected else 'longer than its header says'}")
    if mmap_path is not None and expected > 0:      # the file's own size: nothing allocated
        array = np.memmap(mmap_path, dtype=dtype, mode="r", offset=offset, shape=shape)
        return array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))
    _check_limit(name, dtype, shape, expected)
    return _finish(_read_exactly(f, expected, name), dtype, shape)


def _read_stream(stream, name, compressed_size):
    dtype, shape, _ = _header(stream.read(2), stream, name)
    expected = _n_bytes(dtype, shape)
    if compressed_size is not None and expected > DEFLATE_MAX_RATIO * compressed_size + 4096:
        raise DatasetError(f"{name}: the header promises {_shape_text(shape)} {dtype.name} values "
                           f"({expected:,} bytes), more than {compressed_size:,} bytes of gzip data can hold; "
                           f"the file is damaged")
    _check_limit(name, dtype, shape, expected)
    return _finish(_read_exactly(stream, expected, name), dtype, shape)


def _header(start, f, name):
    """``(dtype, shape, header_length)`` from the first bytes; ``start`` holds the first two."""
    magic = start + f.read(2)
    if len(magic) < 4:
        raise DatasetError(f"{name}: expected an IDX file, received {len(magic)} bytes (too short for a header)")
    if magic[0] != 0 or magic[1] != 0:
        raise DatasetError(f"{name}: expected an IDX file (starting with bytes 00 00), received "
                           f"{magic[:2].hex(' ')}; is it an IDX file?")
    code, n_dims = magic[2], magic[3]
    if code not in DTYPES:
        codes = ", ".join(f"0x{c:02X}" for c in DTYPES)
        raise DatasetError(f"{name}: unknown IDX type code 0x{code:02X} (expected one of {codes})")
    if not 1 <= n_dims <= MAX_DIMS:
        raise DatasetError(f"{name}: expected 1 to {MAX_DIMS} dimensions in the IDX header, received {n_dims}")
    raw = f.read(4 * n_dims)
    if len(raw) != 4 * n_dims:
        raise DatasetError(f"{name}: truncated IDX header (expected {n_dims} sizes of 4 bytes, "
                           f"received {len(raw)} bytes)")
    shape = struct.unpack(f">{n_dims}I", raw)
    return DTYPES[code], shape, 4 + 4 * n_dims


def _n_bytes(dtype, shape):
    n = dtype.itemsize
    for size in shape:          # Python ints: no overflow however large the header claims
        n *= size
    return n


def _check_limit(name, dtype, shape, n_bytes):
    if n_bytes > MAX_BYTES:
        raise DatasetError(f"{name}: the header promises {_shape_text(shape)} {dtype.name} values ({n_bytes:,} bytes), "
                           f"more than the limit of {MAX_BYTES:,} bytes for one IDX file")


def _read_exactly(f, n_bytes, name):
    """Exactly ``n_bytes`` from ``f`` and then the end of the file, read into one buffer (no second copy)."""
    try:
        buffer = np.empty(n_bytes, dtype=np.uint8)
    except MemoryError:
        raise DatasetError(f"{name}: not enough memory for the {n_bytes:,} bytes its header promises") from None
    view, got = memoryview(buffer), 0
    while got < n_bytes:
        chunk = f.read(min(CHUNK, n_bytes - got))
        if not chunk:
            raise DatasetError(f"{name}: truncated: the header promises {n_bytes:,} bytes of data, the file holds "
                               f"{got:,}")
        view[got:got + len(chunk)] = chunk
        got += len(chunk)
    if f.read(1):
        raise DatasetError(f"{name}: the file holds more data than its header promises ({n_bytes:,} bytes)")
    return buffer


def _finish(data, dtype, shape):
    array = data.view(dtype).reshape(shape)
    return array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def _remaining_size(f):
    """Bytes left in a seekable ``f`` after its current position."""
    position = f.tell()
    end = f.seek(0, io.SEEK_END)
    f.seek(position)
    return end - position


def _shape_text(shape):
    return "x".join(map(str, shape))


class _Prepend:
    """A read-only stream: ``head`` bytes, then the rest of ``f`` (for non-seekable gzip input)."""

    def __init__(self, head, f):
        self.head, self.f = head, f

    def read(self, n=-1):
        head, self.head = self.head, b""
        if n is None or n < 0:
            return head + self.f.read()
        if len(head) >= n:
            self.head = head[n:]
            return head[:n]
        return head + self.f.read(n - len(head))


def write_idx(path_or_file, array, *, compress=None):
    """Write ``array`` as an IDX file (gzip-compressed if ``compress`` or the name ends in ``.gz``).

    Used by the tests to make small IDX files, and handy to save your own data in MNIST's format.
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("=") if dt.itemsize > 1 else dt: code for code, dt in DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise TypeError(f"write_idx expected uint8, int8, int16, int32, float32 or float64 data, "
                        f"received {array.dtype}")
    if array.ndim < 1:
        raise ValueError("write_idx expected an array with at least one dimension, received a scalar")
    code = codes[native]
    payload = (bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
               + np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes())
    if isinstance(path_or_file, (str, os.PathLike)):
        if compress is None:
            compress = str(path_or_file).endswith(".gz")
        atomic_write_bytes(path_or_file, gzip.compress(payload, mtime=0) if compress else payload)
    else:
        path_or_file.write(gzip.compress(payload, mtime=0) if compress else payload)
