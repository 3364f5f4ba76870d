"""Continuous fuzzing of every parser and loader with hypothesis: any input gives the library's own error.

Each test feeds generated input (random bytes, mutations of a valid file, generated JSON documents)
to one reader and accepts only a result or that reader's documented error (``ModelFileError``,
``DatasetError``); anything else (an ``IndexError``, a NumPy error, ``RecursionError``,
``MemoryError``, a hang) fails. The examples are new on every run (no fixed seed, no example
database), so each ``make test`` tries inputs no run tried before; a failure prints the input to
add to ``tests/test_hostile_files.py``. Each test is bounded by its number of examples, a few
seconds each.
"""

import io
import json
import struct
import zipfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet import _safetensors, modelfile
from glassnet.datasets.errors import DatasetError
from glassnet.datasets.idx import read_idx, write_idx
from glassnet.datasets.local import read_csv, read_image_folder, read_npz
from optional import need

FUZZ = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30)


def mutations(valid):
    """Bytes near ``valid``: a few bytes overwritten, a cut, or bytes inserted."""
    @st.composite
    def mutate(draw):
        data = bytearray(valid)
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(["set", "cut", "insert"]))
            at = draw(st.integers(0, max(len(data) - 1, 0)))
            if kind == "set" and data:
                data[at] = draw(st.integers(0, 255))
            elif kind == "cut":
                del data[at:at + draw(st.integers(1, 64))]
            else:
                data[at:at] = draw(st.binary(min_size=1, max_size=16))
        return bytes(data)
    return mutate()


# -- model files ------------------------------------------------------------------------------------
VALID_SAFETENSORS = _safetensors.dumps({"0.weights": np.ones((3, 2), np.float32), "0.biases": np.zeros(3, np.float32)},
                                       {"format": "x"})


@FUZZ
@given(st.binary(max_size=256) | mutations(VALID_SAFETENSORS))
def test_safetensors_reader_raises_only_its_error(blob):
    try:
        _safetensors.loads(blob, source="fuzz")
    except gn.ModelFileError:
        pass


@FUZZ
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=4))
def test_safetensors_header_entries_raise_only_its_error(header):
    raw = json.dumps(header).encode()
    try:
        _safetensors.loads(struct.pack("<Q", len(raw)) + raw + bytes(64), source="fuzz")
    except gn.ModelFileError:
        pass


def _document(architecture, **changes):
    doc = {"format": modelfile.FORMAT, "format_version": modelfile.FORMAT_VERSION, "architecture": architecture,
           "dtype": "float32", "loss": None, "history": None, "metadata": {}, "weights": {"sha256": "0" * 64}}
    doc.update(changes)
    doc["document_sha256"] = modelfile.document_digest(doc)        # signed: the checks behind the checksum
    return doc


layer_specs = st.lists(
    st.fixed_dictionaries({"type": st.sampled_from(["Dense", "ReLU", "Tanh", "LeakyReLU", "Dropout", "Softmax"])
                           | json_values},
                          optional={"n_in": json_values | st.integers(-3, 2 ** 40),
                                    "n_out": json_values | st.integers(-3, 2 ** 40),
                                    "alpha": json_values, "p": json_values}) | json_values,
    max_size=4)


@FUZZ
@given(layer_specs, json_values)
def test_model_documents_raise_only_the_model_file_error(layers, n_features):
    doc = _document({"n_features": n_features, "layers": layers})
    tensors = {"0.weights": np.ones((3, 2), np.float32), "0.biases": np.zeros(3, np.float32)}
    try:
        gn.Network.from_saved(modelfile.read_document("fuzz", json.dumps(doc)), tensors, "fuzz")
    except gn.ModelFileError:
        pass


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_model_json_text_raises_only_the_model_file_error(text):
    try:
        modelfile.read_document("fuzz", text)
    except gn.ModelFileError:
        pass


@FUZZ
@given(json_values)
def test_the_depth_check_agrees_with_json(value):
    text = json.dumps(value)

    def depth(v):
        if isinstance(v, list):
            return 1 + max(map(depth, v), default=0)
        if isinstance(v, dict):
            return 1 + max(map(depth, v.values()), default=0)
        return 0
    assert _safetensors.json_depth(text) == depth(value)


# -- datasets ----------------------------------------------------------------------------------------
def _idx_bytes(array, compress=False):
    buffer = io.BytesIO()
    write_idx(buffer, array, compress=compress)
    return buffer.getvalue()


VALID_IDX = _idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
VALID_IDX_GZ = _idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4), compress=True)


@FUZZ
@given(st.binary(max_size=64) | mutations(VALID_IDX) | mutations(VALID_IDX_GZ))
def test_idx_reader_raises_only_the_dataset_error(tmp_path, blob):
    path = tmp_path / "fuzz-idx"
    path.write_bytes(blob)
    for source in (path, io.BytesIO(blob)):
        try:
            read_idx(source)
        except DatasetError:
            pass


csv_cells = st.sampled_from(["0", "1", "2", "1e8", "1e300", "-1", "nan", "inf", "0.5", "x", "", " ", '"', "1,5",
                             "label", "255", "256"]) | st.text(max_size=4)


@FUZZ
@given(st.lists(st.lists(csv_cells, min_size=1, max_size=4), max_size=8), st.sampled_from([",", ";", "\t"]))
def test_csv_reader_raises_only_the_dataset_error(tmp_path, rows, delimiter):
    path = tmp_path / "fuzz.csv"
    path.write_text("\n".join(delimiter.join(row) for row in rows), encoding="utf-8", errors="surrogatepass")
    try:
        read_csv(path)
    except DatasetError:
        pass


def _npz_bytes():
    buffer = io.BytesIO()
    np.savez(buffer, X=np.ones((6, 2)), y=np.array([0, 1] * 3))
    return buffer.getvalue()


VALID_NPZ = _npz_bytes()


@FUZZ
@given(mutations(VALID_NPZ) | st.binary(max_size=64).map(lambda b: b"PK\x03\x04" + b))
def test_npz_reader_raises_only_the_dataset_error(tmp_path, blob):
    path = tmp_path / "fuzz.npz"
    path.write_bytes(blob)
    try:
        read_npz(path)
    except DatasetError:
        pass


@FUZZ
@given(st.lists(st.integers(0, 2 ** 40), max_size=3), json_values)
def test_npz_member_headers_raise_only_the_dataset_error(tmp_path, shape, descr):
    """A .npz whose X.npy header declares any shape and dtype: refused before NumPy allocates it."""
    header = repr({"descr": descr if isinstance(descr, str) else "<f8", "fortran_order": False, "shape": tuple(shape)})
    header = header.encode("latin-1", errors="replace")
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    member = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(16)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("X.npy", member)
        with io.BytesIO() as y:
            np.save(y, np.array([0, 1]))
            archive.writestr("y.npy", y.getvalue())
    path = tmp_path / "fuzz-header.npz"
    path.write_bytes(buffer.getvalue())
    try:
        read_npz(path)
    except DatasetError:
        pass


def _png():
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(buffer, format="PNG")
    return buffer.getvalue()


@FUZZ
@given(st.data())
def test_image_folder_reader_raises_only_the_dataset_error(tmp_path, data):
    need("PIL")
    valid = _png()
    folder = tmp_path / "fuzz-images"
    for k in ("a", "b"):
        (folder / k).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            (folder / k / f"{i}.png").write_bytes(valid)
    (folder / "a" / "0.png").write_bytes(data.draw(mutations(valid) | st.binary(max_size=64)))
    try:
        read_image_folder(folder)
    except DatasetError:
        pass
