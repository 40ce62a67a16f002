# EnergyNet Console — developer entry points. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export QT_API := pyside6

# Python 3.12 through pyenv when it is there (PySide6 on 3.11 crashes, see docs/decisions.md).
PYTHON_FOR_VENV := $(shell if PYENV_VERSION=3.12.1 python -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then echo "env PYENV_VERSION=3.12.1 python"; elif command -v python3.12 >/dev/null; then echo python3.12; else echo python3; fi)

.PHONY: demo test check lint typecheck archcheck pytest bench contracts clean dist
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
	$(PY) bench/matching.py
	$(PY) bench/startup.py --runs 5
	QT_QPA_PLATFORM=offscreen $(PY) bench/alarms.py

# Memory soak (issue 11): demo world + console headless; RSS slope over SOAK_MIN minutes (default 30) after the
# warm-up (fully up + SOAK_SETTLE_MIN, default 45), with a 5-minute settlement dispute window (SOAK_DISPUTE_S) so
# that the warm-up covers a trade's whole way from match to paid (~1 h; ~2 h with the deployed 1-h window).
soak: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) bench/soak.py --minutes $${SOAK_MIN:-30} --settle-min $${SOAK_SETTLE_MIN:-45} \
		--dispute-window-s $${SOAK_DISPUTE_S:-300} --json $${SOAK_JSON:-soak.json} --check

# The installable bundle (docs/install.md): PyInstaller one-dir into dist/energynet/, then its smoke test
# starts the built program offscreen. Slow (minutes), so it is not part of `make test`; CI runs it when the
# bundle's inputs changed since the build recorded in installer/built-from.sha256 (installer/inputs.sh).
DIST_STAMP := $(VENV)/.installed-dist
# Only the [dist] pins (read from pyproject.toml), so the editable install of the project is left as it is.
$(DIST_STAMP): $(STAMP) pyproject.toml
	$(PY) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["dist"]))' \
		| $(PY) -m pip install -q -r /dev/stdin
	touch $(DIST_STAMP)

dist: $(DIST_STAMP)
	@start=$$(date +%s); \
	$(VENV)/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
		installer/energynet.spec || exit $$?; \
	echo "bundle built in $$(( $$(date +%s) - start )) s: $$(du -sh dist/energynet | cut -f1) in dist/energynet/"
	QT_QPA_PLATFORM=offscreen $(PY) installer/smoke.py dist/energynet
	installer/inputs.sh > installer/built-from.sha256  # CI builds again only when these inputs change

clean:
	rm -rf $(VENV) node_modules build dist *.egg-info
