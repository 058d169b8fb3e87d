"""Virtual time on a real Renode pyboard: boot snapshots, a board at rest, exact-instant replay, race.

Skipped (with the platform's reason) where Renode or the PYBV11 firmware is
missing, as in CI. Each test uses its own snapshot cache folder so the first
start is a cold one and the second loads what the first saved.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpbench.board import Board
from mpbench.platform_loader import find_platform
from mpbench.race import Race, offsets_of
from mpbench.repro.bundle import read_bundle
from mpbench.repro.capture import describe, save
from mpbench.repro.replay import prepare, replay_once
from proc_stats import cpu_share
from support import ROOT, needs

RMW = (ROOT / "examples" / "race_extint_rmw.py").read_text()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    needs("pyboard")
    monkeypatch.setenv("MPBENCH_CACHE", str(tmp_path / "cache"))
    if os.environ.get("MPBENCH_TEST_BREAK_CLOCK") != "1":  # set only to watch these tests fail
        monkeypatch.delenv("MPBENCH_RENODE_CLOCK", raising=False)
    monkeypatch.delenv("MPBENCH_RENODE_SNAPSHOTS", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def busy() -> Iterator[None]:
    """Both host cores loaded by busy loops for the length of the test."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait(5)


def test_second_start_loads_the_boot_snapshot(cache: Path) -> None:
    platform = find_platform("pyboard")
    with Board(platform) as cold:
        assert cold.engine is not None and not cold.engine.started_from_snapshot  # type: ignore[attr-defined]
        assert cold.exec("print(6 * 7)").check() == "42\n"
    saved = list((cache / "renode-snapshots").glob("*.state"))
    assert len(saved) == 1 and saved[0].stat().st_size > 100_000
    with Board(platform) as warm:
        engine = warm.engine
        assert engine is not None and engine.started_from_snapshot  # type: ignore[attr-defined]
        assert "restored the machine from boot snapshot" in warm.transcript.render()
        assert warm.exec("print(6 * 7)").check() == "42\n"


def test_board_between_two_execs_is_at_rest(cache: Path) -> None:
    with Board(find_platform("pyboard")) as board:
        board.exec("print(1)").check()
        engine = board.engine
        assert engine is not None
        before = engine.vt_us  # type: ignore[attr-defined]
        share = cpu_share(engine.process.pid, 3.0)  # type: ignore[attr-defined]
        assert engine.vt_us == before  # type: ignore[attr-defined]  # its time did not move
        assert share < 0.02, f"Renode used {share:.1%} of a core at rest"
        assert board.exec("import time; time.sleep_ms(200); print(2)").check() == "2\n"
        assert engine.vt_us - before >= 200_000  # type: ignore[attr-defined]  # the wait ran virtual time


def _pin_edge_bundle(path: Path, offset_us: int) -> str:
    """A bundle of the lost-update script hit by a pin edge ``offset_us`` after it printed ``go``."""
    with Board(find_platform("pyboard"), record=True) as board:
        assert board.recorder is not None and board.session is not None
        steps_mark, transcript_mark = board.recorder.mark(), board.transcript.mark()
        board.session.exec_start(RMW, 30)
        assert board.session.wait_for_text(b"go", 30)
        engine = board.engine
        engine.run_to(engine.vt_us + offset_us)  # type: ignore[union-attr]
        board.stimulate("pin_edge")
        out = board.session.exec_follow(30).check()
        records = board.transcript.to_records()[transcript_mark:]
        doc, member = describe(board, board.recorder.since(steps_mark), records, "raw", {"kind": "cli"}, None)
    assert [s["kind"] for s in doc["instants"]["stimuli"]][-1] == "irq"
    save(path, doc, member)
    return out


def test_pin_edge_bundle_replays_20_of_20_under_load(cache: Path, tmp_path: Path, busy: None) -> None:
    out = _pin_edge_bundle(tmp_path / "edge.mpbundle", 60)
    assert "hits 1 count " in out  # the edge reached the handler while the loop ran
    bundle = read_bundle(tmp_path / "edge.mpbundle")
    setup = prepare(bundle)
    try:
        prints = [replay_once(bundle, setup).fingerprint for _ in range(20)]
    finally:
        setup.close()
    assert prints == [bundle.fingerprint] * 20


def test_race_finds_the_lost_update_and_each_bundle_replays_its_outcome(cache: Path, tmp_path: Path) -> None:
    race = Race(find_platform("pyboard"), RMW, "pin_edge", b"go", offsets_of(600, 50))
    started = time.monotonic()
    race.sweep()
    assert time.monotonic() - started < 3600
    outputs = {o.output.strip() for o in race.outcomes.values()}
    # an edge inside the loop's read-modify-write either keeps the handler's +100 or loses it
    assert {"hits 1 count 200", "hits 1 count 100"} <= outputs, outputs
    race.record(tmp_path / "race")
    for out in race.outcomes.values():
        assert out.replayed_same, f"the fresh run of {out.offsets[0]} us gave another outcome"
        bundle = read_bundle(out.bundle)  # type: ignore[arg-type]
        setup = prepare(bundle)
        try:
            assert replay_once(bundle, setup).fingerprint == bundle.fingerprint
        finally:
            setup.close()
