"""What was asked of a board, call by call, so a repro bundle can ask it again.

Renode's ``Recorder`` idea: a bundle keeps the session-level calls a test
made (run this block, wait for that text, send Ctrl-C, reset), not the raw
bytes. A replay then goes through the same protocol code as the original run
(echo windows, chunking, raw-paste negotiation), waits for texts instead of
sleeping, and still works when a newer mpbench delivers bytes differently.

It lives in the session layer because the session is what gets recorded; the
bundle face only reads ``Step`` objects. Calls a recorded call makes itself
(``exec`` runs ``exec_start`` and ``exec_follow``; ``Board.reset`` runs
``soft_reset``) are not recorded again: only the outermost call is a step.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

#: Every kind of step a session or board records, and so every kind a replay must know.
STEP_KINDS: tuple[str, ...] = (
    "exec",  # ReplSession.exec: run a block to its end
    "start",  # ReplSession.exec_start: start a block and return while it runs
    "wait_for",  # ReplSession.wait_for_text: wait for a text the running block prints
    "read_until",  # ReplSession.read_until: wait for a pattern on the console
    "write",  # ReplSession.write: bytes to the running block's input
    "interrupt",  # ReplSession.interrupt: Ctrl-C (or SIGINT on the host port)
    "follow",  # ReplSession.exec_follow: wait for the running block's result
    "type",  # ReplSession.friendly_line: one line at the >>> prompt
    "soft_reset",  # ReplSession.soft_reset: Ctrl-D at the friendly prompt
    "recover",  # ReplSession.recover: interrupt whatever runs and get back to the raw prompt
    "reset",  # Board.reset: soft or hard reset, back at the raw prompt
    "stimulate",  # Board.stimulate: an IRQ source raised from outside the firmware (a pin edge)
)


def encode_arg(value: Any) -> Any:
    """A call argument as JSON: bytes as latin-1 text (lossless), compiled patterns with their flags."""
    if isinstance(value, bytes | bytearray):
        return {"bytes": bytes(value).decode("latin-1")}
    if isinstance(value, re.Pattern):
        p = value.pattern
        text = p.decode("latin-1") if isinstance(p, bytes) else p
        return {"regex": text, "flags": int(value.flags & ~re.UNICODE), "bytes_pattern": isinstance(p, bytes)}
    return value


def decode_arg(value: Any) -> Any:
    """The inverse of ``encode_arg``; plain JSON values come back as they are."""
    if isinstance(value, dict) and set(value) == {"bytes"}:
        return value["bytes"].encode("latin-1")
    if isinstance(value, dict) and "regex" in value:
        text = value["regex"]
        pattern = text.encode("latin-1") if value.get("bytes_pattern", True) else text
        return re.compile(pattern, int(value.get("flags", 0)))
    return value


@dataclass
class Step:
    """One recorded call: what was asked, when (seconds since boot), and how it ended.

    ``t`` and ``t_end`` are on the console transcript's clock, so steps and
    console traffic line up in a bundle. ``error`` is the exception the call
    raised (type and first line); ``raised`` the exception the board's code
    raised, for calls that return a result.
    """

    kind: str
    args: dict[str, Any] = field(default_factory=dict)
    t: float = 0.0
    t_end: float | None = None
    error: str | None = None
    raised: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "t": round(self.t, 6),
            "t_end": None if self.t_end is None else round(self.t_end, 6),
            "args": {k: encode_arg(v) for k, v in self.args.items()},
            "error": self.error,
            "raised": self.raised,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Step:
        return cls(
            kind=d["kind"],
            args={k: decode_arg(v) for k, v in d.get("args", {}).items()},
            t=float(d.get("t", 0.0)),
            t_end=d.get("t_end"),
            error=d.get("error"),
            raised=d.get("raised"),
        )


class Recorder:
    """An append-only list of steps; ``t0`` is the moment the board's console opened."""

    def __init__(self, t0: float | None = None):
        self.t0 = time.monotonic() if t0 is None else t0
        self.steps: list[Step] = []
        self._depth = 0

    def mark(self) -> int:
        """A position to take steps from later (a test's first step), like ``Transcript.mark``."""
        return len(self.steps)

    def since(self, mark: int = 0) -> list[Step]:
        return self.steps[mark:]

    @contextlib.contextmanager
    def step(self, kind: str, args: dict[str, Any]) -> Iterator[Step | None]:
        """Record ``kind`` for the duration of the block, unless a recorded call is already running."""
        if self._depth:
            yield None
            return
        step = Step(kind, args, time.monotonic() - self.t0)
        self.steps.append(step)
        self._depth += 1
        try:
            yield step
        except BaseException as e:
            first = (str(e).splitlines() or [""])[0]
            step.error = f"{type(e).__name__}: {first}".rstrip(": ")
            raise
        finally:
            self._depth -= 1
            step.t_end = time.monotonic() - self.t0


F = TypeVar("F", bound=Callable[..., Any])


def recorded(kind: str, *fields: str) -> Callable[[F], F]:
    """Make a method a recorded step of ``kind`` with the named arguments, when ``self.recorder`` is set."""
    if kind not in STEP_KINDS:
        raise ValueError(f"unknown step kind {kind!r}")

    def deco(method: F) -> F:
        signature = inspect.signature(method)

        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            recorder: Recorder | None = getattr(self, "recorder", None)
            if recorder is None:
                return method(self, *args, **kwargs)
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            with recorder.step(kind, {f: bound.arguments[f] for f in fields}) as step:
                result = method(self, *args, **kwargs)
                tb = getattr(result, "traceback", None)
                if step is not None and tb is not None:
                    step.raised = f"{tb.exc_type}: {tb.message}".rstrip(": ")
                return result

        return wrapper  # type: ignore[return-value]

    return deco


__all__ = ["STEP_KINDS", "Recorder", "Step", "decode_arg", "encode_arg", "recorded"]
