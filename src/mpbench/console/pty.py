"""A pseudo-terminal console: the host (unix) port's, or a pty an emulator made.

The unix port runs with the pty as its controlling terminal, as in a real
terminal. It switches the terminal to raw mode itself while it reads input,
so a 0x03 byte reaches it as data; its interrupt is delivered as SIGINT,
which is what a terminal's Ctrl-C becomes (give ``pid_of``). Behind a pty an
emulator made for a UART (Renode), an interrupt is the byte 0x03.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
from collections.abc import Callable

from mpbench.console.base import Console
from mpbench.errors import SessionError


class PtyConsole(Console):
    def __init__(self, master_fd: int, slave_name: str, pid_of: Callable[[], int | None] | None = None):
        super().__init__()
        self.fd = master_fd
        self.url = f"pty://{slave_name}"
        self._pid_of = pid_of

    def reattach(self, fd: int, url: str | None = None) -> None:
        """Point this console at a new pty (the process behind it was restarted); keeps the transcript."""
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = fd
        if url:
            self.url = url

    def fileno(self) -> int:
        return self.fd

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            select.select([], [self.fd], [], 1.0)
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                continue
            except OSError as e:
                raise SessionError(f"console {self.url} closed while writing: {e}") from e
            view = view[n:]

    def _read(self, timeout: float) -> bytes | None:
        r, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not r:
            return b""
        try:
            return os.read(self.fd, 65536) or None
        except OSError as e:
            if e.errno == errno.EIO:  # the slave side closed: the port exited
                return None
            raise

    def interrupt(self) -> None:
        if self._pid_of is None:
            super().interrupt()
            return
        pid = self._pid_of()
        self.transcript.event("SIGINT")
        if pid:
            os.kill(pid, signal.SIGINT)

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
