"""Virtual-time bookkeeping for engines that run the board only in steps the bench asks for.

Renode lets its monitor run the emulation for an exact span of virtual time
(``emulation RunFor``) and stays paused otherwise. An engine that drives it
that way decides *how long* each step is (``SlicePlanner``), applies every
stimulus at an exact virtual instant (``InstantPlan``: console bytes, Ctrl-C,
a pin edge) and stamps every received chunk with the virtual time its step
ended. All of it is plain integer microseconds (Renode's TimeInterval
resolution) and needs no emulator, so it is unit-tested on its own.

Why steps and not free running: code between two inputs runs the same way
whatever the host does, but an input applied at a host-timed moment lands at
a different virtual instant on a loaded host. Stepping makes the instant a
number the bench chooses and a bundle can record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

US = 1_000_000
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|ms|us|µs)\s*$")
_UNITS = {"s": US, "ms": 1000, "us": 1, "µs": 1}


def parse_duration(text: str) -> int:
    """``2ms``, ``10us``, ``1.5s`` as whole microseconds; ValueError naming what was expected.

    Microseconds are the resolution Renode's monitor parses, so anything
    finer (``0.5us``) is refused instead of silently rounded.
    """
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration: expected a number and a unit, s, ms or us (e.g. 2ms, 10us)")
    value = float(m[1]) * _UNITS[m[2]]
    us = round(value)
    if abs(value - us) > 1e-6:
        raise ValueError(f"{text!r} is finer than a microsecond, the resolution of Renode's virtual time")
    return us


def format_us(us: int) -> str:
    """Microseconds as a short human duration (``1.5ms``, ``250us``, ``2s``)."""
    if us % US == 0:
        return f"{us // US}s"
    if us >= 1000 and us % 1000 == 0:
        return f"{us // 1000}ms"
    if us >= 1000:
        return f"{us / 1000:g}ms"
    return f"{us}us"


def monitor_interval(us: int) -> str:
    """A span for Renode's monitor (``emulation RunFor "…"``) that it parses to exactly ``us``.

    Renode 1.15 turns the fraction into microseconds through a double and
    truncates (``.000300`` can become 299 µs): a trailing ``5`` in the 7th
    decimal keeps the truncation on the intended microsecond.
    """
    if us < 0:
        raise ValueError(f"negative interval {us}")
    return f"{us // US}.{us % US:06d}5"


@dataclass
class SlicePlanner:
    """How long the next step of a wait is, in microseconds.

    Short steps right after the board printed (so a reply is seen, and
    stamped, within ``min_us`` of virtual time), doubling while it stays
    silent up to ``max_us`` (a long silent wait costs few monitor round
    trips), never past the wait's budget nor past the next planned instant.
    The sequence depends only on what the board printed, so it is the same
    on every run of the same conversation.
    """

    min_us: int = 100
    max_us: int = 20_000
    _next: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not 0 < self.min_us <= self.max_us:
            raise ValueError(f"slices need 0 < min ({self.min_us}) <= max ({self.max_us})")
        self._next = self.min_us

    def next(self, budget_us: int, until_instant_us: int | None = None) -> int:
        """The next step: at most ``budget_us`` and, when given, exactly reaching a planned instant."""
        n = min(self._next, budget_us)
        if until_instant_us is not None:
            n = min(n, until_instant_us)
        return max(0, n)

    def silent(self) -> None:
        """The last step printed nothing: the next may be longer."""
        self._next = min(self.max_us, self._next * 2)

    def active(self) -> None:
        """The board printed or was sent something: go back to short steps."""
        self._next = self.min_us


@dataclass(frozen=True)
class Stimulus:
    """Something applied to the board at virtual instant ``at_us``: console bytes or an IRQ source."""

    at_us: int
    kind: str  # "console" (bytes to the UART, Ctrl-C included) or "irq" (an external IRQ source)
    detail: str  # the bytes as latin-1 text, or the IRQ source's name

    def to_json(self) -> dict[str, Any]:
        return {"at_us": self.at_us, "kind": self.kind, "detail": self.detail}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Stimulus:
        return cls(int(d["at_us"]), str(d["kind"]), str(d.get("detail", "")))


class InstantPlan:
    """Recorded instants a replay applies its stimuli at, in order.

    ``due(now)`` is asked before each stimulus: it says how far to run first
    so that the stimulus lands on the recorded instant, or notes a
    divergence when the replay is already past it (it cannot run backwards;
    the fingerprint comparison then shows the difference).
    """

    def __init__(self, stimuli: Iterable[Stimulus] = ()):
        self.pending = list(stimuli)
        self.divergences: list[str] = []

    def due(self, now_us: int, kind: str) -> int:
        """Microseconds to run before applying the next stimulus of ``kind`` (0 when none is planned)."""
        if not self.pending:
            return 0
        planned = self.pending.pop(0)
        if planned.kind != kind:
            self.divergences.append(
                f"at {now_us} us a {kind} stimulus came where the recording had a {planned.kind} one "
                f"at {planned.at_us} us"
            )
            return 0
        if planned.at_us < now_us:
            self.divergences.append(
                f"the {kind} stimulus recorded at {planned.at_us} us came at {now_us} us (the replay ran ahead)"
            )
            return 0
        return planned.at_us - now_us


@dataclass(order=True)
class Scheduled:
    """An action planned at an exact instant (a race's IRQ), kept sorted by instant."""

    at_us: int
    seq: int
    commands: tuple[str, ...] = field(compare=False)
    label: str = field(compare=False, default="")


class Schedule:
    """Stimuli the engine applies by itself when virtual time reaches them (``mpbench race``)."""

    def __init__(self) -> None:
        self._items: list[Scheduled] = []
        self._seq = 0

    def add(self, at_us: int, commands: Iterable[str], label: str = "") -> None:
        self._seq += 1
        self._items.append(Scheduled(at_us, self._seq, tuple(commands), label))
        self._items.sort()

    def next_at(self) -> int | None:
        return self._items[0].at_us if self._items else None

    def pop_due(self, now_us: int) -> list[Scheduled]:
        """Everything planned at or before ``now_us``, in order (the engine never steps past one)."""
        due = [s for s in self._items if s.at_us <= now_us]
        self._items = [s for s in self._items if s.at_us > now_us]
        return due

    def due_at(self, at_us: int) -> list[Scheduled]:
        """What ``pop_due(at_us)`` would return, left in place (the stepper applies it inside Renode)."""
        return [s for s in self._items if s.at_us <= at_us]

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def run_plan(now_us: int, budget_us: int, planner: SlicePlanner, schedule: Schedule) -> int:
    """The next step of a wait from ``now_us`` with ``budget_us`` left: never past a scheduled instant."""
    nxt = schedule.next_at()
    until = None if nxt is None else max(0, nxt - now_us)
    return planner.next(budget_us, until)
