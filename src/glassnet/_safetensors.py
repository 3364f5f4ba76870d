"""The safetensors file format, read and written with NumPy alone.

Layout (https://github.com/huggingface/safetensors): 8 bytes, little-endian u64 ``N``;
``N`` bytes of JSON header ``{name: {"dtype", "shape", "data_offsets": [begin, end]},
"__metadata__": {str: str}}``; then the raw little-endian tensor bytes. No code is ever
executed on load (unlike pickle). Files written here load with the ``safetensors``
package, and the other way round.

Every read checks the header length, JSON, dtypes, shapes, that offsets tile the data
exactly, and the total file length, before it builds any array.
"""

import json
import struct

import numpy as np

from .errors import ModelFileError

_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64,
           "U8": np.uint8, "I8": np.int8, "BOOL": np.bool_}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024


def dumps(tensors, metadata=None):
    """Serialize ``{name: array}`` (and a ``{str: str}`` metadata dict) to safetensors bytes."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        if arr.dtype not in _CODES:
            raise TypeError(f"safetensors: tensor {name!r} has unsupported dtype {arr.dtype}")
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _CODES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)                   # pad so the data starts 8-byte aligned
    return struct.pack("<Q", len(raw)) + raw + b"".join(chunks)


def loads(blob, source="file"):
    """Parse safetensors bytes into ``({name: array}, metadata)``; raises ModelFileError on any damage."""
    if len(blob) < 8:
        raise ModelFileError(f"{source}: not a safetensors file (only {len(blob)} bytes; truncated?)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > _MAX_HEADER or 8 + n > len(blob):
        raise ModelFileError(f"{source}: safetensors header says {n} bytes but the file has {len(blob) - 8} "
                             f"after the length field (truncated or not a safetensors file)")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{source}: the safetensors header is not valid JSON ({exc}); "
                             f"the file is damaged") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{source}: the safetensors header is not a JSON object; the file is damaged")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFileError(f"{source}: safetensors __metadata__ must map strings to strings")
    data = memoryview(blob)[8 + n:]
    spans, tensors = [], {}
    for name, info in header.items():
        try:
            dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
            shape = tuple(int(d) for d in info["shape"])
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(f"{source}: tensor {name!r} has a malformed header entry {info!r}") from None
        if any(d < 0 for d in shape) or not 0 <= begin <= end <= len(data):
            raise ModelFileError(f"{source}: tensor {name!r} points outside the file "
                                 f"(offsets {begin}..{end}, data is {len(data)} bytes; truncated?)")
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if end - begin != expected:
            raise ModelFileError(f"{source}: tensor {name!r} of shape {shape} needs {expected} bytes, "
                                 f"its offsets give {end - begin}")
        spans.append((begin, end))
        tensors[name] = (dtype, shape, begin, end)
    spans.sort()
    position = 0
    for begin, end in spans:
        if begin != position:
            raise ModelFileError(f"{source}: tensor data overlaps or has gaps at byte {begin}; the file is damaged")
        position = end
    if position != len(data):
        raise ModelFileError(f"{source}: {len(data) - position} unexpected bytes after the tensors "
                             f"(expected {position}, found {len(data)})")
    arrays = {name: np.frombuffer(data[b:e], dtype=dt).reshape(shape).astype(dt.newbyteorder("="))
              for name, (dt, shape, b, e) in tensors.items()}
    return arrays, metadata
