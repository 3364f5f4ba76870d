# The two commands (see README): `make demo` and `make test`. Both create .venv if needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: demo test venv clean bench bench-quick app docs

venv:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "glassnet needs Python 3.11 or newer; found " + sys.version.split()[0] + " (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)

# Train on the bundled handwritten digits: progress, test accuracy, where the model and report are.
demo: venv
	@$(PIP) install -q -e ".[image]"
	$(BIN)/glassnet train --out runs/demo

# Install with the dev extras, lint, type-check (mypy over src/glassnet), and run the whole test suite (and the docstring examples).
test: venv
	@$(PIP) install -q -e ".[dev]"
	$(BIN)/python -m ruff check src tests benchmarks
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest

# The web app on http://127.0.0.1:8000 (starting from the demo's model when `make demo` has run),
# opened in the browser when there is a screen (a desktop session or macOS); else it prints the address.
OPEN := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s 2>/dev/null))),--open)
app: venv
	@$(PIP) install -q -e ".[app,image]"
	$(BIN)/glassnet app $(if $(wildcard runs/demo/model),--model runs/demo/model) $(OPEN)

# Benchmark glassnet against a textbook NumPy loop, neural-network-digits, PyTorch (CPU) and scikit-learn, each
# alone: writes benchmarks/results.md and results.json. About 10-12 minutes on 2 cores; run it on a quiet machine.
bench: venv
	@$(PIP) install -q -e ".[dev,bench]"
	$(BIN)/python -m benchmarks

# A smoke run on tiny sizes (under a minute).
bench-quick: venv
	@$(PIP) install -q -e ".[dev,bench]"
	$(BIN)/python -m benchmarks --quick --out runs/bench-quick

# The documentation site into site/ (offline; open site/index.html from disk): guides, the course, the API.
docs: venv
	@$(PIP) install -q -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

clean:
	rm -rf $(VENV) runs .pytest_cache src/*.egg-info site
