"""Every byte that crossed a console, with its direction and time.

Kept whole so a failing test can attach it to its log and a bug bundle can
replay and compare it; rendering is separate from recording so recording
stays cheap on the hot path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["rx", "tx", "event"]


@dataclass(frozen=True)
class Chunk:
    t: float
    direction: Direction
    data: bytes
    #: Seconds of the emulator's virtual time, for engines that drive it (Renode), else None.
    vt: float | None = None


@dataclass
class Transcript:
    """An append-only log of console traffic; ``t`` is seconds since it began."""

    t0: float = field(default_factory=time.monotonic)
    chunks: list[Chunk] = field(default_factory=list)

    def record(self, direction: Direction, data: bytes, vt: float | None = None) -> None:
        if data:
            self.chunks.append(Chunk(time.monotonic() - self.t0, direction, bytes(data), vt))

    def event(self, text: str) -> None:
        """Note something that is not console data (an interrupt signal, a reset)."""
        self.record("event", text.encode())

    def extend(self, other: Transcript) -> None:
        """Append ``other``'s chunks on this transcript's clock (a restarted board's new console)."""
        shift = other.t0 - self.t0
        self.chunks += [Chunk(c.t + shift, c.direction, c.data, c.vt) for c in other.chunks]

    def received(self) -> bytes:
        """Everything the board printed, in order."""
        return b"".join(c.data for c in self.chunks if c.direction == "rx")

    def mark(self) -> int:
        """A position to render from later (see ``render(since=...)``)."""
        return len(self.chunks)

    def render(self, since: int = 0) -> str:
        """What the board printed, with what was sent shown inline as ``«…»``.

        Reads like a terminal session, but keeps input visible even where the
        firmware does not echo it (raw REPL), which is what a reader of a
        failing test's log needs.
        """
        out: list[str] = []
        for c in self.chunks[since:]:
            text = c.data.decode("utf-8", "backslashreplace")
            if c.direction == "rx":
                out.append(_visible(text, keep_newlines=True))
            elif c.direction == "tx":
                out.append("«" + _visible(text, keep_newlines=False) + "»")
            else:
                out.append(f"\n[{c.t:8.3f} s] {text}\n")
        return "".join(out).replace("\r\n", "\n")

    def to_records(self) -> list[dict[str, object]]:
        """JSON-ready records (bytes as latin-1 text) for bundles."""
        out: list[dict[str, object]] = []
        for c in self.chunks:
            rec: dict[str, object] = {"t": round(c.t, 6), "dir": c.direction, "data": c.data.decode("latin-1")}
            if c.vt is not None:
                rec["vt"] = round(c.vt, 6)
            out.append(rec)
        return out


_NAMES = {0x01: "^A", 0x02: "^B", 0x03: "^C", 0x04: "^D", 0x05: "^E"}


def _visible(text: str, keep_newlines: bool) -> str:
    out = []
    for ch in text:
        o = ord(ch)
        if ch in "\r\n\t" and keep_newlines:
            out.append(ch)
        elif o in _NAMES:
            out.append(_NAMES[o])
        elif ch == "\n":
            out.append("\\n")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        else:
            out.append(ch)
    return "".join(out)
