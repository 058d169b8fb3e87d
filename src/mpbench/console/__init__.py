"""Console streams to boards; see ``base.Console``."""

from mpbench.console.base import CTRL_C, Console
from mpbench.console.socket import SocketConsole, StreamSocketConsole, UnixSocketConsole
from mpbench.console.transcript import Transcript


def open_console(url: str) -> Console:
    """Open a console by URL, like pyserial's ``serial_for_url``.

    ``unix:///path`` and ``socket://host:port`` can be opened by URL; a pty
    console belongs to the process that owns the master side and is handed out
    by its engine.
    """
    if url.startswith("unix://"):
        return UnixSocketConsole.from_url(url)
    if url.startswith("socket://"):
        return SocketConsole.from_url(url)
    raise ValueError(f"cannot open console {url!r}: expected unix:///<path> or socket://<host>:<port>")


__all__ = [
    "CTRL_C",
    "Console",
    "SocketConsole",
    "StreamSocketConsole",
    "Transcript",
    "UnixSocketConsole",
    "open_console",
]
