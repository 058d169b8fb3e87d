"""Shared fixtures: one real board per session, and a check that no emulator outlives the tests.

``microbit`` and ``unix`` yield a started ``Board`` (skipping, with the reason
``unavailable_reason`` gives, where the board cannot run here). Every process
this test session starts inherits a marker in its environment, so the final
check finds an emulator we started even after its parent died and it was
re-parented: an emulator left running fails the session.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest

from mpbench.board import Board, unavailable_reason
from mpbench.engine import renode_pool
from mpbench.engine.process import live_processes
from mpbench.platform_loader import find_platform

#: Set in this process's environment, so every child and grandchild carries it.
MARKER_VAR = "MPBENCH_TEST_SESSION"
MARKER = f"{MARKER_VAR}={os.environ.get(MARKER_VAR) or uuid.uuid4().hex}"
os.environ[MARKER_VAR] = MARKER.split("=", 1)[1]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:  # gone, or not ours
        return b""


def proc_info(pid: int) -> tuple[list[str], int, int] | None:
    """``(argv, ppid, pgid)`` of a live process, or None if it is gone (or a zombie)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    # the command name may hold spaces and parentheses: split after the last ')'
    fields = stat[stat.rfind(b")") + 2 :].split()
    state, ppid, pgid = fields[0], int(fields[1]), int(fields[2])
    if state == b"Z":
        return None
    argv = [a.decode("utf-8", "replace") for a in _read(f"/proc/{pid}/cmdline").split(b"\0") if a]
    return argv, ppid, pgid


def is_emulator(argv: list[str]) -> bool:
    """A QEMU of any target, Renode (Mono running Renode.exe, or its pyrenode3 worker), or the unix port."""
    return (
        any("qemu-system" in os.path.basename(a) for a in argv[:1])
        or any(os.path.basename(a) == "micropython" for a in argv[:2])
        or any(os.path.basename(a) in ("Renode.exe", "renode") for a in argv[:3])
        or any(os.path.basename(a) == "renode_py3_worker.py" for a in argv[:2])  # Renode hosted by pyrenode3
    )


def emulator_pids(parent: int | None = None) -> dict[int, list[str]]:
    """Emulators started from this test session (by the environment marker), or children of ``parent``."""
    found: dict[int, list[str]] = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        info = proc_info(pid)
        if info is None or not is_emulator(info[0]):
            continue
        argv, ppid, _pgid = info
        ours = ppid == me or (parent is not None and ppid == parent)
        if not ours and parent is None:
            ours = MARKER.encode() in _read(f"/proc/{pid}/environ").split(b"\0")
        if ours:
            found[pid] = argv
    return found


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` is alive (a zombie counts as gone); the ones still alive."""
    end = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if proc_info(p) is not None]
        if not alive or time.monotonic() >= end:
            return alive
        time.sleep(0.05)


@pytest.fixture(scope="session", autouse=True)
def no_emulator_left_behind() -> Iterator[None]:
    """After the whole session: mpbench's registry is empty and no emulator we started still runs."""
    yield
    renode_pool.drain()  # what mpbench's atexit does: parked Renode processes end with the run
    registered = [p.argv for p in live_processes()]
    left = emulator_pids()
    alive = wait_gone(list(left), 3.0)
    assert not registered, f"mpbench still has processes registered after the tests: {registered}"
    assert not alive, "emulators started by the tests are still running: " + "; ".join(
        f"{p}: {' '.join(left[p])}" for p in alive
    )


def _board(name: str) -> Iterator[Board]:
    platform = find_platform(name)
    reason = unavailable_reason(platform)
    if reason:
        pytest.skip(f"{name} is not available here: {reason}")
    board = Board(platform).start()
    assert board.engine is not None
    process = getattr(board.engine, "process", None)
    pid = process.pid if process is not None else None
    try:
        yield board
    finally:
        board.stop()
    parked = {rp.pid for rp in renode_pool.parked()}  # kept, cleaned, for the next Renode board
    if pid is not None and pid not in parked:
        assert not wait_gone([pid], 3.0), f"{name}: its process {pid} still runs after Board.stop()"


@pytest.fixture(scope="session")
def microbit(no_emulator_left_behind: None) -> Iterator[Board]:
    """A started micro:bit (QEMU), shared by the session; tests leave it at the raw prompt."""
    yield from _board("microbit")


@pytest.fixture(scope="session")
def unix(no_emulator_left_behind: None) -> Iterator[Board]:
    """A started unix port, shared by the session; tests leave it at the raw prompt."""
    yield from _board("unix")


@pytest.fixture(scope="module")
def pyboard(no_emulator_left_behind: None) -> Iterator[Board]:
    """A started Pyboard (Renode), where Renode and a PYBV11 firmware are installed; else a skip."""
    yield from _board("pyboard")


@pytest.fixture(scope="module")
def esp32(no_emulator_left_behind: None) -> Iterator[Board]:
    """A started ESP32 (Espressif's QEMU), where that QEMU is installed; else a skip."""
    yield from _board("esp32")
