"""Every error mpbench raises on purpose.

One hierarchy so that the CLI and the Robot library can turn any of them into
a clear message and an exit status in one place. Each error carries the data a
person needs to act (file, key path, line, the last lines a board printed), so
nothing prints diagnostics before raising.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def printable_tail(data: bytes, max_lines: int = 12) -> str:
    """Return the last lines of console bytes, readable in an error message.

    ANSI escapes are stripped and control bytes are shown as ``\\xNN`` so the
    message shows exactly what the board sent without garbling a terminal.
    """
    data = _ANSI.sub(b"", data)
    lines = data.replace(b"\r\n", b"\n").split(b"\n")[-max_lines:]
    out = []
    for line in lines:
        text = line.decode("utf-8", "backslashreplace")
        out.append("".join(c if c.isprintable() or c == "\t" else f"\\x{ord(c):02x}" for c in text))
    return "\n".join(out)


#: Exit statuses of the CLI (documented in the README).
EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_BOARD, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class MpbenchError(Exception):
    """Base of all errors mpbench raises deliberately.

    ``exit_status`` sorts them into the CLI's classes: 2 bad input (a file,
    board name, firmware or bundle that is not what was expected), 3 the
    board or its emulator failed (a harness error, never a verdict on
    MicroPython), 1 a verdict (the code on the board raised, or did not
    finish). ``board_error`` is the same split for the Robot library.
    """

    exit_status = EXIT_INPUT

    @property
    def board_error(self) -> bool:
        """True when the bench or the emulator failed, not the MicroPython code under test."""
        return self.exit_status == EXIT_BOARD


class PlatformError(MpbenchError):
    """A platform file is missing, malformed or invalid.

    ``path`` is the file, ``key`` the dotted key path (``console.baud``) and
    ``line`` its 1-based line, so the message points at the spot to fix.
    """

    def __init__(self, path: str, message: str, key: str | None = None, line: int | None = None):
        self.path = path
        self.key = key
        self.line = line
        self.detail = message
        where = path + (f":{line}" if line else "")
        what = f"{key}: " if key else ""
        super().__init__(f"{where}: {what}{message}")


class PlatformErrors(PlatformError):
    """Several problems found in one or more platform files, reported together."""

    def __init__(self, errors: Sequence[PlatformError]):
        self.errors = list(errors)
        first = self.errors[0]
        MpbenchError.__init__(self, "\n".join(str(e) for e in self.errors))
        self.path, self.key, self.line, self.detail = first.path, first.key, first.line, first.detail


class FirmwareError(MpbenchError):
    """A firmware image cannot be found, fetched or read."""


class FirmwareHashMismatch(FirmwareError):
    """The bytes on disk are not the image the manifest names."""

    def __init__(self, path: str, expected: str, actual: str):
        self.path, self.expected, self.actual = path, expected, actual
        super().__init__(f"{path}: sha256 mismatch\n  expected {expected}\n  actual   {actual}")


class FileTooBig(MpbenchError):
    """A file to put on a board does not fit in its filesystem (bad input, exit 2); says both sizes."""


class EngineError(MpbenchError):
    """An emulator (or the host port) failed to start, or died."""

    exit_status = EXIT_BOARD

    def __init__(
        self,
        message: str,
        engine: str = "",
        argv: Sequence[str] = (),
        returncode: int | None = None,
        stderr_tail: str = "",
    ):
        self.engine, self.argv, self.returncode, self.stderr_tail = engine, list(argv), returncode, stderr_tail
        text = message
        if argv:
            text += "\n  command: " + " ".join(argv)
        if returncode is not None:
            text += f"\n  exit status: {returncode}"
        if stderr_tail:
            text += "\n  its last output:\n    " + stderr_tail.replace("\n", "\n    ")
        super().__init__(text)


class EngineUnavailable(EngineError):
    """The engine a platform needs is not installed here; callers skip, not fail."""

    exit_status = EXIT_INPUT


class BundleError(MpbenchError):
    """A repro bundle cannot be used: damaged, foreign, too new, or not replayable here.

    A bundle is input from someone else, so the message names the bundle and
    what was expected, which is what its recipient needs to ask the sender for.
    """

    def __init__(self, bundle: str, message: str):
        self.bundle, self.detail = bundle, message
        super().__init__(f"{bundle}: {message}")


class SessionError(MpbenchError):
    """The REPL conversation went wrong: a lost console, a protocol that did not answer."""

    exit_status = EXIT_BOARD


class ConsoleClosed(SessionError):
    """The console stream ended (the emulator exited or closed its socket)."""

    def __init__(self, message: str, buffer_tail: str = ""):
        self.buffer_tail = buffer_tail
        super().__init__(
            message + (f"\n  last output:\n    {buffer_tail.replace(chr(10), chr(10) + '    ')}" if buffer_tail else "")
        )


class ConsoleTimeout(SessionError):
    """Waited for something on the console that never came.

    Says what was expected, how long and on which clock it waited, and what the
    board printed last, so a hung board can be diagnosed from the message.
    """

    def __init__(self, expected: str, timeout: float, buffer_tail: str, clock: str = "host", what: str = ""):
        self.expected, self.timeout, self.buffer_tail, self.clock = expected, timeout, buffer_tail, clock
        head = what or f"no {expected!s} on the console"
        shown = buffer_tail if buffer_tail.strip() else "(nothing)"
        super().__init__(
            f"{head} after waiting {timeout:.1f} s ({clock} time)\n  last output:\n    " + shown.replace("\n", "\n    ")
        )


class BlockTimeout(ConsoleTimeout):
    """The code under test was accepted and running, and did not finish in time: a verdict."""

    exit_status = EXIT_FAILED


class ReplProtocolError(SessionError):
    """The board answered a REPL control sequence with something unexpected."""

    def __init__(self, mode: str, expected: str, got: bytes):
        self.mode, self.expected, self.got = mode, expected, got
        super().__init__(f"REPL protocol error in {mode} mode: expected {expected}, got {got[-200:]!r}")


class SourceTooLarge(SessionError):
    """The board ran out of memory taking the source in (staged on a small heap): too large for it.

    run-tests.py calls such a test "too large" and skips it; it is not a verdict on the code.
    """


@dataclass(frozen=True)
class Frame:
    """One line of a MicroPython traceback."""

    file: str
    line: int | None
    function: str


@dataclass(frozen=True)
class DeviceTraceback:
    """A traceback the board printed, as data."""

    exc_type: str
    message: str
    frames: tuple[Frame, ...] = field(default_factory=tuple)
    text: str = ""

    def __str__(self) -> str:
        return self.text or f"{self.exc_type}: {self.message}"


class DeviceError(SessionError):
    """Code on the board raised an exception; the traceback travels with it."""

    exit_status = EXIT_FAILED

    def __init__(self, traceback: DeviceTraceback, stdout: str = ""):
        self.traceback, self.stdout = traceback, stdout
        super().__init__(f"the board raised {traceback.exc_type}: {traceback.message}\n{traceback.text}".rstrip())
