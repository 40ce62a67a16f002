# EnergyNet Console — developer entry points. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export QT_API := pyside6

# Python 3.12 through pyenv when it is there (PySide6 on 3.11 crashes, see docs/decisions.md).
PYTHON_FOR_VENV := $(shell if PYENV_VERSION=3.12.1 python -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then echo "env PYENV_VERSION=3.12.1 python"; elif command -v python3.12 >/dev/null; then echo python3.12; else echo python3; fi)

.PHONY: demo test check lint typecheck archcheck pytest bench contracts clean
NODE_STAMP := node_modules/.installed

$(PY):
	$(PYTHON_FOR_VENV) -m venv $(VENV)
	$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "EnergyNet needs Python >= 3.12 for the venv; install it with pyenv (3.12.1)")'

$(STAMP): $(PY) pyproject.toml $(NODE_STAMP)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Solidity toolchain (solc-js, OpenZeppelin, anvil) pinned in package.json + package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# Recompile contracts/src into contracts/artifacts (committed; the tests fail when they are stale).
contracts: $(NODE_STAMP)
	node contracts/compile.mjs

demo: $(STAMP)
	$(VENV)/bin/energynet demo

test: $(STAMP)
	$(MAKE) --no-print-directory lint typecheck archcheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

archcheck: $(STAMP)
	$(VENV)/bin/lint-imports

# pytest exits 5 when nothing was collected; that is not a failure of the suite.
pytest: $(STAMP)
	QT_QPA_PLATFORM=$${QT_QPA_PLATFORM:-offscreen} $(VENV)/bin/pytest -q -p no:cacheprovider; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) bench/trend_render.py
	$(PY) bench/opcua_throughput.py
	$(PY) bench/historian.py
	$(PY) bench/modbus_cycle.py
	$(PY) bench/chain_throughput.py
	$(PY) bench/contract_gas.py

clean:
	rm -rf $(VENV) node_modules build dist *.egg-info
