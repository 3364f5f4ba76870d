"""Tests for glassnet.initializers: shapes, dtypes, the documented distributions, reproducibility."""

import numpy as np
import pytest

from glassnet import initializers as init
from optional import need

SHAPE = (1000, 1000)  # (n_out, n_in): 10^6 draws, so the sample std is within ~0.1% of the true one

# name -> (function, expected std given (fan_in, fan_out), uniform limit or None)
NORMALS = {
    "he_normal": (init.he_normal, lambda fi, fo: np.sqrt(2.0 / fi)),
    "glorot_normal": (init.glorot_normal, lambda fi, fo: np.sqrt(2.0 / (fi + fo))),
    "lecun_normal": (init.lecun_normal, lambda fi, fo: np.sqrt(1.0 / fi)),
}
UNIFORMS = {
    "he_uniform": (init.he_uniform, lambda fi, fo: np.sqrt(6.0 / fi)),
    "glorot_uniform": (init.glorot_uniform, lambda fi, fo: np.sqrt(6.0 / (fi + fo))),
    "lecun_uniform": (init.lecun_uniform, lambda fi, fo: np.sqrt(3.0 / fi)),
}
ALL = {**NORMALS, **UNIFORMS, "zeros": (init.zeros, None)}


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_and_dtype(name, dtype):
    fn, _ = ALL[name]
    W = fn((7, 3), np.random.default_rng(0), dtype)
    assert W.shape == (7, 3) and W.dtype == dtype
    assert fn((2, 5), rng=0).dtype == np.float32         # float32 by default


@pytest.mark.parametrize("name", sorted(NORMALS))
def test_normal_initializers_have_the_documented_std(name):
    fn, std = NORMALS[name]
    # n_out = 500, n_in = 2000, so fan-in and fan-out differ and a swap would show
    W = fn((500, 2000), np.random.default_rng(1), np.float64)
    expected = std(2000, 500)
    assert abs(W.std() / expected - 1) < 0.01
    assert abs(W.mean()) < 0.01 * expected
    assert np.abs(W).max() > 3 * expected                # unbounded, unlike the uniform ones


@pytest.mark.parametrize("name", sorted(UNIFORMS))
def test_uniform_initializers_have_the_documented_limit(name):
    fn, limit = UNIFORMS[name]
    W = fn((500, 2000), np.random.default_rng(2), np.float64)
    a = limit(2000, 500)
    assert np.abs(W).max() <= a
    assert np.abs(W).max() > 0.999 * a                   # the whole interval is used
    assert abs(W.std() / (a / np.sqrt(3)) - 1) < 0.01    # U(-a, a) has std a / sqrt(3)
    assert abs(W.mean()) < 0.01 * a


def test_square_matrices_match_hand_values():
    # 1000 x 1000: he std = sqrt(2/1000) = 0.044721; glorot limit = sqrt(6/2000) = 0.054772
    he = init.he_normal(SHAPE, 3, np.float64)
    assert he.std() == pytest.approx(0.044721, rel=0.005)
    glorot = init.glorot_uniform(SHAPE, 4, np.float64)
    assert glorot.max() == pytest.approx(0.054772, rel=0.001) and glorot.max() <= 0.0547723
    lecun = init.lecun_normal(SHAPE, 5, np.float64)
    assert lecun.std() == pytest.approx(np.sqrt(1 / 1000), rel=0.005)    # 0.031623


def test_he_and_glorot_variances_are_equal_between_normal_and_uniform():
    n, u = init.he_normal(SHAPE, 6, np.float64), init.he_uniform(SHAPE, 7, np.float64)
    assert n.var() == pytest.approx(u.var(), rel=0.01)
    n, u = init.glorot_normal(SHAPE, 8, np.float64), init.glorot_uniform(SHAPE, 9, np.float64)
    assert n.var() == pytest.approx(u.var(), rel=0.01)


def test_zeros():
    W = init.zeros((4, 6))
    assert W.shape == (4, 6) and not W.any()


@pytest.mark.parametrize("name", sorted(set(ALL) - {"zeros"}))
def test_seed_and_generator_reproduce(name):
    fn, _ = ALL[name]
    np.testing.assert_array_equal(fn((5, 4), 42), fn((5, 4), 42))
    np.testing.assert_array_equal(fn((5, 4), np.random.default_rng(42)), fn((5, 4), np.random.default_rng(42)))
    np.testing.assert_array_equal(fn((5, 4), 42), fn((5, 4), np.random.default_rng(42)))
    assert not np.array_equal(fn((5, 4), 42), fn((5, 4), 43))
    rng = np.random.default_rng(0)
    assert not np.array_equal(fn((5, 4), rng), fn((5, 4), rng))   # a Generator moves on


def test_bad_seed_is_rejected():
    with pytest.raises(TypeError, match="seed expected None, a non-negative int or a np.random.Generator"):
        init.he_normal((2, 2), rng="0")
    with pytest.raises(TypeError, match="seed expected"):
        init.he_normal((2, 2), rng=-1)


@pytest.mark.parametrize("name, fn", [
    ("he", init.he_normal), ("He", init.he_normal), ("kaiming", init.he_normal),
    ("he_uniform", init.he_uniform), ("glorot", init.glorot_uniform), ("xavier", init.glorot_uniform),
    ("xavier_uniform", init.glorot_uniform), ("glorot_normal", init.glorot_normal),
    ("xavier_normal", init.glorot_normal), ("lecun", init.lecun_normal), ("lecun_uniform", init.lecun_uniform),
    ("zeros", init.zeros),
])
def test_get_by_name(name, fn):
    assert init.get(name) is fn


def test_get_callable_and_unknown_name():
    def custom(shape, rng, dtype):
        return np.ones(shape, dtype=dtype)

    assert init.get(custom) is custom
    with pytest.raises(ValueError, match=r"init expected one of \[.*'he'.*\] or a callable, received 'orthogonal'"):
        init.get("orthogonal")
    with pytest.raises(ValueError, match="received 3"):
        init.get(3)


def test_matches_torch_init_scale():
    torch = need("torch")
    w = torch.empty(500, 2000, dtype=torch.float64)
    torch.manual_seed(0)
    torch.nn.init.kaiming_normal_(w, nonlinearity="relu")            # fan_in mode, gain sqrt(2)
    assert init.he_normal((500, 2000), 0, np.float64).std() == pytest.approx(w.std().item(), rel=0.01)
    torch.nn.init.xavier_uniform_(w)
    ours = init.glorot_uniform((500, 2000), 0, np.float64)
    assert np.abs(ours).max() == pytest.approx(w.abs().max().item(), rel=0.001)
