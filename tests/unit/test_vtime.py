"""Virtual-time stepping of Renode boards, without Renode: a fake monitor that keeps a clock.

The fake answers ``emulation RunFor`` by moving its clock and "prints" bytes
planned at virtual instants, so these tests pin what the engine promises:
steps never jump over a planned instant, stimuli land on the instant asked
for and are recorded with it, received chunks carry the step's end, and a
replay's plan pulls a stimulus to its recorded instant.
"""

from __future__ import annotations

import re
import shutil

import pytest

from mpbench.engine.base import EngineState
from mpbench.engine.renode import _LOG_LINE, RenodeEngine, budget_grid
from mpbench.engine.vtime import (
    InstantPlan,
    Schedule,
    SlicePlanner,
    Stimulus,
    format_us,
    monitor_interval,
    parse_duration,
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


class FakeRenode(RenodeEngine):
    """A RenodeEngine whose monitor is a clock and a list of (instant, bytes) the board prints."""

    def __init__(self, prints: list[tuple[int, bytes]]):
        super().__init__(find_platform("pyboard"), None)
        self.prints = sorted(prints)
        self.out = b""
        self.log: list[tuple[int, str]] = []
        self.state = EngineState.RUNNING

    def _sync(self, commands: list[str], timeout: float = 0.0) -> list[str]:
        for c in commands:
            self.log.append((self.vt_us, c))
            m = re.match(r'emulation RunFor "(\d+)\.(\d+)"', c)
            if m:
                end = renode_parse_us(f"{m[1]}.{m[2]}") + self.vt_us
                while self.prints and self.prints[0][0] <= end:
                    self.out += self.prints.pop(0)[1]
        return []

    def _drain(self) -> bytes:
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


def test_inject_records_instant_and_sends_hex(fake: FakeRenode) -> None:
    fake.run_to(777)
    assert fake.vt_us == 777
    fake.inject(b"\x03'\"")
    sent = [c for t, c in fake.log if c.startswith("python")]
    assert len(sent) == 1 and "03272" in sent[0] and "'\"" not in sent[0].split("s = ")[1]
    assert fake.stimuli == [Stimulus(777, "console", "\x03'\"")]


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
