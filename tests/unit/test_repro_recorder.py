"""Session-level recording for bundles, against a scripted raw REPL (no emulator).

Only the outermost call is a step (``exec`` runs ``exec_start`` and
``exec_follow`` itself), steps carry their arguments, times on the
transcript's clock and how they ended, and a session without a recorder
records nothing.
"""

from __future__ import annotations

import re
import time

import pytest

from mpbench.console.base import Console
from mpbench.errors import ConsoleTimeout
from mpbench.platform_loader import find_platform
from mpbench.session.recorder import Recorder, Step, decode_arg, encode_arg, recorded
from mpbench.session.repl import ReplMode, ReplSession

MICROBIT = find_platform("microbit")


class RawRepl(Console):
    """A raw REPL that runs nothing: a block ending in Ctrl-D answers OK, ``output``, and the end markers."""

    def __init__(self, output: bytes = b"hi\r\n", error: bytes = b"") -> None:
        super().__init__()
        self.output, self.error = output, error
        self.pending = b""
        self.sent = b""

    def _write(self, data: bytes) -> None:
        self.sent += data
        if data.endswith(b"\x04"):
            self.pending += b"OK" + self.output + b"\x04" + self.error + b"\x04>"

    def _read(self, timeout: float) -> bytes | None:
        out, self.pending = self.pending, b""
        if not out:
            time.sleep(min(timeout, 0.01))
        return out

    def _close(self) -> None:
        pass


def session(console: Console) -> ReplSession:
    s = ReplSession(console, MICROBIT, timeout=2.0)
    s.mode = ReplMode.RAW
    s.recorder = Recorder(console.transcript.t0)
    return s


def test_exec_is_one_step_with_its_code_and_timeout() -> None:
    s = session(RawRepl())
    result = s.exec("print('hi')\n", 3.0)
    assert result.stdout == "hi\n"
    assert s.recorder is not None
    [step] = s.recorder.steps
    assert (step.kind, step.args) == ("exec", {"code": "print('hi')\n", "timeout": 3.0})
    assert 0 <= step.t <= step.t_end  # type: ignore[operator]
    assert step.error is None and step.raised is None


def test_start_and_follow_are_steps_and_a_raise_is_noted() -> None:
    s = session(RawRepl(output=b"", error=b"Traceback (most recent call last):\r\nValueError: bad\r\n"))
    s.exec_start("raise ValueError('bad')\n")
    result = s.exec_follow()
    assert result.traceback is not None
    assert s.recorder is not None
    kinds = [(st.kind, st.args) for st in s.recorder.steps]
    assert kinds == [
        ("start", {"code": "raise ValueError('bad')\n", "timeout": None, "line_offset": 0}),
        ("follow", {"timeout": None}),
    ]
    assert s.recorder.steps[1].raised == "ValueError: bad"


def test_wait_for_text_returns_none_when_the_block_ends_first_and_keeps_its_output() -> None:
    console = RawRepl(output=b"no marker here\r\n")
    s = session(console)
    s.exec_start("print('no marker here')\n")
    assert s.wait_for_text(b"ready", 1.0) is None
    result = s.exec_follow(1.0)  # the output was given back for exec_follow to split
    assert result.stdout == "no marker here\n"
    assert s.recorder is not None
    assert [st.kind for st in s.recorder.steps] == ["start", "wait_for", "follow"]
    assert s.recorder.steps[1].args == {"text": b"ready", "timeout": 1.0}


def test_a_call_that_raises_is_recorded_with_its_error() -> None:
    s = session(RawRepl())
    with pytest.raises(ConsoleTimeout):
        s.read_until(b"never", 0.2)
    assert s.recorder is not None
    [step] = s.recorder.steps
    assert step.kind == "read_until" and step.error is not None and step.error.startswith("ConsoleTimeout: ")


def test_writes_and_interrupts_are_steps() -> None:
    console = RawRepl()
    s = session(console)
    s.write(b"abc\x03")
    s.interrupt()
    assert s.recorder is not None
    assert [(st.kind, st.args) for st in s.recorder.steps] == [("write", {"data": b"abc\x03"}), ("interrupt", {})]
    assert console.sent == b"abc\x03\x03"


def test_a_session_without_a_recorder_records_nothing() -> None:
    s = ReplSession(RawRepl(), MICROBIT, timeout=2.0)
    s.mode = ReplMode.RAW
    assert s.recorder is None
    assert s.exec("print(1)\n").stdout == "hi\n"


def test_marks_take_a_tests_steps_only() -> None:
    s = session(RawRepl())
    s.exec("a\n")
    assert s.recorder is not None
    mark = s.recorder.mark()
    s.exec("b\n")
    assert [st.args["code"] for st in s.recorder.since(mark)] == ["b\n"]


def test_args_survive_the_json_round_trip() -> None:
    pattern = re.compile(rb"ready|\x04", re.MULTILINE)
    for value in (b"\x00\xff\x03", pattern, "text", 3.5, None, True):
        back = decode_arg(encode_arg(value))
        if isinstance(value, re.Pattern):
            assert (back.pattern, back.flags) == (value.pattern, value.flags)
        else:
            assert back == value
    step = Step("write", {"data": b"\x03"}, 1.0, 1.5, None, None)
    assert Step.from_json(step.to_json()) == step


def test_only_the_outermost_recorded_call_is_a_step() -> None:
    class Thing:
        def __init__(self) -> None:
            self.recorder = Recorder()

        @recorded("exec", "code")
        def outer(self, code: str) -> None:
            self.inner(code)

        @recorded("start", "code")
        def inner(self, code: str) -> None:
            pass

    t = Thing()
    t.outer("x")
    t.inner("y")
    assert [(s.kind, s.args) for s in t.recorder.steps] == [("exec", {"code": "x"}), ("start", {"code": "y"})]


def test_an_unknown_step_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown step kind"):
        recorded("teleport")
