#!/usr/bin/env bash
# Set everything up, then run all of mpbench's tests: lint, the Robot suites
# on the default boards, and the pytest suite (unit tests, and integration
# tests that boot real firmware). Exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check src tests scripts robot
.venv/bin/ruff format --check src tests scripts robot
.venv/bin/robot --outputdir results --xunit xunit.xml robot/
.venv/bin/python -m pytest
