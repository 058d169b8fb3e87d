"""Helpers shared by the integration tests of several boards: scripts whose result proves delivery."""

from __future__ import annotations

from collections.abc import Iterator

from mpbench.board import Board
from mpbench.session.repl import ReplMode


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
