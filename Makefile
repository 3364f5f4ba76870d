# The two commands (see README): `make demo` and `make test`. Both create .venv if needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: demo test venv clean

venv:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "glassnet needs Python 3.11 or newer; found " + sys.version.split()[0] + " (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)

# Train on the bundled handwritten digits: progress, test accuracy, where the model and report are.
demo: venv
	@$(PIP) install -q -e ".[image]"
	$(BIN)/glassnet train --out runs/demo

# Install with the dev extras, lint, and run the whole test suite (and the docstring examples).
test: venv
	@$(PIP) install -q -e ".[dev]"
	$(BIN)/python -m ruff check src tests
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache src/*.egg-info
