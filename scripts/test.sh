#!/usr/bin/env bash
# Set everything up, then run all of mpbench's tests: lint, the Robot suites
# on the default boards, and the pytest suite (unit tests, and integration
# tests that boot real firmware). Exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check src tests scripts robot examples
.venv/bin/ruff format --check src tests scripts robot examples
.venv/bin/robot --outputdir results --xunit xunit.xml robot/
# The pytest face's examples on the two boards CI always has (pabot, shards and
# the wrong-on-purpose example are checked by tests/integration/test_scale.py
# and test_pytest_plugin.py in the pytest run below).
.venv/bin/python -m pytest -p no:cacheprovider examples/pytest --mpbench-platform microbit,unix --mpbench-outdir results
.venv/bin/python -m pytest
