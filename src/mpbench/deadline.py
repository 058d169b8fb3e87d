"""A deadline passed down the call chain, so nested waits share one budget.

Like pyserial's ``Timeout``: monotonic, ``None`` means wait forever, and the
caller that gives up can say how long it waited in total.
"""

from __future__ import annotations

import time


class Deadline:
    """A point in monotonic time after which waiting stops."""

    def __init__(self, timeout: float | None):
        self.timeout = timeout
        self.start = time.monotonic()
        self._end = None if timeout is None else self.start + timeout

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None for no limit."""
        if self._end is None:
            return None
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        return self._end is not None and time.monotonic() >= self._end

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def slice(self, at_most: float) -> float:
        """A wait of at most ``at_most`` seconds that does not overrun the deadline."""
        left = self.remaining()
        return at_most if left is None else min(at_most, left)
