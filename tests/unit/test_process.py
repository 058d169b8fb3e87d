"""Child-process bookkeeping: signals while the registry is held, and spawn failures that leak nothing."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpbench.engine.process import ManagedProcess, live_processes

SIGTERM_WHILE_LOCKED = """
import os, signal
from mpbench.engine import process
process.install_signal_handlers()
try:
    with process._LOCK:  # the main thread is inside the registry when SIGTERM lands
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0.1) if hasattr(signal, "sigtimedwait") else None
except SystemExit as e:
    print("unwound", e.code)
"""


def test_sigterm_while_the_registry_lock_is_held_unwinds_instead_of_deadlocking() -> None:
    run = subprocess.run([sys.executable, "-c", SIGTERM_WHILE_LOCKED], capture_output=True, text=True, timeout=30)
    assert run.stdout.strip() == "unwound 143", run.stdout + run.stderr


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_a_program_that_cannot_be_started_leaves_no_open_log_and_no_registry_entry(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-emulator")
    before = _open_fds()
    with pytest.raises(FileNotFoundError) as info:
        ManagedProcess([missing], tmp_path / "emulator.log")
    # The traceback keeps the half-made object alive, so only an explicit close frees the log.
    assert info.value is not None
    assert _open_fds() == before
    assert not [p for p in live_processes() if p.argv == [missing]]


def test_stop_kills_and_forgets_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    p = ManagedProcess(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"],
        tmp_path / "stubborn.log",
    )
    before = _open_fds()
    p.stop(grace=0.5)
    assert not p.alive()
    assert p not in live_processes()
    assert len(_open_fds()) < len(before)  # the log file was closed


ORPHAN = """
import sys, time
from pathlib import Path
from mpbench.engine.process import ManagedProcess
p = ManagedProcess(["sleep", "300"], Path(sys.argv[1]))
print(p.pid, flush=True)
time.sleep(300)
"""


def _gone(pid: int, within: float) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return True
        if state == "Z":  # killed, waiting to be reaped by init
            return True
        time.sleep(0.05)
    return False


def test_a_child_dies_with_mpbench_even_when_mpbench_is_sigkilled(tmp_path: Path) -> None:
    """SIGKILL runs no handler and no atexit: only the parent-death signal can take the child down."""
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, str(tmp_path / "child.log")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not _gone(child, 0.3), "the child did not start"
        parent.kill()
        parent.wait(10)
        assert _gone(child, 10.0), f"process {child} outlived its SIGKILLed parent"
    finally:
        parent.kill()
        with contextlib.suppress(NameError, ProcessLookupError):
            os.kill(child, 9)
