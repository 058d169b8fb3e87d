"""``mpbench serve`` for real: a board's REPL on a pty, driven by mpremote and by hand.

The expected output of every script is what CPython prints for it, never
something taken from mpbench.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import emulator_pids, proc_info, wait_gone
from support import ROOT, needs

pytestmark = pytest.mark.emulator


def four_kb_script() -> str:
    """About 4 KB of order-sensitive steps that print as they go: a lost byte changes the output."""
    lines = ["acc = 0"]
    i = 0
    while sum(len(line) + 1 for line in lines) < 4000:
        lines.append(f"acc = (acc * 31 + {i}) % 1000003; print('step', {i}, acc)  # padding to a long line")
        i += 1
    lines.append("print('end', acc)")
    return "\n".join(lines) + "\n"


def cpython(script: str) -> str:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout


@contextlib.contextmanager
def served(board: str, tmp_path: Path, *extra: str) -> Iterator[str]:
    """Run ``mpbench serve`` on ``board``; yield the pty path; stop it with SIGTERM and check it cleaned up."""
    needs(board)
    link = tmp_path / f"{board}.pty"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mpbench.cli", "serve", "-p", board, "--link", str(link), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        r, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline().decode() if r else ""
        m = re.fullmatch(rf"serving {re.escape(board)} on (/dev/pts/\d+)\n", line)
        assert m, f"first line {line!r}; stderr: {proc.stderr.read1().decode() if proc.stderr else ''}"
        assert os.readlink(link) == m.group(1)
        # only serve's own: emulator_pids(parent=...) also lists this session's fixture boards
        children = [pid for pid in emulator_pids(parent=proc.pid) if (proc_info(pid) or ([], 0, 0))[1] == proc.pid]
        assert children, "no emulator runs under mpbench serve"
        yield str(link)
        assert proc.poll() is None, "serve ended while its client was using it"
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        assert not wait_gone(children, 5.0), "serve left its emulator running after SIGTERM"
        assert not link.exists() and not link.is_symlink(), "serve left its --link behind"
    finally:
        if proc.poll() is None:  # the test failed inside: still stop serve the way that stops its board
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def mpremote(pty: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", pty, *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("board", ["microbit", "unix"])
def test_mpremote_exec_and_run_of_a_4kb_script_print_exactly_what_cpython_prints(tmp_path: Path, board: str) -> None:
    script = four_kb_script()
    assert len(script) >= 4000
    expected = cpython(script)
    path = tmp_path / "big.py"
    path.write_text(script)
    with served(board, tmp_path) as pty:
        r = mpremote(pty, "exec", script)
        assert r.returncode == 0, r.stderr
        assert r.stdout.replace("\r\n", "\n") == expected
        r = mpremote(pty, "run", str(path))
        assert r.returncode == 0, r.stderr
        assert r.stdout.replace("\r\n", "\n") == expected
        # a script that raises: mpremote shows the board's traceback and fails
        r = mpremote(pty, "exec", "print('before')\nraise ValueError('bad value')\n")
        assert r.returncode == 1
        assert r.stdout.replace("\r\n", "\n").startswith("before\n")
        assert "ValueError: bad value" in r.stdout + r.stderr


class Terminal:
    """A person's terminal program on the pty: raw bytes in and out."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.buf = b""

    def read_until(self, token: bytes, timeout: float = 30.0) -> bytes:
        """Everything through the first ``token``; what came after it stays for the next read."""
        end = time.monotonic() + timeout
        while token not in self.buf and time.monotonic() < end:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                self.buf += os.read(self.fd, 65536)
        assert token in self.buf, f"no {token!r} within {timeout} s; got {self.buf[-300:]!r}"
        i = self.buf.index(token) + len(token)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def close(self) -> None:
        os.close(self.fd)


def paste(term: Terminal, script: str) -> bytes:
    """Paste ``script`` at the friendly prompt in paste mode (Ctrl-E ... Ctrl-D), as a terminal would."""
    term.write(b"\r\x03")
    term.read_until(b">>> ")
    term.write(b"\x05")
    term.read_until(b"=== ")
    term.write(script.encode().replace(b"\n", b"\r") + b"\x04")
    return term.read_until(b"end ", 60) + term.read_until(b">>> ", 10)


def last_end_line(out: bytes) -> str:
    return [ln for ln in out.decode("utf-8", "replace").replace("\r", "").splitlines() if ln.startswith("end ")][-1]


def test_a_4kb_paste_arrives_whole_on_microbit_and_is_cut_without_pacing(tmp_path: Path) -> None:
    lines = ["acc = 0"]
    i = 0
    while sum(len(line) + 1 for line in lines) < 4000:
        lines.append(f"acc = (acc * 31 + {i}) % 1000003  # padding padding padding padding padding")
        i += 1
    script = "\n".join([*lines, "print('end', acc)"]) + "\n"
    want = cpython(script).strip()
    with served("microbit", tmp_path) as pty:
        term = Terminal(pty)
        try:
            out = paste(term, script)
        finally:
            term.close()
        assert last_end_line(out) == want
        # the board echoes in paste mode: every pasted line came back, in order
        echoed = out.decode().replace("\r\n=== ", "\n")
        assert script.rstrip("\n") in echoed
    # The same paste with the pacing switched off: the 63-byte ring overflows. Whether it does
    # depends on host timing: under load it came out wrong every time, but on an idle host it
    # arrived whole in 9 and 14 of 20 tries (measured), so the loss must show within 20 tries
    # (all 20 whole at that rate: under 0.1 %). Each try is a fresh board; the first cut one ends it.
    tries = 20
    for _ in range(tries):
        if not _unpaced_paste_arrives_whole(tmp_path, script, want):
            break
    else:
        pytest.fail(f"4 KB pasted unpaced arrived whole {tries} times: the test no longer shows the loss")


def _unpaced_paste_arrives_whole(tmp_path: Path, script: str, want: str) -> bool:
    """Paste ``script`` in paste mode through ``serve --no-pacing``; whether its result came out right."""
    with served("microbit", tmp_path, "--no-pacing") as pty:
        term = Terminal(pty)
        try:
            term.write(b"\r\x03")
            term.read_until(b">>> ")
            term.write(b"\x05")
            term.read_until(b"=== ")
            term.write(script.encode().replace(b"\n", b"\r") + b"\x04")
            # The lost bytes may include the Ctrl-D itself: take whatever comes within 10 s.
            end = time.monotonic() + 10
            while b">>> " not in term.buf and time.monotonic() < end:
                r, _, _ = select.select([term.fd], [], [], 0.1)
                if r:
                    term.buf += os.read(term.fd, 65536)
            term.write(b"\x03")  # leave paste mode if it is still open
        finally:
            term.close()
    text = term.buf.decode("utf-8", "replace").replace("\r", "")
    return f"\n{want}\n" in text


@pytest.mark.parametrize("board", ["microbit", "unix"])
def test_ctrl_c_passes_through_and_a_client_that_reconnects_finds_the_board(tmp_path: Path, board: str) -> None:
    with served(board, tmp_path) as pty:
        term = Terminal(pty)
        try:
            term.write(b"\r\x03")
            term.read_until(b">>> ")
            term.write(b"n = 0\r")
            term.read_until(b">>> ")
            term.write(b"while True: n += 1\r\r")
            time.sleep(0.5)
            term.write(b"\x03")
            term.read_until(b"KeyboardInterrupt")
            term.read_until(b">>> ")
        finally:
            term.close()
        term = Terminal(pty)  # a new client: the board (and its state) is still there
        try:
            term.write(b"print(n > 0, 6 * 7)\r")
            assert b"True 42" in term.read_until(b"True 42")
        finally:
            term.close()


def test_stdio_serves_the_raw_repl_until_input_ends() -> None:
    needs("unix")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mpbench.cli", "serve", "-p", "unix", "--stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = proc.communicate(b"\r\x03\x03\r\x01print(6 * 7)\x04", timeout=60)
    # stdin ended after the block: serve stops; the block's answer came first, raw-REPL framed
    assert proc.returncode == 0, err
    assert re.search(rb"raw REPL; CTRL-B to exit\r\n>OK42\r?\n\x04\x04>", out), out
    assert b"serving unix on stdio" in err


def test_a_link_that_is_not_a_symlink_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("mine")
    r = subprocess.run(
        [sys.executable, "-m", "mpbench.cli", "serve", "-p", "unix", "--link", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert r.returncode == 2
    assert r.stderr.strip() == f"mpbench: --link {target}: exists and is not a symbolic link; not replacing it"
    assert target.read_text() == "mine"


def test_a_slow_reader_loses_no_output(tmp_path: Path) -> None:
    """The client reads 30 KB of output in small sips; the pty fills up many times and nothing is dropped."""
    with served("unix", tmp_path) as pty:
        term = Terminal(pty)
        try:
            term.write(b"\r\x03\r\x01")
            term.read_until(b"raw REPL; CTRL-B to exit\r\n>")
            term.write(b"for i in range(3000):\n    print('line', i)\n\x04")
            time.sleep(1.0)  # let the output pile up against the full pty first
            got, end = b"", time.monotonic() + 60
            while b"\x04" not in got[-4:] and time.monotonic() < end:
                r, _, _ = select.select([term.fd], [], [], 0.1)
                if r:
                    got += os.read(term.fd, 512)
                    time.sleep(0.005)
                if got.count(b"\x04") >= 2:
                    break
        finally:
            term.close()
    out = got.split(b"\x04")[0].removeprefix(b"OK").replace(b"\r\n", b"\n").decode()
    assert out == "".join(f"line {i}\n" for i in range(3000))
