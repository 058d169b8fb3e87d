"""The console: one byte stream to a board, whatever is behind it.

QEMU's TCP serial, Renode's socket terminal and the host port's pty all
become a ``Console`` (pyserial's URL-handler idea), so the REPL session never
learns which emulator it talks to. Reads never block longer than asked and
every byte is recorded in the transcript.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from mpbench.console.transcript import Transcript

CTRL_C = b"\x03"


class Console(ABC):
    """A bidirectional byte stream with a transcript."""

    url: str = ""

    def __init__(self) -> None:
        self.transcript = Transcript()
        self.closed = False

    @abstractmethod
    def _write(self, data: bytes) -> None: ...

    @abstractmethod
    def _read(self, timeout: float) -> bytes | None:
        """Bytes available within ``timeout``; b"" when none came; None at end of stream."""

    @abstractmethod
    def _close(self) -> None: ...

    def fileno(self) -> int:
        """The descriptor to wait on with ``select`` for input (``mpbench serve`` waits on two ends)."""
        raise NotImplementedError(f"{type(self).__name__} has no descriptor to wait on")

    def write(self, data: bytes) -> None:
        """Send bytes to the board and record them."""
        if self.closed:
            from mpbench.errors import ConsoleClosed

            raise ConsoleClosed(f"the console {self.url} is closed (the board was stopped)")
        self.transcript.record("tx", data, self.virtual_now())
        self._write(data)

    def read(self, timeout: float) -> bytes | None:
        """Return what arrived within ``timeout`` (b"" if nothing), None once the stream ended."""
        if self.closed:
            return None  # the engine closed it (stopped or restarting): the stream has ended
        data = self._read(timeout)
        if data:
            self.transcript.record("rx", data, self.virtual_now())
        return data

    def virtual_now(self) -> float | None:
        """The emulator's virtual time to stamp traffic with, where the engine drives it (else None)."""
        return None

    def interrupt(self) -> None:
        """Deliver a keyboard interrupt the way a user at this console would (Ctrl-C)."""
        self.write(CTRL_C)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._close()
