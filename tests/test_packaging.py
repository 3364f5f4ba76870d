"""What a user gets from the package index: the sdist and the wheel, built from this checkout.

- The sdist carries the tests and everything they import (``conftest.py``, the helpers beside them, the app's
  tests), so ``pytest`` can run from an unpacked sdist.
- The wheel, installed into a fresh virtual environment outside the repository, imports, trains from the
  command line and runs the course's first chapter.
- The README that the package index shows has no relative links or images (they would break there).

Not here: the package's own behaviour (every other test file).
"""

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT = 300


def _run(cmd, cwd, timeout=BUILD_TIMEOUT, env=None):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """An sdist and a wheel built from this checkout, without build isolation (setuptools is in the venv)."""
    out = tmp_path_factory.mktemp("dist")
    for kind in ("sdist", "wheel"):  # one process each: setuptools keeps state between the two builds
        code = f"import sys, setuptools.build_meta as b; print(b.build_{kind}(sys.argv[1]))"
        _run([sys.executable, "-c", code, str(out)], cwd=ROOT)
    sdists = sorted(out.glob("glassnet-*.tar.gz"))
    wheels = sorted(out.glob("glassnet-*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in out.iterdir())
    return sdists[0], wheels[0]


def test_the_sdist_carries_the_tests_and_what_they_import(dist):
    sdist, _ = dist
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    needed = ["tests/conftest.py", "tests/optional.py", "tests/finite_differences.py", "tests/appserver.py",
              "tests/app/conftest.py", "tests/app/test_server.py", "benchmarks/app_load.py",
              "CHANGELOG.md", "CONTRIBUTING.md", "LICENSE", "src/glassnet/datasets/mnist-sample-10k.npz"]
    missing = [name for name in needed if name not in names]
    assert not missing, f"the sdist lacks {missing}"
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert on_disk <= names, f"test files missing from the sdist: {sorted(on_disk - names)[:10]}"
    assert not any(name.startswith(("test-artifacts/", "site/", ".venv/")) for name in names)


def test_the_wheel_holds_the_package_its_data_and_its_type_marker(dist):
    _, wheel = dist
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert "glassnet/datasets/mnist-sample-10k.npz" in names
    assert "glassnet/app/static/index.html" in names
    assert "glassnet/py.typed" in names, "the wheel must carry the PEP 561 marker (a user's type checker reads it)"
    assert not any(name.startswith("tests/") for name in names), "the wheel must not install a top-level tests/"
    for url in ("Homepage", "Source", "Issues", "Changelog", "Documentation"):
        assert re.search(rf"^Project-URL: {url}, https://", metadata, re.M), f"no {url} project URL"
    assert "Programming Language :: Python :: 3.11" in metadata
    assert "Classifier: Typing :: Typed" in metadata


def test_the_readme_shown_on_the_package_index_has_no_relative_links():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)[^)]*\)", text) + re.findall(r'src="([^"]+)"', text)
    relative = [t for t in targets if not re.match(r"(https?:|mailto:|#)", t)]
    assert not relative, f"relative links in README.md break on the package index: {relative[:10]}"
    # the repository's own files it points at exist in this checkout (a renamed picture would break the page)
    ours = re.findall(r"https://(?:raw\.githubusercontent\.com/glassnet/glassnet/main|"
                      r"github\.com/glassnet/glassnet/blob/main)/([^)\s\"#]+)", text)
    assert ours, "expected the README's pictures as absolute URLs of the repository"
    missing = sorted({path for path in ours if not (ROOT / path).exists()})
    assert not missing, f"README.md points at files the repository lacks: {missing}"


def _chapter_one_code():
    """The code cells of the course's first chapter, as one script (IPython magics and shell lines dropped)."""
    notebooks = sorted((ROOT / "course").glob("01*.ipynb"))
    if not notebooks:
        return None
    cells = json.loads(notebooks[0].read_text(encoding="utf-8"))["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            lines += [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines) + "\n"


def test_the_wheel_installs_outside_the_repository_and_works(dist, tmp_path):
    _, wheel = dist
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[plot]"],
         cwd=tmp_path, env=env)
    proc = _run([str(python), "-c", "import glassnet, sys; print(glassnet.__file__); print(sys.prefix)"],
                cwd=tmp_path, env=env)
    assert str(venv) in proc.stdout and str(ROOT) not in proc.stdout.splitlines()[0]
    proc = _run([str(venv / "bin" / "glassnet"), "train", "--epochs", "1", "--layers", "16", "--out", "run"],
                cwd=tmp_path, env=env)
    assert "accuracy" in proc.stdout.lower()
    assert (tmp_path / "run" / "model").exists()
    code = _chapter_one_code()
    if code is not None:
        script = tmp_path / "chapter1.py"
        script.write_text("from IPython.display import display\n" if "display(" in code else "")
        script.write_text(script.read_text() + code)
        _run([str(python), str(script)], cwd=tmp_path, env={**env, "MPLBACKEND": "Agg"})
