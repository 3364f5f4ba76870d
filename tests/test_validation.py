import numpy as np
import pytest

from glassnet._validation import as_generator, check_params, check_targets, check_X


def test_check_params_messages():
    table = {"lr": ("float", 0.0, None, True), "n": ("int", 1, 10, False), "flag": ("bool", None, None, False)}
    check_params("T", table, {"lr": 0.1, "n": 3, "flag": True})
    with pytest.raises(ValueError, match=r"T: lr expected a value in \(0.0, inf\], received 0"):
        check_params("T", table, {"lr": 0})
    with pytest.raises(ValueError, match=r"n expected a value in \[1, 10\], received 11"):
        check_params("T", table, {"n": 11})
    with pytest.raises(TypeError, match="n expected an int, received float"):
        check_params("T", table, {"n": 2.0})
    with pytest.raises(TypeError, match="lr expected a number, received str"):
        check_params("T", table, {"lr": "0.1"})
    with pytest.raises(TypeError, match="lr expected a number, received bool"):
        check_params("T", table, {"lr": True})
    with pytest.raises(ValueError, match="finite"):
        check_params("T", table, {"lr": float("nan")})
    with pytest.raises(TypeError, match="bool"):
        check_params("T", table, {"flag": 1})


def test_check_X_accepts_lists_and_ints_and_converts():
    X = check_X([[1, 2], [3, 4]], 2)
    assert X.dtype == np.float32 and X.shape == (2, 2)
    with pytest.raises(ValueError, match="ragged"):
        check_X([[1, 2], [3]], 2)


def test_check_targets_one_hot_and_errors():
    np.testing.assert_array_equal(check_targets(np.eye(3)[[2, 0]], 2, 3), [2, 0])
    with pytest.raises(ValueError, match="one-hot rows"):
        check_targets(np.array([[0.5, 0.5, 0], [1, 0, 0]]), 2, 3)
    assert check_targets(np.array([1.0, 0.0]), 2, 3).dtype == np.int64
    with pytest.raises(ValueError, match="scalar"):
        check_targets(np.int64(1), 2, 3)


def test_as_generator():
    assert isinstance(as_generator(None), np.random.Generator)
    g = np.random.default_rng(1)
    assert as_generator(g) is g
    assert as_generator(5).random() == np.random.default_rng(5).random()
    with pytest.raises(TypeError, match="seed expected"):
        as_generator("5")


def test_finite_check_is_not_fooled_by_a_sum_that_overflows():
    # the quick check sums X; huge but finite values overflow that sum and must still be accepted
    X = np.full((2, 3), 3e38, dtype=np.float32)
    assert check_X(X, 3) is not None
    X[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf \(first at index \(1, 2\)\)"):
        check_X(X, 3)


def test_finite_check_in_float64_with_an_overflowing_sum():
    X = np.full((2, 3), 1e308)
    assert check_X(X, 3, dtype=np.float64) is not None
    X[0, 1] = -np.inf
    with pytest.raises(ValueError, match=r"first at index \(0, 1\)"):
        check_X(X, 3, dtype=np.float64)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, None])
def test_finite_check_fast_line_agrees_with_the_textbook_line(dtype, layout, bad):
    """x · x (BLAS, contiguous float32/64) or a float64 sum (anything else) against np.isfinite(X).all()."""
    from glassnet._validation import SMALL_FINITE_CHECK, _all_finite
    rng = np.random.default_rng(0)
    big = np.asarray(np.finfo(dtype).max / 4, dtype)
    base = rng.uniform(-1, 1, size=(1000, 60)).astype(dtype) * big      # finite entries, x·x overflows
    X = {"C": base, "F": np.asfortranarray(base), "strided": base[::2, ::3]}[layout]
    if bad is not None:
        X[len(X) // 2, 1] = bad
    assert _all_finite(X) == bool(np.isfinite(X).all()) == (bad is None)
    assert _all_finite(X[:0]) is True
    assert X.size >= SMALL_FINITE_CHECK                      # the fast lines above; the textbook line below
    small = X[len(X) // 2 - 1:len(X) // 2 + 2]
    assert small.size < SMALL_FINITE_CHECK
    assert _all_finite(small) == bool(np.isfinite(small).all()) == (bad is None)
