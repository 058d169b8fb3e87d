"""Renode's virtual clock: answers arrive asynchronously, the first one is awaited, restarts add up.

The engine here is a stand-in whose monitor answers from another thread after
a delay, as Renode's output thread does; the clock's logic is what is tested.
"""

from __future__ import annotations

import threading
import time

import pytest

from mpbench.deadline import Deadline
from mpbench.engine.renode import VirtualClock
from mpbench.errors import EngineError


class SlowMonitor:
    """Answers each time query with ``value`` after ``delay`` host seconds, on another thread."""

    def __init__(self, value: float, delay: float = 0.2, answers: bool = True, drop: int = 0):
        self.value, self.delay, self.answers, self.drop = value, delay, answers, drop
        self.asked = 0
        self.clock: VirtualClock | None = None

    def ask_time(self) -> None:
        self.asked += 1
        if self.asked <= self.drop:
            return  # Renode was busy and dropped the question
        if self.answers:
            assert self.clock is not None
            threading.Timer(self.delay, self.clock.answer, (self.value,)).start()

    def log_tail(self) -> str:
        return "renode: (no answer)"


def make(value: float, **kw: float | bool) -> tuple[VirtualClock, SlowMonitor]:
    monitor = SlowMonitor(value, **kw)  # type: ignore[arg-type]
    clock = VirtualClock(monitor, every=0.0, first_answer=2.0)  # type: ignore[arg-type]
    monitor.clock = clock
    return clock, monitor


def test_a_deadline_never_starts_from_a_made_up_zero() -> None:
    # The board has run 50 s of virtual time already; the first answer is slow.
    clock, _ = make(50.0)
    d = Deadline(10.0, clock)
    assert d.start == pytest.approx(50.0)
    assert not d.expired()


def test_asking_does_not_block_once_a_first_answer_came() -> None:
    clock, monitor = make(5.0, delay=0.5)
    clock.now()
    started = time.monotonic()
    for _ in range(20):
        clock.now()  # each asks again; none waits for its answer
    assert time.monotonic() - started < 0.4
    assert monitor.asked >= 20


def test_a_restarted_renode_does_not_turn_the_clock_back() -> None:
    clock, monitor = make(40.0, delay=0.01)
    before = clock.now()
    clock.new_process()
    monitor.value = 0.5  # the new process counts from zero
    after = clock.now()
    assert after == pytest.approx(40.5) and after > before


def test_a_monitor_that_never_answers_is_an_engine_error() -> None:
    clock, _ = make(1.0, answers=False)
    with pytest.raises(EngineError) as info:
        clock.read(0.3)
    assert "did not report its virtual time" in str(info.value) and info.value.board_error


def test_a_fresh_reading_waits_for_the_answer_to_its_own_question() -> None:
    clock, monitor = make(1.0, delay=0.01)
    assert clock.now() == pytest.approx(1.0)
    monitor.value, monitor.delay = 7.5, 0.3
    assert clock.now() == pytest.approx(1.0)  # the latest answer stands; the new one is on its way
    assert clock.fresh(2.0) == pytest.approx(7.5)


def test_a_dropped_question_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mpbench.engine.renode.REASK", 0.1)
    clock, monitor = make(3.0, delay=0.01, drop=2)
    assert clock.read(2.0) == pytest.approx(3.0)
    assert monitor.asked == 3
