"""``mpbench race``: hit a running script with an external IRQ at every instant of a window, group the outcomes.

On a Renode board the bench owns virtual time (``engine/vtime.py``), so "raise
the pin edge 130 us after the script printed ``go``" is an exact, repeatable
instant. For each instant of the window the explorer loads the board's boot
snapshot into one running Renode, runs SCRIPT to the moment TEXT has been
printed, applies the platform's ``external`` IRQ source at the instant and
lets the script finish. Runs are grouped by what the script
printed (the transcript's fingerprint): one outcome means no instant in the
window changed anything; several mean a race.

Each distinct outcome is then run once more from a fresh boot, recorded
step by step with its instants, and written as a replayable bundle; the
table says whether that fresh run gave the same outcome as the sweep.

The TEXT moment is found once, to ``ANCHOR_STEP_US``: the end of the fine
step in which TEXT's last byte arrived. Every instant is then an absolute
virtual time; the engine never steps past a scheduled instant, so the IRQ
lands exactly there, and the bundles record it for their replays.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpbench.board import Board
from mpbench.errors import EXIT_FAILED, EXIT_INPUT, EXIT_OK, MpbenchError
from mpbench.platform import Platform

#: Seconds (virtual, and at least as long in host time) the script may take to print TEXT or to finish.
DEFAULT_TIMEOUT = 30.0
#: Virtual microseconds per step while the script runs towards TEXT: the TEXT moment is at most this
#: long after the board printed TEXT's last byte. Bundles record it, and replays step the same way.
ANCHOR_STEP_US = 10


class RaceInputError(MpbenchError):
    """Bad input to ``mpbench race`` (exit 2)."""

    exit_status = EXIT_INPUT


@dataclass
class Outcome:
    """One distinct way the script ended, and the instants (offsets from TEXT, us) that led to it."""

    digest: str
    output: str
    offsets: list[int] = field(default_factory=list)
    bundle: Path | None = None
    replayed_same: bool | None = None


def external_boards(directory: Path | None = None) -> list[str]:
    """``board (source, ...)`` for every platform with an IRQ source raised from outside the firmware."""
    from mpbench.platform_loader import load_all

    out = []
    for name, p in sorted(load_all(directory).items()):
        sources = [s for s, irq in p.irq_sources.items() if irq.external]
        if sources:
            out.append(f"{name} ({', '.join(sources)})")
    return out


def check_source(platform: Platform, source: str, directory: Path | None = None) -> tuple[str, ...]:
    """The monitor commands of ``source`` on ``platform``; ``RaceInputError`` naming the boards that have some."""
    irq = platform.irq_sources.get(source)
    if irq is not None and irq.external:
        return tuple(irq.external)
    have = external_boards(directory)
    mine = [s for s, i in platform.irq_sources.items() if i.external]
    where = f"{platform.name} has " + (", ".join(mine) if mine else "no external IRQ sources")
    raise RaceInputError(
        f"--irq {source}: not an external IRQ source of {platform.name} ({where}); "
        f"boards with external IRQ sources: {'; '.join(have) or 'none'}"
    )


def first_difference(a: str, b: str) -> str:
    """The first line of ``b`` that differs from ``a`` (what makes an outcome different from the first)."""
    la, lb = a.splitlines(), b.splitlines()
    for i, line in enumerate(lb):
        if i >= len(la) or la[i] != line:
            return f"line {i + 1}: {line!r}"
    if len(la) > len(lb):
        return f"line {len(lb) + 1}: (output ends; the first outcome goes on with {la[len(lb)]!r})"
    return "(same lines)"


def outcome_digest(stdout: str, stderr: str) -> str:
    return hashlib.sha256((stdout + "\0" + stderr).replace("\r\n", "\n").encode()).hexdigest()


class Race:
    """The sweep on one board process: a TEXT anchor state, then one load per instant."""

    def __init__(
        self,
        platform: Platform,
        code: str,
        source: str,
        after: bytes,
        offsets: list[int],
        timeout: float = DEFAULT_TIMEOUT,
        firmware: Path | None = None,
    ):
        self.platform, self.code, self.source, self.after = platform, code, source, after
        self.offsets, self.timeout, self.firmware = offsets, timeout, firmware
        self.commands = tuple(platform.irq_sources[source].external or ())
        self.outcomes: dict[str, Outcome] = {}
        self.anchor_us = 0
        self.sweep_seconds = 0.0

    def _restart(self, board: Board) -> None:
        """The board's boot state again, in the same Renode, brought to the raw prompt as a fresh start is.

        The same calls as ``Board.start`` from a snapshot (the boot output
        replayed, the prompt's settle, the raw REPL), so every run, and the
        fresh boards that record the bundles and replay them, share one timeline.
        """
        engine, s = board.engine, board.session
        assert engine is not None and s is not None
        engine.reload_boot()  # type: ignore[attr-defined]
        s.board_restarted(discard_output=True)
        s.wait_for_prompt(board.boot_timeout)
        s.enter_raw()

    def _find_anchor(self, board: Board) -> None:
        """The TEXT moment, to ``ANCHOR_STEP_US``: a normal run, then the step TEXT came in, run in fine steps.

        The second run inserts step boundaries (empty scheduled instants) only
        inside the step in which TEXT arrived; the board gets no input there,
        so everything before TEXT happens at the same instants as in any run.
        """
        s, e = board.session, board.engine
        assert s is not None and e is not None
        seen = self.after.decode(errors="replace")
        s.exec_start(self.code, self.timeout)
        got = s.wait_for_text(self.after, self.timeout)
        start, end = e.last_step  # type: ignore[attr-defined]
        result = s.exec_follow(self.timeout)
        if got is None:
            raise RaceInputError(
                f"the script ended without printing {seen!r} (--after); it printed:\n"
                + (result.stdout + result.stderr).rstrip()
            )
        self._restart(board)
        for t in range(start + ANCHOR_STEP_US, end, ANCHOR_STEP_US):
            e.schedule.add(t, (), "")  # type: ignore[attr-defined]
        s.exec_start(self.code, self.timeout)
        s.wait_for_text(self.after, self.timeout)
        self.anchor_us = e.vt_us  # type: ignore[attr-defined]
        e.schedule.clear()  # type: ignore[attr-defined]
        s.exec_follow(self.timeout)

    def _one(self, board: Board, off: int) -> tuple[str, str]:
        """From the boot state: SCRIPT, with the IRQ scheduled ``off`` us after TEXT; (digest, output)."""
        s, engine = board.session, board.engine
        assert s is not None and engine is not None
        e: Any = engine
        e.schedule.add(self.anchor_us + off, self.commands, self.source)
        s.exec_start(self.code, self.timeout)
        s.wait_for_text(self.after, self.timeout)
        result = s.exec_follow(self.timeout)
        if len(e.schedule):
            raise RaceInputError(f"the script ended before the instant {off} us after {self.after!r}")
        return outcome_digest(result.stdout, result.stderr), result.stdout + result.stderr

    def sweep(self) -> None:
        """Every instant of the window, each run from the board's boot state loaded into one Renode.

        Not from a state saved at the TEXT moment: after ``Load`` of a machine
        whose EXTI line was already configured, Renode 1.15.1 lost the first pin
        edge (measured), so every run configures its IRQ after a load, as a fresh
        boot does. Runs before the instant step as coarsely as any run (the
        schedule stops a step exactly at the instant), so only the first run,
        which finds TEXT, is slow.
        """
        board = Board(self.platform, firmware=self.firmware, timeout=self.timeout)
        with board:
            engine, s = board.engine, board.session
            if not getattr(engine, "stepped", False) or getattr(engine, "snapshot", None) is None:
                raise RaceInputError(
                    f"{self.platform.name}: `race` needs a Renode board whose virtual time the bench drives and "
                    "its boot snapshot (no MPBENCH_RENODE_CLOCK=free, no MPBENCH_RENODE_SNAPSHOTS=0)"
                )
            assert engine is not None and s is not None
            self._restart(board)
            self._find_anchor(board)
            started = time.monotonic()
            for off in self.offsets:
                self._restart(board)
                digest, output = self._one(board, off)
                self.outcomes.setdefault(digest, Outcome(digest, output)).offsets.append(off)
            self.sweep_seconds = time.monotonic() - started

    def record(self, outdir: Path) -> None:
        """One bundle per outcome: a fresh boot, the script, the IRQ at the outcome's first instant."""
        from mpbench.repro.bundle import SUFFIX
        from mpbench.repro.capture import describe, sanitize, save

        outdir.mkdir(parents=True, exist_ok=True)
        for n, out in enumerate(self.outcomes.values(), 1):
            off = out.offsets[0]
            board = Board(self.platform, firmware=self.firmware, timeout=self.timeout, record=True)
            with board:
                assert board.recorder is not None
                steps_mark, transcript_mark = board.recorder.mark(), board.transcript.mark()
                digest, _ = self._one(board, off)
                out.replayed_same = digest == out.digest
                steps = board.recorder.since(steps_mark)
                records = board.transcript.to_records()[transcript_mark:]
                origin = {"kind": "race", "script": self.code.splitlines()[0][:80] if self.code else ""}
                failure = {
                    "summary": f"outcome {n} of {len(self.outcomes)}: {self.source} {off} us after "
                    f"{self.after.decode(errors='replace')!r}",
                    "detail": out.output,
                }
                doc, member = describe(board, steps, records, "raw", origin, failure)
            path = outdir / f"outcome{n}-{sanitize(self.platform.name)}{SUFFIX}"
            save(path, doc, member)
            out.bundle = path


def offsets_of(window_us: int, step_us: int) -> list[int]:
    """0, step, 2*step, ... up to and including ``window_us``."""
    return list(range(0, window_us + 1, step_us))


def race_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--platform", required=True, help="a Renode board (pyboard, spike-prime)")
    p.add_argument("--irq", required=True, help="an external IRQ source of the board (e.g. pin_edge)")
    p.add_argument("--after", required=True, help="the text the script prints; instants count from it")
    p.add_argument("--window", required=True, help="how long after TEXT to try instants (2ms, 500us, ...)")
    p.add_argument("--step", required=True, help="the distance between two instants (10us, ...)")
    p.add_argument("-o", "--output", help="folder for one bundle per outcome (default race-<script>/)")
    p.add_argument("--firmware", help="boot this image instead of the manifest's")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds for TEXT and for the end")
    p.add_argument("script", help="MicroPython script that sets up its own IRQ handler")


def do_race(args: argparse.Namespace) -> int:
    from mpbench.engine.vtime import format_us, parse_duration
    from mpbench.platform_loader import find_platform

    directory = Path(args.platforms) if getattr(args, "platforms", None) else None
    platform = find_platform(args.platform, directory)
    check_source(platform, args.irq, directory)
    try:
        window, step = parse_duration(args.window), parse_duration(args.step)
    except ValueError as e:
        raise RaceInputError(f"--window/--step: {e}") from None
    if step <= 0:
        raise RaceInputError(f"--step {args.step}: must be longer than 0")
    try:
        code = Path(args.script).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RaceInputError(f"{args.script}: cannot read the script: {e}") from None
    outdir = Path(args.output) if args.output else Path(f"race-{Path(args.script).stem}")
    offsets = offsets_of(window, step)
    firmware = Path(args.firmware) if args.firmware else None
    race = Race(platform, code, args.irq, args.after.encode(), offsets, args.timeout, firmware)
    print(f"mpbench: {len(offsets)} instants, {args.irq} 0..{format_us(window)} after {args.after!r}", file=sys.stderr)
    race.sweep()
    rate = len(offsets) / race.sweep_seconds if race.sweep_seconds else 0.0
    race.record(outdir)
    outcomes = list(race.outcomes.values())
    first = outcomes[0].output
    rows = [["outcome", "instants", "first", "last", "bundle replays it", "first differing line"]]
    for n, out in enumerate(outcomes, 1):
        rows.append(
            [
                str(n),
                str(len(out.offsets)),
                format_us(out.offsets[0]),
                format_us(out.offsets[-1]),
                "yes" if out.replayed_same else "NO",
                "(first outcome)" if n == 1 else first_difference(first, out.output),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    for n, out in enumerate(outcomes, 1):
        print(f"outcome {n}: {out.bundle}")
    print(
        f"mpbench: {len(offsets)} instants in {race.sweep_seconds:.1f} s ({rate:.1f} instants/s); "
        f"{len(outcomes)} outcome(s)",
        file=sys.stderr,
    )
    return EXIT_OK if len(outcomes) == 1 else EXIT_FAILED


__all__ = ["Race", "do_race", "race_args"]
