"""The safetensors file format, read and written with NumPy alone.

Layout (https://github.com/huggingface/safetensors): 8 bytes, little-endian u64 ``N``;
``N`` bytes of JSON header ``{name: {"dtype", "shape", "data_offsets": [begin, end]},
"__metadata__": {str: str}}``; then the raw little-endian tensor bytes. No code is ever
executed on load (unlike pickle). Files written here load with the ``safetensors``
package, and the other way round.

Every read checks the header length, the JSON's nesting depth (before parsing it), dtypes,
shapes (at most :data:`MAX_DIMS` non-negative integer dimensions, sizes multiplied as Python
integers so nothing overflows), that offsets tile the data exactly, and the total file length,
before it builds any array. Not here: what the tensors mean (``glassnet.modelfile``).
"""

import json
import math
import re
import struct

import numpy as np

from .errors import ModelFileError

_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64,
           "U8": np.uint8, "I8": np.int8, "BOOL": np.bool_}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
MAX_HEADER = 16 * 1024 * 1024    #: bytes of JSON header (glassnet's own headers are a few kilobytes)
MAX_DIMS = 8                     #: dimensions of one tensor (glassnet's have 1 or 2)
MAX_JSON_DEPTH = 32              #: nesting of JSON arrays and objects, in headers and model documents
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def json_depth(raw):
    """The deepest nesting of ``[`` and ``{`` in JSON bytes or text, strings ignored (no recursion, no parse)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="replace")
    codes = np.frombuffer(_STRINGS.sub(b'""', raw), dtype=np.uint8)
    steps = (np.isin(codes, (0x5B, 0x7B)).astype(np.int32) - np.isin(codes, (0x5D, 0x7D)).astype(np.int32))
    return int(np.cumsum(steps).max(initial=0))


def bounded_json(raw, source, what, error=ModelFileError, max_depth=MAX_JSON_DEPTH):
    """``json.loads(raw)`` after checking its nesting is at most ``max_depth`` deep; ``error`` names ``source``."""
    depth = json_depth(raw)
    if depth > max_depth:
        raise error(f"{source}: {what} nests {depth} levels deep, more than the limit of {max_depth}; "
                    f"the file is damaged or hostile")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = f"{exc.msg} at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise error(f"{source}: {what} is not valid JSON ({reason}); the file is damaged") from None


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
    if n > MAX_HEADER:
        raise ModelFileError(f"{source}: safetensors header of {n:,} bytes, more than the limit of {MAX_HEADER:,}")
    if 8 + n > len(blob):
        raise ModelFileError(f"{source}: safetensors header says {n} bytes but the file has {len(blob) - 8} "
                             f"after the length field (truncated or not a safetensors file)")
    try:
        text = blob[8:8 + n].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{source}: the safetensors header is not valid JSON ({exc}); "
                             f"the file is damaged") from None
    header = bounded_json(text, source, "the safetensors header")
    if not isinstance(header, dict):
        raise ModelFileError(f"{source}: the safetensors header is not a JSON object; the file is damaged")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFileError(f"{source}: safetensors __metadata__ must map strings to strings")
    data = memoryview(blob)[8 + n:]
    spans, tensors = [], {}
    for name, info in header.items():
        dtype, shape, begin, end = _entry(name, info, source)
        if not 0 <= begin <= end <= len(data):
            raise ModelFileError(f"{source}: tensor {name!r} points outside the file "
                                 f"(offsets {begin}..{end}, data is {len(data)} bytes; truncated?)")
        expected = math.prod(shape) * dtype.itemsize       # Python integers: no overflow
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


def _entry(name, info, source):
    """``(dtype, shape, begin, end)`` of one header entry, every field's type and range checked."""
    def integers(value):
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)

    if (not isinstance(info, dict) or not isinstance(info.get("dtype"), str) or info["dtype"] not in _DTYPES
            or not integers(info.get("shape")) or not integers(info.get("data_offsets"))
            or len(info["data_offsets"]) != 2):
        text = repr(info)
        raise ModelFileError(f"{source}: tensor {name!r} has a malformed header entry "
                             f"{text[:120] + '...' if len(text) > 120 else text}")
    shape = tuple(info["shape"])
    if len(shape) > MAX_DIMS:
        raise ModelFileError(f"{source}: tensor {name!r} has {len(shape)} dimensions, more than the limit of "
                             f"{MAX_DIMS}")
    if any(d < 0 for d in shape):
        raise ModelFileError(f"{source}: tensor {name!r} has a negative dimension in its shape {shape}")
    begin, end = info["data_offsets"]
    return np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<"), shape, begin, end
