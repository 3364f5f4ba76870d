"""The package's annotations: mypy over src/glassnet (the configuration in pyproject.toml) finds no error.

A user's type checker reads the same annotations (``py.typed`` ships in the wheel: test_packaging.py).
Skipped only where mypy is not installed; GLASSNET_STRICT=1 (CI) makes that a failure.
"""

import subprocess
import sys
from pathlib import Path

from optional import need

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_error_in_the_package():
    need("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy", "--no-color-output", "--no-error-summary"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"mypy found errors in src/glassnet:\n{out.stdout}{out.stderr}"
    assert out.stdout.strip() == "", out.stdout
