"""The conformance table from a real run: board errors shown as error, reasons kept whole.

Runs a small Robot suite on the unix port (real, under a pty) beside a board
that cannot run here, then rebuilds the table with ``mpbench report``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, mpbench, needs

SUITE = """\
*** Settings ***
Library           mpbench.keywords.MicroPythonBench

*** Test Cases ***
The Port Exits Under The Test
    Execute On Board    import sys\\nsys.exit(0)

The Next Test Gets A Working Board
    ${out} =    Execute On Board    print(6 * 7)
    Should Be Equal    ${out}    42
"""


@pytest.mark.emulator
def test_a_lost_console_is_an_error_cell_and_reasons_survive_the_round_trip(tmp_path: Path) -> None:
    needs("unix")
    platforms = tmp_path / "platforms"
    platforms.mkdir()
    (platforms / "unix.yaml").write_text((ROOT / "platforms/unix.yaml").read_text())
    # A board that cannot run here, for two reasons: its reason text holds "; " itself.
    ghost = (ROOT / "platforms/microbit.yaml").read_text().replace("name: microbit", "name: ghost", 1)
    ghost = ghost.replace("firmware: microbit-debian", "firmware: no-such-image", 1)
    (platforms / "ghost.yaml").write_text(ghost.replace("binary: qemu-system-arm", "binary: no-such-qemu", 1))
    suite = tmp_path / "errors.robot"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    env = dict(os.environ, MPBENCH_PLATFORMS=str(platforms))
    run = subprocess.run(
        [sys.executable, "-m", "robot", "--outputdir", str(out), str(suite)],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env,
    )  # fmt: skip
    live = json.loads((out / "conformance.json").read_text())
    report = mpbench("report", str(out), "--out", str(tmp_path / "again"))
    again = json.loads((tmp_path / "again/conformance.json").read_text())
    for table in (live, again):
        cells = {row["behaviour"]: row["cells"]["unix"] for row in table["rows"]}
        assert cells["The Port Exits Under The Test"]["status"] == "ERROR", cells
        assert cells["The Next Test Gets A Working Board"]["status"] == "PASS", run.stdout[-3000:]
        assert table["totals"]["unix"] == {"PASS": 1, "FAIL": 0, "ERROR": 1, "SKIP": 0}
        assert list(table["boards_not_run"]) == ["ghost"], table["boards_not_run"]
        reason = table["boards_not_run"]["ghost"]
        assert "no-such-qemu" in reason and "no-such-image" in reason and "; " in reason
    assert report.returncode == 3, report.stdout + report.stderr  # no verdict failed, but a board did
    md = (tmp_path / "again/conformance.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| The Port Exits Under The Test"))
    assert "⚠ error" in row and "[1]" in row, row  # the mark and word, and the note with the reason
    assert "- [1] Board error (not a MicroPython failure): " in md
