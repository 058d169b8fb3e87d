"""Scale-out: pabot and shards give the table of a serial run, on real boards (micro:bit, unix).

One serial Robot run of the suites is the reference. pabot with two processes
must give the same conformance table (rebuilt by ``mpbench report`` from
pabot's merged output.xml); shards 1/2 and 2/2 must run every (board, test)
exactly once between them, with the same verdicts, and their merged table must
be the serial one. A board that cannot run here ("ghost") is in the platform
folder, so every run must also name it as not run, with its reason.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mpbench.report import Outcome, outcomes_from_output
from support import ROOT, mpbench, needs

pytestmark = pytest.mark.emulator

BOARDS = ("microbit", "unix")
ROBOT = ROOT / "robot"


def _pabot(*args: str) -> list[str]:
    """pabot from this environment, its robot processes run by this Python, PabotLib off (it listens on TCP)."""
    return [
        str(Path(sys.executable).parent / "pabot"),
        "--no-pabotlib",
        "--command", sys.executable, "-m", "robot", "--end-command",
        *args,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def platforms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for board in BOARDS:
        needs(board)
    folder = tmp_path_factory.mktemp("platforms")
    for board in BOARDS:
        (folder / f"{board}.yaml").write_text((ROOT / "platforms" / f"{board}.yaml").read_text())
    ghost = (ROOT / "platforms/microbit.yaml").read_text().replace("name: microbit", "name: ghost", 1)
    (folder / "ghost.yaml").write_text(ghost.replace("binary: qemu-system-arm", "binary: no-such-qemu", 1))
    return folder


def _run(cmd: list[str], platforms: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in ``cwd`` (pabot keeps its .pabotsuitenames there), with ``platforms`` as the platform folder."""
    env = {**os.environ, "MPBENCH_PLATFORMS": str(platforms)}
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=1200, stdin=subprocess.DEVNULL)


def _robot(outdir: Path, platforms: Path, *options: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "robot", "--console", "dotted", "--outputdir", str(outdir), *options, str(ROBOT)]
    return _run(cmd, platforms, outdir.parent)


def _table(outdir: Path) -> dict[str, object]:
    """The conformance table without test ids: they are positions in each run's own (or merged) log."""
    table = json.loads((outdir / "conformance.json").read_text())
    for row in table["rows"]:
        for cell in row["cells"].values():
            cell.pop("test_id", None)
    return table


@pytest.fixture(scope="module")
def serial(platforms: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: one serial run on the boards available here (micro:bit and unix; ghost left out)."""
    out = tmp_path_factory.mktemp("serial")
    run = _robot(out, platforms)
    assert (out / "output.xml").is_file(), run.stdout[-3000:] + run.stderr[-3000:]
    table = _table(out)
    assert table["boards"] == list(BOARDS), table["boards"]
    assert list(table["boards_not_run"]) == ["ghost"], table["boards_not_run"]
    return out


def test_pabot_with_two_processes_gives_the_serial_table(serial: Path, platforms: Path, tmp_path: Path) -> None:
    out = tmp_path / "pabot"
    run = _run(_pabot("--processes", "2", "--chunk", "--outputdir", str(out), str(ROBOT)), platforms, tmp_path)
    assert (out / "output.xml").is_file(), run.stdout[-3000:] + run.stderr[-3000:]
    # Two robot processes, each with its own emulators, and no partial tables of theirs to mislead.
    parts = sorted(p for p in (out / "pabot_results").iterdir() if p.is_dir())
    assert len(parts) == 2, parts
    assert not list(out.rglob("conformance.json"))
    report = mpbench("report", str(out))
    assert report.returncode == 0, report.stdout + report.stderr
    assert _table(out) == _table(serial)


def _verdict(o: Outcome) -> tuple[str, ...]:
    return (o.area, o.behaviour, o.board, o.status, o.message, o.kind, o.doc)


def test_shards_run_every_pair_once_and_merge_to_the_full_table(serial: Path, platforms: Path, tmp_path: Path) -> None:
    full, full_left_out = outcomes_from_output(serial / "output.xml")
    seen = []
    for k in (1, 2):
        out = tmp_path / f"shard{k}"
        run = _robot(out, platforms, "--variable", f"SHARD:{k}/2")
        assert (out / "output.xml").is_file(), run.stdout[-3000:] + run.stderr[-3000:]
        outcomes, left_out = outcomes_from_output(out / "output.xml")
        assert left_out == full_left_out  # a shard tells which boards it did not run, and why
        assert {o.board for o in outcomes} == set(BOARDS)  # each shard has a share of every board
        assert 0 < len(outcomes) < len(full)
        seen += outcomes
    # Every pair once, with the serial verdicts (test ids are positions in each run's own log).
    assert sorted(map(_verdict, seen)) == sorted(map(_verdict, full))
    merged = tmp_path / "merged"
    report = mpbench(
        "report", str(tmp_path / "shard1/output.xml"), str(tmp_path / "shard2/output.xml"), "-o", str(merged)
    )
    assert report.returncode == 0, report.stdout + report.stderr
    assert _table(merged) == _table(serial)


SUITE = """\
*** Settings ***
Library           mpbench.keywords.MicroPythonBench

*** Test Cases ***
Fails On Purpose
    ${out} =    Execute On Board    print('from {name}')
    Should Be Equal    ${out}    something else
"""


def test_bundles_of_parallel_processes_do_not_collide_and_the_log_links_them(platforms: Path, tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    for name in ("first", "second"):
        (suites / f"{name}.robot").write_text(SUITE.replace("{name}", name))
    out = tmp_path / "out"
    cmd = _pabot(
        "--processes", "2", "--artifacts", "mpbundle", "--artifactsinsubfolders",
        "--variable", "PLATFORMS:unix", "--outputdir", str(out), str(suites),
    )  # fmt: skip
    run = _run(cmd, platforms, tmp_path)
    assert (out / "output.xml").is_file(), run.stdout[-3000:] + run.stderr[-3000:]
    bundles = sorted(p.name for p in (out / "bundles").iterdir())
    assert len(bundles) == 2, bundles  # one per failed test, each process's named apart
    log = (out / "output.xml").read_text()
    links = re.findall(r"href=&quot;(bundles/[^&]+)&quot;", log) or re.findall(r'href="(bundles/[^"]+)"', log)
    assert sorted(links) == [f"bundles/{b}" for b in bundles], (links, bundles)
    for name in bundles:
        show = mpbench("repro", "show", str(out / "bundles" / name))
        assert show.returncode == 0, show.stderr
        assert "from first" in show.stdout or "from second" in show.stdout
