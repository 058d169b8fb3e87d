"""Deadlines on the host clock and on an emulator's virtual clock (a scripted clock here)."""

from __future__ import annotations

import time

import pytest

from mpbench.deadline import Deadline, host_cap


class SteppedClock:
    """A virtual clock that advances only when told, like an emulation that runs slowly or not at all."""

    name = "virtual"

    def __init__(self) -> None:
        self.t = 100.0

    def now(self) -> float:
        return self.t


def test_a_host_deadline_expires_after_its_timeout() -> None:
    d = Deadline(0.05)
    assert not d.expired() and 0 < d.remaining() <= 0.05
    time.sleep(0.06)
    assert d.expired() and d.remaining() == 0.0
    assert d.clock.name == "host"


def test_a_virtual_deadline_follows_virtual_time_not_host_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SteppedClock()
    d = Deadline(1.0, clock)
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + 2.0)  # a slow host: 2 s pass, no virtual time
    assert not d.expired() and d.remaining() == pytest.approx(1.0)
    clock.t += 0.6
    assert d.remaining() == pytest.approx(0.4) and d.elapsed() == pytest.approx(0.6)
    clock.t += 0.5
    assert d.expired()


def test_a_virtual_deadline_lasts_its_timeout_in_host_time_too() -> None:
    # An idle emulation races through virtual time while the host is slow to send input:
    # that must not make the board look hung before the timeout has passed on the host.
    clock = SteppedClock()
    d = Deadline(0.3, clock)
    clock.t += 50.0
    assert not d.expired() and 0.0 < d.remaining() <= 0.3
    time.sleep(0.35)
    assert d.expired()


def test_a_stalled_virtual_clock_still_gives_up_after_the_host_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SteppedClock()
    d = Deadline(0.01, clock)
    assert host_cap(0.01) < 11
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + host_cap(0.01) + 1)
    assert d.expired(), "a frozen emulation must not make a wait endless"


def test_no_timeout_never_expires() -> None:
    d = Deadline(None, SteppedClock())
    assert d.remaining() is None and not d.expired() and d.slice(0.2) == 0.2
