"""Consoles on a stream socket: ``unix:///path`` and ``socket://host:port``.

QEMU's console is a unix socket in the engine's private folder by default:
only the user running mpbench can connect to it, where any local user (or
container sharing the network namespace) can reach a loopback TCP port. A
platform file can still ask for TCP on 127.0.0.1 for tools that speak only
TCP. On TCP, Nagle's algorithm is switched off: paced REPL traffic otherwise
waits ~40 ms per round trip (measured on micro:bit under QEMU: 44 ms against
0.3 ms); a unix socket has no such delay to switch off.

Connecting retries until the server socket appears, but asks ``alive`` (the
process that serves it) on every try: an emulator that refused its command
line is reported at once instead of after the whole connect timeout.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from mpbench.console.base import Console
from mpbench.errors import ConsoleClosed, SessionError

#: Longest path a unix socket can be bound or connected to on Linux (``sun_path`` minus its NUL).
UNIX_PATH_MAX = 107


def connect_retrying(
    family: int,
    address: str | tuple[str, int],
    url: str,
    timeout: float,
    alive: Callable[[], bool] | None = None,
) -> socket.socket:
    """Connect to a server socket that may not exist yet; give up when its process is gone.

    Raises ``ConsoleClosed`` as soon as ``alive()`` is false (the server will
    never come), ``SessionError`` once ``timeout`` seconds have passed.
    """
    end = time.monotonic() + timeout
    while True:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(max(0.05, end - time.monotonic()))
            sock.connect(address)
            return sock
        except OSError as e:
            sock.close()
            if alive is not None and not alive():
                raise ConsoleClosed(f"the process serving the console {url} exited before it could connect") from e
            if time.monotonic() >= end:
                raise SessionError(f"could not connect to the console at {url}: {e}") from e
            time.sleep(0.01)


class StreamSocketConsole(Console):
    """A connected stream socket as a console; subclasses say how to connect."""

    sock: socket.socket

    def fileno(self) -> int:
        return self.sock.fileno()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            select.select([], [self.sock], [], 1.0)
            try:
                n = self.sock.send(view)
            except BlockingIOError:
                continue
            except OSError as e:
                raise SessionError(f"console {self.url} closed while writing: {e}") from e
            view = view[n:]

    def _read(self, timeout: float) -> bytes | None:
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return b""
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return b""
        except OSError:
            return None
        return data or None

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class UnixSocketConsole(StreamSocketConsole):
    """``unix:///path``: a console on a unix socket (QEMU's ``-chardev socket,path=...``)."""

    def __init__(self, path: str | Path, connect_timeout: float = 10.0, alive: Callable[[], bool] | None = None):
        super().__init__()
        self.path = str(path)
        self.url = f"unix://{self.path}"
        if len(self.path.encode()) > UNIX_PATH_MAX:
            raise SessionError(f"console socket path {self.path} is longer than {UNIX_PATH_MAX} bytes")
        self.sock = connect_retrying(socket.AF_UNIX, self.path, self.url, connect_timeout, alive)
        self.sock.setblocking(False)

    @classmethod
    def from_url(cls, url: str) -> UnixSocketConsole:
        if not url.startswith("unix://") or not url[len("unix://") :].startswith("/"):
            raise ValueError(f"invalid console URL {url!r}: expected unix:///<absolute path>")
        return cls(url[len("unix://") :])


class SocketConsole(StreamSocketConsole):
    """``socket://host:port``: a TCP console (QEMU's TCP chardev), with Nagle's algorithm off."""

    def __init__(self, host: str, port: int, connect_timeout: float = 10.0, alive: Callable[[], bool] | None = None):
        super().__init__()
        self.url = f"socket://{host}:{port}"
        self.sock = connect_retrying(socket.AF_INET, (host, port), self.url, connect_timeout, alive)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)

    @classmethod
    def from_url(cls, url: str) -> SocketConsole:
        u = urlparse(url)
        if u.scheme != "socket" or not u.hostname or not u.port:
            raise ValueError(f"invalid console URL {url!r}: expected socket://<host>:<port>")
        return cls(u.hostname, u.port)
