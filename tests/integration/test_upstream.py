"""``mpbench upstream`` for real, over the small MicroPython-style tree in tests/data/upstream.

The tree holds a test with its .exp, one whose expectation CPython makes, one
that asks to be skipped, one whose .exp is wrong and one that never ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, mpbench, needs

pytestmark = pytest.mark.emulator
TREE = ROOT / "tests" / "data" / "upstream"
UPSTREAM_UNIX = [sys.executable, "-m", "mpbench.cli", "upstream", "-p", "unix", "--micropython", str(TREE)]


@pytest.mark.parametrize("board", ["microbit", "unix"])
def test_upstream_gives_run_tests_verdicts_and_keeps_the_failing_output(tmp_path: Path, board: str) -> None:
    needs(board)
    results = tmp_path / "results"
    r = mpbench("upstream", "-p", board, "--micropython", str(TREE), "--result-dir", str(results), "basics")
    assert r.returncode == 1, r.stderr  # one test fails
    lines = r.stdout.splitlines()
    assert "pass  basics/arith.py" in lines
    assert "pass  basics/cpython_made.py" in lines  # its expectation came from CPython
    assert any(ln.startswith("skip  basics/skipped.py") for ln in lines)
    assert "FAIL  basics/wrong_exp.py" in lines
    assert "3 tests performed (6 individual testcases)" in lines
    assert "2 tests passed" in lines
    assert "1 tests failed: basics/wrong_exp.py" in lines
    # what the board printed and what was expected are kept for the failing test only
    assert (results / "basics_wrong_exp.py.out").read_text() == "4\n"
    assert (results / "basics_wrong_exp.py.exp").read_text() == "5\n"
    assert sorted(p.name for p in results.glob("*.out")) == ["basics_wrong_exp.py.out"]
    report = json.loads((results / "upstream.json").read_text())
    assert report["board"] == board
    assert report["counts"] == {"pass": 2, "fail": 1, "skip": 1, "error": 0}
    status = {t["test"]: t["status"] for t in report["results"]}
    assert status == {
        "basics/arith.py": "pass",
        "basics/cpython_made.py": "pass",
        "basics/skipped.py": "skip",
        "basics/wrong_exp.py": "fail",
    }


def test_without_cpython_a_test_without_exp_cannot_pass(tmp_path: Path) -> None:
    """The CPython-made expectation is real: with a CPython that fails, that test fails."""
    needs("unix")
    env = {**os.environ, "MICROPY_CPYTHON3": "false"}
    r = subprocess.run(
        [*UPSTREAM_UNIX, "--result-dir", str(tmp_path), "basics/cpython_made.py"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    assert r.returncode == 1
    assert "FAIL  basics/cpython_made.py" in r.stdout.splitlines()
    assert (tmp_path / "basics_cpython_made.py.exp").read_text().startswith("CPYTHON3 CRASH")


@pytest.mark.parametrize("board", ["microbit", "unix"])
def test_a_hung_test_fails_and_the_next_one_still_runs(tmp_path: Path, board: str) -> None:
    needs(board)
    r = mpbench(
        "upstream",
        "-p",
        board,
        "--timeout",
        "2",
        "--micropython",
        str(TREE),
        "--result-dir",
        str(tmp_path),
        "hang",
        "basics/arith.py",
    )
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert "FAIL  hang/loops.py (timeout)" in lines
    assert "pass  basics/arith.py" in lines
    assert "recovery ladder started" in r.stderr


def test_a_missing_checkout_is_bad_input(tmp_path: Path) -> None:
    r = mpbench("upstream", "-p", "unix", "--micropython", str(tmp_path / "nowhere"))
    assert r.returncode == 2
    assert (
        r.stderr.strip()
        == f"mpbench: --micropython {tmp_path / 'nowhere'}: no tests/ folder (expected a MicroPython checkout)"
    )
