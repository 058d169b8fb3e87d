"""A deadline passed down the call chain, so nested waits share one budget.

Like pyserial's ``Timeout``: ``None`` means wait forever, and the caller that
gives up can say how long it waited in total and on which clock. The clock
is the host's monotonic clock, or an emulator's virtual clock (Renode), so a
slow host does not make a board look hung. A virtual deadline also lasts at
least its timeout in host time: an idle emulation runs its virtual time far
faster than the host's while it waits for input, so a host that is slow to
send the next bytes must not make the board look hung either. It still gives
up after a generous host-time cap, in case the emulation itself stalls.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Seconds on some clock; ``name`` says which in error messages (``host``, ``virtual``)."""

    name: str

    def now(self) -> float: ...


class HostClock:
    name = "host"

    def now(self) -> float:
        return time.monotonic()


HOST = HostClock()


def host_cap(timeout: float) -> float:
    """How long in host time a virtual deadline of ``timeout`` may last at most."""
    return 5 * timeout + 10


class Deadline:
    """A point on a clock after which waiting stops."""

    def __init__(self, timeout: float | None, clock: Clock | None = None):
        self.timeout = timeout
        self.clock = clock or HOST
        self.start = self.clock.now()
        self._end = None if timeout is None else self.start + timeout
        self._host_end = None
        self._host_min = None
        if timeout is not None and self.clock is not HOST:
            host_now = time.monotonic()
            self._host_min = host_now + timeout
            self._host_end = host_now + host_cap(timeout)

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None for no limit.

        On a virtual clock: the larger of what is left in virtual time and
        in host time, and nothing once the host-time cap is reached.
        """
        if self._end is None:
            return None
        if self._host_end is None or self._host_min is None:
            return max(0.0, self._end - self.clock.now())
        host_now = time.monotonic()
        if host_now >= self._host_end:
            return 0.0
        return max(0.0, self._end - self.clock.now(), self._host_min - host_now)

    def expired(self) -> bool:
        return self._end is not None and self.remaining() == 0.0

    def elapsed(self) -> float:
        return self.clock.now() - self.start

    def slice(self, at_most: float) -> float:
        """A host wait of at most ``at_most`` seconds that does not overrun the deadline."""
        left = self.remaining()
        return at_most if left is None else min(at_most, left)
