"""Getting source code onto a board without losing bytes.

Three ways, chosen per board and per exec:

* raw-paste (MicroPython 1.14+): the board grants windows of bytes and
  acknowledges each; mpremote's ``raw_paste_write``, byte for byte.
* direct: the whole block at once, for boards whose input buffer is large
  enough or unbounded (the host pty).
* echo window, for firmware with a tiny input ring and no raw-paste (micro:bit
  1.9.2 under QEMU keeps 63 bytes and silently drops the rest, measured).
  Paste mode echoes every byte, so keeping "sent minus echoed" below the ring
  size makes delivery lossless, and comparing the echo checks integrity.
  Paste mode compiles like the interactive prompt, so the source is pasted
  as a bytes literal into a variable and run from the raw REPL with
  ``exec``: the code keeps script semantics.
"""

from __future__ import annotations

import struct

from mpbench.console import Console
from mpbench.deadline import Deadline
from mpbench.errors import ReplProtocolError
from mpbench.session.reader import ConsoleReader

#: The variable a staged source is pasted into; removed again by the exec line.
STAGE_VAR = "_mpb_src"
PASTE_BANNER = b"paste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== "


def raw_paste_write(console: Console, reader: ConsoleReader, data: bytes, deadline: Deadline) -> None:
    """Send ``data`` in raw-paste mode after the board answered ``R\\x01``.

    The board then sends the window size (2 bytes, little-endian) and one
    ``\\x01`` per window it frees; ``\\x04`` means it stopped reading early
    (a syntax error, or Ctrl-C).
    """
    while len(reader.buf) < 2:
        reader.fill(deadline.slice(0.2))
        if deadline.expired():
            raise ReplProtocolError("raw-paste", "a 2-byte window size", bytes(reader.buf))
    window = struct.unpack("<H", bytes(reader.buf[:2]))[0]
    del reader.buf[:2]
    remaining = window
    i = 0
    while i < len(data):
        while remaining == 0 or reader.buf:
            if not reader.buf:
                reader.fill(deadline.slice(0.2))
                if deadline.expired():
                    raise ReplProtocolError("raw-paste", "a flow-control byte", bytes(reader.buf))
                continue
            b = reader.buf[0]
            del reader.buf[0]
            if b == 0x01:
                remaining += window
            elif b == 0x04:
                console.write(b"\x04")  # acknowledge the early end
                return
            else:
                raise ReplProtocolError("raw-paste", "\\x01 or \\x04", bytes([b]) + bytes(reader.buf))
        n = min(remaining, len(data) - i)
        console.write(data[i : i + n])
        i += n
        remaining -= n
    console.write(b"\x04")
    reader.read_until(b"\x04", deadline, what="the board did not acknowledge the end of the raw-paste data")


def paste_echo(data: bytes) -> bytes:
    """What paste mode echoes for ``data``: every byte, with ``\\r`` as a new ``=== `` line."""
    return data.replace(b"\r", b"\r\n=== ")


def echo_window_write(
    console: Console, reader: ConsoleReader, data: bytes, window: int, deadline: Deadline, mode: str
) -> None:
    """Send ``data`` so that never more than ``window`` bytes are unechoed, checking the echo.

    ``mode`` is ``paste`` (echo per ``paste_echo``) or ``friendly`` (plain
    echo, for a single line at the prompt).
    """
    expected = paste_echo(data) if mode == "paste" else data
    # ends[k] = length of expected echo once data[:k+1] has been echoed
    ends: list[int] = []
    pos = 0
    for b in data:
        pos += len(paste_echo(bytes([b]))) if mode == "paste" else 1
        ends.append(pos)
    sent = 0
    echoed = 0  # bytes of expected echo received and checked
    acked = 0  # bytes of data whose echo is complete
    while acked < len(data):
        if sent < len(data) and sent - acked < window:
            n = min(window - (sent - acked), len(data) - sent)
            console.write(data[sent : sent + n])
            sent += n
            continue
        if not reader.buf:
            reader.fill(deadline.slice(0.2))
            if deadline.expired():
                raise ReplProtocolError(
                    mode, f"the echo of byte {acked} of {len(data)}", bytes(reader.buf) or b"(silence)"
                )
            continue
        take = min(len(reader.buf), len(expected) - echoed)
        got = bytes(reader.buf[:take])
        want = expected[echoed : echoed + take]
        if got != want:
            raise ReplProtocolError(mode, f"the echo {want!r} (input was lost or changed)", got)
        del reader.buf[:take]
        echoed += take
        while acked < len(data) and ends[acked] <= echoed:
            acked += 1


def stage_literal(source: bytes) -> bytes:
    """The paste-mode line that stores ``source`` in ``STAGE_VAR`` using printable ASCII only."""
    return f"{STAGE_VAR}={source!r}".encode("ascii")


def staged_exec_line(line_offset: int) -> bytes:
    """The raw-REPL line that runs a staged source, its line numbers shifted by ``line_offset``."""
    pad = f"b'\\n'*{line_offset}+" if line_offset else ""
    return f"exec({pad}globals().pop('{STAGE_VAR}'))".encode()
