"""Optional dependencies in tests: skip where missing, except in CI (GLASSNET_STRICT=1), where a
missing dependency fails the test instead of hiding it."""

import importlib
import os
import shutil
from pathlib import Path

import pytest

STRICT = os.environ.get("GLASSNET_STRICT") == "1"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
CHROMIUM = "/usr/bin/chromium"  # Debian's chromium
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def missing(reason):
    """Skip the test because something optional is missing, or fail in strict mode."""
    if STRICT:
        pytest.fail(f"GLASSNET_STRICT=1 and {reason}")
    pytest.skip(reason)


def need(module):
    """Import ``module`` (like pytest.importorskip), failing instead of skipping in strict mode."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing(f"{module} is not installed ({exc})")


def fashion_mnist_dir():
    """The folder of Debian's Fashion-MNIST IDX files (apt install dataset-fashion-mnist)."""
    if not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        missing(f"Fashion-MNIST is not installed in {FASHION_MNIST_DIR} (apt install dataset-fashion-mnist)")
    return FASHION_MNIST_DIR


def chromium():
    """Playwright's sync API and the path of Debian's chromium, for browser tests."""
    if not shutil.which(CHROMIUM):
        missing(f"{CHROMIUM} is not installed (apt install chromium)")
    return need("playwright.sync_api"), CHROMIUM
