"""Turn a picture of a digit (a photo, a scan, a drawing) into an MNIST-style input.

A network trained on MNIST has only ever seen one kind of picture: 28x28 grayscale,
white ink on a black background, the digit scaled so its longest side is 20 pixels and
shifted so its centre of mass sits in the middle. Anything else confuses it, so a
user's image is brought into that form, in the steps MNIST itself was made with
(LeCun et al., http://yann.lecun.com/exdb/mnist/):

1. ``grayscale``: one brightness per pixel, ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601,
   as Pillow's "L" mode); a transparent pixel shows white paper: ``c = a * c + (1 - a) * white``.
2. ``scaled``: brightness in [0, 1] (integer pixels divided by 255, or 65535 for 16-bit).
3. ``ink``: ink is 1 and paper 0. If the paper is light (the median of the border pixels is
   above 0.5), invert: ``x = 1 - x``. Then stretch, so the paper (border median ``b``) becomes 0
   and the strongest ink 1: ``x = clip((x - b) / (max(x) - b), 0, 1)``.
4. ``cropped``: cut to the bounding box of the pixels above ``INK_THRESHOLD`` (0.25).
5. ``resized``: scale so the longest side is 20 pixels, keeping the aspect ratio; each new pixel
   is the average of the area of old pixels it covers (a box filter, which also anti-aliases).
6. ``centred``: paste into a 28x28 black field so the centre of mass lands on pixel (14, 14),
   the average over MNIST's own digits; never so far that ink falls off the edge.

``to_mnist(image)`` returns the result; ``to_mnist_steps(image)`` returns every stage as a
picture, to show what happened. The steps are NumPy only; Pillow is needed only by
``load_image`` to read PNG/JPEG files (``pip install "glassnet[image]"``).
Not here: deskewing, stroke thickening, splitting a picture holding several digits.
"""

import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import GlassnetError, require

SIZE = 28                  # MNIST images are 28x28 ...
BOX = 20                   # ... with the digit's longest side scaled to 20 pixels
CENTRE = (14.0, 14.0)      # where MNIST puts the centre of mass (row, column), 0-based pixel indices
INK_THRESHOLD = 0.25       # a pixel belongs to the digit's bounding box if its ink is above this
MIN_CONTRAST = 0.1         # strongest ink minus paper below this (about 25 of 255 levels): no digit
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

#: The steps of :func:`to_mnist_steps`, in order, with what each one does.
STEPS = (
    ("grayscale", "one brightness per pixel (0.299 R + 0.587 G + 0.114 B), transparency shown as white paper"),
    ("scaled", "brightness in [0, 1]"),
    ("ink", "ink = 1, paper = 0: inverted if the border is light, then stretched to the full range"),
    ("cropped", f"cut to the box around the ink (pixels above {INK_THRESHOLD})"),
    ("resized", f"longest side scaled to {BOX} pixels, keeping the aspect ratio (area averaging)"),
    ("centred", f"pasted into {SIZE}x{SIZE} with the centre of mass in the middle, as MNIST"),
)


def to_mnist(image: Any, name: str = "image") -> np.ndarray:
    """An image of one digit as an MNIST input: float32 ``(28, 28)`` in [0, 1], ink = 1.

    Args:
        image: ``(H, W)`` grayscale, ``(H, W, 2)`` gray + alpha, ``(H, W, 3)`` RGB or ``(H, W, 4)``
            RGBA; integer pixels (0-255, or 0-65535 as uint16) or floats in [0, 1]. Dark ink on
            light paper and light ink on dark paper both work.
        name: how error messages call the image (a file name, say).

    Raises:
        ValueError: the image is malformed, or holds no ink ("no ink found in ...").

    Example:
        >>> img = np.zeros((50, 30), dtype=np.uint8)
        >>> img[10:40, 12:18] = 255                    # a white bar on black: a "1"
        >>> x = to_mnist(img)
        >>> x.shape, x.dtype, float(x.max())
        ((28, 28), dtype('float32'), 1.0)
    """
    return to_mnist_steps(image, name=name)[-1][1]


def to_mnist_steps(image: Any, name: str = "image") -> list[tuple[str, np.ndarray]]:
    """Every stage of :func:`to_mnist`: a list of ``(step name, 2-D float32 array)`` pairs.

    The names are those in :data:`STEPS`, in order; the last array is ``to_mnist(image)``.

    Examples:
        >>> img = np.full((40, 40, 3), 255, dtype=np.uint8)
        >>> img[5:35, 18:22] = 0                       # black ink on white paper
        >>> [step for step, _ in to_mnist_steps(img)]
        ['grayscale', 'scaled', 'ink', 'cropped', 'resized', 'centred']
    """
    arr = _check_image(image, name)
    gray, full_scale = _grayscale(arr)
    steps = [("grayscale", gray)]
    x = gray / full_scale
    steps.append(("scaled", x))
    x = _ink(x, name)
    steps.append(("ink", x))
    x = _crop(x)
    steps.append(("cropped", x))
    x = _resize_longest(x, BOX)
    steps.append(("resized", x))
    x = _centre(x)
    steps.append(("centred", x))
    return [(step, np.asarray(a, dtype=np.float32)) for step, a in steps]


# -- the steps ----------------------------------------------------------------------
def _check_image(image, name):
    """A numeric array of shape (H, W) or (H, W, 1..4) with finite pixels in a known range."""
    arr = np.asarray(image)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected an array of pixel numbers, received dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (2, 3, 4))):
        raise ValueError(f"{name}: expected an image of shape (H, W), (H, W, 3) or (H, W, 4), "
                         f"received shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected an image with pixels, received shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}: expected finite pixel values, received NaN or inf")
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"{name}: expected float pixels in [0, 1], received values from {arr.min():g} "
                             f"to {arr.max():g}; divide 0-255 pixels by 255 first")
    elif arr.dtype.kind in "iu" and arr.dtype != np.uint16 and (arr.min() < 0 or arr.max() > 255):
        raise ValueError(f"{name}: expected integer pixels in 0-255 (or uint16), received values from "
                         f"{arr.min()} to {arr.max()}")
    return arr


def _grayscale(arr):
    """``(gray, full_scale)``: one brightness per pixel in the input's units, and the value of white."""
    full_scale = 65535.0 if arr.dtype == np.uint16 else 255.0 if arr.dtype.kind in "iu" else 1.0
    x = arr.astype(np.float32)          # float32 keeps a 12-megapixel photo to ~150 MB
    if x.ndim == 2:
        return x, full_scale
    channels = x.shape[2]
    has_alpha = channels in (2, 4)
    colour = x[:, :, :channels - has_alpha]
    gray = colour @ _LUMA if colour.shape[2] == 3 else colour[:, :, 0]
    if has_alpha:
        a = x[:, :, -1] / full_scale
        gray = a * gray + (1 - a) * full_scale          # composite onto white paper
    return gray, full_scale


def _ink(x, name):
    """Ink = 1, paper = 0: invert if the border is light, then stretch paper..strongest ink to 0..1."""
    if np.median(_border(x)) > 0.5:
        x = 1.0 - x
    paper = np.median(_border(x))
    contrast = x.max() - paper
    if contrast < MIN_CONTRAST:
        raise ValueError(f"no ink found in {name}: the strongest ink differs from the paper by {contrast:.3f} "
                         f"(at least {MIN_CONTRAST} is needed); is the image blank?")
    return np.clip((x - paper) / contrast, 0.0, 1.0)


def _border(x):
    """The outermost ring of pixels, where the paper shows (a digit rarely fills the frame)."""
    return np.concatenate([x[0], x[-1], x[1:-1, 0], x[1:-1, -1]])


def _crop(x):
    """The bounding box of the pixels above INK_THRESHOLD."""
    rows = np.flatnonzero((x > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((x > INK_THRESHOLD).any(axis=0))
    return x[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _resize_longest(x, longest):
    """Scale so the longest side is ``longest`` pixels, keeping the aspect ratio."""
    h, w = x.shape
    scale = longest / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    return area_resize(x, (new_h, new_w))


def area_resize(x, shape):
    """Resize a 2-D array by area averaging: ``out = R @ x @ C.T``.

    ``R[i, j]`` is the fraction of output row ``i`` covered by input row ``j`` (likewise ``C``
    for columns): each output pixel is the average of the input area beneath it, which
    anti-aliases when shrinking and keeps the total ink per area.

    Example:
        >>> area_resize(np.array([[0., 1., 2., 3.]]), (1, 2))
        array([[0.5, 2.5]])
    """
    return _overlap(x.shape[0], shape[0]) @ x @ _overlap(x.shape[1], shape[1]).T


def _overlap(n_in, n_out):
    """``(n_out, n_in)`` matrix: how much of output pixel i's span ``[i s, (i+1) s)`` input pixel j covers."""
    s = n_in / n_out
    starts = np.arange(n_out)[:, None] * s
    j = np.arange(n_in)[None, :]
    covered = np.minimum(starts + s, j + 1) - np.maximum(starts, j)
    return np.clip(covered, 0.0, None) / s


def _centre(x):
    """Paste ``x`` into a SIZE x SIZE field so its centre of mass lands on CENTRE (integer shift)."""
    h, w = x.shape
    rows, cols = np.arange(h), np.arange(w)
    mass = x.sum()
    com_row = (x.sum(axis=1) @ rows) / mass
    com_col = (x.sum(axis=0) @ cols) / mass
    # Shift so the centre of mass moves to CENTRE, but keep every pixel inside the field.
    top = int(np.clip(round(CENTRE[0] - com_row), 0, SIZE - h))
    left = int(np.clip(round(CENTRE[1] - com_col), 0, SIZE - w))
    out = np.zeros((SIZE, SIZE))
    out[top:top + h, left:left + w] = x
    return out


# -- reading files ------------------------------------------------------------------
def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a PNG or JPEG file into a NumPy array for :func:`to_mnist` (needs Pillow).

    Returns ``(H, W)`` uint8 for grayscale, ``(H, W, 3)`` for colour, ``(H, W, 4)`` when the
    image has transparency, ``(H, W)`` uint16 for 16-bit grayscale. A phone photo's EXIF
    rotation is applied.

    Raises:
        GlassnetError: the file is missing, not an image, or damaged (the message names the file).
    """
    Image = require("PIL.Image", "image")
    ImageOps = require("PIL.ImageOps", "image")
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            return _pil_to_array(ImageOps.exif_transpose(img))
    except FileNotFoundError:
        raise GlassnetError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise GlassnetError(f"{path}: is a directory, not an image file") from None
    except PermissionError:
        raise GlassnetError(f"{path}: permission denied") from None
    except Image.UnidentifiedImageError:
        raise GlassnetError(f"{path}: not an image file Pillow can read (expected PNG or JPEG)") from None
    except Image.DecompressionBombError as exc:
        raise GlassnetError(f"{path}: image too large to read safely ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise GlassnetError(f"{path}: damaged or unreadable image ({exc})") from None


def _pil_to_array(img):
    """Pillow image -> NumPy array in one of the layouts ``to_mnist`` reads."""
    mode = img.mode
    if mode.startswith("I"):                              # 16-bit grayscale PNG ("I;16", "I")
        return np.clip(np.asarray(img), 0, 65535).astype(np.uint16)
    if mode in ("L", "RGB", "RGBA"):
        return np.asarray(img).copy()
    if "A" in mode or "a" in mode or "transparency" in img.info:
        return np.asarray(img.convert("RGBA"))
    if mode in ("1", "F"):
        return np.asarray(img.convert("L"))
    return np.asarray(img.convert("RGB"))                 # palette, CMYK, YCbCr, ...


__all__ = ["STEPS", "area_resize", "load_image", "to_mnist", "to_mnist_steps"]
