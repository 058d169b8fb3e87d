"""The Pyboard v1.1 under Renode with a PYBV11 firmware: hard IRQs on a real model.

Renode and PYBV11 builds are in no package registry, so these tests run only
where the user installed Renode (``RENODE_BIN`` or PATH) and named a firmware
(``MPBENCH_FIRMWARE_PYBV11``); elsewhere they skip with the reason the
platform gives.
"""

from __future__ import annotations

import os
import time

import pytest

from mpbench.board import Board, unavailable_reason
from mpbench.platform_loader import find_platform

pytestmark = pytest.mark.emulator


def test_boots_to_the_uart_repl_moved_by_boot_py(pyboard: Board) -> None:
    assert "PYBv1.1 with STM32F405RG" in pyboard.boot_output
    assert pyboard.exec("import pyb\nprint(pyb.repl_uart())").check().startswith("UART(1")


def test_timer_frequency_follows_the_board_clocks(pyboard: Board) -> None:
    # 84 MHz / 840 / 1000 = 100 Hz: count callbacks over 500 ms of the board's own clock.
    code = (
        "import pyb\nn = [0]\ndef cb(t):\n    n[0] += 1\n"
        "t = pyb.Timer(4, prescaler=839, period=999, callback=cb)\n"
        "start = pyb.millis()\nwhile pyb.elapsed_millis(start) < 500:\n    pass\nt.deinit()\nprint(n[0])"
    )
    assert int(pyboard.exec(code, timeout=30).check()) in range(49, 52)


def test_a_hard_irq_runs_with_the_heap_locked(pyboard: Board) -> None:
    code = (
        "import pyb\nr = [None]\ndef cb(line):\n    try:\n        x = [1]\n        r[0] = 'allocated'\n"
        "    except MemoryError:\n        r[0] = 'MemoryError'\n"
        "e = pyb.ExtInt(pyb.Pin('X1'), pyb.ExtInt.IRQ_RISING, pyb.Pin.PULL_DOWN, cb)\n"
        "e.swint()\npyb.delay(20)\ne.disable()\nprint(r[0])"
    )
    assert pyboard.exec(code, timeout=30).check() == "MemoryError\n"


def test_a_pin_edge_from_renode_reaches_the_callback(pyboard: Board) -> None:
    pyboard.reset()  # an ExtInt keeps its line until a soft reset, even when disabled
    s = pyboard.session
    assert s is not None and pyboard.engine is not None
    s.exec_start(
        "import pyb\nhits = []\n"
        "e = pyb.ExtInt(pyb.Pin('X1'), pyb.ExtInt.IRQ_RISING, pyb.Pin.PULL_DOWN, lambda line: hits.append(line))\n"
        "print('ready')\nstart = pyb.millis()\n"
        "while not hits and pyb.elapsed_millis(start) < 5000:\n    pyb.delay(5)\ne.disable()\nprint(hits)"
    )
    s.read_until(b"ready")
    pyboard.engine.stimulate(["sysbus.gpioPortA OnGPIO 0 false", "sysbus.gpioPortA OnGPIO 0 true"])  # type: ignore[attr-defined]
    assert s.exec_follow(timeout=20).check().strip() == "[0]"


def test_waits_count_renode_virtual_time(pyboard: Board) -> None:
    from mpbench.errors import ConsoleTimeout

    engine = pyboard.engine
    assert engine is not None
    before = engine.virtual_time()  # type: ignore[attr-defined]
    pyboard.exec("import time\ntime.sleep_ms(200)").check()
    after = engine.virtual_time()  # type: ignore[attr-defined]
    assert before is not None and after is not None and after - before >= 0.2
    s = pyboard.session
    assert s is not None
    s.exec_start("import time\ntime.sleep_ms(3000)\n")
    with pytest.raises(ConsoleTimeout, match=r"virtual time"):
        s.read_until(b"text the board never prints", timeout=0.5)
    s.exec_follow(timeout=10)


def test_ctrl_c_over_the_uart_interrupts_a_loop(pyboard: Board) -> None:
    s = pyboard.session
    assert s is not None
    s.exec_start("print('ready')\nwhile True:\n    pass\n")
    s.read_until(b"ready")
    s.interrupt()
    r = s.exec_follow()
    assert r.traceback is not None and r.traceback.exc_type == "KeyboardInterrupt"


def test_a_hard_reset_restarts_renode_and_the_board_comes_back(pyboard: Board) -> None:
    pyboard.exec("x = 42").check()
    pid_before = pyboard.engine.process.pid  # type: ignore[union-attr]
    pyboard.reset(hard=True)
    assert pyboard.engine.process.pid != pid_before  # type: ignore[union-attr]
    r = pyboard.exec("print('x' in globals())")
    assert r.check() == "False\n"


def test_renode_is_gone_after_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    platform = find_platform("pyboard")
    if unavailable_reason(platform):
        pytest.skip(f"pyboard unavailable: {unavailable_reason(platform)}")
    monkeypatch.setenv("MPBENCH_RENODE_POOL", "0")  # no process kept for the next board (test_renode_pool.py)
    board = Board(platform).start()
    assert board.engine is not None and board.engine.process is not None
    pid = board.engine.process.pid
    workdir = board.engine.workdir
    board.stop()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"Renode (pid {pid}) still runs after stop()")
    assert not workdir.exists()


@pytest.mark.parametrize(
    "command",
    ["sysbus.gpioPortA OnGPI0 0 true", "sysbus.nosuchdevice OnGPIO 0 true", "nosuchcommand"],
    ids=["wrong-method", "wrong-device", "wrong-command"],
)
def test_a_monitor_command_renode_does_not_know_is_a_harness_error(command: str) -> None:
    """A typo in a platform file's Renode commands must not pass silently (a pin edge that never came).

    Renode 1.15.1 answers a wrong device or command with "No such command or
    device", not with its usual error line.
    """
    from mpbench.errors import EngineError

    platform = find_platform("pyboard")
    if unavailable_reason(platform):
        pytest.skip(f"pyboard unavailable: {unavailable_reason(platform)}")
    board = Board(platform).start()
    try:
        with pytest.raises(EngineError, match="Renode refused a monitor command"):
            board.engine._sync([command])  # type: ignore[union-attr]
    finally:
        board.stop()
