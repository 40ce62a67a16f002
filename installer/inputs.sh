#!/usr/bin/env bash
# The sha256 of what the bundle is built from: its spec, entry point and smoke test, and the pinned
# dependencies. `make dist` records it in installer/built-from.sha256 once the smoke test passes; CI
# (.ci/run) builds the bundle again when the two differ.
set -euo pipefail
cd "$(dirname "$0")/.."
cat installer/energynet.spec installer/entry.py installer/smoke.py pyproject.toml package-lock.json | sha256sum | cut -d' ' -f1
