"""Virtual-time stepping of Renode boards, without Renode: a fake monitor that keeps a clock.

The fake answers ``emulation RunFor`` by moving its clock and "prints" bytes
planned at virtual instants, so these tests pin what the engine promises:
steps never jump over a planned instant, stimuli land on the instant asked
for and are recorded with it, received chunks carry the step's end, and a
replay's plan pulls a stimulus to its recorded instant.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mpbench.engine.base import EngineState
from mpbench.engine.renode import RenodeEngine, budget_grid
from mpbench.engine.renode_pool import _LOG_LINE
from mpbench.engine.vtime import (
    InstantPlan,
    Schedule,
    SlicePlanner,
    Stimulus,
    format_us,
    monitor_interval,
    parse_duration,
    run_plan,
)
from mpbench.platform_loader import find_platform


def renode_parse_us(text: str) -> int:
    """What Renode 1.15.1's TimeInterval.TryParse makes of "S.FFFFFF…": the fraction through a double, truncated."""
    seconds, frac = text.split(".")
    return int(seconds) * 1_000_000 + int(float("0." + frac) * 1_000_000)


def test_monitor_interval_survives_renodes_truncation() -> None:
    # plain "0.000300" would come back as 299 us for some values: every microsecond must round-trip
    bad_plain = [us for us in range(0, 1_000_000, 7) if renode_parse_us(f"0.{us:06d}") != us]
    assert bad_plain, "the trick is pointless if plain formatting were exact"
    for us in [*range(0, 1_000_000, 7), 1_000_000, 2_500_017, 3_600_000_001]:
        assert renode_parse_us(monitor_interval(us)) == us, us


@pytest.mark.parametrize(
    ("text", "us"), [("2ms", 2000), ("10us", 10), ("1.5s", 1_500_000), ("0.25ms", 250), ("3 µs", 3)]
)
def test_parse_duration(text: str, us: int) -> None:
    assert parse_duration(text) == us


@pytest.mark.parametrize("text", ["2", "ms", "2 min", "-1ms", "0.5us", "1e3us", ""])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|microsecond"):
        parse_duration(text)


def test_format_us() -> None:
    assert [format_us(x) for x in (2_000_000, 3000, 1500, 250)] == ["2s", "3ms", "1.5ms", "250us"]


def test_slice_planner_doubles_while_silent_and_never_passes_an_instant() -> None:
    p = SlicePlanner(min_us=100, max_us=1000)
    steps = []
    for _ in range(6):
        steps.append(p.next(10_000))
        p.silent()
    assert steps == [100, 200, 400, 800, 1000, 1000]
    assert p.next(10_000, until_instant_us=37) == 37
    assert p.next(5) == 5
    p.active()
    assert p.next(10_000) == 100


def test_schedule_orders_and_pops_due() -> None:
    s = Schedule()
    s.add(500, ["b"], "second")
    s.add(200, ["a"], "first")
    assert s.next_at() == 200
    assert [x.label for x in s.pop_due(499)] == ["first"]
    assert s.next_at() == 500 and len(s) == 1


def test_instant_plan_runs_forward_and_notes_divergence() -> None:
    plan = InstantPlan([Stimulus(1000, "console", "x"), Stimulus(900, "irq", "pin_edge"), Stimulus(5, "irq", "p")])
    assert plan.due(400, "console") == 600
    assert plan.due(1000, "irq") == 0 and "ran ahead" in plan.divergences[0]
    assert plan.due(1000, "console") == 0 and "where the recording had a irq" in plan.divergences[1]
    assert plan.due(2000, "console") == 0  # nothing planned any more


class FakeUart:
    """A UART whose ``CharReceived`` takes handlers with ``+=``/``-=`` as a .NET event does from IronPython."""

    def __init__(self) -> None:
        self.CharReceived = FakeEvent()
        self.received = b""

    def WriteChar(self, byte: int) -> None:
        self.received += bytes([byte])


class FakeEvent:
    def __init__(self) -> None:
        self.handlers: list[Any] = []

    def __iadd__(self, handler: Any) -> FakeEvent:
        self.handlers.append(handler)
        return self

    def __isub__(self, handler: Any) -> FakeEvent:
        self.handlers.remove(handler)
        return self

    def __call__(self, byte: int) -> None:
        for h in self.handlers:
            h(byte)


class FakeEmulation:
    """Renode's emulation as the stepper sees it: ``RunFor`` moves a clock and the board prints on time."""

    def __init__(self, engine: FakeRenode):
        self.engine = engine
        self.uart = FakeUart()
        self.MasterTimeSource = self
        self.Instance = self
        self.CurrentEmulation = self

    @property
    def ElapsedVirtualTime(self) -> Any:
        return SimpleNamespace(TotalMicroseconds=self.engine.clock_us)

    def TryGetMachineName(self, machine: Any) -> tuple[bool, str]:
        return True, "pyboard"

    def RunFor(self, us: int) -> None:
        e = self.engine
        e.runs.append((e.clock_us, us))
        e.clock_us += us
        while e.prints and e.prints[0][0] <= e.clock_us:
            for byte in e.prints.pop(0)[1]:
                self.uart.CharReceived(byte)
                e.out += bytes([byte])


class FakeRenode(RenodeEngine):
    """A RenodeEngine whose Renode is the real stepper source run in CPython against a fake emulation.

    The board prints ``prints`` (instant, bytes); every monitor command is
    logged with the virtual time it ran at; every RunFor is in ``runs``.
    """

    def __init__(self, prints: list[tuple[int, bytes]]):
        super().__init__(find_platform("pyboard"), None)
        self.prints = sorted(prints)
        self.out = b""
        self.log: list[tuple[int, str]] = []
        self.runs: list[tuple[int, int]] = []
        self.clock_us = 0
        self.syncs = 0
        self.state = EngineState.RUNNING
        emu = FakeEmulation(self)
        monitor = SimpleNamespace(Machine={"sysbus.usart1": emu.uart}, Parse=self._parse)
        self.scope: dict[str, Any] = {"_mpb_M": emu, "_mpb_TI": SimpleNamespace(FromMicroseconds=int)}
        self.scope["monitor"] = monitor

    def _parse(self, command: str) -> bool:
        self.log.append((self.clock_us, command))
        return True

    def _sync(self, commands: list[str], timeout: float = 0.0) -> list[str]:
        self.syncs += 1
        commands = self._take_queued() + list(commands)
        if any(c.startswith("mpb_") for c in commands):
            commands = self._stepper_install() + commands
        out = io.StringIO()
        for c in commands:
            if c.startswith("include @"):
                exec(Path(c[len("include @") :]).read_text(), self.scope)
                continue
            # as Renode's tokenizer: a quoted argument is a string, a bare number a number
            words = [q if n == "" else int(n) for q, n in re.findall(r'"([^"]*)"|(\S+)', c.split(" ", 1)[1])]
            name = c.split(" ", 1)[0]
            self._parse(c)
            if name in ("mpb_steps", "mpb_write"):
                with contextlib.redirect_stdout(out):
                    self.scope["mc_" + name](*words)
        return out.getvalue().splitlines()

    def _drain(self, wait: float = 0.0) -> bytes:
        data, self.out = self.out, b""
        return data


@pytest.fixture
def fake() -> FakeRenode:
    e = FakeRenode([(1234, b"go\r\n"), (50_000, b"done\r\n")])
    yield e
    shutil.rmtree(e.workdir, ignore_errors=True)


def test_advance_stops_at_the_step_that_printed(fake: FakeRenode) -> None:
    assert fake.advance(1.0) == b"go\r\n"
    # steps of 100, 200, 400, 800 us: the one ending at 1500 us is the first past 1234 us
    assert fake.vt_us == 1500
    assert fake.advance(1.0) == b"done\r\n"
    assert fake.vt_us >= 50_000
    assert fake.advance(0.001) == b""  # silent: a budget of 1 ms is rounded up to the 50 ms grid
    assert fake.vt_us >= 100_000


def test_budget_grid_hides_host_jitter() -> None:
    # a quiet-wait of 50 ms asks for a little less when the host was slow: the same steps must run
    assert budget_grid(0.05) == budget_grid(0.0497) == budget_grid(0.0011) == 50_000
    assert budget_grid(0.2) == budget_grid(0.1999) == 200_000
    assert budget_grid(0) == 0


def test_interleaved_log_line_does_not_hide_a_sync_tag() -> None:
    from mpbench.engine.renode_pool import RenodeProcess  # the monitor's sync tags belong to the process

    rp = RenodeProcess("renode", ("renode",))
    rp._sync_feed(_LOG_LINE.sub(b"", b"m12:57:11.7260 [INFO] pyboard: Machine paused.\npb-sync-518\r").split(b"\n"))
    assert rp._sync_seen == 518
    rp.kill()


def test_scheduled_irq_lands_on_its_exact_instant(fake: FakeRenode) -> None:
    fake.schedule.add(1337, ["sysbus.gpioPortA OnGPIO 0 true"], "pin_edge")
    fake.advance(1.0)
    applied = [(t, c) for t, c in fake.log if "OnGPIO" in c]
    assert applied == [(1337, "sysbus.gpioPortA OnGPIO 0 true")]
    assert fake.stimuli == [Stimulus(1337, "irq", "pin_edge")]


def test_inject_records_instant_and_sends_hex_with_the_next_steps(fake: FakeRenode) -> None:
    fake.run_to(777)
    assert fake.vt_us == 777
    syncs = fake.syncs
    fake.inject(b"\x03'\"")
    assert fake.syncs == syncs  # queued: no round trip of its own
    assert fake.stimuli == [Stimulus(777, "console", "\x03'\"")]
    fake.advance(0.001)
    assert fake.syncs == syncs + 1  # the input and the wait's steps went in one round trip
    sent = [(t, c) for t, c in fake.log if c.startswith("mpb_write")]
    assert sent == [(777, 'mpb_write "sysbus.usart1" "032722"')]
    assert fake.log[-2:] == [sent[0], (777, fake.log[-1][1])] and fake.log[-1][1].startswith("mpb_steps")
    assert fake.scope["monitor"].Machine["sysbus.usart1"].received == b"\x03'\""


def test_replay_plan_pulls_a_stimulus_to_its_recorded_instant(fake: FakeRenode) -> None:
    fake.plan_instants([Stimulus(4321, "irq", "pin_edge"), Stimulus(5000, "irq", "no_such_source")])
    # the recorded stimulate step: run to the instant, where the schedule applies the local commands once
    fake.stimulate(["ignored: a replay uses the local platform's commands"], "pin_edge")
    assert fake.vt_us == 4321
    local = list(fake.platform.irq_sources["pin_edge"].external or ())
    assert [c for t, c in fake.log if t == 4321 and "OnGPIO" in c] == local
    assert not [c for t, c in fake.log if "ignored" in c]
    assert "no external source" in fake.plan.divergences[0]
    record = fake.instants_record()
    assert record["stimuli"] == [{"at_us": 4321, "kind": "irq", "detail": "pin_edge"}]
    assert record["seed"] is not None


class OneStepPerRoundTrip:
    """The loop the engine ran before its steps moved into Renode: one ``RunFor`` per round trip.

    Kept here as the reference: batching the steps must not change which
    steps run, where IRQs land, nor when output is seen (so no stamp and no
    fingerprint changes).
    """

    def __init__(self, prints: list[tuple[int, bytes]], irqs: list[int]):
        self.prints, self.out, self.vt_us = sorted(prints), b"", 0
        self.planner, self.schedule = SlicePlanner(), Schedule()
        for at in irqs:
            self.schedule.add(at, ["irq"], "pin_edge")
        self.runs: list[tuple[int, int]] = []
        self.irqs: list[int] = []

    def run_for(self, us: int) -> None:
        if us > 0:
            self.runs.append((self.vt_us, us))
            self.vt_us += us
            while self.prints and self.prints[0][0] <= self.vt_us:
                self.out += self.prints.pop(0)[1]
        for _ in self.schedule.pop_due(self.vt_us):
            self.irqs.append(self.vt_us)
            self.planner.active()

    def advance(self, budget: float) -> bytes:
        if self.out:
            data, self.out = self.out, b""
            return data
        end = self.vt_us + budget_grid(budget)
        self.run_for(0)
        while self.vt_us < end:
            self.run_for(run_plan(self.vt_us, end - self.vt_us, self.planner, self.schedule))
            data, self.out = self.out, b""
            if data:
                self.planner.active()
                return data
            self.planner.silent()
        return b""

    def run_to(self, at_us: int) -> None:
        self.run_for(0)
        while self.vt_us < at_us:
            self.run_for(run_plan(self.vt_us, at_us - self.vt_us, self.planner, self.schedule))
            self.planner.silent()


@pytest.mark.parametrize("seed", range(40))
def test_steps_inside_renode_are_the_steps_of_one_round_trip_each(seed: int) -> None:
    rng = random.Random(seed)
    prints = [(rng.randrange(0, 3_000_000), bytes([65 + i % 26]) * rng.randint(1, 3)) for i in range(30)]
    prints.sort()
    # distinct instants: two prints at one instant come out as one chunk in both
    prints = [p for i, p in enumerate(prints) if i == 0 or p[0] != prints[i - 1][0]]
    irqs = sorted(rng.sample(range(1, 3_000_000), 8))
    ref = OneStepPerRoundTrip(prints, irqs)
    fake = FakeRenode(prints)
    try:
        for at in irqs:
            fake.schedule.add(at, ["sysbus.gpioPortA OnGPIO 0 true"], "pin_edge")
        ops = [("advance", rng.choice([0.001, 0.05, 0.3, 1.0])) for _ in range(40)]
        ops += [("run_to", rng.randrange(0, 3_500_000)) for _ in range(5)]
        rng.shuffle(ops)
        for op, arg in ops:
            if op == "advance":
                assert fake.advance(float(arg)) == ref.advance(float(arg)), (op, arg)
            else:
                fake.run_to(int(arg))
                ref.run_to(int(arg))
            assert fake.vt_us == ref.vt_us
        assert fake.runs == ref.runs  # the same RunFor spans, at the same instants
        assert [t for t, c in fake.log if "OnGPIO" in c] == ref.irqs
        assert [s.at_us for s in fake.stimuli] == ref.irqs
        assert fake.planner == ref.planner
        assert fake.syncs < len(fake.runs) / 3  # and far fewer round trips than steps
    finally:
        shutil.rmtree(fake.workdir, ignore_errors=True)
