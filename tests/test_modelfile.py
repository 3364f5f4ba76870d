"""The low level of saving: files in, document and tensors out, with every check a file can fail by itself."""

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import modelfile


def test_read_model_gives_the_document_and_tensors_without_building_a_network(tmp_path):
    net = gn.Network.mlp([4, 3, 2], seed=0)
    for path in (tmp_path / "m", tmp_path / "m.safetensors"):
        net.save(path, metadata={"note": "hi"})
        doc, tensors, source = modelfile.read_model(path)
        assert doc["architecture"] == net.get_config() and doc["metadata"] == {"note": "hi"}
        assert source == str(path) and sorted(tensors) == sorted(net.get_weights())
        assert doc["weights"]["sha256"] == modelfile.weights_digest(tensors)


def test_check_tensors_names_what_is_missing_and_what_does_not_match(tmp_path):
    net = gn.Network.mlp([4, 3, 2], seed=0)
    doc, tensors, source = modelfile.read_model(net.save(tmp_path / "m"))
    shapes = {name: p.shape for name, p in net.named_parameters()}
    assert modelfile.check_tensors(tensors, shapes, doc, source) == np.float32
    with pytest.raises(gn.ModelFileError, match=r"missing \['2.biases'\]"):
        modelfile.check_tensors({k: v for k, v in tensors.items() if k != "2.biases"}, shapes, doc, source)
    with pytest.raises(gn.ModelFileError, match="expected shape"):
        modelfile.check_tensors(tensors, {**shapes, "0.weights": (4, 3)}, doc, source)
    changed = {**tensors, "0.biases": tensors["0.biases"] + 1}
    with pytest.raises(gn.ModelFileError, match="SHA-256"):
        modelfile.check_tensors(changed, shapes, doc, source)


def test_save_writes_any_object_that_describes_itself_like_a_network(tmp_path):
    """modelfile knows nothing of Network: what it writes comes from get_config/get_weights/dtype/loss_/history_."""
    net = gn.Network.mlp([3, 2], seed=0)

    class Stand_in:
        dtype, loss_, history_ = net.dtype, None, None
        get_config, get_weights = net.get_config, net.get_weights

    path = modelfile.save(Stand_in(), tmp_path / "m")
    assert json.loads((path / "model.json").read_text())["architecture"] == net.get_config()
    np.testing.assert_array_equal(gn.load(path).layers[0].weights, net.layers[0].weights)


def test_read_checkpoint_refuses_a_model_folder_and_reads_a_checkpoint(blobs, tmp_path):
    X, y = blobs
    net = gn.Network.mlp([5, 4, 3], seed=0)
    with pytest.raises(gn.ModelFileError, match="not a glassnet checkpoint"):
        modelfile.read_checkpoint(net.save(tmp_path / "model"))
    net.fit(X, y, epochs=1, seed=0, callbacks=[gn.Checkpoint(tmp_path / "c")])
    state = modelfile.read_checkpoint(tmp_path / "c")
    assert state["run"]["seed"] == 0 and len(state["history"]) == 1
    assert state["model"][0]["architecture"] == net.get_config()
    (tmp_path / "c" / "training.json").write_text("{")
    with pytest.raises(gn.ModelFileError, match="damaged"):
        modelfile.read_checkpoint(tmp_path / "c")
