"""ONNX and PyTorch export/import: every export is checked against glassnet's own outputs."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
import glassnet.export as ex
from glassnet.cli import main
from optional import need

# Every hidden-layer activation of the registry (so a new one is exported here too), LeakyReLU with a
# slope other than its default, and dropout.
ACTIVATION_NETS = {
    **{name: (lambda name=name: [gn.activations.get(name)]) for name in gn.activations.names()},
    "leaky_relu": lambda: [gn.LeakyReLU(0.2)],
    "dropout": lambda: [gn.ReLU(), gn.Dropout(0.3, seed=0)],
}


def digits_net(activation, output=None, dtype=np.float32):
    """784 -> 32 -> 16 -> 10 with ``activation`` between the Dense layers (and optional output layer)."""
    make = ACTIVATION_NETS[activation]
    layers = [gn.Dense(784, 32, seed=0, dtype=dtype), *make(), gn.Dense(32, 16, seed=1, dtype=dtype), *make(),
              gn.Dense(16, 10, seed=2, dtype=dtype)]
    rng = np.random.default_rng(3)
    for layer in layers:                         # non-zero biases, so a dropped bias would show
        if isinstance(layer, gn.Dense):
            layer.biases = rng.normal(0, 0.5, layer.n_out)
    return gn.Network(layers + ([output] if output is not None else []))


class Doubler(gn.Layer):
    """A custom layer no export knows."""

    def forward(self, x, training=False):
        return 2 * x

    def backward(self, delta):
        return 2 * delta


@pytest.fixture(scope="module")
def X_digits():
    return gn.datasets.load_digits().X_test[:300]


def test_importing_export_needs_neither_torch_nor_onnx():
    code = "import sys, glassnet, glassnet.export; print(sorted({'torch', 'onnx', 'onnxruntime'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- ONNX ------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", sorted(ACTIVATION_NETS))
def test_onnx_matches_glassnet_on_digits_for_every_activation(activation, tmp_path, X_digits):
    onnx, ort = need("onnx"), need("onnxruntime")
    net = digits_net(activation)
    path = tmp_path / "model.onnx"
    report = ex.to_onnx(net, path)
    assert report.passed and report.inputs == "bundled digits" and report.max_abs_diff <= 1e-5
    assert report.path == str(path)

    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == ex.DEFAULT_OPSET == 17
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"   # dynamic batch axis
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (X_digits[:1], X_digits):          # any batch size
        (out,) = session.run(None, {"input": batch})
        assert out.dtype == np.float32 and out.shape == (len(batch), 10)
        np.testing.assert_allclose(out, net.forward(batch), rtol=0, atol=1e-5)


def test_onnx_of_a_float64_network_is_float32(tmp_path, X_digits):
    ort = need("onnxruntime")
    net = digits_net("tanh", dtype=np.float64)
    assert ex.to_onnx(net, tmp_path / "m.onnx").passed
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": X_digits})
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, net.forward(X_digits.astype(np.float64)), atol=1e-5)


def test_onnx_ops_are_the_textbook_ones(tmp_path):
    onnx = need("onnx")
    net = gn.Network([gn.Dense(784, 8, seed=0), gn.LeakyReLU(0.3), gn.Dropout(0.5), gn.Dense(8, 3, seed=1),
                      gn.Softmax()])
    ex.to_onnx(net, tmp_path / "m.onnx")
    nodes = onnx.load(str(tmp_path / "m.onnx")).graph.node
    assert [n.op_type for n in nodes] == ["Gemm", "LeakyRelu", "Identity", "Gemm", "Softmax", "Identity"]
    assert onnx.helper.get_attribute_value(nodes[0].attribute[0]) == 1                # transB=1: W is (out, in)
    assert onnx.helper.get_attribute_value(nodes[1].attribute[0]) == pytest.approx(0.3)


@pytest.mark.parametrize("n_outputs", [10, 1])
def test_onnx_softmax_option_gives_predict_proba(n_outputs, tmp_path, X_digits):
    ort = need("onnxruntime")
    net = gn.Network.mlp([784, 16, n_outputs], activation="tanh", seed=0)
    ex.to_onnx(net, tmp_path / "p.onnx", softmax=True, opset=13)
    session = ort.InferenceSession(str(tmp_path / "p.onnx"), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": X_digits})
    np.testing.assert_allclose(out, net.predict_proba(X_digits), atol=1e-6)


def test_onnx_of_a_network_that_does_not_take_digits_uses_seeded_random_inputs(tmp_path):
    need("onnxruntime")
    report = ex.to_onnx(gn.Network.mlp([5, 4, 2], seed=0), tmp_path / "small.onnx")
    assert report.inputs == "seeded random inputs" and report.n_samples == 256
    assert "parity OK" in str(report) and "max |difference|" in str(report)


def test_onnx_refuses_an_unsupported_layer_by_name_and_writes_nothing(tmp_path):
    need("onnx")
    net = gn.Network([gn.Dense(4, 3, seed=0), Doubler(), gn.Dense(3, 2, seed=1)])
    with pytest.raises(ex.UnsupportedLayerError, match=r"layer 1 Doubler\(\).*Dense, Dropout, ReLU"):
        ex.to_onnx(net, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()

    class MyReLU(gn.ReLU):                  # a subclass may compute something else: refused too
        pass

    with pytest.raises(ex.UnsupportedLayerError, match="MyReLU"):
        ex.to_onnx(gn.Network([gn.Dense(4, 3), MyReLU()]), tmp_path / "y.onnx")


def test_onnx_parity_failure_raises_and_writes_nothing(tmp_path):
    need("onnxruntime")
    with pytest.raises(ex.ParityError, match="parity FAILED.*nothing was written") as info:
        ex.to_onnx(digits_net("relu"), tmp_path / "m.onnx", tolerance=1e-15)
    assert not info.value.report.passed and info.value.report.max_abs_diff > 1e-15
    assert not (tmp_path / "m.onnx").exists()


def test_parity_tolerance_is_absolute_up_to_1_and_relative_above():
    assert ex.ParityReport("torch", "digits", 1, max_abs_diff=9e-6, max_abs_output=0.5).passed
    assert not ex.ParityReport("torch", "digits", 1, max_abs_diff=2e-5, max_abs_output=0.5).passed
    confident = ex.ParityReport("torch", "digits", 1, max_abs_diff=2e-5, max_abs_output=44.0)
    assert confident.passed and confident.allowed == pytest.approx(44e-5)
    assert not ex.ParityReport("torch", "digits", 1, max_abs_diff=1e-3, max_abs_output=44.0).passed
    assert "allowed 0.00044" in str(confident) and "largest |output| 44" in str(confident)


def test_large_outputs_of_a_confident_network_export(tmp_path, X_digits):
    """Logits in the hundreds, as after long training: float32 rounding grows with them, the exports still pass."""
    need("onnxruntime"), need("torch")
    net = digits_net("relu")
    net.layers[-1].weights = net.layers[-1].weights * 100
    assert np.abs(net.forward(X_digits)).max() > 100
    for report in (ex.to_onnx(net, tmp_path / "big.onnx"), ex.save_torch(net, tmp_path / "big.pt")):
        assert report.passed and report.max_abs_diff < 1e-6 * report.max_abs_output


def test_onnx_bad_arguments(tmp_path):
    need("onnx")
    net = gn.Network.mlp([4, 2], seed=0)
    with pytest.raises(ValueError, match="opset expected an integer from 13"):
        ex.to_onnx(net, tmp_path / "m.onnx", opset=7)
    with pytest.raises(TypeError, match="softmax expected a bool"):
        ex.to_onnx(net, tmp_path / "m.onnx", softmax="yes")


def test_missing_extra_names_the_pip_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)        # as if onnx were not installed
    with pytest.raises(gn.MissingExtraError, match=r'pip install "glassnet\[onnx\]"'):
        ex.to_onnx(gn.Network.mlp([4, 2]), tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(gn.MissingExtraError, match=r'pip install "glassnet\[torch\]"'):
        ex.to_torch(gn.Network.mlp([4, 2]))


# -- PyTorch ---------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", sorted(ACTIVATION_NETS))
def test_torch_module_matches_glassnet_and_round_trip_is_exact(activation, X_digits):
    torch = need("torch")
    net = digits_net(activation, output=gn.Softmax() if activation == "tanh" else None)
    rng_state = torch.get_rng_state()
    module = ex.to_torch(net)
    assert torch.equal(torch.get_rng_state(), rng_state)             # the user's torch seed is left alone
    assert isinstance(module, torch.nn.Sequential) and not module.training
    assert len(module) == len(net.layers)
    with torch.no_grad():
        out = module(torch.from_numpy(X_digits)).numpy()
    np.testing.assert_allclose(out, net.forward(X_digits), rtol=0, atol=1e-5)

    back = ex.from_torch(module)
    assert [type(layer) for layer in back.layers] == [type(layer) for layer in net.layers]
    for mine, theirs in zip(net.layers, back.layers):
        config = {k: v for k, v in mine.get_config().items() if k != "init"}
        assert {k: v for k, v in theirs.get_config().items() if k != "init"} == config
    for (name, a), (name_back, b) in zip(net.named_parameters(), back.named_parameters()):
        assert name == name_back and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)                           # bit for bit
    np.testing.assert_array_equal(back.forward(X_digits), net.forward(X_digits))


def test_torch_round_trip_keeps_float64():
    torch = need("torch")
    net = digits_net("relu", dtype=np.float64)
    module = ex.to_torch(net)
    assert module[0].weight.dtype == torch.float64
    back = ex.from_torch(module)
    assert back.dtype == np.float64
    for a, b in zip(net.parameters(), back.parameters()):
        np.testing.assert_array_equal(a, b)


def test_torch_weights_share_glassnet_layout_and_names():
    need("torch")
    net = digits_net("relu")
    state = ex.to_torch(net).state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    np.testing.assert_array_equal(state["0.weight"].numpy(), net.layers[0].weights)   # (n_out, n_in), no transpose


def _torch_optimizer(torch, name, params):
    if name == "sgd_momentum":
        return torch.optim.SGD(params, lr=0.05, momentum=0.9)
    if name == "sgd_nesterov_decay":
        return torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    if name == "adam":
        return torch.optim.Adam(params, lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    return torch.optim.AdamW(params, lr=0.01, weight_decay=0.05)


GLASSNET_OPTIMIZERS = {
    "sgd_momentum": lambda: gn.SGD(0.05, momentum=0.9),
    "sgd_nesterov_decay": lambda: gn.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda: gn.Adam(0.01),
    "adamw": lambda: gn.AdamW(0.01, weight_decay=0.05),
}


@pytest.mark.parametrize("optimizer", sorted(GLASSNET_OPTIMIZERS))
def test_training_steps_in_torch_match_glassnet(optimizer, digits):
    """Same weights, same batch, same optimizer settings: the same updated weights (3 full-batch steps)."""
    torch = need("torch")
    X, y = digits.X_train[:64], digits.y_train[:64]
    net = gn.Network.mlp([784, 32, 16, 10], activation="tanh", seed=0)
    module = ex.to_torch(net).train()
    opt = _torch_optimizer(torch, optimizer, module.parameters())
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(module(X_t), y_t).backward()
        opt.step()

    net.fit(X, y, epochs=3, batch_size=len(X), shuffle=False, optimizer=GLASSNET_OPTIMIZERS[optimizer](), seed=0)
    trained = ex.from_torch(module)
    for (name, mine), theirs in zip(net.named_parameters(), trained.parameters()):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-5, err_msg=name)
    assert not np.allclose(net.layers[0].weights, gn.Network.mlp([784, 32, 16, 10], "tanh", seed=0).layers[0].weights)


@pytest.mark.parametrize("optimizer", sorted(GLASSNET_OPTIMIZERS))
def test_training_continues_in_torch_with_the_optimizer_state(optimizer, digits):
    """2 steps in glassnet, then 2 more in glassnet or in torch (settings and state carried over): the same."""
    torch = need("torch")
    X, y = digits.X_train[:64], digits.y_train[:64]
    net = gn.Network.mlp([784, 16, 10], activation="relu", seed=0)
    opt = GLASSNET_OPTIMIZERS[optimizer]()
    net.fit(X, y, epochs=2, batch_size=len(X), shuffle=False, optimizer=opt, seed=0)
    module = ex.to_torch(net).train()
    torch_opt = ex.to_torch_optimizer(opt, module)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    for _ in range(2):
        torch_opt.zero_grad()
        torch.nn.functional.cross_entropy(module(X_t), y_t).backward()
        torch_opt.step()
    net.fit(X, y, epochs=2, batch_size=len(X), shuffle=False, optimizer=opt, seed=0)
    for (name, mine), theirs in zip(net.named_parameters(), ex.from_torch(module).parameters()):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-5, err_msg=name)


def test_to_torch_optimizer_refuses_a_module_of_another_network():
    need("torch")
    net = gn.Network.mlp([4, 3, 2], seed=0)
    opt = gn.SGD(0.1, momentum=0.9)
    net.fit(np.ones((4, 4)), [0, 1, 0, 1], epochs=1, optimizer=opt, seed=0)
    with pytest.raises(ex.ExportError, match="does not fit the module's parameters"):
        ex.to_torch_optimizer(opt, ex.to_torch(gn.Network.mlp([5, 3, 2], seed=0)))


def test_from_torch_reads_flatten_nested_sequential_no_bias_and_settings(X_digits):
    torch = need("torch")
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 20, bias=False), nn.LeakyReLU(0.2),
        nn.Sequential(nn.Dropout(0.25), nn.Linear(20, 10), nn.Identity()), nn.Softmax(dim=1)).eval()
    net = ex.from_torch(module)
    assert [type(layer).__name__ for layer in net.layers] == ["Dense", "LeakyReLU", "Dropout", "Dense", "Identity",
                                                              "Softmax"]
    assert net.layers[1].alpha == pytest.approx(0.2) and net.layers[2].p == 0.25
    np.testing.assert_array_equal(net.layers[0].biases, 0)
    images = torch.from_numpy(X_digits.reshape(-1, 1, 28, 28))
    with torch.no_grad():
        expected = module(images).numpy()
    np.testing.assert_allclose(net.forward(X_digits), expected, rtol=0, atol=1e-6)


def test_from_torch_refuses_what_glassnet_cannot_compute():
    torch = need("torch")
    nn = torch.nn
    with pytest.raises(ex.UnsupportedLayerError, match=r"module 1 \(Conv2d.*position 1 has no glassnet equivalent"):
        ex.from_torch(nn.Sequential(nn.Linear(4, 4), nn.Conv2d(1, 1, 3)))
    with pytest.raises(ex.UnsupportedLayerError, match="GELU"):       # glassnet's GELU is the exact one
        ex.from_torch(nn.Sequential(nn.Linear(4, 4), nn.GELU(approximate="tanh")))
    with pytest.raises(ex.UnsupportedLayerError, match="Flatten is only understood as the first module"):
        ex.from_torch(nn.Sequential(nn.Linear(4, 4), nn.Flatten()))
    with pytest.raises(ex.UnsupportedLayerError, match="slope in"):
        ex.from_torch(nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(2.0)))
    with pytest.raises(ex.UnsupportedLayerError, match="dim=0"):
        ex.from_torch(nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=0)))
    with pytest.raises(TypeError, match="expected a torch.nn.Sequential, received Linear"):
        ex.from_torch(nn.Linear(4, 4))
    with pytest.raises(ex.ExportError, match=r"float16.*module.float\(\)"):
        ex.from_torch(nn.Sequential(nn.Linear(4, 4)).half())
    with pytest.raises(ex.ExportError, match="no Linear layer"):
        ex.from_torch(nn.Sequential(nn.ReLU()))


def test_to_torch_refuses_an_unsupported_layer():
    need("torch")
    with pytest.raises(ex.UnsupportedLayerError, match="layer 1 Doubler"):
        ex.to_torch(gn.Network([gn.Dense(4, 3), Doubler()]))


def _import_file(path):
    spec = importlib.util.spec_from_file_location(f"generated_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_torch_writes_a_state_dict_and_code_that_rebuilds_the_module(dtype, tmp_path, X_digits):
    torch = need("torch")
    net = digits_net("leaky_relu", dtype=dtype)
    report = ex.save_torch(net, tmp_path / "digits-v2.pt")
    assert report.passed and report.path == str(tmp_path / "digits-v2.pt")

    state = torch.load(tmp_path / "digits-v2.pt", weights_only=True)      # tensors only: no code runs
    assert all(isinstance(t, torch.Tensor) for t in state.values())
    code = (tmp_path / "digits-v2.py").read_text()
    assert "nn.Sequential(" in code and "DistributedDataParallel" in code and "nn.LeakyReLU(negative_slope=0.2)" in code
    generated = _import_file(tmp_path / "digits-v2.py")
    model = generated.load()
    assert not model.training
    with torch.no_grad():
        out = model(torch.from_numpy(X_digits.astype(dtype))).numpy()
    np.testing.assert_allclose(out, net.forward(X_digits.astype(dtype)), rtol=0, atol=1e-5)
    fresh = generated.build()                              # the architecture alone, loadable with the weights
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh[0].weight.detach().numpy(), net.layers[0].weights)


def test_save_torch_needs_a_pt_path(tmp_path):
    need("torch")
    with pytest.raises(ValueError, match=r"ending in \.pt"):
        ex.save_torch(gn.Network.mlp([4, 2]), tmp_path / "model.pth")


# -- the command line ---------------------------------------------------------------------------
@pytest.fixture
def saved_model(tmp_path):
    net = digits_net("relu")
    net.save(tmp_path / "model")
    return tmp_path / "model", net


def test_cli_export_onnx(saved_model, capsys, X_digits):
    ort = need("onnxruntime")
    model_dir, net = saved_model
    assert main(["export", str(model_dir), "--format", "onnx"]) == 0
    out = capsys.readouterr().out
    onnx_path = model_dir.with_suffix(".onnx")
    assert f"wrote {onnx_path}" in out and "parity OK" in out
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": X_digits})[0], net.forward(X_digits), atol=1e-5)


def test_cli_export_torch_json(saved_model, capsys, tmp_path, X_digits):
    torch = need("torch")
    model_dir, net = saved_model
    target = tmp_path / "out" / "digits.pt"
    assert main(["export", str(model_dir), "--format", "torch", "-o", str(target), "--json"]) == 0
    import json

    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["files"] == [str(target), str(target.with_suffix(".py"))] and result["parity"]["passed"]
    model = _import_file(target.with_suffix(".py")).load()
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(X_digits)).numpy(), net.forward(X_digits), atol=1e-5)


def test_cli_export_errors(saved_model, capsys, tmp_path):
    need("onnxruntime")
    model_dir, _ = saved_model
    assert main(["export", str(model_dir), "--format", "onnx", "-o", str(tmp_path / "m.pt")]) == 2
    assert "ending in .onnx" in capsys.readouterr().err
    assert main(["export", str(model_dir), "--format", "torch", "--softmax"]) == 2
    assert "--format onnx only" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing"), "--format", "onnx"]) == 2
    assert "glassnet: error:" in capsys.readouterr().err
    # A failed parity check: exit 1, a clear message, nothing written.
    assert main(["export", str(model_dir), "--format", "onnx", "--tolerance", "1e-15"]) == 1
    err = capsys.readouterr().err
    assert "parity FAILED" in err and "nothing was written" in err
    assert not model_dir.with_suffix(".onnx").exists()


def test_cli_export_to_a_folder_or_from_a_run_folder_is_a_clear_error(saved_model, capsys, tmp_path):
    need("onnxruntime")
    need("torch")
    model_dir, _ = saved_model
    (tmp_path / "taken.onnx").mkdir()
    assert main(["export", str(model_dir), "--format", "onnx", "-o", str(tmp_path / "taken.onnx")]) == 2
    assert "expected a file path to write, received" in capsys.readouterr().err
    (tmp_path / "w.py").mkdir()                     # save_torch writes w.pt and w.py: refused before either
    assert main(["export", str(model_dir), "--format", "torch", "-o", str(tmp_path / "w.pt")]) == 2
    assert "an existing folder" in capsys.readouterr().err and not (tmp_path / "w.pt").exists()
    (tmp_path / "file").write_text("")
    assert main(["export", str(model_dir), "--format", "onnx", "-o", str(tmp_path / "file" / "m.onnx")]) == 2
    assert f"inside {tmp_path / 'file'}, which is a file" in capsys.readouterr().err
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    assert main(["export", str(run), "--format", "onnx"]) == 2
    assert f"received a training run's folder; export its model: glassnet export {run / 'model'}" in \
        capsys.readouterr().err


def test_exporting_something_that_is_not_a_network_names_what_to_pass():
    need("torch")

    class Fitted:                                   # like a fitted scikit-learn estimator: the network is net_
        net_ = gn.Network.mlp([3, 2])

    with pytest.raises(TypeError, match=r"to_torch expected a glassnet Network, received Fitted \(.*estimator.net_\)"):
        ex.to_torch(Fitted())
    with pytest.raises(TypeError, match=r"to_torch expected a glassnet Network, received str$"):
        ex.to_torch("model")
