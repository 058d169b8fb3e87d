"""The MicroPython REPL protocol over a console: the only place that knows it.

Modes are friendly (``>>> ``), paste (Ctrl-E, inside friendly), raw (Ctrl-A),
raw-paste (negotiated inside raw) and running (a block was accepted and its
result not yet read). ``ReplSession`` is a state machine in labgrid's
Strategy shape: ``mode`` is written in one method (``_enter``), ``goto`` is
the one place that knows how to reach friendly or raw from any mode (control
bytes plus the banner to wait for, mpremote's recipe), and every public call
that talks to the board leaves the mode ``unknown`` when it raises, so the
next call starts by finding out where the board is instead of trusting a
guess. ``exec`` runs a block through the raw REPL and returns stdout and the
traceback as data; how the bytes get there is ``delivery``'s job. Getting a
board back that does not answer at all is the recovery ladder's job
(``Board.recover``), which uses the rungs this module offers.
"""

from __future__ import annotations

import ast
import enum
import functools
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mpbench.console import Console
from mpbench.deadline import Clock, Deadline
from mpbench.errors import (
    BlockTimeout,
    ConsoleClosed,
    ConsoleTimeout,
    DeviceError,
    DeviceTraceback,
    Frame,
    ReplProtocolError,
    SessionError,
    SourceTooLarge,
)
from mpbench.platform import Platform
from mpbench.session import delivery
from mpbench.session.reader import ConsoleReader
from mpbench.session.recorder import Recorder, recorded
from mpbench.session.traceback import parse_traceback

CTRL_A, CTRL_B, CTRL_C, CTRL_D, CTRL_E = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"
PROMPT = b">>> "
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
SOFT_REBOOT = b"soft reboot"
_PROMPT_AT_END = re.compile(rb">>> \Z")
#: What a raw-paste request can be answered with: yes, no, or (older firmware) the raw banner again.
_RAW_PASTE_REPLY = re.compile(rb"R\x01|R\x00|" + re.escape(RAW_BANNER))

log = logging.getLogger(__name__)


class ReplMode(enum.Enum):
    UNKNOWN = "unknown"  # after an error or a restart: nothing is assumed
    FRIENDLY = "friendly"  # at the ``>>> `` prompt
    PASTE = "paste"  # inside paste mode (Ctrl-E at the friendly prompt)
    RAW = "raw"  # at the raw REPL's ``>``
    RAW_PASTE = "raw-paste"  # a block flowing under raw-paste flow control
    RUNNING = "running"  # a block was accepted and its result not yet read


F = TypeVar("F", bound=Callable[..., Any])


def _unknown_on_error(method: F) -> F:
    """Any exception out of ``method`` leaves the REPL's mode unknown (it may be anywhere now)."""

    @functools.wraps(method)
    def wrapper(self: ReplSession, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self._enter(ReplMode.UNKNOWN)
            raise

    return wrapper  # type: ignore[return-value]


def _only_reads(method: F) -> F:
    """For calls that only read a running block's output: a timeout leaves the mode as it was.

    Nothing was sent, so waiting in vain for a text says nothing new about
    where the REPL is (the block still runs, and ``exec_follow`` can still
    collect it); any other error leaves the mode unknown.
    """

    @functools.wraps(method)
    def wrapper(self: ReplSession, *args: Any, **kwargs: Any) -> Any:
        mode = self.mode
        try:
            return method(self, *args, **kwargs)
        except ConsoleTimeout:
            self._enter(mode)
            raise
        except BaseException:
            self._enter(ReplMode.UNKNOWN)
            raise

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class ExecResult:
    """What one block printed, and the exception it raised, if any."""

    stdout: str
    stderr: str
    traceback: DeviceTraceback | None
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.traceback is None

    def check(self) -> str:
        """Return stdout, or raise ``DeviceError`` with the traceback."""
        if self.traceback is not None:
            raise DeviceError(self.traceback, self.stdout)
        return self.stdout


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").replace("\r\n", "\n")


class ReplSession:
    """A conversation with one board's REPL, and the one owner of its mode."""

    def __init__(self, console: Console, platform: Platform, timeout: float = 10.0):
        self.console = console
        self.platform = platform
        self.timeout = timeout
        self.reader = ConsoleReader(console)
        self.mode = ReplMode.UNKNOWN
        self.use_raw_paste = platform.repl.raw_paste
        rx = platform.console.rx_buffer
        #: Largest write the board's input survives unacknowledged (None: no limit).
        self.window = None if rx is None else max(8, rx * 3 // 4)
        self._staged_offset: int | None = None
        self.banner = ""
        #: Set by ``Board(record=True)``: the calls below are then kept as steps for repro bundles.
        self.recorder: Recorder | None = None
        #: The clock waits count on: the engine's virtual clock where it has one (Board sets it).
        self.clock: Clock | None = None
        #: A console that closes after a block's output and error text were complete ends the
        #: block instead of raising (``mpbench upstream``: a test's SKIP exits the unix port).
        self.exit_completes_block = False

    # -- the state machine ------------------------------------------------------
    def _enter(self, mode: ReplMode) -> None:
        """The only place ``mode`` is written."""
        if mode is not self.mode:
            log.debug("%s: REPL %s -> %s", self.platform.name, self.mode.value, mode.value)
        self.mode = mode

    def goto(self, target: ReplMode, deadline: Deadline) -> None:
        """Bring the REPL to ``target`` (friendly or raw) from whatever mode it is in.

        From a known prompt it is one control byte; from anywhere else
        (unknown, paste, a running block) Ctrl-C first, which ends a block,
        leaves paste mode and clears a half-typed line.
        """
        if target not in (ReplMode.FRIENDLY, ReplMode.RAW):
            raise ValueError(f"goto reaches friendly or raw, not {target.value}")
        if self.mode is target:
            return
        try:
            if target is ReplMode.RAW:
                if self.mode is not ReplMode.FRIENDLY:
                    self.console.write(b"\r" + CTRL_C + CTRL_C)
                    self.reader.read_quiet(0.05, deadline)
                self.console.write(b"\r" + CTRL_A)
                self.reader.read_until(RAW_BANNER, deadline, what="the raw REPL did not answer Ctrl-A")
            else:
                self.console.write(CTRL_B if self.mode is ReplMode.RAW else b"\r" + CTRL_C + CTRL_B)
                self.reader.read_until(_PROMPT_AT_END, deadline, what="the friendly REPL did not answer")
                self.reader.read_quiet(0.02, deadline)
        except BaseException:
            self._enter(ReplMode.UNKNOWN)
            raise
        self._enter(target)

    # -- waiting -------------------------------------------------------------
    def _deadline(self, timeout: float | None) -> Deadline:
        return Deadline(self.timeout if timeout is None else timeout, self.clock)

    @recorded("read_until", "pattern", "timeout")
    @_only_reads
    def read_until(self, pattern: bytes | re.Pattern[bytes], timeout: float | None = None, what: str = "") -> bytes:
        """Consume console output through ``pattern`` (for data a running script prints)."""
        return self.reader.read_until(pattern, self._deadline(timeout), what)

    @recorded("wait_for", "text", "timeout")
    @_only_reads
    def wait_for_text(self, text: bytes, timeout: float | None = None) -> bytes | None:
        """Wait until the running block prints ``text``; return the output through it.

        Returns None, without waiting out the timeout, when the block ends
        first; its output then stays buffered for ``exec_follow`` to split.
        """
        seen = self.reader.read_until(re.compile(re.escape(text) + b"|" + CTRL_D), self._deadline(timeout))
        if seen.endswith(text):
            return seen
        self.reader.buf[:0] = seen
        return None

    @_unknown_on_error
    def wait_for_prompt(self, timeout: float | None = None, settle: float | None = None) -> str:
        """Wait until the board sits at the friendly prompt after boot or reset; return what it printed.

        ``settle`` is the silence that makes a prompt the last one (default: the
        platform's ``prompt_settle``, long on boards whose boot can restart).
        """
        deadline = self._deadline(timeout)
        out = self.reader.read_until(
            _PROMPT_AT_END, deadline, what=f"{self.platform.name} never reached its '>>> ' prompt"
        )
        # More may follow a prompt printed mid-boot (ESP32 prints its banner after resets):
        # only a prompt with silence after it counts.
        settle = self.platform.repl.prompt_settle if settle is None else settle
        while True:
            more = self.reader.read_quiet(settle, Deadline(settle))
            if not more:
                break
            out += more
            if not out.endswith(PROMPT):
                out += self.reader.read_until(_PROMPT_AT_END, deadline, what="no prompt after boot output")
        text = _text(out).lstrip("\x00")  # the nRF51 UART model starts with a NUL
        want = self.platform.repl.banner
        if want and want not in text:
            raise SessionError(
                f"{self.platform.name}: the banner does not contain {want!r}; the board printed:\n{text}"
            )
        self.banner = next((ln for ln in text.splitlines() if ln.startswith("MicroPython")), self.banner)
        self._enter(ReplMode.FRIENDLY)
        return text

    # -- mode transitions ---------------------------------------------------------
    def enter_raw(self, timeout: float | None = None) -> None:
        self.goto(ReplMode.RAW, self._deadline(timeout))

    def enter_friendly(self, timeout: float | None = None) -> None:
        self.goto(ReplMode.FRIENDLY, self._deadline(timeout))

    # -- executing ------------------------------------------------------------
    @recorded("exec", "code", "timeout")
    @_unknown_on_error
    def exec(self, code: str, timeout: float | None = None) -> ExecResult:
        """Run ``code`` as a script through the raw REPL and return what it printed.

        Long code on boards with a small heap goes in chunks of whole top-level
        statements, each run in the same globals, stopping at the first error.
        All chunks share the one ``timeout``.
        """
        limit = self.platform.repl.max_exec_source
        chunks = _split_statements(code, limit) if limit and len(code.encode()) > limit else [(0, code)]
        deadline = self._deadline(timeout)
        started = time.monotonic()
        outs: list[str] = []
        result: ExecResult | None = None
        for offset, chunk in chunks:
            self._exec_start(chunk, deadline, offset)
            result = self._exec_follow(deadline)
            outs.append(result.stdout)
            if not result.ok:
                break
        assert result is not None
        return ExecResult("".join(outs), result.stderr, result.traceback, time.monotonic() - started)

    def eval(self, expression: str, timeout: float | None = None) -> str:
        """Evaluate an expression on the board and return its ``repr`` text."""
        return self.exec(f"print(repr({expression}))", timeout).check().strip()

    @recorded("start", "code", "timeout", "line_offset")
    @_unknown_on_error
    def exec_start(self, code: str, timeout: float | None = None, line_offset: int = 0) -> None:
        """Send a block and return once it runs (for scripts that then need input or Ctrl-C)."""
        self._exec_start(code, self._deadline(timeout), line_offset)

    def _exec_start(self, code: str, deadline: Deadline, line_offset: int) -> None:
        self.goto(ReplMode.RAW, deadline)
        data = code.encode()
        self._staged_offset = None
        if self.use_raw_paste and self._request_raw_paste(deadline):
            # Flow-controlled, so padding with newlines to keep a chunk's line numbers costs nothing.
            self._enter(ReplMode.RAW_PASTE)
            delivery.raw_paste_write(self.console, self.reader, b"\n" * line_offset + data, deadline)
            self._enter(ReplMode.RUNNING)
            return
        rx = self.platform.console.rx_buffer
        if line_offset or (rx is not None and len(data) + 1 > rx):
            self._stage(data, deadline)
            data = delivery.staged_exec_line(line_offset)
            self._staged_offset = line_offset
        self.console.write(data + CTRL_D)
        self._enter(ReplMode.RUNNING)
        self.reader.read_until(b"OK", deadline, what="the raw REPL did not accept the block")

    def _request_raw_paste(self, deadline: Deadline) -> bool:
        """Ask for raw-paste mode at the raw prompt; True when granted.

        Bytes that arrived before the request (late output of an IRQ
        callback, say) are not the answer: the answer is searched for, and
        only a firmware that says no (``R\\x00``) or does not know the
        request (it answers with the raw banner) loses raw-paste for good.
        """
        stale = self.reader.take()
        if stale:
            self.console.transcript.event(f"discarded {len(stale)} stale bytes before a raw-paste request")
        self.console.write(CTRL_E + b"A" + CTRL_A)
        reply = self.reader.read_until(_RAW_PASTE_REPLY, deadline, what="no answer to the raw-paste request")
        if reply.endswith(b"R\x01"):
            return True
        self.use_raw_paste = False
        return False

    def _stage(self, source: bytes, deadline: Deadline) -> None:
        """Paste ``source`` into a variable through paste mode, echo-checked (see ``delivery``)."""
        assert self.window is not None
        self.goto(ReplMode.FRIENDLY, deadline)
        self.console.write(CTRL_E)
        self.reader.read_until(delivery.PASTE_BANNER, deadline, what="paste mode did not start")
        self._enter(ReplMode.PASTE)
        limit = self.platform.repl.max_exec_source
        try:
            delivery.echo_window_write(
                self.console, self.reader, delivery.stage_literal(source), self.window, deadline, "paste"
            )
        except ReplProtocolError as e:
            if limit and len(source) > limit:  # one statement above the size the heap takes: it stopped echoing
                raise SourceTooLarge(f"{self.platform.name}: {len(source)} bytes of source in one piece: {e}") from e
            raise
        self.console.write(CTRL_D)
        out = self.reader.read_until(_PROMPT_AT_END, deadline, what="the pasted source was not stored")
        self._enter(ReplMode.FRIENDLY)
        if b"MemoryError" in out:
            raise SourceTooLarge(
                f"{self.platform.name}: storing {len(source)} bytes of source ran out of memory:\n{_text(out).strip()}"
            )
        if b"Error" in out:
            raise SessionError(
                f"{self.platform.name}: storing {len(source)} bytes of source failed:\n{_text(out).strip()}\n"
                f"(lower repl.max_exec_source in {self.platform.path} if this is a MemoryError)"
            )
        self.goto(ReplMode.RAW, deadline)

    @recorded("follow", "timeout")
    @_unknown_on_error
    def exec_follow(self, timeout: float | None = None) -> ExecResult:
        """Wait for the running block to finish; return its output and traceback."""
        return self._exec_follow(self._deadline(timeout))

    def _exec_follow(self, deadline: Deadline) -> ExecResult:
        if self.mode is not ReplMode.RUNNING:
            raise SessionError(f"no block is running (the REPL is {self.mode.value})")
        started = time.monotonic()
        what = "the block did not finish"
        try:
            out = self.reader.read_until(CTRL_D, deadline, what)[:-1]
            err = self.reader.read_until(CTRL_D, deadline, what)[:-1]
        except ConsoleTimeout as e:
            # The block was accepted and is still running: a verdict on the code, not the bench.
            raise BlockTimeout(e.expected, e.timeout, e.buffer_tail, e.clock, what) from None
        try:
            self.reader.read_until(b">", deadline, what="the raw REPL prompt did not come back")
            self._enter(ReplMode.RAW)
        except ConsoleClosed:
            # The block ended the program after its output was complete (SystemExit on the
            # unix port exits it). A lost board by default; for run-tests.py's SKIP (print,
            # then SystemExit) the result stands and the next call finds the board restarted.
            if not self.exit_completes_block:
                raise
            self._enter(ReplMode.UNKNOWN)
        err_text = _text(err)
        if self._staged_offset is not None:
            err_text = _drop_wrapper_frame(err_text)
        tb = parse_traceback(err_text)
        return ExecResult(_text(out), err_text, tb, time.monotonic() - started)

    @recorded("write", "data")
    def write(self, data: bytes) -> None:
        """Send bytes to a running block (its ``stdin``), paced for small input buffers."""
        step = self.window or len(data) or 1
        for i in range(0, len(data), step):
            self.console.write(data[i : i + step])
            if i + step < len(data):
                time.sleep(0.01)

    @recorded("interrupt")
    def interrupt(self) -> None:
        """Send the keyboard interrupt (Ctrl-C, or SIGINT on the host port)."""
        self.console.interrupt()

    # -- friendly REPL -----------------------------------------------------------
    @recorded("type", "line", "timeout")
    @_unknown_on_error
    def friendly_line(self, line: str, timeout: float | None = None) -> str:
        """Type one line at the ``>>> `` prompt and return what it printed before the next prompt.

        For the cases the raw REPL changes: the friendly REPL unlocks a locked
        heap before each prompt and prints expression values.
        """
        if "\n" in line or "\r" in line:
            raise ValueError("friendly_line takes one line; use exec for blocks")
        deadline = self._deadline(timeout)
        self.goto(ReplMode.FRIENDLY, deadline)
        data = line.encode()
        if self.window is not None:
            delivery.echo_window_write(self.console, self.reader, data, self.window, deadline, "friendly")
        else:
            self.console.write(data)
            self.reader.read_until(data, deadline, what="the prompt did not echo the line")
        self.console.write(b"\r")
        out = self.reader.read_until(re.compile(rb"(>>> |\.\.\. )\Z"), deadline, what="no prompt after the line")
        if out.endswith(b"... "):
            # An unfinished statement: end it with an empty line.
            self.console.write(b"\r")
            out += self.reader.read_until(_PROMPT_AT_END, deadline, what="no prompt after the statement")
        body = out[: -len(PROMPT)]
        return _text(body[2:] if body.startswith(b"\r\n") else body)

    # -- reset -----------------------------------------------------------------
    @recorded("soft_reset", "timeout")
    @_unknown_on_error
    def soft_reset(self, timeout: float | None = None) -> str:
        """Ctrl-D at the friendly prompt: the VM restarts and boot.py runs again."""
        deadline = self._deadline(timeout)
        self.goto(ReplMode.FRIENDLY, deadline)
        self.console.write(CTRL_D)
        self.reader.read_until(SOFT_REBOOT, deadline, what="no 'soft reboot' after Ctrl-D")
        self.board_restarted(discard_output=False)
        # A soft reset does not go through the boot ROM's resets: a short silence will do.
        return self.wait_for_prompt(deadline.remaining(), settle=min(self.platform.repl.prompt_settle, 0.05))

    def board_restarted(self, discard_output: bool = True) -> None:
        """Forget what this session knew of the REPL: the board under it restarted.

        The mode is unknown until the next prompt, and a firmware that refused
        raw-paste before may be another build now (``--firmware``), so ask again.
        """
        self._enter(ReplMode.UNKNOWN)
        self.use_raw_paste = self.platform.repl.raw_paste
        if discard_output:
            self.reader.take()

    @recorded("recover", "timeout")
    @_unknown_on_error
    def recover(self, timeout: float | None = None) -> None:
        """Bring a board whose block is still running (or whose state is unknown) back to the raw prompt.

        The first rung of the recovery ladder: Ctrl-C, then the raw prompt.
        """
        deadline = self._deadline(timeout)
        self.interrupt()
        self.reader.read_quiet(0.1, deadline)
        self._enter(ReplMode.UNKNOWN)
        self.goto(ReplMode.RAW, deadline)


def _drop_wrapper_frame(err: str) -> str:
    """Remove the frame of the staged ``exec()`` line: the user's code starts below it."""
    header = "Traceback (most recent call last):\n"
    i = err.find(header)
    if i < 0:
        return err
    start = i + len(header)
    end = err.find("\n", start)
    if end > 0 and err[start:end].startswith('  File "<stdin>", line 1'):
        return err[:start] + err[end + 1 :]
    return err


def _split_statements(code: str, limit: int) -> list[tuple[int, str]]:
    """Split a script into chunks of whole top-level statements, each about ``limit`` bytes at most.

    Returns ``(line_offset, text)`` pairs so tracebacks keep the script's line
    numbers. Code the host cannot parse (MicroPython-only syntax) goes whole.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return [(0, code)]
    # \n, \r\n and a lone \r end a line for (Micro)Python's line numbers; str.splitlines also
    # splits at \x0c, \u2028 and others, which would shift them.
    lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", code)
    starts = [node.lineno - 1 for node in tree.body]
    # decorators belong to their statement
    for i, node in enumerate(tree.body):
        decos = getattr(node, "decorator_list", [])
        if decos:
            starts[i] = min(d.lineno for d in decos) - 1
    bounds = [*starts[1:], len(lines)]
    chunks: list[tuple[int, str]] = []
    cur_start, cur = 0, ""
    for s, e in zip(starts, bounds, strict=True):
        piece = "".join(lines[s:e])
        if cur and len((cur + piece).encode()) > limit:
            chunks.append((cur_start, cur))
            cur_start, cur = s, ""
        if not cur:
            cur_start = s
        cur += piece
    if cur:
        chunks.append((cur_start, cur))
    if starts and starts[0] > 0 and chunks:
        chunks[0] = (0, "".join(lines[: starts[0]]) + chunks[0][1])
    return chunks


__all__ = ["ExecResult", "Frame", "ReplMode", "ReplSession"]
