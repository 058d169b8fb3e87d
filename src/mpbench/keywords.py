"""Robot Framework keywords for checking MicroPython on emulated boards.

Import it in a suite with ``Library    mpbench.keywords.MicroPythonBench``.
Keywords read like the documentation they check (Renode's naming: a verb,
then the object), each a few lines over ``Board`` and ``ReplSession``.

Every test of a suite that imports this library runs once per board: the
library's listener (``matrix.BoardMatrix``) copies each test for each board
chosen with ``--variable PLATFORMS:microbit,unix`` (default: every board
available here) and gives the copy a setup that boots or resets that board,
so the report reads as a board-by-behaviour matrix.

``--variable FIRMWARE_<board>:PATH`` boots that image on the board instead of
the manifest's; each board's firmware and engine are recorded as top-suite
metadata ``Board: NAME`` for the conformance table's headers.

When a test fails, its teardown writes a repro bundle of it to
``${OUTPUT DIR}/bundles/`` (``mpbench repro run`` replays it); run with
``--variable MPBENCH_BUNDLES:off`` to switch that off.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from robot.api import SkipExecution, logger
from robot.api.deco import keyword, library
from robot.libraries.BuiltIn import BuiltIn

from mpbench import __version__
from mpbench.board import Board, unavailable_reason
from mpbench.errors import EngineUnavailable, MpbenchError
from mpbench.keywords_code import BoardError, CodeKeywords
from mpbench.matrix import BoardMatrix
from mpbench.platform import Platform
from mpbench.platform_loader import find_platform
from mpbench.session.repl import ExecResult, ReplMode, ReplSession


@library(scope="GLOBAL", version=__version__, doc_format="ROBOT", listener=BoardMatrix(), auto_keywords=False)
class MicroPythonBench(CodeKeywords):
    """Boots MicroPython boards in emulators and checks what their firmware does.

    Boards are named as in ``mpbench platforms`` (or given as a platform file
    path). Keywords act on the current board, set per test by `Use Board`;
    most take an optional ``timeout`` in seconds (default: `Set Default
    Console Timeout`, initially 10 s).

    = Example =
    | `Execute On Board`    | import micropython |
    | ${out} =              | `Execute On Board` | print(micropython.stack_use()) |
    | Should Match Regexp   | ${out}             | ^\\\\d+$ |
    """

    def __init__(self) -> None:
        self.ROBOT_LIBRARY_LISTENER.library = self  # type: ignore[attr-defined]
        self.boards: dict[str, Board] = {}
        self.broken: dict[str, str] = {}
        self._known: dict[str, tuple[Platform, str | None]] = {}
        self.current: Board | None = None
        self.timeout = 10.0
        self.last: ExecResult | None = None
        self._mark = 0
        #: Where the current test's bundle starts: transcript mark, step mark, REPL mode.
        self._bundle_from: tuple[int, int, str] | None = None
        self._bundle_names: set[str] = set()
        #: What each board's column is (firmware, engine, versions): see `_describe_board`.
        self.board_info: dict[str, dict[str, object]] = {}

    # -- boards -----------------------------------------------------------------
    def _platform(self, name: str) -> tuple[Platform, str | None]:
        """The board's description, and why it cannot run here (None if it can).

        Worked out once per run: every test asks, and the answer means reading
        the platform file and hashing the firmware, which do not change mid-run.
        """
        if name not in self._known:
            try:
                platform = find_platform(name)
            except MpbenchError as e:
                raise self.board_error(str(e)) from e
            override = self._firmware_override(platform.name)
            self._known[name] = (platform, unavailable_reason(platform, override))
            self._describe_board(platform, None)
        return self._known[name]

    def _firmware_override(self, name: str) -> Path | None:
        """``--variable FIRMWARE_<board>:PATH``: boot that image instead of the manifest's (like ``--firmware``)."""
        variables = BuiltIn().get_variables(no_decoration=True)  # a dict lookup: "spike-prime" is no expression
        value = variables.get(f"FIRMWARE_{name}")
        return Path(str(value)).expanduser() if value else None

    def _describe_board(self, platform: Platform, board: Board | None) -> None:
        """Record which firmware and engine the board's column is, as top-suite metadata ``Board: NAME``.

        A JSON object (``mpbench.report`` reads it back for the table's
        headers, and tells two firmware builds of one board apart by it):
        what the platform file names before boot, and after boot the image's
        hash and version, the banner and the engine's version.
        """
        info: dict[str, object] = {"title": platform.title, "firmware": platform.firmware, "engine": platform.engine}
        if board is not None and board.firmware is not None:
            fw = board.firmware
            info.update(firmware=fw.id, firmware_version=fw.version, firmware_sha256=fw.sha256)
            info["banner"] = board.session.banner if board.session else ""
            info["engine_version"] = board.engine.version() if board.engine else ""
        self.board_info[platform.name] = info  # the table written at the end of the run reads it here
        BuiltIn().set_suite_metadata(f"Board: {platform.name}", json.dumps(info), top=True)

    @keyword
    def use_board(self, name: str, *needs: str) -> None:
        """Make ``name`` the current board, booting it on first use and resetting it otherwise.

        Skips the test, with the reason from the platform file, when the board
        is not available here or lacks one of the ``needs`` features (the
        test's ``needs:FEATURE`` tags are added automatically); that is
        decided before any board is touched. Every other board is paused, so
        an idle emulator costs no CPU. A board that does not answer goes
        through the recovery ladder (``Board.recover``) before the test; only
        a board no rung could bring back is lost for the rest of the run, and
        its tests fail as board errors, not as MicroPython failures.
        """
        self.current = None  # a teardown after a failed setup must not describe the previous test's board
        self._bundle_from = None
        platform, reason = self._platform(name)
        if reason:
            raise SkipExecution(f"{platform.name} is not available here: {reason}")
        tags = BuiltIn().get_variable_value("${TEST TAGS}", []) or []
        for feature in [*needs, *(t.split(":", 1)[1] for t in tags if t.startswith("needs:"))]:
            self._skip_unless(platform, feature)
        if platform.name in self.broken:
            raise self.board_error(f"{platform.name} is lost for this run: {self.broken[platform.name]}")
        for other, idle in self.boards.items():
            if other != platform.name:
                idle.pause()
        board = self.boards.get(platform.name)
        try:
            if board is None:
                firmware = self._firmware_override(platform.name)
                board = Board(platform, firmware=firmware, timeout=self.timeout, record=True)
                self.boards[platform.name] = board
                board.start()
                self._describe_board(platform, board)
                self._bundle_from = _position(board)
                logger.info(f"{platform.name} booted: {board.session.banner if board.session else ''}")
            else:
                board.resume()
                self._reset_between_tests(board)
        except EngineUnavailable as e:
            raise SkipExecution(str(e)) from e
        except MpbenchError as e:
            self.broken[platform.name] = str(e).splitlines()[0]
            self.boards.pop(platform.name, None)
            board.stop()
            raise self.board_error(str(e)) from e
        self.current = board
        self.last = None
        self._mark = board.transcript.mark() if board.transcript else 0

    def _reset_between_tests(self, board: Board) -> None:
        """Soft-reset ``board`` for the next test (the ladder first when it needs it); its bundle starts there."""

        def starting() -> None:
            self._bundle_from = _position(board)

        board.reset_for_next_test(starting)

    @keyword
    def recover_board(self) -> str:
        """Climb the recovery ladder on the current board now; return the rung that brought it back.

        Rungs: interrupt, leave raw mode, soft reset, hard reset, a new
        emulator process (see the README). `Use Board` does this by itself
        when a test left its board hung.
        """
        board = self.current
        if board is None:
            raise self.board_error("no board is in use: call `Use Board` first")
        try:
            rung = board.recover("asked for by the test")
        except MpbenchError as e:
            self.broken[board.name] = str(e).splitlines()[0]
            raise self.board_error(str(e)) from e
        logger.info(f"{board.name} came back by: {rung}")
        return rung

    def _skip_unless(self, platform: Platform, feature: str) -> None:
        try:
            why = platform.missing(feature)
        except KeyError as e:
            raise self.board_error(str(e)) from e
        if why is not None:
            raise SkipExecution(why)

    @keyword
    def skip_unless_board_has(self, *features: str) -> None:
        """Skip the test unless the current board's firmware has every one of ``features``.

        Feature names are those of the platform files (``schedule``,
        ``heap_locked``, ...); ``irq:NAME`` asks for an IRQ source. The skip
        message is the platform file's reason.
        """
        for f in features:
            self._skip_unless(self._board().platform, f)

    @keyword
    def board_has(self, feature: str) -> bool:
        """True when the current board's firmware has ``feature``."""
        return self._board().platform.has(feature)

    @keyword
    def stop_all_boards(self) -> None:
        """Stop every board this library started (also done when the run ends)."""
        for board in self.boards.values():
            board.stop()
        self.boards.clear()
        self.current = None

    def _board(self) -> Board:
        if self.current is None or self.current.session is None:
            raise BoardError("no board is in use: call `Use Board` first (the board matrix does it per test)")
        return self.current

    def _session(self) -> ReplSession:
        s = self._board().session
        assert s is not None
        return s

    @keyword
    def current_board_name(self) -> str:
        """The name of the board the current test runs on."""
        return self._board().name

    @keyword
    def set_default_console_timeout(self, timeout: float) -> float:
        """Set the default wait, in seconds, of every keyword that waits; returns the old value."""
        old, self.timeout = self.timeout, float(timeout)
        for b in self.boards.values():
            b.timeout = self.timeout
            if b.session:
                b.session.timeout = self.timeout
        return old

    def _t(self, timeout: float | None) -> float:
        return self.timeout if timeout in (None, "", "None") else float(timeout)  # type: ignore[arg-type]

    # -- IRQs ---------------------------------------------------------------------
    @keyword
    def irq_source_code(self, source: str, callback: str) -> dict[str, str]:
        """The platform's snippets for IRQ ``source`` with ``callback`` filled in.

        Returns a dictionary with ``start``, ``fire`` (may be empty), ``stop``,
        ``kind`` (hard or soft), ``header`` (what an uncaught exception in the
        callback prints first; may be empty) and ``rate_hz``. Skips the test
        when the board has no such source.
        """
        platform = self._board().platform
        self._skip_unless(platform, f"irq:{source}")
        src = platform.irq_sources[source]

        def fill(s: str | None) -> str:
            return (s or "").replace("{cb}", callback)

        return {
            "start": fill(src.start),
            "fire": fill(src.fire),
            "stop": fill(src.stop),
            "kind": src.kind,
            "header": src.header or "",
            "rate_hz": str(src.rate_hz or ""),
        }

    @keyword
    def raise_irq_from_outside(self, source: str) -> None:
        """Raise IRQ ``source`` from outside the firmware, as the platform file says (e.g. a pin edge).

        Skips the test when the board has no such source or it cannot be driven from outside.
        """
        board = self._board()
        self._skip_unless(board.platform, f"irq:{source}")
        if not board.platform.irq_sources[source].external:
            raise SkipExecution(f"{board.name}: IRQ source {source!r} cannot be raised from outside the firmware")
        try:
            board.stimulate(source)
        except MpbenchError as e:
            raise self.board_error(str(e)) from e

    # -- logs ---------------------------------------------------------------------
    @keyword
    def log_board_transcript(self) -> None:
        """Attach what crossed the current board's console during this test to the log.

        When the test failed, also write a repro bundle of it, from its `Use
        Board` on, to ``${OUTPUT DIR}/bundles/<suite>.<test>.fail.mpbundle``
        (``mpbench repro run FILE`` replays it); ``${MPBENCH_BUNDLES}`` set
        to ``off`` switches that off.
        """
        board = self.current
        if board is None or board.transcript is None:
            return
        text = board.transcript.render(self._mark)
        logger.info(
            f"<details><summary>console transcript of {board.name} (sent bytes shown as «…»)</summary>"
            f"<pre>{html.escape(text)}</pre></details>",
            html=True,
        )
        builtin = BuiltIn()
        if builtin.get_variable_value("${TEST STATUS}") == "FAIL" and self._bundles_on():
            self._write_bundle(board, builtin)

    def _bundles_on(self) -> bool:
        value = str(BuiltIn().get_variable_value("${MPBENCH_BUNDLES}", "on")).strip().lower()
        if value not in ("on", "off"):
            raise BoardError(f"${{MPBENCH_BUNDLES}} is {value!r}; expected on or off")
        return value == "on"

    def _write_bundle(self, board: Board, builtin: BuiltIn) -> None:
        from mpbench.repro.capture import write_test_bundle

        if self._bundle_from is None:
            return
        outdir = Path(builtin.get_variable_value("${OUTPUT DIR}", "."))
        try:
            path, size = write_test_bundle(
                board,
                self._bundle_from,
                suite=builtin.get_variable_value("${SUITE NAME}", ""),
                test=builtin.get_variable_value("${TEST NAME}", ""),
                message=builtin.get_variable_value("${TEST MESSAGE}", ""),
                outdir=outdir,
                taken=self._bundle_names,
            )
        except (MpbenchError, OSError) as e:
            logger.warn(f"could not write a repro bundle of this failure: {e}")
            return
        link = html.escape(path.relative_to(outdir).as_posix())
        logger.info(
            f'repro bundle ({size} bytes): <a href="{link}">{link}</a>; replay it with '
            f"<code>mpbench repro run {html.escape(str(path))}</code>",
            html=True,
        )

    def _close(self) -> None:
        self.stop_all_boards()


def _position(board: Board) -> tuple[int, int, str]:
    """Where a test starts on ``board``: transcript and step marks, and the REPL mode it is in."""
    transcript, recorder, session = board.transcript, board.recorder, board.session
    mode = "friendly" if session is not None and session.mode is ReplMode.FRIENDLY else "raw"
    return (transcript.mark() if transcript else 0, recorder.mark() if recorder else 0, mode)


__all__ = ["MicroPythonBench"]
