import subprocess
import sys

import glassnet as gn


def test_import_needs_only_numpy():
    code = ("import sys, glassnet; "
            "print(sorted(m for m in ('PIL', 'torch', 'safetensors', 'matplotlib', 'scipy', 'sklearn') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_exist():
    for name in gn.__all__:
        assert hasattr(gn, name), name
    assert gn.__version__.count(".") == 2
