"""What /proc says about a process: its CPU time, its sockets, its open files.

Tests use it to check what a person would check by hand (``top``, ``ss``,
``ls -l /proc/PID/fd``): that a paused emulator costs no CPU, that nothing
listens on the network, that no file is left open.
"""

from __future__ import annotations

import os
import time

TICKS = os.sysconf("SC_CLK_TCK")


def socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process ``pid`` has open."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def inet_listeners(pid: int) -> list[tuple[str, str]]:
    """``(table, local address)`` of every TCP socket in LISTEN state and UDP socket ``pid`` owns."""
    mine = socket_inodes(pid)
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if inode in mine and (table.startswith("udp") or state == "0A"):
                    found.append((table, local))
    return found


def open_files() -> list[str]:
    """What this process's file descriptors point at."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # the descriptor listdir itself used, already closed
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time process ``pid`` (all its threads) has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_share(pid: int, seconds: float) -> float:
    """Share of one core process ``pid`` used over the next ``seconds`` of wall time."""
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - started)
