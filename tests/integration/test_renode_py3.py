"""The pyrenode3 Renode driver (``MPBENCH_RENODE_DRIVER=pyrenode3``).

Its reasons for being unavailable are checked everywhere (CI has neither
pythonnet nor pyrenode3 nor Renode): the worker's probe runs for real, with
an interpreter that lacks the modules, or with empty stand-in packages so the
probe gets as far as looking for Renode. Booting the Pyboard through it runs
only where pyrenode3, Mono, a Renode build and a PYBV11 firmware are
installed (see the README's pyrenode3 section); elsewhere it skips with the
reason the platform gives.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpbench.board import Board, unavailable_reason
from mpbench.engine import engine_class
from mpbench.engine.renode_py3 import DRIVER_VAR, PYTHON_VAR, PyRenode3Engine
from mpbench.errors import EngineUnavailable, MpbenchError
from mpbench.platform_loader import find_platform


def _stand_in_packages(tmp_path: Path) -> Path:
    """Empty packages named like pyrenode3's: enough for a probe that only looks them up."""
    for name in ("pythonnet", "clr_loader", "pyrenode3"):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "__init__.py").write_text("raise ImportError('a stand-in: never imported')\n")
    return tmp_path


def test_the_monitor_driver_stays_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DRIVER_VAR, raising=False)
    assert engine_class("renode").__name__ == "RenodeEngine"
    monkeypatch.setenv(DRIVER_VAR, "pyrenode3")
    assert engine_class("renode") is PyRenode3Engine
    assert engine_class("qemu").__name__ != "PyRenode3Engine"  # only the Renode engine has a second driver
    monkeypatch.setenv(DRIVER_VAR, "monitor")
    assert engine_class("renode").__name__ == "RenodeEngine"


def test_an_unknown_driver_is_bad_input_naming_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DRIVER_VAR, "telnet")
    with pytest.raises(MpbenchError, match=r"MPBENCH_RENODE_DRIVER='telnet': expected one of monitor, pyrenode3") as e:
        engine_class("renode")
    assert e.value.exit_status == 2


def test_without_pythonnet_and_pyrenode3_the_reason_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # An interpreter with only the standard library (-S: no site-packages), as in CI.
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    python.chmod(0o755)
    monkeypatch.setenv(PYTHON_VAR, str(python))
    reason = PyRenode3Engine.unavailable_reason(find_platform("pyboard"))
    assert reason is not None
    assert "has no pythonnet, clr_loader, pyrenode3" in reason
    assert PYTHON_VAR in reason and "https://github.com/antmicro/pyrenode3" in reason


def test_a_python_that_is_not_there_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(PYTHON_VAR, str(tmp_path / "no-python"))
    reason = PyRenode3Engine.unavailable_reason(find_platform("pyboard"))
    assert reason is not None and f"{PYTHON_VAR}={tmp_path / 'no-python'} is not an executable file" in reason


def test_with_the_modules_but_no_renode_build_the_reason_names_the_missing_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(PYTHON_VAR, sys.executable)
    monkeypatch.setenv("PYTHONPATH", str(_stand_in_packages(tmp_path / "site")))
    monkeypatch.setenv("PYRENODE_RUNTIME", "coreclr")  # not Mono: the probe skips looking for libmono
    monkeypatch.setenv("PYRENODE_BUILD_DIR", str(tmp_path / "renode"))
    for var in ("PYRENODE_PKG", "PYRENODE_BIN", "PYRENODE_BUILD_OUTPUT"):
        monkeypatch.delenv(var, raising=False)
    reason = PyRenode3Engine.unavailable_reason(find_platform("pyboard"))
    assert reason == (
        f"pyrenode3 driver ({DRIVER_VAR}=pyrenode3): PYRENODE_BUILD_DIR={tmp_path / 'renode'}: "
        f"no {tmp_path / 'renode' / 'output/bin/Release/Renode.dll'} (build Renode there first)"
    )
    monkeypatch.setenv("PYRENODE_PKG", str(tmp_path / "renode.pkg.tar.xz"))
    reason = PyRenode3Engine.unavailable_reason(find_platform("pyboard"))
    assert reason is not None and "set only one of PYRENODE_PKG, PYRENODE_BUILD_DIR, PYRENODE_BIN" in reason


def test_a_board_skips_with_the_driver_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DRIVER_VAR, "pyrenode3")
    monkeypatch.setenv(PYTHON_VAR, str(tmp_path / "no-python"))
    reason = unavailable_reason(find_platform("pyboard"))
    assert reason is not None and "pyrenode3 driver" in reason and "is not an executable file" in reason
    with pytest.raises(EngineUnavailable, match="pyrenode3 driver"):
        Board(find_platform("pyboard")).start()


# -- booting through it, where it is installed ------------------------------------------------


@pytest.fixture(scope="module")
def py3board(no_emulator_left_behind: None) -> Iterator[Board]:
    saved = os.environ.get(DRIVER_VAR)
    os.environ[DRIVER_VAR] = "pyrenode3"
    try:
        platform = find_platform("pyboard")
        reason = unavailable_reason(platform)
        if reason:
            pytest.skip(f"pyboard through pyrenode3 is not available here: {reason}")
        board = Board(platform).start()
        try:
            yield board
        finally:
            board.stop()
    finally:
        if saved is None:
            os.environ.pop(DRIVER_VAR, None)
        else:
            os.environ[DRIVER_VAR] = saved


def _engine(board: Board) -> PyRenode3Engine:
    assert isinstance(board.engine, PyRenode3Engine)
    return board.engine


@pytest.mark.emulator
def test_pyboard_boots_to_its_repl_through_pyrenode3(py3board: Board) -> None:
    assert "PYBv1.1 with STM32F405RG" in py3board.boot_output
    assert py3board.exec("print(6 * 7)").check() == "42\n"
    engine = _engine(py3board)
    assert engine.version().startswith("Renode v1.")
    assert engine.process is not None and "renode_py3_worker.py" in " ".join(engine.process.argv)


@pytest.mark.emulator
def test_every_received_byte_carries_the_virtual_time_it_was_written(py3board: Board) -> None:
    engine, session = _engine(py3board), py3board.session
    assert session is not None

    def gap(loops: int) -> int:
        """Virtual µs between two markers printed around a fixed loop."""
        mark = len(engine.rx_data)
        session.exec(f"print('<A>')\nfor i in range({loops}):\n    pass\nprint('<B>')").check()
        a = engine.rx_data.index(b"<A>", mark)
        return engine.rx_times[engine.rx_data.index(b"<B>", a)] - engine.rx_times[a]

    once, again, double = gap(2000), gap(2000), gap(4000)
    assert len(engine.rx_times) == len(engine.rx_data)
    assert list(engine.rx_times) == sorted(engine.rx_times)
    # The same instructions take the same virtual time, to a few microseconds (Renode counts
    # whole µs, and the 1 ms SysTick interrupt, about 6 µs of handler, may land once more in
    # one run than in the other), and twice the loop twice as long: stamps taken when the
    # host sees the bytes would be off by milliseconds.
    assert abs(once - again) <= 20, (once, again)
    assert once > 1000 and abs(double - 2 * once) < 0.05 * once, (once, double)


@pytest.mark.emulator
def test_pause_on_stops_the_board_at_the_byte_that_completes_the_pattern(py3board: Board) -> None:
    engine, session = _engine(py3board), py3board.session
    assert session is not None
    engine.pause_on(b"<P>")
    session.exec_start("import pyb\nt0 = pyb.millis()\nprint('<P>')\nprint(pyb.elapsed_millis(t0))\n")
    hit, _ = engine.wait_paused(30)
    time.sleep(0.5)
    assert engine.rx_data.endswith(b"<P>")  # not even the newline after it was printed
    assert engine.rx_times[-1] == hit
    frozen = engine.virtual_time()
    time.sleep(0.3)
    assert engine.virtual_time() == frozen  # paused: virtual time stands still
    engine.resume()
    marker, elapsed = session.exec_follow(timeout=30).check().split()
    # The board's own clock saw no pause and no leap (Renode 1.15.1 leapt 42.95 s when the
    # time was synced in the same callback that paused).
    assert marker == "<P>" and int(elapsed) < 5


@pytest.mark.emulator
def test_a_crashed_worker_is_a_board_error_and_reset_brings_the_board_back(py3board: Board) -> None:
    engine = _engine(py3board)
    assert engine.process is not None
    # The worker dies as after a crash of the hosted Mono runtime. (Not SIGSEGV: Mono's own
    # handler then spends seconds printing native stacks before it aborts.)
    os.kill(engine.process.pid, signal.SIGKILL)
    with pytest.raises(MpbenchError) as info:
        py3board.exec("print(1)", timeout=10)
    assert info.value.exit_status == 3, f"a dead worker must be a board error, got {info.value!r}"
    py3board.reset(hard=True)
    assert py3board.exec("print(1)").check() == "1\n"
