"""``glassnet explain``, ``glassnet lr-find`` and the diagnostics at the end of ``glassnet train``."""

import contextlib
import io
import json

import numpy as np
import pytest

from glassnet.cli import main
from optional import need


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def assert_one_line_error(code, err, match):
    assert code == 2, err
    assert err.startswith("glassnet: error: ") and err.strip().count("\n") == 0, err
    assert match in err


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small digits model trained by ``glassnet train``."""
    out = tmp_path_factory.mktemp("explain") / "run"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["train", "--layers", "32", "--epochs", "2", "--quiet", "--out", str(out)])
    assert code == 0
    return out / "model"


def test_explain_a_test_example_as_a_table(capsys, model):
    code, out, err = run(capsys, "explain", model, "--index", 3, "--top", 3)
    assert code == 0, err
    assert out.startswith("digits test example 3: the network says ")
    assert "hidden 1: 32 neurons, relu" in out and "output: 10 neurons" in out
    assert "why " in out and "contribution map" in out and "nearest training examples" in out
    assert len(out.splitlines()) < 80                       # a table, not a dump


def test_explain_json_is_the_whole_trace(capsys, model, digits):
    code, out, _ = run(capsys, "explain", model, "--index", 0, "--json", "--neighbours", 2)
    assert code == 0
    trace = last_json(out)
    assert trace["input"] == "digits test example 0" and trace["label"] == int(digits.y_test[0])
    assert len(trace["layers"]) == 3 and len(trace["layers"][1]["neurons"]) == 32
    assert sum(trace["probabilities"]) == pytest.approx(1.0)
    c = trace["prediction"]
    total = np.sum(trace["maps"]["contribution"]) + trace["effective_bias"][c]
    assert total == pytest.approx(trace["logits"][c], rel=1e-6)
    assert len(trace["neighbours"]) == 3 and len(trace["neighbours"][0]["nearest"]) == 2


def test_explain_an_image_and_save_its_pictures(capsys, model, tmp_path, digits):
    Image = need("PIL.Image")
    digit = (255 - digits.X_test[5].reshape(28, 28) * 255).astype(np.uint8)      # dark ink on white paper
    Image.fromarray(np.kron(digit, np.ones((4, 4), dtype=np.uint8))).save(tmp_path / "digit.png")
    folder = tmp_path / "saved"
    code, out, err = run(capsys, "explain", model, tmp_path / "digit.png", "--save", folder)
    assert code == 0, err
    assert f"{tmp_path / 'digit.png'}: the network says" in out
    names = {p.name for p in folder.iterdir()}
    assert {"input.png", "contribution.png", "contribution-vs-runner-up.png", "saliency.png",
            "explanation.json", "preprocess-1-grayscale.png", "preprocess-6-centred.png"} <= names
    for name in ("input.png", "contribution.png", "saliency.png"):
        with Image.open(folder / name) as img:
            assert img.size == (280, 280)
            pixels = np.asarray(img.convert("L"))
            assert pixels.std() > 5                          # not blank
    if "explanation.png" in names:                          # drawn when matplotlib is installed
        with Image.open(folder / "explanation.png") as img:
            assert img.size[0] > 500
    saved = json.loads((folder / "explanation.json").read_text())
    assert saved["image_shape"] == [28, 28] and saved["label"] is None


@pytest.mark.parametrize("args,match", [
    (["IMAGE", "--index", "1"], "received both"), ([], "received neither"),
    (["--index", "99999"], "--index expected a test example in 0..1995"),
])
def test_explain_refuses_bad_requests_in_one_line(capsys, model, args, match):
    code, _, err = run(capsys, "explain", model, *args)
    assert_one_line_error(code, err, match)


def test_explain_refuses_bad_files_in_one_line(capsys, model, tmp_path):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nnot really a picture")
    need("PIL.Image")
    code, _, err = run(capsys, "explain", model, corrupt)
    assert_one_line_error(code, err, f"{corrupt}: damaged or unreadable image")
    code, _, err = run(capsys, "explain", model, tmp_path / "missing.png")
    assert_one_line_error(code, err, "missing.png: file not found")
    code, _, err = run(capsys, "explain", model, "--index", "1", "--save", corrupt)
    assert_one_line_error(code, err, f"--save expected a folder to write the pictures into, received {corrupt}")


def test_explain_checks_the_dataset_fits_the_model(capsys, tmp_path):
    """--index needs the model's dataset; an image needs it only for the neighbours, and goes on without them."""
    import glassnet as gn

    gn.Network.mlp([784, 8, 5], seed=0).save(tmp_path / "five", metadata={"settings": {"dataset": "digits"}})
    code, _, err = run(capsys, "explain", tmp_path / "five", "--index", "0")
    assert_one_line_error(code, err, "the model has 5 outputs, but digits has 10 classes; use --dataset")
    Image = need("PIL.Image")
    picture = np.full((28, 28), 255, np.uint8)
    picture[4:24, 13:16] = 0                                 # a dark stroke: a "1"
    Image.fromarray(picture).save(tmp_path / "one.png")
    code, out, err = run(capsys, "explain", tmp_path / "five", tmp_path / "one.png", "--json")
    assert code == 0, err
    assert err.startswith("glassnet: note: no nearest training examples (") and err.count("\n") == 1
    result = last_json(out)
    assert result["neighbours"] is None and result["classes"] is None


def test_lr_find_json_and_plot(capsys, tmp_path):
    code, out, err = run(capsys, "lr-find", "--layers", "16", "--steps", "20", "--seeds", "2", "--json")
    assert code == 0, err
    result = last_json(out)
    assert len(result["curves"]) == 2 and result["rule"] == "steepest"
    assert 1e-6 <= result["suggestion"] <= 10 and result["settings"]["steps"] == 20
    need("matplotlib")
    Image = need("PIL.Image")
    code, out, err = run(capsys, "lr-find", "--layers", "16", "--steps", "20", "--seeds", "1", "--plot",
                         tmp_path / "lr.png")
    assert code == 0, err
    assert "suggested learning rate" in out and "try: glassnet train" in out
    with Image.open(tmp_path / "lr.png") as img:
        assert img.size[0] > 300 and np.asarray(img.convert("L")).std() > 5


def test_lr_find_bad_range(capsys):
    code, _, err = run(capsys, "lr-find", "--start", "1", "--end", "0.1")
    assert_one_line_error(code, err, "--start must be below --end")


def test_lr_find_refuses_huge_steps_in_one_line(capsys):
    code, _, err = run(capsys, "lr-find", "--steps", "1000000000000")
    assert_one_line_error(code, err, "argument --steps: expected a value >= 2 and <= 100000")
    code, _, err = run(capsys, "lr-find", "--seeds", "1000000000000")
    assert_one_line_error(code, err, "argument --seeds: expected a value >= 1 and <= 1000")


def test_train_ends_with_diagnostics(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--layers", "32", "--epochs", "2", "--lr", "1e-5", "--schedule", "constant",
                         "--quiet", "--out", tmp_path / "flat")
    assert code == 0, err
    assert "diagnostics:\n  loss_flat: the loss hardly moved" in out and "raise the learning rate" in out
    report = (tmp_path / "flat" / "report.md").read_text()
    assert "## Diagnostics" in report and "**loss_flat**" in report
    code, out, _ = run(capsys, "train", "--layers", "32", "--epochs", "2", "--json", "--out", tmp_path / "ok")
    assert code == 0
    assert last_json(out)["diagnostics"] == []
    assert "No problems found" in (tmp_path / "ok" / "report.md").read_text()


def test_saved_input_picture_keeps_the_sign_of_negative_features(tmp_path):
    """Standardised features can be negative: they are drawn blue, not clipped to black or flipped to white."""
    Image = need("PIL.Image")
    import glassnet as gn
    from glassnet.cli.explain import save_pictures
    from glassnet.explain import explain

    e = explain(gn.Network.mlp([3, 4, 2], seed=0), [-2.0, -1.0, 0.5])
    save_pictures(e, None, tmp_path)
    with Image.open(tmp_path / "input.png") as img:
        rgb = np.asarray(img.convert("RGB")).astype(int)
    scale = img.size[0] // 3
    first, second, third = (rgb[0, k * scale] for k in range(3))
    assert first[2] == 255 and first[0] == 0                # the most negative: full blue
    assert second[2] == 255 and 0 < second[0] < 255          # half as negative: lighter blue
    assert third[0] == 255 and third[2] > 0                 # positive: red side
