"""Buffered reads from a console that always say why they stopped.

``read_until`` returns the bytes through the match or raises
``ConsoleTimeout`` / ``ConsoleClosed`` carrying what the board printed last;
it never returns quietly on a timeout (mpremote's ``read_until`` does).
"""

from __future__ import annotations

import re

from mpbench.console import Console
from mpbench.deadline import Deadline
from mpbench.errors import ConsoleClosed, ConsoleTimeout, printable_tail

Pattern = bytes | re.Pattern[bytes]


class ConsoleReader:
    """Holds received bytes not yet consumed by the protocol."""

    def __init__(self, console: Console):
        self.console = console
        self.buf = bytearray()

    def fill(self, wait: float) -> int:
        """Read what arrives within ``wait`` seconds into the buffer; the number of new bytes."""
        data = self.console.read(wait)
        if data is None:
            raise ConsoleClosed("the console closed (the board or its emulator exited)", self.tail())
        self.buf += data
        return len(data)

    def tail(self, max_lines: int = 12) -> str:
        """The last lines the board printed, for error messages."""
        return printable_tail(self.console.transcript.received()[-4000:], max_lines)

    def find(self, pattern: Pattern) -> tuple[int, int] | None:
        if isinstance(pattern, bytes):
            i = self.buf.find(pattern)
            return None if i < 0 else (i, i + len(pattern))
        m = pattern.search(self.buf)
        return None if m is None else (m.start(), m.end())

    def read_until(self, pattern: Pattern, deadline: Deadline, what: str = "") -> bytes:
        """Consume and return everything through the first match of ``pattern``."""
        while True:
            span = self.find(pattern)
            if span is not None:
                out = bytes(self.buf[: span[1]])
                del self.buf[: span[1]]
                return out
            if deadline.expired():
                shown = pattern if isinstance(pattern, bytes) else pattern.pattern
                raise ConsoleTimeout(
                    repr(shown), deadline.timeout or 0.0, self.tail(), clock=deadline.clock.name, what=what
                )
            self.fill(deadline.slice(0.2))

    def read_quiet(self, quiet: float, deadline: Deadline) -> bytes:
        """Consume what arrives until the board is silent for ``quiet`` seconds (or the deadline)."""
        while not deadline.expired():
            if self.fill(deadline.slice(quiet)) == 0:
                break
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def take(self) -> bytes:
        """Consume everything buffered."""
        out = bytes(self.buf)
        self.buf.clear()
        return out
