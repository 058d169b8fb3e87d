"""The recovery ladder on real boards: a hung board costs its own test, not the ones after it.

A script that disables Ctrl-C (``kbd_intr(-1)``) and loops forever cannot be
interrupted, left in raw mode or soft-reset: only a reset of the machine or
a new emulator brings the board back. The tests check that the ladder gets
there by itself, says which rung worked, and that code runs afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mpbench.board import Board, BoardBroken
from mpbench.errors import BlockTimeout
from support import ROOT, needs

HUNG = "import micropython\nmicropython.kbd_intr(-1)\nprint('hung')\nwhile True:\n    pass\n"


def hang(board: Board) -> None:
    """Leave ``board`` running a loop that Ctrl-C cannot stop.

    On a UART board, check that Ctrl-C really does not stop it (it arrives as
    data). On the unix port Ctrl-C is SIGINT, and with the handler switched
    off the signal's default action ends the port (measured), which the
    ladder must handle too.
    """
    s = board.session
    assert s is not None
    s.exec_start(HUNG, 10.0)
    assert s.wait_for_text(b"hung", 10.0) is not None
    if board.platform.engine != "host":
        s.interrupt()
        with pytest.raises(BlockTimeout):
            s.exec_follow(1.0)  # still running: Ctrl-C was taken as data


@pytest.mark.emulator
@pytest.mark.parametrize("name", ["microbit", "unix"])
def test_the_ladder_brings_back_a_board_that_ignores_ctrl_c(name: str, no_emulator_left_behind: None) -> None:
    needs(name)
    from mpbench.platform_loader import find_platform

    with Board(find_platform(name)) as board:
        hang(board)
        rung = board.recover("a test left it in a loop with Ctrl-C disabled")
        # Ctrl-C, Ctrl-B and Ctrl-D are data to the loop: only a reset can have worked.
        assert rung in ("hard reset", "restart the emulator")
        assert board.exec("print(6 * 7)").check() == "42\n"
        events = board.transcript.render()
        assert "recovery: interrupt failed" in events
        assert f"recovery: {rung} worked" in events


@pytest.mark.emulator
def test_the_ladder_stops_at_the_first_rung_that_works(microbit: Board) -> None:
    s = microbit.session
    assert s is not None
    s.exec_start("print('looping')\nwhile True:\n    pass\n", 10.0)
    assert s.wait_for_text(b"looping", 10.0) is not None
    assert microbit.recover("a plain loop") == "interrupt"
    assert microbit.exec("print(1 + 1)").check() == "2\n"


@pytest.mark.emulator
def test_a_board_whose_emulator_cannot_come_back_is_declared_broken(no_emulator_left_behind: None) -> None:
    needs("unix")
    from mpbench.platform_loader import find_platform

    board = Board(find_platform("unix")).start()
    try:
        hang(board)
        board.engine.reset = board.engine.stop  # type: ignore[method-assign] # a reset that kills it
        board.start = _refuse  # type: ignore[method-assign] # and no new process either
        with pytest.raises(BoardBroken) as info:
            board.recover("a test")
        assert "every rung of the recovery ladder failed" in str(info.value)
        assert info.value.board_error
    finally:
        board.stop()


def _refuse() -> Board:
    from mpbench.errors import EngineError

    raise EngineError("refused for the test")


SUITE = """\
*** Settings ***
Library           mpbench.keywords.MicroPythonBench

*** Test Cases ***
A Script That Disables Ctrl-C And Loops Forever
    Start On Board
    ...    import micropython\\nmicropython.kbd_intr(-1)\\nprint('ready')\\nwhile True: pass
    ...    wait_for=ready
    Send Interrupt Character
    Wait For Board Result    timeout=2

The Next Test Runs On A Recovered Board
    ${out} =    Execute On Board    print(6 * 7)
    Should Be Equal    ${out}    42
"""


@pytest.mark.emulator
@pytest.mark.parametrize("name", ["microbit", "unix", "pyboard"])
def test_a_hung_test_is_followed_by_passing_tests_in_robot(name: str, tmp_path: Path) -> None:
    needs(name)
    suite = tmp_path / "hung.robot"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "robot", "--outputdir", str(out), "--variable", f"PLATFORMS:{name}", str(suite)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    from robot.api import ExecutionResult

    result = ExecutionResult(str(out / "output.xml"))
    status = {t.name: (t.status, t.message, list(t.tags)) for t in result.suite.tests}
    hung = status[f"A Script That Disables Ctrl-C And Loops Forever [{name}]"]
    after = status[f"The Next Test Runs On A Recovered Board [{name}]"]
    assert hung[0] == "FAIL", hung
    if name == "unix":
        # SIGINT with the handler off ends the port: a lost console, which is a board error.
        assert "board-error" in hung[2] and hung[1].startswith("Board error"), hung
    else:
        assert "board-error" not in hung[2], hung  # the script did not finish: a verdict on it
    assert after[0] == "PASS", textwrap.shorten(after[1], 500) + run.stdout[-2000:]
    log = (out / "log.html").read_text()
    assert "recovery ladder started" in log


@pytest.mark.emulator
def test_starting_a_started_board_keeps_its_one_emulator() -> None:
    """A second start() used to spawn a second port and orphan the first."""
    needs("unix")
    from mpbench.engine.process import live_processes
    from mpbench.platform_loader import find_platform

    before = len(live_processes())
    with Board(find_platform("unix")) as board:
        engine = board.engine
        board.start()
        assert board.engine is engine
        assert len(live_processes()) == before + 1
        assert board.exec("print(6 * 7)").check() == "42\n"
    assert len(live_processes()) == before
