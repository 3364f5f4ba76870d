import json
import os
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import _safetensors, modelfile
from glassnet.serialization import weights_digest
from optional import need


def _trained(blobs, **kwargs):
    X, y = blobs
    net = gn.Network([gn.Dense(5, 8, seed=0), gn.LeakyReLU(0.1), gn.Dropout(0.1), gn.Dense(8, 6, seed=1),
                      gn.Tanh(), gn.Dense(6, 3, seed=2), gn.Softmax()])
    net.fit(X, y, epochs=2, batch_size=32, seed=0, **kwargs)
    return net


@pytest.mark.parametrize("name", ["model", "model.safetensors"])
def test_save_then_load_gives_identical_predictions(blobs, tmp_path, name):
    X, _ = blobs
    net = _trained(blobs)
    path = net.save(tmp_path / name, metadata={"dataset": "blobs"})
    loaded = gn.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    assert loaded.get_config() == net.get_config()
    assert loaded.history_.loss == net.history_.loss and loaded.loss_.name == "cross_entropy"
    assert loaded.metadata_ == {"dataset": "blobs"}
    assert repr(loaded) == repr(net)


def test_directory_layout_is_json_plus_safetensors(blobs, tmp_path):
    net = _trained(blobs)
    net.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json", "weights.safetensors"]
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    assert doc["format"] == "glassnet.model" and doc["format_version"] == 2
    assert [layer["type"] for layer in doc["architecture"]["layers"]] == [
        "Dense", "LeakyReLU", "Dropout", "Dense", "Tanh", "Dense", "Softmax"]
    assert doc["weights"]["sha256"] == weights_digest(net.get_weights())
    raw = (tmp_path / "m" / "weights.safetensors").read_bytes()
    assert b"pickle" not in raw and not raw.startswith(b"\x80")       # not a pickle


def test_files_load_with_the_reference_safetensors_library(blobs, tmp_path):
    st = need("safetensors.numpy")
    net = _trained(blobs)
    net.save(tmp_path / "m")
    theirs = st.load_file(str(tmp_path / "m" / "weights.safetensors"))
    for name, value in net.get_weights().items():
        np.testing.assert_array_equal(theirs[name], value)
    # and the other way round: a file written by the reference library reads back here
    st.save_file({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4)}, str(tmp_path / "x.st"),
                 metadata={"k": "v"})
    arrays, meta = _safetensors.loads((tmp_path / "x.st").read_bytes())
    np.testing.assert_array_equal(arrays["a"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert arrays["b"].dtype == np.float64 and meta == {"k": "v"}


def test_float64_network_round_trips(tmp_path):
    net = gn.Network.mlp([3, 4, 2], seed=0).astype(np.float64)
    loaded = gn.load(net.save(tmp_path / "m"))
    assert loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded.layers[0].weights, net.layers[0].weights)


def test_save_is_atomic_and_replaces_an_old_model(blobs, tmp_path):
    a = _trained(blobs)
    b = gn.Network([gn.Dense(5, 3, seed=5)])
    a.save(tmp_path / "m")
    b.save(tmp_path / "m")
    assert gn.load(tmp_path / "m").get_config() == b.get_config()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "m"]
    assert leftovers == []                          # no temporary files left behind


def test_a_failed_save_leaves_the_old_model_intact(blobs, tmp_path, monkeypatch):
    net = _trained(blobs)
    net.save(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("glassnet.modelfile.write_model_files", boom)
    with pytest.raises(OSError, match="disk full"):
        gn.Network([gn.Dense(5, 3)]).save(tmp_path / "m")
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_save_refuses_to_replace_a_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(gn.GlassnetError, match="did not write"):
        gn.Network([gn.Dense(2, 2)]).save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


# -- damaged, tampered, mismatched files -------------------------------------------------------------
@pytest.fixture
def saved(blobs, tmp_path):
    return _trained(blobs).save(tmp_path / "m")


def test_missing_model(tmp_path):
    with pytest.raises(gn.ModelFileError, match="no model there"):
        gn.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(gn.ModelFileError, match="model.json: file not found"):
        gn.load(tmp_path / "empty")


def test_missing_weights_file(saved):
    (saved / "weights.safetensors").unlink()
    with pytest.raises(gn.ModelFileError, match="weights.safetensors: file not found"):
        gn.load(saved)


@pytest.mark.parametrize("keep", [0, 5, 8, 40, -1])
def test_truncated_weights(saved, keep):
    path = saved / "weights.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:-3])
    with pytest.raises(gn.ModelFileError):
        gn.load(saved)


def test_bit_flips_never_load_wrong_weights(saved):
    path = saved / "weights.safetensors"
    original = path.read_bytes()
    expected = gn.load(saved).get_weights()
    data_start = 8 + int.from_bytes(original[:8], "little")
    rng = np.random.default_rng(0)
    positions = sorted(set(rng.integers(0, len(original), size=200).tolist()) | {0, 3, 9, len(original) - 1})
    for pos in positions:
        flipped = bytearray(original)
        flipped[pos] ^= 1 << int(rng.integers(0, 8))
        path.write_bytes(bytes(flipped))
        try:
            weights = gn.load(saved).get_weights()
        except gn.ModelFileError:
            continue
        # only a flip inside a free-text metadata string can go unnoticed, and it changes no weight
        assert pos < data_start, f"bit flip in the tensor data at byte {pos} was not detected"
        assert all(np.array_equal(weights[k], expected[k]) for k in expected)
    path.write_bytes(original)
    assert gn.load(saved).get_config()


def test_tampered_weight_value_is_caught(saved):
    tensors, meta = _safetensors.loads((saved / "weights.safetensors").read_bytes())
    tensors["0.weights"] = tensors["0.weights"].copy()
    tensors["0.weights"][0, 0] += 1.0
    (saved / "weights.safetensors").write_bytes(_safetensors.dumps(tensors, meta))
    with pytest.raises(gn.ModelFileError, match="SHA-256"):
        gn.load(saved)


def _edit(saved, change, sign=True):
    """Change model.json; ``sign``: and recompute its checksum, as a forger would (the checks behind it)."""
    doc = json.loads((saved / "model.json").read_text())
    change(doc)
    if sign and isinstance(doc.get("architecture"), dict) and isinstance(doc.get("weights"), dict):
        doc["document_sha256"] = modelfile.document_digest(doc)
    (saved / "model.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("change", [
    lambda d: d["architecture"]["layers"][4].update(type="ReLU"),          # Tanh -> ReLU
    lambda d: d["architecture"]["layers"][1].update(alpha=0.2),            # LeakyReLU's alpha
    lambda d: d["architecture"]["layers"][2].update(p=0.2),                # Dropout's p
    lambda d: d["metadata"].update(dataset="other"),
    lambda d: d.pop("document_sha256"),
])
def test_an_edited_document_fails_its_checksum(saved, change):
    _edit(saved, change, sign=False)
    with pytest.raises(gn.ModelFileError, match="does not match its SHA-256 checksum"):
        gn.load(saved)


def test_version_1_files_without_a_document_checksum_still_load(saved):
    """Files written before format version 2 load (their weights are still checked); a save upgrades them."""
    expected = gn.load(saved).get_weights()
    _edit(saved, lambda d: (d.pop("document_sha256"), d.update(format_version=1)), sign=False)
    assert all(np.array_equal(gn.load(saved).get_weights()[k], v) for k, v in expected.items())
    gn.load(saved).save(saved)
    assert json.loads((saved / "model.json").read_text())["format_version"] == modelfile.FORMAT_VERSION


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format_version=modelfile.FORMAT_VERSION + 1), "newer glassnet"),
    (lambda d: d.update(format_version="1"), "format_version"),
    (lambda d: d.update(format="keras"), "not a glassnet model"),
    (lambda d: d["architecture"]["layers"][0].update(n_out=9), "inconsistent architecture"),
    (lambda d: d["architecture"]["layers"][5].update(n_out=4), "do not match the architecture"),
    (lambda d: d["architecture"]["layers"].append({"type": "Dense", "n_in": 3, "n_out": 2}),
     "missing"),
    (lambda d: d["architecture"]["layers"].insert(1, {"type": "Conv2d"}), "unknown type 'Conv2d'"),
    (lambda d: d["architecture"]["layers"][2].update(p=3), "invalid settings"),
    (lambda d: d["architecture"]["layers"][1].update(bogus=1), "invalid settings"),
    (lambda d: d.update(dtype="int8"), "dtype"),
    (lambda d: d.pop("architecture"), "'architecture' is missing"),
])
def test_model_json_mismatch_is_a_clear_error(saved, change, message):
    _edit(saved, change)
    with pytest.raises(gn.ModelFileError, match=message):
        gn.load(saved)


def test_model_json_not_json(saved):
    (saved / "model.json").write_text('{"format": "glassnet.model", ')
    with pytest.raises(gn.ModelFileError, match="not valid JSON"):
        gn.load(saved)


def test_single_file_without_glassnet_metadata(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(_safetensors.dumps({"a": np.zeros(2, np.float32)}))
    with pytest.raises(gn.ModelFileError, match="not saved by glassnet"):
        gn.load(tmp_path / "x.safetensors")


def test_single_file_truncated(blobs, tmp_path):
    path = _trained(blobs).save(tmp_path / "m.safetensors")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(gn.ModelFileError, match="truncated|unexpected|outside"):
        gn.load(path)


def test_safetensors_reader_rejects_overlaps_and_bad_dtypes():
    blob = _safetensors.dumps({"a": np.zeros(2, np.float32), "b": np.zeros(2, np.float32)})
    header_len = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + header_len])
    header["b"]["data_offsets"] = [0, 8]
    raw = json.dumps(header).encode()
    with pytest.raises(gn.ModelFileError, match="overlaps"):
        _safetensors.loads(len(raw).to_bytes(8, "little") + raw + blob[8 + header_len:])
    header["b"] = {"dtype": "X9", "shape": [2], "data_offsets": [8, 16]}
    raw = json.dumps(header).encode()
    with pytest.raises(gn.ModelFileError, match="malformed"):
        _safetensors.loads(len(raw).to_bytes(8, "little") + raw + blob[8 + header_len:])
    with pytest.raises(gn.ModelFileError, match="header"):
        _safetensors.loads((10**12).to_bytes(8, "little") + b"{}")


def test_saved_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    mask = os.umask(0o022)
    try:
        gn.Network([gn.Dense(2, 2)]).save(tmp_path / "m")
        gn.Network([gn.Dense(2, 2)]).save(tmp_path / "m.safetensors")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "m").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "m" / "model.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "m.safetensors").stat().st_mode) == 0o644


def test_a_forged_architecture_cannot_make_load_allocate_more_than_the_file_holds(tmp_path):
    """A small file whose header declares a huge layer is refused before anything that size is built."""
    import json
    import struct

    path = gn.Network.mlp([784, 4, 10], seed=0).save(tmp_path / "a.safetensors")
    blob = path.read_bytes()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    doc = json.loads(header["__metadata__"]["glassnet.model"])
    huge = modelfile.MAX_UNITS                      # a 1M x 1M layer: 4 TB of float32, yet within the limits
    doc["architecture"] = {"n_features": huge, "layers": [{"type": "Dense", "n_in": huge, "n_out": huge}]}
    doc["document_sha256"] = modelfile.document_digest(doc)
    header["__metadata__"]["glassnet.model"] = json.dumps(doc)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    forged = tmp_path / "forged.safetensors"
    forged.write_bytes(struct.pack("<Q", len(text)) + text + blob[8 + n:])
    with pytest.raises(gn.ModelFileError, match=r"expected weight '0.weights' of shape \(1048576, 1048576\)"):
        gn.load(forged)


# -- concurrent saves and loads ---------------------------------------------------------------------
WORKER = r"""
import json, sys, time
import numpy as np
import glassnet as gn
role, path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
nets = [gn.Network.mlp([30, 20, 4], seed=s) for s in (int(sys.argv[4]), int(sys.argv[4]) + 1)]
expected = [n.get_weights() for n in nets]
counts = {"ok": 0, "failed": [], "mixed": 0}
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        if role == "writer":
            nets[counts["ok"] % 2].save(path)
        else:
            got = gn.load(path).get_weights()
            if not any(all(np.array_equal(got[k], e[k]) for k in e) for e in expected):
                counts["mixed"] += 1
        counts["ok"] += 1
    except Exception as exc:
        counts["failed"].append(f"{type(exc).__name__}: {exc}")
print(json.dumps(counts))
"""


def _workers(roles, path, seconds, seeds):
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, role, str(path), str(seconds), str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
             for role, seed in zip(roles, seeds)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_loads_while_another_process_saves_never_fail_nor_mix(tmp_path):
    """One process saves two networks in turn over one folder; two others load it meanwhile."""
    path = tmp_path / "m"
    gn.Network.mlp([30, 20, 4], seed=0).save(path)
    writer, *readers = _workers(["writer", "reader", "reader"], path, 3.0, [0, 0, 0])
    assert writer["failed"] == [] and writer["ok"] > 5
    for reader in readers:
        assert reader["failed"] == [] and reader["mixed"] == 0 and reader["ok"] > 5, reader
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_two_writers_both_succeed_and_leave_nothing_behind(tmp_path):
    path = tmp_path / "m"
    first, second = _workers(["writer", "writer"], path, 2.0, [0, 10])
    assert first["failed"] == [] and second["failed"] == [] and first["ok"] > 2 and second["ok"] > 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "weights.safetensors"]
    assert gn.load(path).n_params == gn.Network.mlp([30, 20, 4]).n_params
