"""A running board: platform + firmware + engine + REPL session, owned in one place.

This is the composition point (pytest-embedded's ``dut_factory`` idea): the
CLI, the Robot library and bundles ask for a ``Board`` and never wire engines
and sessions themselves. A board that fails half-way through starting is torn
down before the error leaves ``start``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpbench.deadline import Deadline
from mpbench.engine import Engine, engine_class
from mpbench.errors import (
    ConsoleClosed,
    ConsoleTimeout,
    EngineError,
    EngineUnavailable,
    FirmwareError,
    MpbenchError,
    SessionError,
)
from mpbench.platform import Platform
from mpbench.session import files as board_files
from mpbench.session.files import BoardFile
from mpbench.session.recorder import Recorder, recorded
from mpbench.session.repl import CTRL_B, PROMPT, ExecResult, ReplMode, ReplSession

if TYPE_CHECKING:
    from mpbench.engine.snapshot import TrustedState

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
#: Host or virtual seconds a quick rung of the recovery ladder (Ctrl-C, Ctrl-B) may take:
#: a board that answers does so in milliseconds; one that does not gets the next rung.
RUNG_TIMEOUT = 3.0
#: What the ladder runs on the board to see that it answers again.
PROBE_CODE, PROBE_ANSWER = "print('mpbench', 6 * 7)", "mpbench 42"


def resolve_firmware(platform: Platform, override: Path | None = None, fetch: bool = False) -> Any:
    """The firmware image ``platform`` boots: ``override`` (``--firmware``) or its manifest entry."""
    from mpbench.firmware.cache import resolve
    from mpbench.firmware.manifest import load_manifest

    manifest = load_manifest()
    entry = manifest.get(platform.firmware)
    if entry is None:
        raise FirmwareError(
            f"{platform.path}: firmware: {platform.firmware!r} is not in the firmware manifest "
            f"(known: {', '.join(sorted(manifest))})"
        )
    return resolve(entry, fetch=fetch, override=override)


def unavailable_reason(platform: Platform, override: Path | None = None) -> str | None:
    """None when ``platform`` can boot here without network access, else everything that is missing."""
    reasons = []
    if platform.repl.unreachable:
        reasons.append(f"no reachable REPL: {platform.repl.unreachable}")
    try:
        cls = engine_class(platform.engine)
        engine_reason = cls.unavailable_reason(platform)
    except Exception as e:  # an unknown engine is a reason too
        engine_reason = str(e)
    if engine_reason:
        reasons.append(f"engine {platform.engine}: {engine_reason}")
    if override is None:
        from mpbench.firmware.cache import available
        from mpbench.firmware.manifest import load_manifest

        entry = load_manifest().get(platform.firmware)
        fw_reason = f"{platform.firmware!r} is not in the manifest" if entry is None else available(entry)
    else:
        fw_reason = None if override.is_file() else f"{override} does not exist"
    if fw_reason:
        reasons.append(f"firmware {platform.firmware}: {fw_reason}")
    return "; ".join(reasons) or None


class BootError(SessionError):
    """The board did not reach its prompt; says how long, what it printed and what the engine said.

    A board error, not a verdict on the code to run: the CLI exits 3.
    """


class BoardBroken(SessionError):
    """Every rung of the recovery ladder failed: the board is lost for the rest of the run."""


class Board:
    """One board from start to stop. Use as a context manager.

    ``deterministic`` asks the engine for repeatable timing where it can
    (QEMU's instruction counting, when the platform file sets ``icount``);
    ``record`` keeps every session call as a step (``recorder``) so a failure
    can be written as a repro bundle.
    """

    def __init__(
        self,
        platform: Platform,
        firmware: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        boot_timeout: float | None = None,
        fetch: bool = False,
        deterministic: bool = False,
        record: bool = False,
        files: list[BoardFile] | None = None,
        trusted_state: TrustedState | None = None,
    ):
        self.platform = platform
        self.firmware_override = firmware
        self.timeout = timeout
        self.boot_timeout = platform.boot_timeout if boot_timeout is None else boot_timeout
        self.fetch = fetch
        self.deterministic = deterministic
        self.record = record
        self.recorder: Recorder | None = None
        self.engine: Engine | None = None
        self.session: ReplSession | None = None
        self.firmware: Any = None
        self.boot_output = ""
        self._transcript: Any = None
        #: Files put on the board at every start (``mpbench run --put``), and how each got there.
        self.files = list(files or [])
        self.file_routes: dict[str, str] = {}
        #: A Renode state to start from instead of booting the firmware (``repro run --trust-state``).
        self.trusted_state = trusted_state

    @property
    def name(self) -> str:
        return self.platform.name

    def start(self) -> Board:
        if self.session is not None:
            # A second start would orphan the running emulator: it is still this board.
            return self
        cls = engine_class(self.platform.engine)
        reason = cls.unavailable_reason(self.platform)
        if reason:
            raise EngineUnavailable(f"{self.name}: {reason}", engine=self.platform.engine)
        if self.trusted_state is not None:  # its firmware is in the state: no image needed here
            self.firmware = self.trusted_state.firmware
        else:
            self.firmware = resolve_firmware(self.platform, self.firmware_override, self.fetch)
        # Boards whose boot can hang (ESP-IDF 4.x's boot race under QEMU) get fresh tries.
        attempts = 1 + int(self.platform.engine_config.get("boot_retries", 0))
        for attempt in range(1, attempts + 1):
            self.engine = cls(self.platform, self.firmware)
            self.engine.deterministic = self.deterministic
            if self.trusted_state is not None:
                self.engine.trusted_state = self.trusted_state.store  # type: ignore[attr-defined]
            baked = [f for f in self.files if cls.image_accepts(self.platform, f.remote)]
            self.engine.image_files = {f.remote: f.data for f in baked}
            try:
                self.engine.start()
                self.session = ReplSession(self.engine.open_console(), self.platform, self.timeout)
                self.session.clock = self.engine.clock()
                self._transcript = self.session.console.transcript
                if self.record:
                    self.recorder = self.session.recorder = Recorder(self._transcript.t0)
                self._wait_for_prompt()
                if self.engine.ready(self.boot_output):
                    # back in the state just saved: the same prompt wait as every later start
                    self.session.board_restarted(discard_output=True)
                    self._wait_for_prompt()
                self.session.enter_raw()
                self._place_files(baked)
                return self
            except BootError as e:
                self._fail_stop()
                if attempt == attempts:
                    raise
                log.warning(
                    "%s: boot attempt %d of %d failed, trying again: %s",
                    self.name,
                    attempt,
                    attempts,
                    str(e).splitlines()[0],
                )
            except BaseException:
                self._fail_stop()
                raise
        raise AssertionError("unreachable")

    def _place_files(self, baked: list[BoardFile]) -> None:
        """Check the files baked into the boot image on the board; write the rest through the REPL."""
        s = self._s()
        for f in self.files:
            if f in baked:
                board_files.verify(s, f, self.timeout)
                self.file_routes[f.remote] = "image"
            else:
                board_files.write_via_repl(s, f, self.timeout)
                self.file_routes[f.remote] = "repl"

    def put_file(self, f: BoardFile) -> None:
        """Write ``f`` into the running board's filesystem through the REPL and check it there.

        Raises ``FileTooBig`` (exit 2) with the sizes when it does not fit. The
        file stays until removed: soft resets keep a board's filesystem. Not a
        recorded step of its own: the blocks it runs are, so a bundle replays them.
        """
        board_files.write_via_repl(self._s(), f, self.timeout)
        self.file_routes[f.remote] = "repl"

    def _wait_for_prompt(self) -> None:
        assert self.session is not None and self.engine is not None
        try:
            self.boot_output = self.session.wait_for_prompt(self.boot_timeout)
        except (ConsoleTimeout, ConsoleClosed) as e:
            engine_said = self.engine.log_tail()
            extra = f"\n  {self.engine.name} said:\n    " + engine_said.replace("\n", "\n    ") if engine_said else ""
            head = str(e) if isinstance(e, ConsoleTimeout) else f"{self.name}: {e}"  # a timeout names the board
            raise BootError(f"{head}{extra}") from e

    @property
    def transcript(self) -> Any:
        """Everything that crossed the console, kept after the board stops."""
        return self._transcript

    def _s(self) -> ReplSession:
        if self.session is None:
            raise SessionError(f"{self.name} is not running; start it first")
        return self.session

    def exec(self, code: str, timeout: float | None = None) -> ExecResult:
        return self._s().exec(code, timeout)

    @recorded("reset", "hard")
    def reset(self, hard: bool = False) -> None:
        """Soft reset (Ctrl-D) where the firmware has one, else restart; ``hard`` resets the machine.

        The prompt after a soft reset gets the boot timeout, not the console
        timeout: boot.py runs again, and a busy host can make that slow
        (an ESP32 needed over 10 s after ``soft reboot``, measured).
        """
        s = self._s()
        if hard or self.platform.repl.soft_reset == "restart":
            self._hard_reset()
        else:
            s.soft_reset(max(self.timeout, self.boot_timeout))
        s.enter_raw()

    def _hard_reset(self) -> None:
        """Reset the machine (or restart the host port) and wait for its prompt."""
        s = self._s()
        assert self.engine is not None
        self.engine.reset()
        s.board_restarted()
        self._wait_for_prompt()

    # -- the recovery ladder ------------------------------------------------------------
    def reset_for_next_test(self, starting: Callable[[], None] | None = None) -> None:
        """Soft-reset for the next test, climbing the recovery ladder first when the board needs it.

        Every face that runs tests one after another on a shared board (the
        Robot library, the pytest plugin) wants the same thing: a hung or
        half-finished previous test costs only that test. ``starting`` is
        called just before each soft reset, so a face can mark where the next
        test's part of the transcript begins.
        """
        s = self.session
        if s is None or s.mode not in (ReplMode.RAW, ReplMode.FRIENDLY):
            self.recover(f"the previous test left its REPL {s.mode.value if s else 'gone'}")
        if starting is not None:
            starting()
        try:
            self.reset()
        except MpbenchError as e:
            if not e.board_error:
                raise
            self.recover(f"the reset before this test failed: {str(e).splitlines()[0]}")
            if starting is not None:
                starting()
            self.reset()

    def recover(self, why: str = "") -> str:
        """Bring a board that stopped answering back to its raw prompt; return the rung that did it.

        Rungs, cheapest first: interrupt (Ctrl-C), leave raw mode (Ctrl-B),
        soft reset (Ctrl-D), hard reset of the machine, a new emulator
        process. After each one a probe must print its answer, so a board
        counts as back only when it runs code. Every rung is written to the
        transcript and the log. Raises ``BoardBroken`` when no rung worked.
        """
        self._note(f"recovery ladder started: {why}" if why else "recovery ladder started")
        failures = []
        for rung, action in (
            ("interrupt", self._rung_interrupt),
            ("leave raw mode", self._rung_leave_raw),
            ("soft reset", self._rung_soft_reset),
            ("hard reset", self._rung_hard_reset),
            ("restart the emulator", self._rung_restart),
        ):
            if rung == "soft reset" and self.platform.repl.soft_reset != "ctrl-d":
                continue
            self._note(f"recovery: {rung}")
            try:
                action()
                self._probe()
            except MpbenchError as e:
                first = (str(e).splitlines() or [type(e).__name__])[0]
                failures.append(f"{rung}: {first}")
                self._note(f"recovery: {rung} failed: {first}")
                continue
            self._note(f"recovery: {rung} worked; the board answers")
            return rung
        self._fail_stop()
        raise BoardBroken(
            f"{self.name} did not come back: every rung of the recovery ladder failed"
            + (f" (it was needed because {why})" if why else "")
            + "".join(f"\n  {f}" for f in failures)
        )

    def _note(self, text: str) -> None:
        log.warning("%s: %s", self.name, text)
        if self._transcript is not None:
            self._transcript.event(text)

    def _rung_deadline(self) -> Deadline:
        return Deadline(RUNG_TIMEOUT, self.session.clock if self.session else None)

    def _rung_interrupt(self) -> None:
        self._s().recover(RUNG_TIMEOUT)

    def _rung_leave_raw(self) -> None:
        s = self._s()
        s.board_restarted(discard_output=True)
        deadline = self._rung_deadline()
        s.console.write(CTRL_B)
        s.reader.read_until(PROMPT, deadline, what="no friendly prompt after Ctrl-B")
        s.reader.read_quiet(0.05, deadline)
        s.board_restarted(discard_output=True)
        s.goto(ReplMode.RAW, self._rung_deadline())

    def _rung_soft_reset(self) -> None:
        s = self._s()
        s.board_restarted(discard_output=True)
        s.goto(ReplMode.FRIENDLY, self._rung_deadline())  # Ctrl-D does a soft reset only at the prompt
        s.soft_reset(max(self.timeout, self.boot_timeout))
        s.goto(ReplMode.RAW, self._rung_deadline())

    def _rung_hard_reset(self) -> None:
        self._hard_reset()
        self._s().goto(ReplMode.RAW, self._rung_deadline())

    def _rung_restart(self) -> None:
        """A new emulator process from scratch; the transcript and recorder carry on."""
        transcript, recorder = self._transcript, self.recorder
        if self.engine is not None:
            self.engine.failed = True
            self.engine.stop()
        self.engine = None
        self.session = None
        self.start()
        if transcript is not None and self._transcript is not transcript:
            transcript.extend(self._transcript)
            self._transcript = transcript
            assert self.session is not None
            self.session.console.transcript = transcript
        if recorder is not None:
            self.recorder = recorder
            assert self.session is not None
            self.session.recorder = recorder

    def _probe(self) -> None:
        """Run a line of code; raise unless the board printed the answer."""
        s = self._s()
        deadline = Deadline(max(self.timeout, RUNG_TIMEOUT), s.clock)
        s._exec_start(PROBE_CODE, deadline, 0)
        result = s._exec_follow(deadline)
        if result.stdout.strip() != PROBE_ANSWER:
            raise SessionError(f"the probe printed {result.stdout!r}{result.stderr!r}, not {PROBE_ANSWER!r}")

    @recorded("stimulate", "source")
    def stimulate(self, source: str) -> None:
        """Raise IRQ ``source`` from outside the firmware with the commands the platform file gives.

        Only the local platform file names the commands (Renode monitor
        commands can run code on the host), so a replayed bundle names the
        source, never the commands.
        """
        irq = self.platform.irq_sources.get(source)
        if irq is None or not irq.external:
            raise EngineError(f"{self.name}: IRQ source {source!r} cannot be raised from outside the firmware")
        stimulate = getattr(self.engine, "stimulate", None)
        if stimulate is None:
            raise EngineError(f"{self.name}: the {self.platform.engine} engine cannot drive IRQs from outside")
        stimulate(irq.external, source)

    def pause(self) -> None:
        """Stop the board's time while no test talks to it, so it costs no CPU (see ``Engine.pause``).

        A board that cannot be paused (its emulator died) is left for the
        recovery ladder of its next use; pausing never fails a test.
        """
        if self.engine is not None:
            try:
                self.engine.pause()
            except MpbenchError as e:
                log.warning("%s: could not pause: %s", self.name, str(e).splitlines()[0])

    def resume(self) -> None:
        """Let a paused board run again (errors surface on the next call that talks to it)."""
        if self.engine is not None:
            try:
                self.engine.resume()
            except MpbenchError as e:
                log.warning("%s: could not resume: %s", self.name, str(e).splitlines()[0])

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.stop()
        self.session = None

    def _fail_stop(self) -> None:
        """Stop a board that failed: its emulator process is not kept for another board."""
        if self.engine is not None:
            self.engine.failed = True
        self.stop()

    def __enter__(self) -> Board:
        return self.start() if self.engine is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
