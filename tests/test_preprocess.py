import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import glassnet as gn
from glassnet.preprocess import STEPS, area_resize, load_image, to_mnist, to_mnist_steps
from optional import need


@pytest.fixture(scope="module")
def mnist():
    """Bundled test digits as (n, 28, 28) floats in [0, 1], and their labels."""
    data = gn.datasets.load_digits(flatten=False)
    return data.X_test, data.y_test


def centre_of_mass(x):
    rows, cols = np.indices(x.shape)
    return (rows * x).sum() / x.sum(), (cols * x).sum() / x.sum()


def correlation(a, b):
    return np.corrcoef(a.ravel(), b.ravel())[0, 1]


# -- the result ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_output_is_28x28_float32_in_unit_range(dtype):
    img = np.zeros((60, 45), dtype=dtype)
    img[10:50, 20:26] = 255 if dtype == np.uint8 else 1.0
    x = to_mnist(img)
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() == pytest.approx(1.0)


def test_an_mnist_digit_stays_almost_the_same(mnist):
    X, _ = mnist
    corr = np.array([correlation(X[i], to_mnist(X[i])) for i in range(0, 2000, 40)])
    # MNIST's own centring is not always exact to the pixel, so a few digits move by one row.
    assert np.mean(corr > 0.9) >= 0.9
    assert np.median(corr) > 0.98


def test_dark_ink_on_light_paper_gives_the_same_result(mnist):
    X, _ = mnist
    for i in (0, 500, 1000, 1500):
        as_uint8 = np.round(X[i] * 255).astype(np.uint8)
        np.testing.assert_allclose(to_mnist(255 - as_uint8), to_mnist(as_uint8), atol=1e-6)
        np.testing.assert_allclose(to_mnist(1.0 - X[i]), to_mnist(X[i]), atol=1e-6)


def test_an_off_centre_digit_is_centred_by_its_centre_of_mass(mnist):
    X, _ = mnist
    canvas = np.zeros((90, 70), dtype=np.float32)
    canvas[2:30, 38:66] = X[700]                     # small, in the top-right corner
    x = to_mnist(canvas)
    row, col = centre_of_mass(x)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1
    rows, cols = np.nonzero(x > 0.25)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 == 20   # longest side: 20 pixels


def test_the_longest_side_becomes_20_pixels_keeping_the_aspect_ratio():
    img = np.zeros((200, 60))
    img[20:180, 25:35] = 1.0                         # a bar 160 tall, 10 wide: a "1"
    steps = dict(to_mnist_steps(img))
    assert steps["cropped"].shape == (160, 10)
    assert steps["resized"].shape == (20, 1)                     # 10 * 20 / 160 = 1.25 -> 1
    wide = np.zeros((30, 90))
    wide[10:20, 5:85] = 1.0                                      # 80 wide, 10 tall: a "-"
    assert dict(to_mnist_steps(wide))["resized"].shape == (2, 20)   # 10 * 20 / 80 = 2.5 -> 2


def test_ink_near_the_top_is_never_pushed_off_the_field():
    img = np.zeros((40, 40))
    img[5:9, 5:35] = 1.0                             # a heavy bar on top, as a "7"
    img[9:35, 30:33] = 0.3
    steps = dict(to_mnist_steps(img))
    assert steps["centred"].sum() == pytest.approx(steps["resized"].sum())


def test_rgb_and_rgba_images_work(mnist):
    X, _ = mnist
    gray = np.round(255 - X[300] * 255).astype(np.uint8)          # black ink on white paper
    expected = to_mnist(gray)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    np.testing.assert_allclose(to_mnist(rgb), expected, atol=1e-5)
    # A drawing on a transparent canvas: black strokes, alpha says where the ink is.
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[:, :, 3] = np.round(X[300] * 255).astype(np.uint8)
    np.testing.assert_allclose(to_mnist(rgba), expected, atol=1e-5)
    # Gray + alpha, and a single-channel third axis.
    la = np.stack([np.zeros_like(gray), rgba[:, :, 3]], axis=2)
    np.testing.assert_allclose(to_mnist(la), expected, atol=1e-5)
    np.testing.assert_allclose(to_mnist(gray[:, :, None]), expected, atol=1e-6)


def test_a_photo_with_grey_paper_is_stretched_to_black_and_white():
    img = np.full((50, 50), 0.7)                     # grey paper
    img[10:40, 22:28] = 0.2                          # dark ink
    x = to_mnist(img)
    assert x.max() == pytest.approx(1.0) and x[0, 0] == 0.0


@pytest.mark.parametrize("blank", [np.zeros((20, 20)), np.full((20, 20), 255, dtype=np.uint8),
                                   np.full((20, 20), 0.5) + np.random.default_rng(0).normal(0, 0.01, (20, 20))])
def test_a_blank_image_says_no_ink_found(blank):
    with pytest.raises(ValueError, match="no ink found in drawing.png"):
        to_mnist(blank, name="drawing.png")


def test_steps_are_named_in_order_and_end_with_the_result(mnist):
    X, _ = mnist
    steps = to_mnist_steps(X[0])
    assert [name for name, _ in steps] == [name for name, _ in STEPS]
    assert [name for name, _ in steps] == ["grayscale", "scaled", "ink", "cropped", "resized", "centred"]
    for _, array in steps:
        assert array.ndim == 2 and array.dtype == np.float32
    np.testing.assert_array_equal(steps[-1][1], to_mnist(X[0]))


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 4]))))
def test_any_image_gives_a_valid_input_or_says_no_ink(image):
    try:
        x = to_mnist(image)
    except ValueError as exc:
        assert str(exc).startswith("no ink found in image")
        return
    assert x.shape == (28, 28) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert x.sum() > 0


@pytest.mark.parametrize("bad, message", [
    (np.zeros(10), "expected an image of shape"),
    (np.zeros((4, 4, 5)), "expected an image of shape"),
    (np.zeros((0, 4)), "expected an image with pixels"),
    (np.full((4, 4), 2.0), "expected float pixels in \\[0, 1\\]"),
    (np.full((4, 4), np.nan), "expected finite pixel values"),
    (np.full((4, 4), 300), "expected integer pixels in 0-255"),
    (np.array([["a"]]), "expected an array of pixel numbers"),
])
def test_malformed_images_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        to_mnist(bad)


def test_area_resize_averages_and_keeps_the_mean():
    x = np.random.default_rng(0).random((37, 53))
    y = area_resize(x, (20, 29))
    assert y.shape == (20, 29)
    assert y.mean() == pytest.approx(x.mean())
    np.testing.assert_allclose(area_resize(np.arange(16.0).reshape(4, 4), (2, 2)), [[2.5, 4.5], [10.5, 12.5]])


# -- reading files ------------------------------------------------------------------------------
@pytest.fixture
def Image():
    return need("PIL.Image")


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "1", "LA", "I;16"])
def test_load_image_reads_the_usual_modes(tmp_path, Image, mode):
    gray = np.zeros((30, 20), dtype=np.uint8)
    gray[5:25, 8:12] = 255
    img = Image.fromarray(gray).convert(mode if mode != "I;16" else "I")
    if mode == "I;16":
        img = Image.fromarray(gray.astype(np.uint16) * 257)
    path = tmp_path / "digit.png"
    img.save(path)
    arr = load_image(path)
    assert arr.shape[:2] == (30, 20)
    x = to_mnist(arr)
    assert x.shape == (28, 28) and x.max() == pytest.approx(1.0)


def test_load_image_reads_jpeg(tmp_path, Image, mnist):
    X, _ = mnist
    path = tmp_path / "digit.jpg"
    Image.fromarray(np.round(255 - X[0] * 255).astype(np.uint8)).resize((100, 100)).save(path)
    assert correlation(to_mnist(load_image(path)), X[0]) > 0.8


def test_load_image_errors_name_the_file(tmp_path, Image):
    with pytest.raises(gn.GlassnetError, match="missing.png: file not found"):
        load_image(tmp_path / "missing.png")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(gn.GlassnetError, match="notes.png: not an image file"):
        load_image(text)
    good = tmp_path / "good.png"
    Image.new("L", (40, 40), 255).save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(good.read_bytes()[:60])
    with pytest.raises(gn.GlassnetError, match="broken.png: damaged or unreadable image"):
        load_image(broken)
    with pytest.raises(gn.GlassnetError, match="is a directory"):
        load_image(tmp_path)


def test_load_image_without_pillow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL.Image", None)        # as if Pillow were not installed
    with pytest.raises(gn.MissingExtraError, match=r'pip install "glassnet\[image\]"'):
        load_image(tmp_path / "digit.png")
