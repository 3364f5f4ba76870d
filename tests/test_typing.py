"""The package's annotations: mypy over src/glassnet (the configuration in pyproject.toml) finds no error.

A user's type checker reads the same annotations (``py.typed`` ships in the wheel: test_packaging.py).
Skipped only where mypy is not installed; GLASSNET_STRICT=1 (CI) makes that a failure.
"""

import inspect
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


def _public_functions():
    """Every function named in ``glassnet.__all__`` and every public method of ``Network``, by name."""
    import glassnet as gn

    found = {n: getattr(gn, n) for n in gn.__all__ if inspect.isfunction(getattr(gn, n))}
    for name, member in vars(gn.Network).items():
        function = member.__func__ if isinstance(member, classmethod) else getattr(member, "fget", member)
        if inspect.isfunction(function) and (not name.startswith("_") or name == "__init__"):
            found[f"Network.{name}"] = function
    return found


def test_the_public_functions_and_network_methods_say_what_they_take_and_return():
    functions = _public_functions()
    assert {"save", "load", "explain", "gradcheck", "lr_find", "Network.fit", "Network.predict"} <= set(functions)
    unannotated = sorted(name for name, f in functions.items()
                         if inspect.signature(f).return_annotation is inspect.Signature.empty
                         or any(p.annotation is inspect.Parameter.empty and p.name not in ("self", "cls", "net")
                                for p in inspect.signature(f).parameters.values()))
    assert not unannotated, f"public functions without annotations: {unannotated}"
