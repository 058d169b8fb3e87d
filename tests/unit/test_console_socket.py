"""Socket consoles on real sockets: the unix one QEMU serves, URLs, and giving up when the server died."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpbench.console import SocketConsole, UnixSocketConsole, open_console
from mpbench.errors import ConsoleClosed, SessionError


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder whose socket paths fit the 107-byte limit (pytest's tmp_path can be longer)."""
    with tempfile.TemporaryDirectory(prefix="mpb-") as d:
        yield Path(d)


def echo_server(sock: socket.socket) -> threading.Thread:
    """Accept one client on ``sock`` and send back what it sends, upper-cased, until it closes."""

    def run() -> None:
        conn, _ = sock.accept()
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data.upper())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def read_exactly(console: UnixSocketConsole | SocketConsole, n: int) -> bytes:
    got = b""
    end = time.monotonic() + 30
    while len(got) < n and time.monotonic() < end:
        got += console.read(0.5) or b""
    return got


def test_a_unix_console_talks_and_names_itself_by_url(short_dir: Path) -> None:
    path = short_dir / "console.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen(1)
        echo_server(server)
        console = open_console(f"unix://{path}")
        assert isinstance(console, UnixSocketConsole)
        assert console.url == f"unix://{path}"
        console.write(b"print(1)")
        assert read_exactly(console, 8) == b"PRINT(1)"
        assert console.transcript.received() == b"PRINT(1)"
        console.close()


def test_a_tcp_console_still_opens_by_url_with_nodelay() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        echo_server(server)
        port = server.getsockname()[1]
        console = open_console(f"socket://127.0.0.1:{port}")
        assert isinstance(console, SocketConsole)
        assert console.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        console.write(b"abc")
        assert read_exactly(console, 3) == b"ABC"
        console.close()


def test_connecting_gives_up_at_once_when_the_server_process_is_gone(short_dir: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ConsoleClosed, match="exited before it could connect"):
        UnixSocketConsole(short_dir / "never.sock", connect_timeout=600.0, alive=lambda: False)
    assert time.monotonic() - started < 60.0  # not the 600 s connect timeout


def test_connecting_waits_for_a_socket_that_appears_later(short_dir: Path) -> None:
    path = short_dir / "late.sock"
    server = socket.socket(socket.AF_UNIX)

    def bind_later() -> None:
        time.sleep(0.3)
        server.bind(str(path))
        server.listen(1)
        echo_server(server)

    threading.Thread(target=bind_later, daemon=True).start()
    try:
        console = UnixSocketConsole(path, connect_timeout=60.0, alive=lambda: True)
        console.write(b"x")
        assert read_exactly(console, 1) == b"X"
        console.close()
    finally:
        server.close()


def test_a_missing_server_without_a_process_to_ask_times_out(short_dir: Path) -> None:
    with pytest.raises(SessionError, match="could not connect to the console at unix://"):
        UnixSocketConsole(short_dir / "never.sock", connect_timeout=0.2)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("unix://relative/path", "expected unix:///<absolute path>"),
        ("socket://nohost", "expected socket://<host>:<port>"),
        ("telnet://x:1", "expected unix:///<path> or socket://<host>:<port>"),
    ],
)
def test_bad_urls_say_what_was_expected(url: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        open_console(url)


def test_a_socket_path_too_long_for_unix_sockets_is_refused() -> None:
    with pytest.raises(SessionError, match="longer than 107 bytes"):
        UnixSocketConsole("/tmp/" + "x" * 120, connect_timeout=0.1)
