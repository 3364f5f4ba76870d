"""``glassnet datasets`` and ``--dataset NAME_OR_PATH`` on the command line (run in this process)."""

import json
import re

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.datasets import load, validation_split
from optional import fashion_mnist_dir, need

PER_CLASS = 40


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err):
    assert code == 2 and err.startswith("glassnet: error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_list_shows_names_sizes_licences_and_cache(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path))
    code, out, _ = run(capsys, "datasets")
    assert code == 0
    for name in ("digits", "mnist", "fashion-mnist", "kmnist", "emnist-digits"):
        assert f"\n{name} " in out
    assert "MIT (Zalando SE)" in out and "CC BY-SA 4.0" in out and "562 MB" in out and str(tmp_path) in out
    code, out, _ = run(capsys, "datasets", "--json")
    listing = json.loads(out)
    assert listing["cache_dir"] == str(tmp_path)
    rows = {row["name"]: row for row in listing["datasets"]}
    assert rows["digits"]["cached"] is True and rows["mnist"]["cached"] is False
    assert rows["mnist"]["download_bytes"] == 9_912_422 + 28_881 + 1_648_877 + 4_542


def test_show_prints_counts_and_saves_pictures(capsys, tmp_path):
    Image = need("PIL.Image")
    code, out, _ = run(capsys, "datasets", "show", "digits", "--out", tmp_path, "--per-class", 5)
    assert code == 0 and "8,004 train" in out
    assert re.search(r"^  0 +801 +200$", out, re.MULTILINE)       # digit 0: 1,001 images, every fifth for testing
    with Image.open(tmp_path / "digits-examples.png") as grid, Image.open(tmp_path / "digits-class-means.png") as means:
        assert grid.mode == "L" and grid.height > 10 * 28 and grid.width > 5 * 28 * 2
        assert means.height == grid.height and means.width < grid.width
        assert np.asarray(means).std() > 10                     # not a blank picture
    code, out, _ = run(capsys, "datasets", "show", "digits", "--out", tmp_path, "--json")
    report = json.loads(out)
    assert report["counts"]["0"] == {"train": 801, "test": 200} and report["n_test"] == 1996


def test_show_a_local_folder(capsys, tmp_path):
    need("PIL.Image")
    code, out, _ = run(capsys, "datasets", "show", fashion_mnist_dir(), "--out", tmp_path)
    assert code == 0 and "Ankle boot" in out and "6,000" in out and "licence: MIT" in out
    assert (tmp_path / "fashion-mnist-examples.png").stat().st_size > 1000


@pytest.mark.parametrize("args, expected", [
    (["datasets", "show", "nope"], "unknown dataset 'nope'; available: digits, mnist"),
    (["datasets", "fetch", "nope"], "unknown dataset 'nope'"),
    (["datasets", "fly"], "invalid choice"),
    (["train", "--dataset", "no/such/folder"], "argument --dataset: unknown dataset 'no/such/folder'"),
    (["evaluate", "model", "--dataset", "mnsit"], "unknown dataset 'mnsit'"),
])
def test_mistakes_are_one_line_errors(capsys, args, expected):
    code, out, err = run(capsys, *args)
    one_line_error(code, err)
    assert expected in err and out == ""


def test_bad_data_at_a_path_is_a_one_line_error(capsys, tmp_path):
    (tmp_path / "bad.csv").write_text("label,x\n1,2\n0,oops\n")
    code, _, err = run(capsys, "train", "--dataset", tmp_path / "bad.csv", "--out", tmp_path / "run", "--quiet")
    one_line_error(code, err)
    assert "bad.csv, row 3, column 2 ('x'): expected a number, received 'oops'" in err


def test_train_on_a_folder_of_pngs_matches_training_on_the_arrays(capsys, tmp_path, digits):
    """The bundled digits saved as PNG files, one folder per digit, train exactly like the arrays they came from."""
    Image = need("PIL.Image")
    keep = np.concatenate([np.flatnonzero(digits.y_train == k)[:PER_CLASS] for k in range(10)])
    X, y = digits.X_train[keep], digits.y_train[keep]           # sorted by class, then position: the folder order
    pixels = (X.reshape(-1, 28, 28) * 255).round().astype(np.uint8)
    for i, (image, label) in enumerate(zip(pixels, y)):
        (tmp_path / "pngs" / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(tmp_path / "pngs" / str(label) / f"{i:04d}.png")
    X_train, y_train, X_test, y_test = validation_split(X, y, 0.2, seed=0)   # the split a folder gets
    np.savez(tmp_path / "arrays.npz", X=X_train, y=y_train, X_test=X_test, y_test=y_test)

    flags = ["--layers", "32", "--epochs", "8", "--batch-size", "16", "--seed", "3", "--json"]
    code, out, _ = run(capsys, "train", "--dataset", tmp_path / "pngs", "--out", tmp_path / "from-pngs", *flags)
    assert code == 0
    from_pngs = json.loads(out.strip().splitlines()[-1])
    code, out, _ = run(capsys, "train", "--dataset", tmp_path / "arrays.npz", "--out", tmp_path / "from-arrays", *flags)
    assert code == 0
    from_arrays = json.loads(out.strip().splitlines()[-1])
    assert from_pngs["test_accuracy"] == from_arrays["test_accuracy"] > 0.7
    assert from_pngs["history"][-1]["loss"] == pytest.approx(from_arrays["history"][-1]["loss"], rel=1e-6)
    folder = load(tmp_path / "pngs")
    np.testing.assert_array_equal(folder.X_test, X_test)       # the very same numbers
    code, out, _ = run(capsys, "evaluate", tmp_path / "from-pngs" / "model", "--dataset", tmp_path / "pngs", "--json")
    assert code == 0 and json.loads(out)["test_accuracy"] == from_pngs["test_accuracy"]


def test_help_has_examples_and_digits_needs_no_fetch(capsys):
    code, out, _ = run(capsys, "datasets", "--help")
    assert code == 0 and out.startswith("usage: glassnet datasets") and "examples:" in out and "fetch" in out
    code, out, _ = run(capsys, "datasets", "fetch", "digits")
    assert code == 0 and "bundled" in out


def test_train_on_one_row_or_one_class_is_a_one_line_error(capsys, tmp_path):
    """Before: one row gave NumPy's 'cannot reshape array of size 0'; one class trained a 1-output network."""
    (tmp_path / "one.csv").write_text("label,x\n0,2\n")
    code, _, err = run(capsys, "train", "--dataset", tmp_path / "one.csv", "--out", tmp_path / "a", "--quiet")
    one_line_error(code, err)
    assert "one.csv: expected examples of at least 2 classes, received 1 examples all of class '0'" in err
    (tmp_path / "two.csv").write_text("label;x\n0;2\n1;3\n")                # semicolons, one example per class
    code, _, err = run(capsys, "train", "--dataset", tmp_path / "two.csv", "--out", tmp_path / "b", "--quiet")
    one_line_error(code, err)
    assert "two.csv: expected at least one training and one test example, received 2 training and 0 test" in err


def test_show_refuses_a_file_as_out_folder_before_loading(capsys, tmp_path):
    (tmp_path / "taken").write_text("")
    code, out, err = run(capsys, "datasets", "show", "digits", "--out", tmp_path / "taken" / "pictures")
    one_line_error(code, err)
    assert "--out expected a folder for the PNG files" in err and f"where {tmp_path / 'taken'} is a file" in err


def test_pictures_of_standardised_images_use_the_whole_grey_range():
    from types import SimpleNamespace

    from glassnet.cli.datasets import as_images

    X = np.linspace(-2.0, 3.0, 2 * 16).reshape(2, 4, 4)          # e.g. after standardise: negative values
    images = as_images(SimpleNamespace(X_train=X))
    assert images.min() == 0 and images.max() == pytest.approx(255)
    pixels = np.arange(2 * 16, dtype=np.uint8).reshape(2, 16)     # 8-bit pixels are kept as they are
    np.testing.assert_array_equal(as_images(SimpleNamespace(X_train=pixels)), pixels.reshape(2, 4, 4))
