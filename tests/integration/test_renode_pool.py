"""One Renode process for the run: a stopped board's Renode is cleaned, parked and lent to the next board.

Real Renode, real firmware (skipped with the platform's reason where Renode
or the firmware is missing, as in CI). Each test starts with an empty pool
and leaves none behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpbench.board import Board
from mpbench.engine import renode_pool
from mpbench.errors import EngineError
from mpbench.platform_loader import find_platform
from mpbench.repro.capture import describe
from proc_stats import cpu_share
from support import ROOT, needs

RMW = (ROOT / "examples" / "race_extint_rmw.py").read_text()


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    needs("pyboard")
    if os.environ.get("MPBENCH_TEST_BREAK_CLOCK") != "1":
        monkeypatch.delenv("MPBENCH_RENODE_CLOCK", raising=False)
    monkeypatch.delenv("MPBENCH_RENODE_SNAPSHOTS", raising=False)
    monkeypatch.delenv("MPBENCH_RENODE_POOL", raising=False)
    renode_pool.drain()
    yield
    renode_pool.drain()


def _gone(pid: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.1)
    return False


def _pid(board: Board) -> int:
    assert board.engine is not None and board.engine.process is not None
    return board.engine.process.pid


def test_a_stopped_boards_renode_rests_parked_and_the_next_board_gets_it_without_its_state(pool: None) -> None:
    platform = find_platform("pyboard")
    with Board(platform) as first:
        pid = _pid(first)
        start_us = first.engine.vt_us  # type: ignore[union-attr]
        first.exec("f = open('/flash/leak.txt', 'w'); f.write('from the first board'); f.close()").check()
        first.exec("import time; time.sleep_ms(300)").check()
        assert "leak.txt" in first.exec("import os; print(os.listdir('/flash'))").check()
    assert [rp.pid for rp in renode_pool.parked()] == [pid]
    share = cpu_share(pid, 3.0)
    assert share < 0.02, f"a parked Renode used {share:.1%} of a core"
    with Board(platform) as second:
        assert _pid(second) == pid and second.engine.reused_process  # type: ignore[union-attr]
        # the next board's time starts where the snapshot's board starts, not where the first one stopped
        assert second.engine.vt_us == start_us  # type: ignore[union-attr]
        assert second.exec("import os; print(os.listdir('/flash'))").check() == "['boot.py']\n"
        assert second.exec("print('f' in globals(), 'time' in globals())").check() == "False False\n"
    assert [rp.pid for rp in renode_pool.parked()] == [pid]


def _pin_edge_run(platform_name: str = "pyboard") -> tuple[str, str, bool]:
    """(output, transcript fingerprint, reused process?) of the lost-update script hit by a pin edge."""
    with Board(find_platform(platform_name), record=True) as board:
        assert board.recorder is not None and board.session is not None
        steps_mark, transcript_mark = board.recorder.mark(), board.transcript.mark()
        board.session.exec_start(RMW, 30)
        assert board.session.wait_for_text(b"go", 30)
        engine = board.engine
        engine.run_to(engine.vt_us + 60)  # type: ignore[union-attr]
        board.stimulate("pin_edge")
        out = board.session.exec_follow(30).check()
        records = board.transcript.to_records()[transcript_mark:]
        doc, _ = describe(board, board.recorder.since(steps_mark), records, "raw", {"kind": "cli"}, None)
        return out, doc["transcript"]["fingerprint"], bool(engine.reused_process)  # type: ignore[union-attr]


def test_a_reused_renode_gives_the_same_output_and_fingerprint_as_a_fresh_one(
    pool: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPBENCH_RENODE_POOL", "0")
    fresh = _pin_edge_run()
    assert not fresh[2] and "hits 1 count " in fresh[0]
    monkeypatch.delenv("MPBENCH_RENODE_POOL")
    with Board(find_platform("pyboard")) as warm:  # a board that ran something first, then parks its Renode
        warm.exec("x = [i * i for i in range(1000)]").check()
    reused = _pin_edge_run()
    assert reused[2]
    assert reused[:2] == fresh[:2]


def test_pyboard_then_spike_prime_in_one_renode(pool: None) -> None:
    needs("spike-prime")
    with Board(find_platform("pyboard")) as pyboard:
        pid = _pid(pyboard)
        machine = pyboard.exec("import os; print(os.uname().machine)").check()
    with Board(find_platform("spike-prime")) as hub:
        assert _pid(hub) == pid
        other = hub.exec("import os; print(os.uname().machine)").check()
        assert other != machine and "STM32F413" in other, other
    with Board(find_platform("pyboard")) as again:
        assert _pid(again) == pid
        assert again.exec("import os; print(os.uname().machine)").check() == machine


def test_free_running_boards_share_a_process_apart_from_stepped_ones(
    pool: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPBENCH_RENODE_CLOCK", "free")
    platform = find_platform("pyboard")
    with Board(platform) as first:
        pid = _pid(first)
        assert first.exec("print(6 * 7)").check() == "42\n"
    assert [rp.pid for rp in renode_pool.parked()] == [pid]
    with Board(platform) as second:
        assert _pid(second) == pid
        assert second.exec("import time; time.sleep_ms(100); print(6 * 7)").check() == "42\n"
    monkeypatch.delenv("MPBENCH_RENODE_CLOCK")
    with Board(platform) as stepped:  # the free-running one's log level and clock are not for it
        assert _pid(stepped) != pid
        assert stepped.exec("print(6 * 7)").check() == "42\n"


def test_a_renode_that_refused_a_command_or_died_or_whose_board_failed_is_never_parked(pool: None) -> None:
    platform = find_platform("pyboard")
    board = Board(platform).start()
    pid = _pid(board)
    with pytest.raises(EngineError, match="refused a monitor command"):
        board.engine._sync(['emulation RunFor "not a time"'])  # type: ignore[union-attr]
    board.stop()
    assert renode_pool.parked() == [] and _gone(pid)

    board = Board(platform).start()
    pid = _pid(board)
    os.kill(pid, signal.SIGKILL)
    board.stop()
    assert renode_pool.parked() == [] and _gone(pid)

    board = Board(platform).start()
    pid = _pid(board)
    assert board.engine is not None
    board._fail_stop()  # what Board does when a start or the recovery ladder failed
    assert renode_pool.parked() == [] and _gone(pid)


def test_the_pool_is_bounded_and_can_be_turned_off(pool: None, monkeypatch: pytest.MonkeyPatch) -> None:
    platform = find_platform("pyboard")
    monkeypatch.setenv("MPBENCH_RENODE_POOL", "1")
    a, b = Board(platform).start(), Board(platform).start()
    pids = [_pid(a), _pid(b)]
    a.stop()
    b.stop()
    # the newest is kept, the oldest stopped
    assert [rp.pid for rp in renode_pool.parked()] == pids[1:] and _gone(pids[0])
    monkeypatch.setenv("MPBENCH_RENODE_POOL", "0")
    with Board(platform) as c:  # the parked one is not used, and is stopped
        assert _pid(c) not in pids
        last = _pid(c)
    assert renode_pool.parked() == [] and _gone(pids[1]) and _gone(last)


CHILD = textwrap.dedent(
    """
    import sys, time
    from mpbench.board import Board
    from mpbench.engine import renode_pool
    from mpbench.platform_loader import find_platform
    with Board(find_platform("pyboard")) as board:
        board.exec("print(1)").check()
    rp = renode_pool.parked()[0]
    print(rp.pid, rp.dir, flush=True)
    time.sleep(120)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_no_parked_renode_outlives_mpbench_killed_with(pool: None, sig: signal.Signals) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        line = child.stdout.readline().split()
        assert line, "the child did not park a Renode"
        pid, folder = int(line[0]), Path(line[1])
        assert not _gone(pid, 0.5) and folder.is_dir()
        child.send_signal(sig)
        child.wait(60)
        assert _gone(pid), f"Renode {pid} still runs after mpbench got {sig.name}"
        assert not folder.exists(), f"{folder} is left behind"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(5)
