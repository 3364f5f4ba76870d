"""Crafted, damaged and special files against every loader: a one-line error (CLI exit 2), never a crash.

The cases of issue 15 ("Nothing lost, nothing let in"), each a regression test. The CLI cases run
in one child process under a memory limit (``resource.setrlimit(RLIMIT_AS)``), so a loader that
allocated what a file declares would die or raise ``MemoryError`` there instead of refusing it:
each must end with exit code 2 and one line naming the file and the limit, and leave nothing
behind. Crafted inputs too big to build quickly in a test are kept in ``tests/regressions/``.
"""

import http.server
import json
import os
import stat
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet import _safetensors, modelfile
from glassnet.cli import main
from glassnet.datasets import download
from glassnet.datasets.errors import DownloadError
from glassnet.datasets.idx import write_idx

REGRESSIONS = Path(__file__).parent / "regressions"
MEMORY_LIMIT = 2 * 1024 ** 3          # the child's address space: far below what the crafted files declare

CHILD = r"""
import contextlib, io, json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
from glassnet.cli import main
results = []
for argv in json.loads(sys.argv[2]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except BaseException as exc:          # anything escaping main is a failure of the test
            code = f"escaped {type(exc).__name__}: {exc}"
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""


def run_limited(commands, cwd):
    """Run each ``glassnet`` command line in one child process under MEMORY_LIMIT: ``[(code, stderr)]``."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(MEMORY_LIMIT), json.dumps(commands)], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_clean_refusal(code, err, *needles):
    assert code == 2, (code, err)
    assert err.startswith("glassnet: error: ") and err.strip().count("\n") == 0, err
    assert "Traceback" not in err and "MemoryError" not in err and "RecursionError" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


# -- crafted model files ----------------------------------------------------------------------------
def safetensors_bytes(header):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw


def model_folder(root, name, *, document=None, weights=None):
    folder = root / name
    gn.Network.mlp([4, 3, 2], seed=0).save(folder)
    if document is not None:
        (folder / "model.json").write_text(document)
    if weights is not None:
        (folder / "weights.safetensors").write_bytes(weights)
    return folder


def crafted_models(root):
    """``{case: path}``: each a model that must be refused with a clear error."""
    nested = "[" * 100_000 + "]" * 100_000
    cases = {
        "nested model.json": model_folder(root, "nested", document=nested),
        "nested safetensors header": model_folder(root, "nested-header", weights=struct.pack("<Q", len(nested))
                                                  + nested.encode()),
        "shape 2**70": model_folder(root, "huge", weights=safetensors_bytes(
            {"0.weights": {"dtype": "F32", "shape": [2 ** 70], "data_offsets": [0, 0]}})),
        "shape [2**32, 2**32]": model_folder(root, "wrap", weights=safetensors_bytes(
            {"0.weights": {"dtype": "F32", "shape": [2 ** 32, 2 ** 32], "data_offsets": [0, 0]}})),
        "65 dimensions": model_folder(root, "dims", weights=safetensors_bytes(
            {"0.weights": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}) + b"\0" * 4),
    }
    single = root / "nested-metadata.safetensors"
    single.write_bytes(_safetensors.dumps({"a": np.zeros(1, np.float32)}, {"glassnet.model": nested}))
    cases["nested metadata"] = single
    for case, layers in (("layer spec as a list", [["Dense", 4, 2]]),
                         ("layer type as a list", [{"type": ["Dense"], "n_in": 4, "n_out": 2}]),
                         ("setting as a list", [{"type": "Dense", "n_in": [4], "n_out": 2}])):
        folder = model_folder(root, case.replace(" ", "-"))
        doc = json.loads((folder / "model.json").read_text())
        doc["architecture"]["layers"] = layers
        doc["document_sha256"] = modelfile.document_digest(doc)   # signed: the checks behind the checksum
        (folder / "model.json").write_text(json.dumps(doc))
        cases[case] = folder
    zero = model_folder(root, "dev-zero")
    (zero / "weights.safetensors").unlink()
    (zero / "weights.safetensors").symlink_to("/dev/zero")
    cases["weights -> /dev/zero"] = zero
    fifo = model_folder(root, "fifo")
    (fifo / "weights.safetensors").unlink()
    os.mkfifo(fifo / "weights.safetensors")
    cases["weights is a FIFO"] = fifo
    single_zero = root / "zero.safetensors"
    single_zero.symlink_to("/dev/zero")
    cases["single file -> /dev/zero"] = single_zero
    return cases


def test_crafted_model_files_are_refused_in_one_line_under_a_memory_limit(tmp_path):
    cases = crafted_models(tmp_path)
    results = run_limited([["info", str(path)] for path in cases.values()], cwd=tmp_path)
    for path, (code, err) in zip(cases.values(), results):
        assert_clean_refusal(code, err, str(path.name))
    messages = dict(zip(cases, (err for _, err in results)))
    assert "limit of 32" in messages["nested model.json"] and "limit of 32" in messages["nested metadata"]
    assert "limit of 8" in messages["65 dimensions"]
    assert "symbolic link" in messages["weights -> /dev/zero"] and "FIFO" in messages["weights is a FIFO"]
    assert "character device" in messages["single file -> /dev/zero"]


@pytest.mark.parametrize("change", [
    lambda d: d["architecture"]["layers"][1].update(type="Tanh"),       # ReLU -> Tanh
    lambda d: d["metadata"].update(note="edited"),
])
def test_an_edited_model_json_is_refused_by_the_cli(tmp_path, change, capsys):
    folder = model_folder(tmp_path, "m")
    doc = json.loads((folder / "model.json").read_text())
    change(doc)
    (folder / "model.json").write_text(json.dumps(doc))
    code = main(["info", str(folder)])
    assert_clean_refusal(code, capsys.readouterr().err, "does not match its SHA-256 checksum")


def test_info_into_a_closed_pipe_exits_quietly(tmp_path):
    folder = model_folder(tmp_path, "m")
    done = subprocess.run(f"{sys.executable} -m glassnet info {folder} | head -1", shell=True, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.stdout.startswith("model: ") and done.stderr == ""


# -- crafted datasets -------------------------------------------------------------------------------
def png_bytes(width, height, rows=None):
    """A grayscale PNG declaring ``width`` x ``height``; its pixel data ``rows`` (default: all zero)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = rows if rows is not None else zlib.compress(bytes((width + 1) * height), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def idx_folder(root, name, labels):
    folder = root / name
    folder.mkdir()
    for split, n in (("train", len(labels)), ("t10k", 10)):
        write_idx(folder / f"{split}-images-idx3-ubyte", np.zeros((n, 4, 4), np.uint8))
        write_idx(folder / f"{split}-labels-idx1-ubyte", np.asarray(labels if split == "train" else [0, 1] * 5,
                                                                     dtype=np.int32))
    return folder


def image_folder(root, name, first):
    folder = root / name
    for k in ("a", "b"):
        (folder / k).mkdir(parents=True)
        for i in range(3):
            (folder / k / f"{i}.png").write_bytes(png_bytes(8, 8))
    (folder / "a" / "0.png").write_bytes(first)
    return folder


def crafted_datasets(root):
    """``{case: path}``: each a dataset that must be refused with a clear error."""
    cases = {"IDX label 100,000,000": idx_folder(root, "idx-labels", [0, 1] * 24 + [1, 100_000_000])}
    for case, label in (("CSV label 1e8", "1e8"), ("CSV label 1e300", "1e300")):
        path = root / f"{case.replace(' ', '-')}.csv"
        path.write_text("label,a,b\n" + "0,1,2\n1,2,3\n" * 5 + f"{label},3,4\n")
        cases[case] = path
    np.savez(root / "npz-label.npz", X=np.zeros((10, 3)), y=np.array([0, 1] * 4 + [1, 100_000_000]))
    cases["npz y 1e8"] = root / "npz-label.npz"
    np.savez(root / "small.npz", X=np.zeros((2, 4)), y=np.array([0, 1]))   # then X.npy declares (10**12, 4)
    (root / "huge-header.npz").write_bytes(_rezip(root / "small.npz", b"(2, 4)", b"(1000000000000, 4)"))
    cases["npz header (1e12, 4)"] = root / "huge-header.npz"
    bomb = root / "bomb"
    bomb.mkdir()
    (bomb / "train-images-idx3-ubyte.gz").write_bytes((REGRESSIONS / "bomb-1000000x28x28-idx3-ubyte.gz").read_bytes())
    for name, n in (("train-labels-idx1-ubyte", 2), ("t10k-images-idx3-ubyte", 2), ("t10k-labels-idx1-ubyte", 2)):
        write_idx(bomb / name, np.zeros((n, 28, 28) if "images" in name else (n,), np.uint8))
    cases["gzip bomb 1000000x28x28"] = bomb
    cases["first image 8000x8000"] = image_folder(root, "big-first", png_bytes(8000, 8000))
    cases["PNG declaring 100000x100000"] = image_folder(root, "bomb-png", png_bytes(100_000, 100_000, b""))
    outside = image_folder(root, "link-out", png_bytes(8, 8))
    (outside / "b" / "3.png").symlink_to(root / "big-first" / "a" / "0.png")
    cases["symlink out of the image folder"] = outside
    fifo = image_folder(root, "fifo-image", png_bytes(8, 8))
    os.mkfifo(fifo / "b" / "3.png")
    cases["FIFO among the images"] = fifo
    zero = idx_folder(root, "idx-zero", [0, 1] * 5)
    (zero / "t10k-labels-idx1-ubyte").unlink()
    (zero / "t10k-labels-idx1-ubyte").symlink_to("/dev/zero")
    cases["IDX labels -> /dev/zero"] = zero
    csv_fifo = root / "fifo.csv"
    os.mkfifo(csv_fifo)
    cases["CSV FIFO"] = csv_fifo
    return cases


def _rezip(path, old, new):
    """The .npz at ``path`` with ``old`` replaced by ``new`` in its members (the zip rebuilt, CRCs right)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "X.npy":
                length = struct.unpack("<H", data[8:10])[0]
                text = data[10:10 + length].replace(old, new)          # longer: take it from the padding
                text = text.rstrip(b"\n ").ljust(length - 1) + b"\n"
                assert len(text) == length
                data = data[:10] + text + data[10 + length:]
            target.writestr(info.filename, data)
    return out.getvalue()


LIMIT_WORDS = {
    "IDX label 100,000,000": "limit of 100,000 classes", "CSV label 1e8": "limit of 100,000 classes",
    "CSV label 1e300": "limit of 100,000 classes", "npz y 1e8": "limit of 100,000 classes",
    "npz header (1e12, 4)": "declares shape (1000000000000, 4)", "gzip bomb 1000000x28x28": "more than the limit",
    "first image 8000x8000": "limit of 1,048,576 pixels", "PNG declaring 100000x100000": "limit of 89,478,485",
    "symlink out of the image folder": "outside", "FIFO among the images": "FIFO",
    "IDX labels -> /dev/zero": "outside", "CSV FIFO": "FIFO",
}


def test_crafted_datasets_are_refused_in_one_line_under_a_memory_limit(tmp_path):
    cases = crafted_datasets(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    out = tmp_path / "pictures"
    results = run_limited([["datasets", "show", str(path), "--out", str(out), "--json"] for path in cases.values()],
                          cwd=tmp_path)
    for case, (code, err) in zip(cases, results):
        assert_clean_refusal(code, err, LIMIT_WORDS[case])
    assert sorted(p.name for p in tmp_path.rglob("*")) == before          # nothing left behind


def test_a_csv_number_beyond_float32_is_refused_not_warned(tmp_path):
    """Found by tests/test_fuzz_parsers.py: 1e300 overflowed float32 with a RuntimeWarning first."""
    path = tmp_path / "big.csv"
    path.write_text("label,a\n0,1\n1,1e300\n")
    with pytest.raises(gn.datasets.DatasetError, match="row 3, column 2 .*expected a finite number"):
        gn.datasets.load(path)


def test_a_huge_network_is_refused_before_it_is_allocated(tmp_path):
    [(code, err)] = run_limited([["train", "--layers", "100000,100000", "--out", str(tmp_path / "run")]],
                                cwd=tmp_path)
    assert_clean_refusal(code, err, "limit of 50,000,000")
    assert not (tmp_path / "run" / "checkpoint").exists()


# -- downloads ----------------------------------------------------------------------------------------
class _Flood(http.server.BaseHTTPRequestHandler):
    """Serves ``size`` bytes for any path, announcing them (``announce``) or not."""

    size, announce = 200_000, True

    def do_GET(self):
        self.send_response(200)
        if self.announce:
            self.send_header("Content-Length", str(self.size))
        self.end_headers()
        try:
            for _ in range(self.size // 10_000):
                self.wfile.write(b"x" * 10_000)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("announce", [True, False])
def test_a_mirror_sending_more_than_the_expected_size_is_cut_off(tmp_path, announce):
    handler = type("Flood", (_Flood,), {"announce": announce})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/file.gz"
        with pytest.raises(DownloadError, match="expected at most"):
            download.download([url], tmp_path / "file.gz", sha256="0" * 64, size=10_000, progress=False,
                              timeout=10, retries=1)
    finally:
        server.shutdown()
        server.server_close()
    assert list(tmp_path.iterdir()) == []             # no .part, no file
    assert download.size_cap(10_000) < 200_000


def test_a_full_disk_leaves_no_part_file(tmp_path, monkeypatch):
    import errno

    def full(url, part, **kwargs):
        part.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download, "_transfer", full)
    with pytest.raises(DownloadError, match="No space left on device"):
        download.download(["http://127.0.0.1:9/x"], tmp_path / "x", sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


# -- set_weights -------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.array([["a", "b"]] * 3), np.full((3, 2), np.nan), np.full((3, 2), np.inf)])
def test_set_weights_checks_every_tensor_before_writing_any(bad):
    net = gn.Network.mlp([2, 3, 2], seed=0)
    before = net.get_weights()
    weights = {name: value + 1 for name, value in before.items()}
    last = sorted(weights)[-1]
    weights[last] = bad.reshape(before[last].shape) if bad.size == before[last].size else bad
    with pytest.raises((TypeError, ValueError)):
        net.set_weights(weights)
    assert all(np.array_equal(net.get_weights()[k], v) for k, v in before.items())


def test_a_saved_model_with_nan_weights_is_refused(tmp_path):
    path = gn.Network.mlp([2, 3, 2], seed=0).save(tmp_path / "m.safetensors")
    tensors, meta = _safetensors.loads(path.read_bytes())
    tensors["0.weights"][0, 0] = np.nan
    doc = json.loads(meta["glassnet.model"])
    doc["weights"]["sha256"] = modelfile.weights_digest(tensors)
    doc["document_sha256"] = modelfile.document_digest(doc)
    path.write_bytes(_safetensors.dumps(tensors, {"glassnet.model": json.dumps(doc)}))
    with pytest.raises(gn.ModelFileError, match="NaN"):
        gn.load(path)


def test_special_files_are_refused_by_the_reader_itself(tmp_path):
    from glassnet._io import read_regular

    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(gn.ModelFileError, match="FIFO"):
        read_regular(tmp_path / "fifo", 100, gn.ModelFileError)
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(gn.ModelFileError, match="limit of 100 bytes"):
        read_regular(tmp_path / "big", 100, gn.ModelFileError)
    assert stat.S_ISREG(os.stat(tmp_path / "big").st_mode)
