"""Helpers shared by several test modules: the CLI as a subprocess, board skips, delivery-proving scripts.

It sits beside conftest.py, whose folder pytest puts on sys.path, so unit and
integration tests import it the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpbench.board import Board, unavailable_reason
from mpbench.platform_loader import find_platform
from mpbench.session.repl import ReplMode

ROOT = Path(__file__).resolve().parents[1]


def mpbench(
    *args: str, cwd: Path = ROOT, timeout: float = 120.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI (``python -m mpbench.cli``) with no standard input (``env``: added variables)."""
    return subprocess.run(
        [sys.executable, "-m", "mpbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env={**os.environ, **env} if env else None,
    )


def needs(name: str) -> None:
    """Skip the test, with the platform's reason, unless board ``name`` can run here."""
    reason = unavailable_reason(find_platform(name))
    if reason:
        pytest.skip(f"{name} is not available here: {reason}")


def line_of(code: str, text: str) -> int:
    """The 1-based line of ``code`` that is exactly ``text`` (the number a traceback must show)."""
    return code.splitlines().index(text) + 1


def checksum_script(n: int) -> tuple[str, int]:
    """A script of ``n`` order-sensitive steps: any lost or changed byte changes the result or breaks it."""
    lines, s = ["s = 0"], 0
    for i in range(n):
        v = (i * 7919 + 13) % 10007
        lines.append(f"s = (s * 31 + {v}) % 65521")
        s = (s * 31 + v) % 65521
    lines.append("print(s)")
    return "\n".join(lines) + "\n", s


def recovering(board: Board) -> Iterator[Board]:
    """Yield ``board``, then bring it back to the raw prompt if a test left it elsewhere."""
    yield board
    s = board.session
    if s is not None and s.mode is not ReplMode.RAW:
        s.recover()


MOUNT_FAT = """
import vfs
class _RamBlocks:
    def __init__(self, data):
        self.data = bytearray(data)
    def readblocks(self, n, buf):
        buf[:] = self.data[n * 512 : n * 512 + len(buf)]
    def writeblocks(self, n, buf):
        self.data[n * 512 : n * 512 + len(buf)] = buf
    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // 512
        if op == 5:
            return 512
        return 0
_f = open({image!r}, 'rb')
vfs.mount(vfs.VfsFat(_RamBlocks(_f.read())), '/flash')
_f.close()
"""


def mount_fat_image(image: Path) -> str:
    """MicroPython (unix port) that mounts the FAT image file ``image`` at /flash, from RAM, with its own FatFs.

    How the tests check that a generated image is one MicroPython reads,
    without a Renode board: the port's ``vfs.VfsFat`` over a RAM block device.
    """
    return MOUNT_FAT.format(image=str(image))
