"""The generated 2-D sets (glassnet.datasets.plane): the same seed gives the same points, features, errors."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.datasets import DatasetError, plane


@pytest.mark.parametrize("name", plane.NAMES)
def test_same_seed_same_data_and_another_seed_other_data(name):
    a = gn.datasets.load(name, noise=0.2, n=120, seed=7)
    b = gn.datasets.load(name, noise=0.2, n=120, seed=7)
    c = gn.datasets.load(name, noise=0.2, n=120, seed=8)
    for field in ("X_train", "y_train", "X_test", "y_test"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.X_train, c.X_train)
    assert a.X_train.dtype == np.float32 and len(a.X_train) + len(a.X_test) == 120
    assert a.shape == (a.X_train.shape[1],) and a.n_features == a.X_train.shape[1]
    assert np.abs(a.extra["points_train"]).max() <= 9      # in the plane's picture, give or take the noise


def test_regression_and_classification_targets():
    spiral, sine, flat = (gn.datasets.load(n, n=100) for n in ("spiral", "sine", "plane"))
    assert spiral.classes == ["0", "1"] and set(np.unique(spiral.y_train)) == {0, 1}
    assert spiral.y_train.dtype == np.int64
    assert sine.X_train.shape == (50, 1) and sine.y_train.shape == (50, 1) and sine.classes == []
    assert np.allclose(sine.y_train[:, 0], np.sin(sine.X_train[:, 0]), atol=1e-6)    # noise 0: exactly the sine
    P = flat.extra["points_train"]
    assert np.allclose(flat.y_train[:, 0], (P[:, 0] + P[:, 1]) / 12, atol=1e-6)


def test_features_are_the_named_functions_of_the_points():
    names = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
    data = gn.datasets.load("circles", n=50, seed=1, features=names, test_fraction=0.2)
    P = data.extra["points_train"]
    a, b = P[:, 0], P[:, 1]
    expected = np.stack([a, b, a * a, b * b, a * b, np.sin(a), np.sin(b)], axis=1).astype(np.float32)
    assert np.array_equal(data.X_train, expected)
    assert len(data.X_test) == 10 and data.extra["features"] == list(names)
    assert plane.check_features(["X1²", "sin x2"]) == ("x1^2", "sin(x2)")


def test_noise_scales_and_labels_follow_the_shape():
    clean = gn.datasets.load("xor", n=400, seed=0, test_fraction=0.0)
    P = clean.extra["points_train"]
    assert np.array_equal(clean.y_train, (P[:, 0] * P[:, 1] >= 0).astype(np.int64))
    noisy = gn.datasets.load("xor", n=400, seed=0, noise=0.5, test_fraction=0.0)
    Q = noisy.extra["points_train"]
    assert np.mean(noisy.y_train != (Q[:, 0] * Q[:, 1] >= 0)) > 0.1


def test_own_points():
    P = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [-1.0, -1.0]])
    data = plane.from_points(P, np.array([0, 1, 1, 0]), features=("x1", "x2"), test_fraction=0.25, seed=0)
    assert len(data.X_train) == 3 and len(data.X_test) == 1
    few = plane.from_points(P, np.array([0, 1, 1, 0]), test_fraction=0.1)      # 0.4 of a point: one, still
    assert len(few.X_train) == 3 and len(few.X_test) == 1
    with pytest.raises(DatasetError, match="labels expected 0 or 1"):
        plane.from_points(P, np.array([0, 1, 2, 0]))


@pytest.mark.parametrize("kwargs, match", [
    ({"noise": -1}, "noise expected a number from 0 to 1"),
    ({"n": 2}, "n expected an integer from 4"),
    ({"seed": -1}, "seed expected a non-negative integer"),
    ({"features": ("x3",)}, "features expected distinct names"),
    ({"features": ("x1", "x1")}, "features expected distinct names"),
    ({"test_fraction": 1.0}, "test_fraction expected"),
])
def test_bad_settings_say_what_was_expected(kwargs, match):
    with pytest.raises(DatasetError, match=match):
        gn.datasets.load("spiral", **kwargs)


def test_names_and_refusals_through_load():
    assert set(plane.NAMES) <= set(gn.datasets.NAMES)
    with pytest.raises(DatasetError, match="one input"):
        gn.datasets.load("sine", features=("x1", "x2"))
    with pytest.raises(DatasetError, match="settings of the generated 2-D sets"):
        gn.datasets.load("digits", noise=0.1)
    assert gn.datasets.loader.check("spiral") == "spiral"


def test_the_cli_trains_on_a_plane_set(tmp_path, capsys):
    code = main(["train", "--dataset", "xor", "--layers", "4", "--epochs", "2", "--batch-size", "20", "--lr", "0.05",
                 "--out", str(tmp_path / "run")])
    assert code == 0
    net = gn.load(tmp_path / "run" / "model")
    assert net.n_features == 2 and net.n_outputs == 2
