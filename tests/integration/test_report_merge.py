"""Several runs merged into one conformance table: the table of the whole run, and one log.

Real runs of the project's suites on the unix port (under a pty), split as CI
shards would split them (by suite), merged with ``mpbench report A B -o DIR``,
and compared with the table of one run of the same suites. A board that cannot
run here (``ghost``) is left out of every run and must stay listed as not run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from robot.api import ExecutionResult

from support import ROOT, mpbench, needs

SUITES = ("const", "heap")


def _platforms(tmp_path: Path) -> Path:
    platforms = tmp_path / "platforms"
    platforms.mkdir()
    (platforms / "unix.yaml").write_text((ROOT / "platforms/unix.yaml").read_text())
    ghost = (ROOT / "platforms/microbit.yaml").read_text().replace("name: microbit", "name: ghost", 1)
    (platforms / "ghost.yaml").write_text(ghost.replace("binary: qemu-system-arm", "binary: no-such-qemu", 1))
    return platforms


def _run(platforms: Path, out: Path, *suites: str) -> None:
    env = dict(os.environ, MPBENCH_PLATFORMS=str(platforms))
    selection = [arg for suite in suites for arg in ("--suite", suite)]
    run = subprocess.run(
        [sys.executable, "-m", "robot", "--console", "dotted", "--outputdir", str(out), *selection, "robot"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env,
    )  # fmt: skip
    assert (out / "output.xml").is_file(), run.stdout[-2000:] + run.stderr[-2000:]


def _table(folder: Path) -> dict[str, object]:
    return json.loads((folder / "conformance.json").read_text())


@pytest.mark.emulator
def test_two_shards_merged_give_the_full_runs_table_and_one_log(tmp_path: Path) -> None:
    needs("unix")
    platforms = _platforms(tmp_path)
    _run(platforms, tmp_path / "full", *SUITES)
    for suite in SUITES:
        _run(platforms, tmp_path / suite, suite)

    # One argument an output.xml, the other a results folder: both forms are accepted.
    merged = mpbench("report", str(tmp_path / "const/output.xml"), str(tmp_path / "heap"), "-o", str(tmp_path / "m"))
    again = mpbench("report", str(tmp_path / "full"), "-o", str(tmp_path / "again"))
    assert merged.returncode == again.returncode, merged.stdout + merged.stderr
    assert merged.returncode in (0, 1), merged.stderr  # a verdict, not bad input or a board error

    full, both = _table(tmp_path / "again"), _table(tmp_path / "m")
    areas = {row["area"] for row in full["rows"]}  # type: ignore[index]
    assert areas == {"Const", "Heap"}, areas  # both suites ran: the comparison below is not vacuous
    assert both == full
    assert list(both["boards_not_run"]) == ["ghost"]  # type: ignore[call-overload]
    assert (tmp_path / "m/conformance.md").read_text() == (tmp_path / "again/conformance.md").read_text()
    assert merged.stdout == again.stdout

    # The merged log holds every test of both runs, under one top suite.
    combined = ExecutionResult(str(tmp_path / "m/output.xml"))
    assert combined.suite.name == "Robot"
    assert combined.suite.statistics.total == ExecutionResult(str(tmp_path / "full/output.xml")).suite.statistics.total
    assert (tmp_path / "m/log.html").is_file() and (tmp_path / "m/report.html").is_file()


def test_merging_refuses_bad_inputs_in_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.xml"
    bogus.write_text("<robot><suite name='x'><oops")
    good = tmp_path / "good"
    good.mkdir()
    (good / "output.xml").write_text(
        "<?xml version='1.0'?><robot generator='Robot 7.5' rpa='false' schemaversion='5'>"
        "<suite id='s1' name='Robot'><status status='PASS' start='2026-01-01T00:00:00' elapsed='0'/></suite>"
        "<statistics><total/><tag/><suite/></statistics><errors/></robot>"
    )
    cases = {
        "not a Robot output.xml": ("report", str(bogus), str(good), "-o", str(tmp_path / "m")),
        "no Robot output.xml there": ("report", str(good), str(tmp_path / "missing"), "-o", str(tmp_path / "m")),
        "-o DIR": ("report", str(good), str(good)),
        "would be overwritten": ("report", str(good), str(bogus), "-o", str(good)),
    }
    for expected, argv in cases.items():
        run = mpbench(*argv)
        assert run.returncode == 2, (argv, run.stdout, run.stderr)
        assert expected in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
