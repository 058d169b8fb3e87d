"""Files on the board's filesystem: written through the REPL, or baked into a boot image.

Two ways, one result. Boards that boot from a filesystem image the bench
writes itself (the Renode boards' FAT volume, ``firmware/fatimage.py``) get
the files in that image before they start; every other board, and every
file put on a board that is already running, gets them through the REPL.
Either way the board then reads each file back and prints its size and
Adler-32 checksum, which must match the host's: the micro:bit's 1.9.2
firmware has no ``hashlib`` and no ``binascii``, so the checksum is computed
in plain MicroPython, the same code on every board.

Through the REPL the data goes as ``bytes`` literals in chunks sized for the
board's ``repl.max_exec_source`` (the micro:bit's 10 KB heap cannot take one
large literal), over whatever delivery the session uses (raw-paste where the
firmware has it, the echo-checked window elsewhere). Before writing, boards
with ``os.statvfs`` say how much room they have, and a file that does not fit
is refused with both sizes; boards without it (micro:bit), or where it does not
answer (the ESP32 v1.16 image under QEMU; platform feature ``fs_statvfs``), are written until
the firmware raises ``OSError(28)`` (no space), and the half-written file is
removed before the same refusal.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from mpbench.errors import DeviceError, FileTooBig, MpbenchError, SessionError
from mpbench.session.repl import ReplSession

#: Raw bytes per chunk on boards without a source limit; the literal is at most 4x as long.
DEFAULT_CHUNK = 2048
ENOSPC = 28


class BadPutSpec(MpbenchError):
    """A ``--put LOCAL[:REMOTE]`` argument names no readable file or no usable board path."""


@dataclass(frozen=True)
class BoardFile:
    """One file to put on a board: the bytes and the path they get there."""

    remote: str
    data: bytes
    local: str = ""

    @property
    def checksum(self) -> tuple[int, int]:
        """(size, Adler-32) as the board's readback prints them."""
        return len(self.data), zlib.adler32(self.data)

    @classmethod
    def from_spec(cls, spec: str) -> BoardFile:
        """``LOCAL[:REMOTE]``: the file ``LOCAL`` on the host, stored as ``REMOTE`` (default: its name)."""
        local, sep, remote = spec.partition(":")
        if not sep:
            remote = Path(local).name
        if not local:
            raise BadPutSpec(f"--put {spec!r}: no local file named (expected LOCAL[:REMOTE])")
        return cls.from_path(Path(local), remote or Path(local).name)

    @classmethod
    def from_path(cls, path: Path, remote: str | None = None) -> BoardFile:
        remote = path.name if remote is None else remote
        if not remote or remote.endswith("/") or "\x00" in remote or "\n" in remote:
            raise BadPutSpec(f"{path}: {remote!r} is not a file path for the board")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BadPutSpec(f"{path}: no such file (expected a file to put on the board)") from None
        except IsADirectoryError:
            raise BadPutSpec(f"{path}: is a folder; put its files one by one") from None
        except OSError as e:
            raise BadPutSpec(f"{path}: cannot be read: {e.strerror or e}") from None
        return cls(remote, data, str(path))

    def describe(self) -> str:
        return f"{self.local or self.remote} ({len(self.data)} bytes)"


#: Prints the size and Adler-32 of file ``_n`` (the same arithmetic as zlib.adler32), piece by piece.
_READBACK = """\
def _mpb_sum(_n):
    _a, _b, _s = 1, 0, 0
    _f = open(_n, 'rb')
    while True:
        _d = _f.read(256)
        if not _d:
            break
        _s += len(_d)
        for _c in _d:
            _a = (_a + _c) % 65521
            _b = (_b + _a) % 65521
    _f.close()
    print('mpbsum', _s, _b * 65536 + _a)
_mpb_sum({name!r})
del _mpb_sum
"""

#: Prints the free bytes of the filesystem holding ``_n``, or -1 where the firmware cannot say.
_FREE = """\
import os
try:
    _v = os.statvfs({folder!r})
    print('mpbfree', _v[0] * _v[4], _v[0] * _v[2])
except (AttributeError, OSError):
    print('mpbfree', -1, -1)
"""


def _chunk_size(session: ReplSession) -> int:
    limit = session.platform.repl.max_exec_source
    # A bytes literal is at most 4 characters per byte, plus the call around it.
    return max(32, (limit - 40) // 4) if limit else DEFAULT_CHUNK


def free_space(session: ReplSession, remote: str, timeout: float | None = None) -> tuple[int, int] | None:
    """(free, total) bytes of the filesystem ``remote`` would land on, or None if the board cannot say."""
    folder = remote.rsplit("/", 1)[0] if "/" in remote.strip("/") else ("/" if remote.startswith("/") else "")
    out = session.exec(_FREE.format(folder=folder or "."), timeout).check()
    words = next((ln.split() for ln in out.splitlines() if ln.startswith("mpbfree")), None)
    if words is None or len(words) != 3:
        raise SessionError(f"{session.platform.name}: asking for free space printed {out!r}")
    free, total = int(words[1]), int(words[2])
    return None if free < 0 else (free, total)


def readback(session: ReplSession, remote: str, timeout: float | None = None) -> tuple[int, int]:
    """(size, Adler-32) of ``remote`` as the board reads it."""
    result = session.exec(_READBACK.format(name=remote), timeout)
    out = result.check()
    words = next((ln.split() for ln in out.splitlines() if ln.startswith("mpbsum")), None)
    if words is None or len(words) != 3:
        raise SessionError(f"{session.platform.name}: reading {remote} back printed {out!r}")
    return int(words[1]), int(words[2])


def verify(session: ReplSession, f: BoardFile, timeout: float | None = None) -> None:
    """Raise ``SessionError`` (a board error) unless the board holds exactly ``f``'s bytes."""
    try:
        got = readback(session, f.remote, timeout)
    except DeviceError as e:
        raise SessionError(f"{session.platform.name}: {f.remote} cannot be read back: {e}") from e
    if got != f.checksum:
        raise SessionError(
            f"{session.platform.name}: {f.remote} arrived damaged: the board reads {got[0]} bytes, Adler-32 "
            f"{got[1]:#010x}; the host sent {f.checksum[0]} bytes, Adler-32 {f.checksum[1]:#010x}"
        )


def write_via_repl(session: ReplSession, f: BoardFile, timeout: float | None = None) -> None:
    """Write ``f`` through the REPL in chunks, then check it on the board by size and checksum."""
    # Only where the platform file says os.statvfs answers: on the ESP32 v1.16 image under
    # QEMU it did not return in 300 s (measured), and the micro:bit has none.
    room = free_space(session, f.remote, timeout) if session.platform.has("fs_statvfs") else None
    if room is not None:
        # Replacing a file frees its blocks first; a file that was there counts as free room.
        old = session.exec(
            f"import os\ntry:\n print('mpbold', os.stat({f.remote!r})[6])\nexcept OSError:\n print('mpbold', 0)\n",
            timeout,
        ).check()
        have = room[0] + int(old.split()[-1])
        if len(f.data) > have:
            raise FileTooBig(
                f"{f.describe()} does not fit on {session.platform.name}: its filesystem has {have} bytes free "
                f"of {room[1]}"
            )
    size = _chunk_size(session)
    session.exec(f"_mpb_f = open({f.remote!r}, 'wb')", timeout).check()
    written = 0
    try:
        for i in range(0, len(f.data), size):
            result = session.exec(f"_mpb_f.write({f.data[i : i + size]!r})", timeout)
            if result.traceback is not None:
                tb = result.traceback
                if tb.exc_type == "OSError" and (str(ENOSPC) in tb.message or "ENOSPC" in tb.message):
                    raise FileTooBig(
                        f"{f.describe()} does not fit on {session.platform.name}: its filesystem was full "
                        f"after {written} bytes of it (the firmware cannot report free space beforehand)"
                    )
                result.check()
            written += len(f.data[i : i + size])
    except FileTooBig:
        session.exec(
            f"try:\n _mpb_f.close()\nexcept OSError:\n pass\ndel _mpb_f\nimport os\n"
            f"try:\n os.remove({f.remote!r})\nexcept OSError:\n pass\n",
            timeout,
        )
        raise
    session.exec("_mpb_f.close()\ndel _mpb_f", timeout).check()
    verify(session, f, timeout)


def remove(session: ReplSession, remote: str, timeout: float | None = None) -> None:
    """Delete ``remote`` from the board's filesystem if it is there."""
    session.exec(f"import os\ntry:\n os.remove({remote!r})\nexcept OSError:\n pass\n", timeout).check()
