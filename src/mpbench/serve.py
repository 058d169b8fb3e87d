"""``mpbench serve``: lend a running board's REPL, with a real board's flow control, to other tools.

A board is booted once and its console is offered as a pseudo-terminal (or
on standard input/output, for ``run-tests.py -t exec:...``), so mpremote,
pyboard.py, Thonny or a terminal program talk to it as to a board on USB.
What a real board's USB serial gives and an emulated UART does not is flow
control: the host cannot send faster than the board reads. The micro:bit
under QEMU drops what overflows its 63-byte ring (shared/boards.md), and the
Renode UARTs overflow the firmware's ``rxbuf``. The bridge gives it back
without changing what the client sees:

* Bytes of the client wait in the pty (the client's ``write`` blocks there,
  as on USB) until the board can take them.
* At the friendly prompt, in paste mode and while a block runs, at most
  ``window`` bytes are sent and not yet echoed (``delivery``'s rule); an
  unechoed byte counts as read after ``ECHO_FALLBACK`` seconds of silence
  (a running program that reads input without echoing it).
* In the raw REPL nothing is echoed, so a block is held until the client's
  Ctrl-D and then delivered the way ``ReplSession`` delivers its own: in one
  write when it fits the window, in raw-paste mode where the firmware has
  it, else staged through paste mode in chunks of whole statements (the
  micro:bit's 10 KB heap). The board's answer reaches the client as if the
  block had been sent in one piece: ``OK``, the output as it comes, ``\\x04``,
  the error text, ``\\x04>``.
* A raw-paste request of the client is passed through: the firmware paces it.
* Control bytes (Ctrl-A to Ctrl-E) never wait behind a window.

Boards without an input limit (the unix port) get every byte at once. The
unix port exits on Ctrl-D instead of soft-resetting; the bridge restarts it
and prints what a board prints on a soft reset, so clients that reset first
(mpremote does) keep working. No REPL logic lives here beyond recognising
the modes: staging and raw-paste are ``ReplSession``'s and ``delivery``'s.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import select
import termios
import time
import tty
from pathlib import Path

from mpbench.board import Board
from mpbench.deadline import Deadline
from mpbench.errors import ConsoleClosed, MpbenchError, SessionError
from mpbench.session import delivery
from mpbench.session.repl import (
    CTRL_A,
    CTRL_B,
    CTRL_C,
    CTRL_D,
    RAW_BANNER,
    ReplMode,
    ReplSession,
    _drop_wrapper_frame,
    _split_statements,
)

log = logging.getLogger(__name__)

#: Seconds without an echo after which unechoed bytes count as read (a program reading raw input).
ECHO_FALLBACK = 0.5
#: Seconds the bridge waits for the raw banner after forwarding Ctrl-A before it reads on.
RAW_ANSWER_WAIT = 2.0
#: Seconds a connected client may leave the board's output unread before it counts as gone.
CLIENT_STALL = 2.0
#: After the client's input ends (stdio): seconds of board silence that end the serving, and the most to wait.
END_QUIET, END_WAIT = 0.3, 30.0
#: What a board prints on a soft reset (stm32's spelling; mpremote waits for ``soft reboot\r\n``).
SOFT_REBOOT_LINE = b"MPY: soft reboot\r\n"
#: Bytes that always go at once: Ctrl-A to Ctrl-E switch modes, interrupt or end a block.
CONTROL = frozenset(range(0x01, 0x06))
#: The end of a raw-REPL block's answer: error text between two \x04, then the raw prompt.
_BLOCK_END = re.compile(rb"\x04[^\x04]*\x04>")
_FRIENDLY_BANNER = re.compile(rb"for more information\.\r\n>>> ")


class ClientEnd:
    """Where the client is: a pty whose other end tools open, or this process's stdin/stdout."""

    read_fd: int
    write_fd: int
    path: str = ""

    def read(self) -> bytes | None:
        """What the client wrote (b"" if nothing), None when it is gone for good."""
        try:
            return os.read(self.read_fd, 4096)
        except BlockingIOError:
            return b""

    def write(self, data: bytes) -> None:
        """Hand ``data`` to the client, waiting while it reads slowly (as a USB host would make a board wait).

        Only a client that takes nothing for ``CLIENT_STALL`` seconds is taken
        to be absent: what it has not read is then dropped (a pty end).
        """
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.write_fd, view)
            except BlockingIOError:
                _, w, _ = select.select([], [self.write_fd], [], CLIENT_STALL)
                if not w and self._drop_unread():
                    log.warning("serve: nobody read %s for %g s; dropped what was unread", self.path, CLIENT_STALL)
                continue
            view = view[n:]

    def _drop_unread(self) -> bool:
        return False

    def close(self) -> None: ...


class PtyClientEnd(ClientEnd):
    """A pty pair; this process keeps the slave open so clients can come and go.

    While nobody is connected the board's output collects in the slave's
    input queue; when that stays full for ``CLIENT_STALL`` seconds it is
    dropped (pyserial flushes it on open anyway), so a board that prints with
    nobody listening stalls only briefly. A slow reader loses nothing.
    """

    def __init__(self, link: Path | None = None):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no line editing, no CR/LF rewriting: bytes as they are
        attrs = termios.tcgetattr(self.slave)
        attrs[1] &= ~termios.OPOST
        termios.tcsetattr(self.slave, termios.TCSANOW, attrs)
        os.set_blocking(self.master, False)
        self.read_fd = self.write_fd = self.master
        self.path = os.ttyname(self.slave)
        self.link = link
        if link is not None:
            if link.is_symlink():
                link.unlink()
            elif link.exists():
                self.close()
                raise MpbenchError(f"--link {link}: exists and is not a symbolic link; not replacing it")
            try:
                link.symlink_to(self.path)
            except OSError as e:
                self.close()
                raise MpbenchError(f"--link {link}: cannot create the link: {e.strerror or e}") from None

    def read(self) -> bytes | None:
        try:
            return os.read(self.master, 4096)
        except BlockingIOError:
            return b""
        except OSError as e:
            if e.errno == errno.EIO:  # cannot happen while the slave is held open; be safe
                return b""
            raise

    def _drop_unread(self) -> bool:
        termios.tcflush(self.slave, termios.TCIFLUSH)
        return True

    def close(self) -> None:
        if self.link is not None and self.link.is_symlink() and os.readlink(self.link) == self.path:
            self.link.unlink()
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class StdioClientEnd(ClientEnd):
    """Standard input and output (``--stdio``): the end of input ends the serving."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = 0, 1
        self.path = "stdio"

    def read(self) -> bytes | None:
        try:
            return os.read(self.read_fd, 4096) or None
        except BlockingIOError:
            return b""


class Bridge:
    """Copy bytes between a client and a board's console, pacing them as the board needs.

    ``pacing=False`` sends the client's bytes as they come (to show what the
    pacing prevents: on micro:bit, lost input).
    """

    def __init__(self, board: Board, client: ClientEnd, pacing: bool = True):
        self.board = board
        self.client = client
        session = board.session
        if session is None:
            raise SessionError(f"{board.name} is not running")
        self.session: ReplSession = session
        self.window = session.window if pacing else None
        self.pending = bytearray()  # client bytes not yet given to the board
        self.mode = "friendly"  # friendly | await-raw | raw | raw-paste-ask | raw-paste | running
        self.block = bytearray()  # a raw-REPL block being collected
        self.unechoed = bytearray()  # sent, not yet seen echoed (paced modes)
        self.last_progress = time.monotonic()
        self.mode_since = time.monotonic()
        self.seen = bytearray()  # board output since the mode changed (to recognise answers)
        self.onlcr = board.platform.engine == "host"
        self._last_cr = False

    # -- the loop ----------------------------------------------------------------
    def run(self) -> None:
        """Serve until the client end closes (stdio) or the process is interrupted."""
        ended: float | None = None  # when the client's input ended
        last_output = time.monotonic()
        while True:
            board_fd = self.session.console.fileno()
            want_client = ended is None and self.mode not in ("await-raw", "raw-paste-ask") and len(self.pending) < 4096
            fds = [board_fd] + ([self.client.read_fd] if want_client else [])
            r, _, _ = select.select(fds, [], [], 0.05)
            if board_fd in r or self.session.reader.buf:
                self._from_board()
                last_output = time.monotonic()
            if self.client.read_fd in r:
                data = self.client.read()
                if data is None:
                    ended = time.monotonic()
                else:
                    self.pending += data
            self._tick()
            self._to_board()
            if ended is not None and not self.pending:
                # Input ended (stdio): let the board answer what it was sent, then stop.
                now = time.monotonic()
                quiet = now - last_output > END_QUIET and self.mode not in ("running", "await-raw")
                if quiet or now - ended > END_WAIT:
                    return

    def _tick(self) -> None:
        now = time.monotonic()
        if self.unechoed and now - self.last_progress > ECHO_FALLBACK:
            self.unechoed.clear()
        if self.mode in ("await-raw", "raw-paste-ask") and now - self.mode_since > RAW_ANSWER_WAIT:
            self._set_mode("friendly" if self.mode == "await-raw" else "raw")

    def _set_mode(self, mode: str) -> None:
        if mode != self.mode:
            log.debug("serve: %s -> %s", self.mode, mode)
        self.mode = mode
        self.mode_since = time.monotonic()
        self.seen.clear()

    # -- board to client -----------------------------------------------------------
    def _read_board(self) -> bytes:
        try:
            self.session.reader.fill(0)
        except ConsoleClosed:
            self._board_exited()
            return b""
        return self.session.reader.take()

    def _from_board(self) -> None:
        data = self._read_board()
        if not data:
            return
        self.client.write(self._onlcr(data))
        self._acknowledge(data)
        self.seen += data
        if self.mode in ("friendly", "await-raw", "running") and RAW_BANNER in self.seen:
            self._set_mode("raw")
        elif self.mode == "raw-paste-ask":
            if b"R\x01" in self.seen:
                self._set_mode("raw-paste")
            elif b"R\x00" in self.seen or RAW_BANNER in self.seen:
                self._set_mode("raw")
        elif self.mode == "running" and _BLOCK_END.search(self.seen):
            self._set_mode("raw")
        if self.mode == "running" and _FRIENDLY_BANNER.search(self.seen):
            self._set_mode("friendly")  # the block reset the machine
        del self.seen[:-8192]

    def _onlcr(self, data: bytes) -> bytes:
        """The unix port writes bare ``\n`` (its pty does no output processing); boards send ``\r\n``.

        Translated as a terminal's ONLCR would, so clients that check line ends
        (run-tests.py looks for ``START TEST\r\n``) see what a board sends.
        """
        if not self.onlcr:
            return data
        out = re.sub(rb"(?<!\r)\n", b"\r\n", data)
        if data[:1] == b"\n" and self._last_cr:
            out = out[1:]  # its \r came at the end of the previous chunk
        self._last_cr = data[-1:] == b"\r"
        return out

    def _acknowledge(self, data: bytes) -> None:
        """Count the echo: each unechoed byte met in order in the board's output was read."""
        if not self.unechoed:
            return
        i = 0
        for b in data:
            if i < len(self.unechoed) and self.unechoed[i] == b:
                i += 1
        if i:
            del self.unechoed[:i]
            self.last_progress = time.monotonic()

    def _board_exited(self) -> None:
        """The console ended: the unix port exits on Ctrl-D; restart it as a soft reset would."""
        if self.board.platform.repl.soft_reset != "restart":
            raise ConsoleClosed(f"{self.board.name}: the console closed (the emulator exited)")
        was_raw = self.mode != "friendly"
        self.board._hard_reset()
        if was_raw:
            self.session.goto(ReplMode.RAW, Deadline(self.board.timeout, self.session.clock))
            self.client.write(SOFT_REBOOT_LINE + RAW_BANNER)
            self._set_mode("raw")
        else:
            self.client.write(SOFT_REBOOT_LINE + self.board.boot_output.encode().replace(b"\n", b"\r\n"))
            self._set_mode("friendly")
        self.block.clear()
        self.unechoed.clear()

    # -- client to board -----------------------------------------------------------
    def _write(self, data: bytes) -> None:
        self.session.console.write(data)

    def _to_board(self) -> None:
        while self.pending:
            if self.window is None:
                self._track_unpaced(bytes(self.pending))
                self._write(bytes(self.pending))
                self.pending.clear()
                return
            if self.mode in ("await-raw", "raw-paste-ask"):
                return
            if self.mode == "raw-paste":
                self._raw_paste_passthrough()
                continue
            if self.mode == "raw":
                if not self._raw_byte():
                    return
                continue
            # friendly, paste, running: paced by the echo
            b = self.pending[0]
            if b in CONTROL:
                del self.pending[0]
                self._write(bytes([b]))
                if b == CTRL_A[0] and self.mode == "friendly":
                    self._set_mode("await-raw")
                continue
            room = self.window - len(self.unechoed)
            if room <= 0:
                return
            n = 0
            while n < min(room, len(self.pending)) and self.pending[n] not in CONTROL:
                n += 1
            chunk = bytes(self.pending[:n])
            del self.pending[:n]
            if not self.unechoed:
                self.last_progress = time.monotonic()
            self.unechoed += chunk
            self._write(chunk)

    def _track_unpaced(self, data: bytes) -> None:
        """Without pacing only the raw/friendly mode is followed (for the unix port's restart)."""
        if CTRL_A in data:
            self._set_mode("raw")
        if CTRL_B in data:
            self._set_mode("friendly")

    def _raw_paste_passthrough(self) -> None:
        """The firmware grants windows: pass through up to the end of the data (Ctrl-D)."""
        i = self.pending.find(CTRL_D)
        if i < 0:
            self._write(bytes(self.pending))
            self.pending.clear()
            return
        self._write(bytes(self.pending[: i + 1]))
        del self.pending[: i + 1]
        self._set_mode("running")

    def _raw_byte(self) -> bool:
        """Take one byte of the client in the raw REPL; False when it must wait."""
        b = self.pending[0]
        del self.pending[0]
        if b == CTRL_A[0]:
            if bytes(self.block) == b"\x05A":  # a raw-paste request
                self._write(b"\x05A\x01")
                self._set_mode("raw-paste-ask")
            else:
                self._write(CTRL_A)  # the board discards its line and prints its banner again
            self.block.clear()
        elif b == CTRL_B[0]:
            self.block.clear()
            self._write(CTRL_B)
            self._set_mode("friendly")
        elif b == CTRL_C[0]:
            self.block.clear()
            self._write(CTRL_C)
        elif b == CTRL_D[0]:
            block = bytes(self.block)
            self.block.clear()
            if not block:
                self._write(CTRL_D)  # soft reset: the board answers and stays in the raw REPL
            else:
                self._deliver(block)
        else:
            self.block.append(b)
        return True

    # -- delivering a raw-REPL block -----------------------------------------------------
    def _deliver(self, block: bytes) -> None:
        assert self.window is not None
        s = self.session
        s._enter(ReplMode.RAW)  # the bridge saw the raw prompt; the session's protocol starts there
        if len(block) + 1 <= self.window:
            self._write(block + CTRL_D)
            self._set_mode("running")
            return
        deadline = Deadline(max(self.board.timeout, 10.0), s.clock)
        try:
            if s.use_raw_paste and s._request_raw_paste(deadline):
                delivery.raw_paste_write(s.console, s.reader, block, deadline)
                self.client.write(b"OK")
                self._set_mode("running")
                return
            self._deliver_staged(block)
        except MpbenchError as e:
            # The client asked for a block and gets a raw-REPL answer whatever happened.
            with contextlib.suppress(MpbenchError):
                s.recover(self.board.timeout)
            msg = f"mpbench serve: the block of {len(block)} bytes could not be delivered: {e}"
            self.client.write(b"\x04" + msg.encode().replace(b"\n", b"\r\n") + b"\r\n\x04>")
            self._set_mode("raw")

    def _deliver_staged(self, block: bytes) -> None:
        """Paste-mode staging, in chunks of whole statements, with one answer to the client."""
        s = self.session
        limit = self.board.platform.repl.max_exec_source
        try:
            code = block.decode()
            chunks = _split_statements(code, limit) if limit and len(block) > limit else [(0, code)]
        except UnicodeDecodeError:
            chunks = [(0, block.decode("latin-1"))]
        self.client.write(b"OK")
        for n, (offset, chunk) in enumerate(chunks):
            deadline = Deadline(max(self.board.timeout, 10.0), s.clock)
            s._stage(chunk.encode(), deadline)
            s.console.write(delivery.staged_exec_line(offset) + CTRL_D)
            s.reader.read_until(b"OK", deadline, what="the raw REPL did not accept the staged block")
            err = self._follow_block()
            if err is None:  # interrupted or the board reset: the client saw it all
                return
            if err or n == len(chunks) - 1:
                text = _drop_wrapper_frame(err.decode("utf-8", "replace").replace("\r\n", "\n"))
                self.client.write(b"\x04" + text.replace("\n", "\r\n").encode() + b"\x04>")
                self._set_mode("raw")
                return

    def _follow_block(self) -> bytes | None:
        """Forward a staged block's output as it comes; return its error text once it ends.

        The client can interrupt meanwhile (Ctrl-C goes through); any other
        input waits for the next block.
        """
        s = self.session
        out_done = False
        err = bytearray()
        while True:
            r, _, _ = select.select([s.console.fileno(), self.client.read_fd], [], [], 0.05)
            if self.client.read_fd in r:
                data = self.client.read()
                if data:
                    if CTRL_C in data:
                        s.console.write(CTRL_C)
                    self.pending += data.replace(CTRL_C, b"")
            if s.console.fileno() not in r and not s.reader.buf:
                continue
            data = self._read_board()
            while data:
                if not out_done:
                    i = data.find(b"\x04")
                    if i < 0:
                        self.client.write(data)
                        break
                    self.client.write(data[:i])
                    out_done, data = True, data[i + 1 :]
                    continue
                err += data
                break
            j = err.find(b"\x04")
            if j >= 0:
                rest = bytes(err[j + 1 :])
                while b">" not in rest:
                    rest += self._read_board() or b""
                    if b">" not in rest:
                        select.select([s.console.fileno()], [], [], 0.05)
                tail = rest[rest.index(b">") + 1 :]
                if tail:
                    s.reader.buf[:0] = tail
                return bytes(err[:j])


def serve(board: Board, client: ClientEnd, pacing: bool = True, announce: bool = True) -> None:
    """Boot ``board``, put it at its friendly prompt and bridge it to ``client`` until interrupted."""
    board.start()
    assert board.session is not None
    keep_spare = getattr(board.engine, "keep_spare", None)
    if keep_spare is not None:
        keep_spare(True)  # the unix port restarts on every soft reset a client asks for
    board.session.enter_friendly()
    if announce:
        import sys

        print(f"serving {board.name} on {client.path}", file=sys.stderr if client.path == "stdio" else sys.stdout)
        sys.stdout.flush()
    Bridge(board, client, pacing).run()
