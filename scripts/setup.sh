#!/usr/bin/env bash
# Set up mpbench on Debian: the system packages the default boards need
# (QEMU, the micro:bit firmware, Chromium for the report's browser test), then a virtualenv in .venv with mpbench,
# Robot Framework and the unix port installed. Safe to run twice; says what it did.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v qemu-system-arm >/dev/null 2>&1 || need+=(qemu-system-arm)
[ -f /usr/share/firmware-microbit-micropython/firmware.hex ] || need+=(firmware-microbit-micropython)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
# Headless Chromium renders the conformance page in tests/integration/test_report_browser.py.
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if ((${#need[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing with apt-get: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
else
    echo "setup: system packages present (qemu-system-arm, firmware-microbit-micropython, chromium)"
fi

if [ -x .venv/bin/python ]; then
    echo "setup: using the existing virtualenv .venv"
else
    python3 -m venv .venv
    echo "setup: created the virtualenv .venv"
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
echo "setup: installed mpbench into .venv ($(.venv/bin/python -c 'import mpbench, sys; print(sys.version.split()[0])'))"
echo "setup: done; boards available here:"
.venv/bin/mpbench platforms || true
