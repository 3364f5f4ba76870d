import gzip
import io
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glassnet.datasets import DatasetError, read_idx, write_idx
from glassnet.errors import GlassnetError


def idx_bytes(array, compress=False):
    buf = io.BytesIO()
    write_idx(buf, array, compress=compress)
    return buf.getvalue()


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", "<i4", "f4", "f8"])
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_every_type(tmp_path, dtype, compress):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array)
    back = read_idx(path)
    np.testing.assert_array_equal(back, array)
    assert back.dtype == np.dtype(dtype).newbyteorder("=") and back.dtype.isnative
    np.testing.assert_array_equal(read_idx(io.BytesIO(path.read_bytes())), array)


def test_raw_files_are_memory_mapped_and_read_only(tmp_path):
    path = tmp_path / "images-idx3-ubyte"
    write_idx(path, np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28) % 251)
    array = read_idx(path)
    assert isinstance(array, np.memmap) and not array.flags.writeable
    assert isinstance(read_idx(path, mmap=False), np.ndarray) and not isinstance(read_idx(path, mmap=False), np.memmap)


def test_gzip_detected_by_content_not_name(tmp_path):
    path = tmp_path / "no-suffix"
    path.write_bytes(idx_bytes(np.arange(5, dtype=np.uint8), compress=True))
    np.testing.assert_array_equal(read_idx(path), np.arange(5))


@pytest.mark.parametrize("data, message", [
    (b"", "too short"),
    (b"\x00\x00", "too short"),
    (b"PK\x03\x04rest", "starting with bytes 00 00"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown IDX type code 0x07"),
    (b"\x00\x00\x08\x00", "1 to 8 dimensions"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", "truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x02abc", "longer than its header says"),
])
def test_bad_headers_and_lengths(tmp_path, data, message):
    path = tmp_path / "bad"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    with pytest.raises(DatasetError, match=message):             # the same through a file object
        read_idx(io.BytesIO(data))


def test_huge_header_is_refused_before_allocating(tmp_path):
    # 2**32-1 cubed bytes promised: refused from the file length (raw) or the gzip size (gz), not by MemoryError.
    header = b"\x00\x00\x08\x03" + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1)
    (tmp_path / "raw").write_bytes(header + b"\x00" * 10)
    (tmp_path / "gz").write_bytes(gzip.compress(header + b"\x00" * 10))
    with pytest.raises(DatasetError, match="truncated"):
        read_idx(tmp_path / "raw")
    with pytest.raises(DatasetError, match="more than .* bytes of gzip data can hold"):
        read_idx(tmp_path / "gz")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        read_idx(tmp_path / "nope")
    with pytest.raises(DatasetError, match="directory"):
        read_idx(tmp_path)
    with pytest.raises(TypeError, match="path or a binary file"):
        read_idx(42)


VALID = idx_bytes(np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5))
VALID_GZ = idx_bytes(np.arange(3 * 4 * 5, dtype=">i2").reshape(3, 4, 5), compress=True)


def _check_read(data):
    try:
        array = read_idx(io.BytesIO(data))
    except GlassnetError as exc:
        assert isinstance(exc, DatasetError) and str(exc)
        return
    assert array.nbytes <= 64 * len(data) + 1024     # whatever was accepted is what the bytes hold


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from([VALID, VALID_GZ]), data=st.data())
def test_fuzz_mutated_files_fail_cleanly(base, data):
    """Any byte flipped, inserted or removed, any truncation: a DatasetError or a correct read, never a crash."""
    raw = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        position = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if kind == "flip" and raw:
            raw[position] = data.draw(st.integers(0, 255))
        elif kind == "insert":
            raw[position:position] = bytes([data.draw(st.integers(0, 255))])
        elif kind == "delete" and raw:
            del raw[position]
        else:
            del raw[position:]
    _check_read(bytes(raw))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_fuzz_random_bytes(data):
    _check_read(data)
    _check_read(b"\x00\x00" + data)


@settings(max_examples=60, deadline=None)
@given(code=st.integers(0, 255), n_dims=st.integers(0, 255), sizes=st.lists(st.integers(0, 2**32 - 1), max_size=8))
def test_fuzz_headers(code, n_dims, sizes):
    header = bytes([0, 0, code, n_dims]) + b"".join(struct.pack(">I", s) for s in sizes)
    _check_read(header + b"\x01" * 16)
    _check_read(gzip.compress(header + b"\x01" * 16))


def test_non_seekable_streams(tmp_path):
    class Pipe:
        """Only read(): like a socket or a pipe."""

        def __init__(self, data):
            self.buffer = io.BytesIO(data)

        def read(self, n=-1):
            return self.buffer.read(n)

    array = np.arange(12, dtype=">i4").reshape(3, 4)
    for compress in (False, True):
        np.testing.assert_array_equal(read_idx(Pipe(idx_bytes(array, compress))), array)
        with pytest.raises(DatasetError, match="truncated"):
            read_idx(Pipe(idx_bytes(array, compress)[:-3] if not compress else gzip.compress(idx_bytes(array)[:-3])))
