"""Replaying a bundle: same board, same firmware, same steps; then compare what the board said.

Nothing a bundle says is executed outside the emulator. The board is booted
from the *local* platform file of the bundle's board name (the engine binary,
its arguments and extra_args never come from the bundle), the firmware must
hash to what the bundle recorded, and a board whose engine is ``host`` (the
unix port, which runs code with the user's rights) is refused unless the user
passes ``--allow-host``. Steps are replayed through the same session calls
that recorded them; waits wait for their text, nothing is slept.

A replay runs in the timing mode the recording really used (``determinism.used``:
``-icount`` for ``repro create``, host timing for bundles of Robot runs, whose
boards boot without it), and within a time limit for the whole run (boot and
steps, ``--max-time``), after which the board is stopped: a bundle's steps may
each wait up to an hour, and there may be many. A bundle may include its
firmware image; it runs inside the emulator only, and a bundle for the host
engine (where the "firmware" is the command that runs) may not include one.

One thing a replay adds: before each input step (``write``, ``interrupt``)
it lets the board finish printing (``settle``). Input that lands while the
board is still in the middle of a ``print`` is the main source of replays
that differ (measured on micro:bit: Ctrl-C sent as soon as ``ready``
arrived hit line 1 instead of line 2 of ``print('ready')`` / ``while True:
pass`` in 1 to 5 runs out of 20, with or without ``-icount``).
"""

from __future__ import annotations

import contextlib
import difflib
import math
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from mpbench.board import Board, resolve_firmware
from mpbench.deadline import Deadline
from mpbench.engine import Determinism
from mpbench.engine.snapshot import TrustedState
from mpbench.errors import EXIT_BOARD, BundleError, FirmwareError, MpbenchError, PlatformError, SessionError
from mpbench.platform import Platform
from mpbench.platform_loader import default_directory, find_platform
from mpbench.repro.bundle import Bundle, fingerprint, normalise, short
from mpbench.repro.scrub import board_paths, known_paths, scrub_records, scrub_text
from mpbench.session.recorder import Step


@dataclass
class Setup:
    """What a replay boots: the local platform, the firmware file (None: the manifest's) and notes to show."""

    platform: Platform
    firmware: Path | None
    expected_sha256: str | None
    notes: list[str] = field(default_factory=list)
    tmpdir: tempfile.TemporaryDirectory[str] | None = None
    #: The bundle's Renode state, checked and unpacked (``--trust-state``): boards start from it.
    trusted: TrustedState | None = None

    def close(self) -> None:
        if self.tmpdir is not None:
            self.tmpdir.cleanup()


@dataclass(frozen=True)
class Run:
    """One replay: the console slice it produced, its fingerprint, the steps that failed in it, and how it ran.

    ``determinism`` and ``argv`` are the replaying engine's own (what it really
    did), so a caller can show and check that the replay ran in the recorded mode.
    """

    records: list[dict[str, Any]]
    fingerprint: str
    errors: list[str]
    determinism: Determinism | None = None
    argv: tuple[str, ...] = ()


class ReplayTimeLimit(MpbenchError):
    """A replay ran past its time limit and its board was stopped.

    Exit 3 (the board or the harness did not finish), not a verdict: a replay
    that hangs says nothing about whether it would have given the same output.
    """

    exit_status = EXIT_BOARD

    def __init__(self, bundle: str, seconds: float, during: str):
        self.bundle, self.seconds, self.during = bundle, seconds, during
        super().__init__(
            f"{bundle}: the replay did not finish within {seconds:g} s (--max-time) and was stopped {during}; "
            "the board was stopped. Pass a larger --max-time if this board is just slow here"
        )


#: The longest default time limit of one replay run (the user's --max-time may be longer).
MAX_DEFAULT_TIME = 3600.0
#: Added to the boot time and five times the recording's span, for the default limit.
SLACK = 30.0


def recorded_span(bundle: Bundle) -> float:
    """Seconds from the bundle's first recorded step or console record to its last (0 when it has none)."""
    times = [float(s["t"]) for s in bundle.doc["steps"]]
    times += [float(s["t_end"]) for s in bundle.doc["steps"] if s.get("t_end") is not None]
    times += [float(r["t"]) for r in bundle.records]
    return max(0.0, max(times) - min(times)) if times else 0.0


def default_max_time(bundle: Bundle, platform: Platform) -> float:
    """The default ``--max-time`` of one run: your platform's boot limit (times its boot tries), plus
    ``SLACK``, plus five times the recording's span; at most ``MAX_DEFAULT_TIME``.

    The boot part comes from the local platform file, not the bundle; the span
    from the bundle, which is why the total is capped.
    """
    tries = 1 + int(platform.engine_config.get("boot_retries", 0) or 0)
    return min(MAX_DEFAULT_TIME, platform.boot_timeout * tries + SLACK + 5 * recorded_span(bundle))


class _Expired(BaseException):
    """Raised by the alarm: a BaseException, so no ``except Exception`` below the replay can swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``_Expired`` in the calling (main) thread once ``seconds`` of host time have passed.

    A signal, not a check between steps, because a single step can block for
    as long as its timeout says (or longer where a layer below ignores it); the
    alarm interrupts any wait the way Ctrl-C would, and the caller's ``finally``
    stops the board. It fires at most once.
    """
    if not (math.isfinite(seconds) and seconds > 0):
        raise MpbenchError(f"--max-time must be a positive number of seconds, not {seconds!r}")
    if threading.current_thread() is not threading.main_thread():
        raise MpbenchError("a replay's time limit needs the main thread (it is kept with SIGALRM)")
    fired = False

    def on_alarm(_signum: int, _frame: FrameType | None) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise _Expired()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)


def prepare(
    bundle: Bundle,
    platforms_dir: Path | None = None,
    allow_host: bool = False,
    firmware: Path | None = None,
    fetch: bool = False,
    trust_state: bool = False,
) -> Setup:
    """Everything checked before anything boots; ``BundleError`` when the bundle cannot be replayed here.

    ``trust_state``: start from the Renode state the bundle carries (checked
    by ``state.unpack``) instead of booting a firmware image, which then need
    not be on this machine.
    """
    doc, where = bundle.doc, bundle.path
    name = doc["platform"]["name"]  # the schema restricts it to [a-z0-9-]: never a path
    folder = platforms_dir or default_directory()
    try:
        platform = find_platform(name, folder)
    except PlatformError as e:
        raise BundleError(
            where,
            f"the bundle is for board {name!r}, which has no platform file here ({e}); a replay uses the "
            "locally installed platform of that name, never the bundle's copy",
        ) from e
    recorded_engine = doc["engine"]["name"]
    if "host" in (recorded_engine, platform.engine) and not allow_host:
        raise BundleError(
            where,
            f"board {name!r} runs on the host engine: the bundle's code would run on this machine with your "
            "rights, outside any emulator. Read its steps (`mpbench repro show`) and pass --allow-host to replay it",
        )
    if recorded_engine != platform.engine:
        raise BundleError(
            where, f"recorded on engine {recorded_engine!r}, but the local {platform.path} uses {platform.engine!r}"
        )
    if bundle.firmware is not None and platform.engine == "host" and firmware is None:
        raise BundleError(
            where,
            f"the bundle includes {doc['firmware']['included']!r}, but board {name!r} runs on the host engine, "
            "where the firmware is the command that runs on this machine: a replay runs your own unix port, "
            "never a program from a bundle (expected a host bundle without firmware)",
        )
    notes = []
    # compared as a bundle stores it: with this machine's paths as placeholders
    local_text = scrub_text(platform.path.read_text(encoding="utf-8"), known_paths(platform.path))
    if local_text != doc["platform"]["text"]:
        diff = difflib.unified_diff(
            doc["platform"]["text"].splitlines(),
            local_text.splitlines(),
            f"bundle:{doc['platform']['file']}",
            str(platform.path),
            lineterm="",
            n=1,
        )
        notes.append(f"the local {platform.path} differs from the bundle's copy; replaying with the local one:")
        notes.extend(list(diff)[:40])
    setup = Setup(platform, None, doc["firmware"]["sha256"], notes)
    try:
        if trust_state:
            from mpbench.repro.state import unpack

            setup.tmpdir = tempfile.TemporaryDirectory(prefix="mpbench-replay-")
            setup.trusted = unpack(bundle, bundle.state, platform, Path(setup.tmpdir.name) / "state")
            if firmware is not None or bundle.firmware is not None:
                setup.notes.append("--trust-state: the firmware image is not booted; the state holds its memory")
            return setup
        _firmware(bundle, setup, firmware, fetch)
    except BaseException:
        setup.close()
        raise
    return setup


def _firmware(bundle: Bundle, setup: Setup, override: Path | None, fetch: bool) -> None:
    fw, where = bundle.doc["firmware"], bundle.path
    expected = fw["sha256"]
    if bundle.firmware is not None and override is None:
        setup.tmpdir = tempfile.TemporaryDirectory(prefix="mpbench-replay-")
        path = Path(setup.tmpdir.name) / Path(fw["included"]).name
        path.write_bytes(bundle.firmware)  # its sha256 was checked when the bundle was read
        setup.firmware = path
        return
    try:
        resolved = resolve_firmware(setup.platform, override, fetch)
    except FirmwareError as e:
        raise BundleError(
            where,
            f"the firmware the bundle was recorded with ({fw['id']} {fw['version']}, sha256 {expected}) is not "
            f"available here: {' '.join(str(e).split())}; get it with `mpbench firmware fetch`, pass "
            "--firmware PATH, or ask for a bundle made with --include-firmware"
            + (", or pass --trust-state to load the Renode state it carries" if bundle.state is not None else ""),
        ) from e
    if expected is None:
        setup.notes.append(
            f"the firmware {fw['id']} is not pinned by a hash (an installed command); the bundle recorded "
            f"version {fw['version']}, this machine runs {resolved.path}"
        )
    elif resolved.sha256 != expected:
        raise BundleError(
            where,
            f"firmware hash mismatch: the bundle was recorded with sha256 {expected} ({fw['id']} {fw['version']}), "
            f"but {resolved.path} here has sha256 {resolved.sha256}",
        )
    setup.firmware = override


#: Host seconds without console output that count as "the board has finished printing", and the longest wait.
SETTLE_QUIET, SETTLE_MAX = 0.02, 0.2


def settle(board: Board) -> None:
    """Wait (at most ``SETTLE_MAX``) until the board is quiet, keeping what it printed for the next wait."""
    assert board.session is not None
    reader = board.session.reader
    deadline = Deadline(SETTLE_MAX)
    while not deadline.expired() and reader.fill(deadline.slice(SETTLE_QUIET)):
        pass


def apply(board: Board, step: Step) -> None:
    """Make the session call ``step`` records."""
    s = board.session
    if s is None:
        raise SessionError(f"{board.name} is not running")
    a = step.args
    kind = step.kind
    if kind in ("write", "interrupt", "stimulate") and not getattr(board.engine, "stepped", False):
        # A board on the bench's clock (Renode) applies input at the recorded instant instead:
        # letting it run on until the host sees silence would move that instant.
        settle(board)
    if kind == "exec":
        s.exec(a["code"], a["timeout"])
    elif kind == "start":
        s.exec_start(a["code"], a["timeout"], a["line_offset"])
    elif kind == "wait_for":
        s.wait_for_text(a["text"], a["timeout"])
    elif kind == "read_until":
        s.read_until(a["pattern"], a["timeout"])
    elif kind == "write":
        s.write(a["data"])
    elif kind == "interrupt":
        s.interrupt()
    elif kind == "follow":
        s.exec_follow(a["timeout"])
    elif kind == "type":
        s.friendly_line(a["line"], a["timeout"])
    elif kind == "soft_reset":
        s.soft_reset(a["timeout"])
    elif kind == "recover":
        s.recover(a["timeout"])
    elif kind == "reset":
        board.reset(a["hard"])
    elif kind == "stimulate":
        board.stimulate(a["source"])  # commands come from the local platform file, never the bundle
    else:  # the bundle reader already refused unknown kinds
        raise BundleError(board.name, f"unknown step kind {kind!r}")


def plan_instants(board: Board, instants: dict[str, Any] | None) -> None:
    """On a board whose virtual time the bench drives: step as recorded, apply stimuli at the recorded instants."""
    engine = board.engine
    if not instants or not getattr(engine, "stepped", False):
        return
    from mpbench.engine.vtime import SlicePlanner, Stimulus

    lo, hi = (int(x) for x in instants.get("slice_us") or (100, 20_000))
    engine.planner = SlicePlanner(lo, hi)  # type: ignore[union-attr]
    engine.plan_instants([Stimulus.from_json(s) for s in instants.get("stimuli", [])])  # type: ignore[union-attr]


def replay_once(bundle: Bundle, setup: Setup, max_time: float | None = None) -> Run:
    """Boot, bring the REPL to the recorded starting mode, replay every step, stop; what the console said.

    The board runs in the recorded timing mode. With ``max_time`` the whole
    run (boot included) is stopped after that many seconds of host time:
    ``ReplayTimeLimit``, with the board stopped.
    """
    doc = bundle.doc
    board = Board(
        setup.platform,
        firmware=setup.firmware,
        timeout=doc["session"]["timeout"],
        deterministic=bool(doc["determinism"]["used"]),
        trusted_state=setup.trusted,
    )
    steps = bundle.steps
    errors: list[str] = []
    during = "while the board booted"
    mark = 0
    determinism: Determinism | None = None
    started = time.monotonic()
    try:
        with time_limit(max_time) if max_time is not None else contextlib.nullcontext():
            board.start()
            assert board.session is not None and board.engine is not None
            determinism = board.engine.determinism()
            got = board.firmware.sha256 if board.firmware is not None else None
            if setup.expected_sha256 is not None and got != setup.expected_sha256:
                raise BundleError(
                    bundle.path, f"firmware hash mismatch: expected {setup.expected_sha256}, booted {got}"
                )
            if doc["session"]["start_mode"] == "friendly":
                board.session.enter_friendly()
            plan_instants(board, doc.get("instants"))
            mark = board.transcript.mark()
            for i, step in enumerate(steps, 1):
                during = f"in step {i} of {len(steps)} ({step.kind})"
                try:
                    apply(board, step)
                except SessionError as e:
                    first = (str(e).splitlines() or [""])[0]
                    errors.append(f"step {i} ({step.kind}): {type(e).__name__}: {first}")
                    if step.error is None:  # the recording went on here: the replay has diverged
                        break
            during = "after the last step"
    except _Expired:
        raise ReplayTimeLimit(
            bundle.path, max_time or 0.0, f"{during}, {time.monotonic() - started:.1f} s into the run"
        ) from None
    finally:
        board.stop()
    records = board.transcript.to_records()[mark:] if board.transcript is not None else []
    records = scrub_records(records, board_paths(board))  # this machine's paths, as the recording's were
    argv = tuple(board.engine.argv) if board.engine is not None else ()
    return Run(records, fingerprint(records), errors, determinism, argv)


def escape_char(c: str) -> str:
    """One character a terminal must not obey, as ``\\xNN`` (up to 0xff) or ``\\uNNNN``/``\\UNNNNNNNN``."""
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else (f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")


def visible(text: str) -> str:
    """Untrusted text made safe for a terminal: everything not printable except newline and tab, escaped.

    Not printable (``str.isprintable``) covers control characters, ANSI
    escapes' ESC, C1 controls and invisible formatting characters such as
    the bidirectional overrides that can make code read differently from
    what it is.
    """
    return "".join(c if c.isprintable() or c in "\n\t" else escape_char(c) for c in text)


def diff(recorded: list[dict[str, Any]], replayed: list[dict[str, Any]], label: str) -> str:
    """A unified diff of two normalised transcripts, readable in a terminal."""
    a = visible(normalise(recorded).decode("latin-1")).splitlines()
    b = visible(normalise(replayed).decode("latin-1")).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "recorded", label, lineterm=""))


def summary(fingerprints: list[str], recorded: str) -> str:
    """``10/10 runs gave fingerprint abc…`` (one clause per distinct fingerprint, commonest first)."""
    counts: dict[str, int] = {}
    for f in fingerprints:
        counts[f] = counts.get(f, 0) + 1
    n = len(fingerprints)
    parts = [
        f"{c}/{n} runs gave fingerprint {short(f)}" + (" (the recording's)" if f == recorded else "")
        for f, c in sorted(counts.items(), key=lambda kv: -kv[1])
    ]
    return "; ".join(parts)


__all__ = [
    "ReplayTimeLimit",
    "Run",
    "Setup",
    "apply",
    "default_max_time",
    "diff",
    "escape_char",
    "prepare",
    "recorded_span",
    "replay_once",
    "summary",
    "time_limit",
    "visible",
]
