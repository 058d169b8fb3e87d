"""``mpbench report --compare OLD NEW``: what changed per board and behaviour, exit 1 on a regression.

Two real runs of the Heap suite on a board named ``unix``: the honest port,
and the port whose ``heap_lock`` does nothing (tests/shims/heap_lock_noop.py),
standing for a firmware build that broke a promise. Which tests that shim
fails is known from test_suites_on_broken_firmware.py, not from the report.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from suite_runs import run_suites, write_variant
from support import ROOT, mpbench, needs

#: The Heap tests the no-op heap_lock fails (test_suites_on_broken_firmware.py) and the honest port passes.
BROKEN = {
    "Allocation Raises MemoryError While The Heap Is Locked",
    "Allocation Works Again After Heap Unlock",
    "Heap Locks Nest",
    "Heap Unlock Returns The Remaining Depth",
    "The REPL Unlocks A Heap Left Locked",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    needs("unix")
    base = tmp_path_factory.mktemp("compare")
    honest, broken = base / "honest", base / "broken"
    (base / "p-honest").mkdir()
    (base / "p-broken").mkdir()
    write_variant(base / "p-honest", "unix", "unix")
    write_variant(base / "p-broken", "unix", "unix", shim="heap_lock_noop.py")
    old = run_suites(base / "p-honest", ["unix"], honest, "--suite", "Heap")
    new = run_suites(base / "p-broken", ["unix"], broken, "--suite", "Heap")
    assert {name for (_b, name), r in old.items() if r.status == "PASS"} >= BROKEN
    assert {name for (_b, name), r in new.items() if r.status == "FAIL"} == BROKEN
    return honest, broken


@pytest.mark.emulator
def test_a_build_that_breaks_promises_is_a_regression(runs: tuple[Path, Path], tmp_path: Path) -> None:
    honest, broken = runs
    run = mpbench("report", "--compare", str(honest), str(broken / "output.xml"), "-o", str(tmp_path))
    assert run.returncode == 1, run.stdout + run.stderr
    comparison = json.loads((tmp_path / "comparison.json").read_text())
    jsonschema.validate(comparison, json.loads((ROOT / "src/mpbench/comparison_schema.json").read_text()))
    assert comparison["regressed"] is True
    changed = {(c["board"], c["behaviour"]): c for c in comparison["changes"]}
    assert {b for (_board, b) in changed} == BROKEN
    for change in changed.values():
        assert change["change"] == "newly failing" and change["board"] == "unix"
        assert change["old"]["status"] == "PASS" and change["new"]["status"] == "FAIL" and change["new"]["message"]
    assert comparison["counts"]["unix"]["newly failing"] == len(BROKEN)
    assert Path(tmp_path, comparison["log_new"]).resolve() == (broken / "log.html").resolve()
    md = (tmp_path / "comparison.md").read_text()
    assert md.splitlines()[2].startswith(f"REGRESSED: {len(BROKEN)} newly failing")
    page = (tmp_path / "comparison.html").read_text()
    assert page.count("✓→✗ newly failing") == len(BROKEN)  # one matrix cell per change
    assert md == run.stdout  # printed and written alike


@pytest.mark.emulator
def test_the_fix_is_newly_passing_and_no_change_is_no_change(runs: tuple[Path, Path]) -> None:
    honest, broken = runs
    fixed = mpbench("report", "--compare", str(broken), str(honest))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert f"no regression: {len(BROKEN)} newly passing" in fixed.stdout
    for behaviour in BROKEN:
        assert f"| Heap: {behaviour} | ✗→✓ newly passing |" in fixed.stdout
    same = mpbench("report", "--compare", str(honest), str(honest))
    assert same.returncode == 0 and "no regression: nothing changed" in same.stdout, same.stdout


def test_compare_takes_exactly_two_runs(tmp_path: Path) -> None:
    run = mpbench("report", "--compare", str(tmp_path))
    assert run.returncode == 2 and "--compare takes two runs" in run.stderr, run.stderr


@pytest.mark.emulator
def test_another_reason_for_the_same_skip_is_reason_changed(runs: tuple[Path, Path], tmp_path: Path) -> None:
    """The honest run's output with one skip reason reworded (a derived fixture): only that cell changed."""
    honest, _ = runs
    text = (honest / "output.xml").read_text()
    old = "MICROPY_PY_MICROPYTHON_HEAP_LOCKED=0)</status>"
    assert old in text, "the unix port's heap_locked() skip reason moved: reword another one"
    (tmp_path / "output.xml").write_text(text.replace(old, "MICROPY_PY_MICROPYTHON_HEAP_LOCKED is 0)</status>"))
    run = mpbench("report", "--compare", str(honest), str(tmp_path), "-o", str(tmp_path / "cmp"))
    assert run.returncode == 0, run.stdout + run.stderr
    comparison = json.loads((tmp_path / "cmp/comparison.json").read_text())
    assert [(c["behaviour"], c["change"]) for c in comparison["changes"]] == [
        ("Heap Locked Returns The Depth", "reason changed")
    ]
    assert "no regression: 1 reason changed" in run.stdout
