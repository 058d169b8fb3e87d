"""Patterns in a bundle are compiled by RE2, never by Python's backtracking ``re``.

``(a|aa)+$`` against 32 characters takes Python's ``re`` about 1.7 s, and each
further character roughly multiplies that by 1.6; against thousands it would
never end. These tests read real bundle files (written by the real writer),
search a real ``ConsoleReader`` buffer and go through the CLI's ``main``.
"""

from __future__ import annotations

import copy
import re
import time
from pathlib import Path
from typing import Any

import pytest
from test_repro_bundle import make_doc, refused, stand_in_board

from mpbench.cli import main
from mpbench.console.base import Console
from mpbench.deadline import Deadline
from mpbench.errors import BundleError, ConsoleTimeout
from mpbench.repro.bundle import read_bundle, write_bundle
from mpbench.repro.capture import describe
from mpbench.repro.pattern import PatternError, compile_pattern, is_re2
from mpbench.session.reader import ConsoleReader
from mpbench.session.recorder import Step

EVIL = "(a|aa)+$"


def bundle_with_pattern(tmp_path: Path, regex: str, flags: int = 0, name: str = "p.mpbundle") -> Path:
    doc = copy.deepcopy(make_doc())
    doc["steps"][5]["args"]["pattern"] = {"regex": regex, "flags": flags, "bytes_pattern": True}
    path = tmp_path / name
    write_bundle(path, doc, "")
    return path


class Silent(Console):
    """A console holding ``data`` once, then nothing: a board that printed and went quiet."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data

    def _write(self, data: bytes) -> None:
        pass

    def _read(self, timeout: float) -> bytes | None:
        out, self.data = self.data, b""
        if not out:
            time.sleep(min(timeout, 0.01))
        return out

    def _close(self) -> None:
        pass


def test_a_catastrophic_pattern_is_compiled_by_re2_and_never_by_re(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    real = re._compile

    def spy(pattern: Any, flags: Any) -> Any:
        seen.append(pattern)
        return real(pattern, flags)

    monkeypatch.setattr(re, "_compile", spy)  # every re.compile / re.search / re.match goes through it
    bundle = read_bundle(bundle_with_pattern(tmp_path, EVIL))
    pattern = bundle.steps[5].args["pattern"]
    monkeypatch.undo()
    assert is_re2(pattern) and not isinstance(pattern, re.Pattern)
    assert not [p for p in seen if EVIL in (p.decode("latin-1") if isinstance(p, bytes) else str(p))]


def test_the_replay_reader_gives_up_on_it_in_its_timeout_not_in_minutes() -> None:
    pattern = compile_pattern(EVIL)
    reader = ConsoleReader(Silent(b"a" * 5000 + b"b\r\n"))
    start = time.monotonic()
    with pytest.raises(ConsoleTimeout) as info:
        reader.read_until(pattern, Deadline(0.5))  # searched again after every read, as in a replay
    assert time.monotonic() - start < 5.0  # re: 32 characters already take seconds, 5000 would never end
    assert "(a|aa)+$" in str(info.value)


def test_re2_matches_console_bytes_like_re_for_what_the_recorder_stores() -> None:
    assert compile_pattern(r"ready\Z").search(bytearray(b"xx ready")) is not None  # \Z as RE2's \z
    assert compile_pattern(r"ready\Z").search(b"ready\n") is None
    assert compile_pattern("ABC", re.IGNORECASE).search(b"xabc").span() == (1, 4)
    assert compile_pattern("^b", re.MULTILINE).search(b"a\nb").span() == (2, 3)
    assert compile_pattern("a.b", re.DOTALL).search(b"a\nb") is not None
    assert compile_pattern("a.b").search(b"a\nb") is None
    assert compile_pattern("\xff\x04").search(b"\x00\xff\x04").span() == (1, 3)  # one character per byte
    assert compile_pattern(r"x|\x04").search(b"ab\x04").span() == (2, 3)


@pytest.mark.parametrize(
    ("regex", "flags", "why"),
    [
        (r"(a)\1", 0, "invalid escape sequence"),  # a backreference
        ("(?=x)y", 0, "invalid perl operator"),  # lookahead
        ("a{1001}", 0, "invalid repetition size"),
        ("x", re.VERBOSE, "VERBOSE are not supported"),
    ],
)
def test_a_pattern_re2_refuses_refuses_the_bundle_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], regex: str, flags: int, why: str
) -> None:
    path = bundle_with_pattern(tmp_path, regex, flags)
    message = refused(path)
    assert "steps[5] (read_until): argument 'pattern' cannot be decoded" in message and why in message
    assert "expected literal text or a pattern in RE2's syntax" in message
    for action in ("run", "show"):
        code = main(["repro", action, str(path)])
        out, err = capsys.readouterr()
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith(f"mpbench: {path}: bundle.json: steps[5] (read_until)"), err


def test_re2_errors_stay_off_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(PatternError):
        compile_pattern("(")
    assert capfd.readouterr().err == ""  # RE2 logs parse errors there unless told not to


def test_a_bundle_is_not_written_with_a_pattern_no_replay_could_compile() -> None:
    steps = [Step("read_until", {"pattern": re.compile(rb"(?<=x)y"), "timeout": 1.0}, 0.1)]
    with pytest.raises(BundleError) as info:
        describe(stand_in_board(), steps, [], "raw", {"kind": "cli", "script": "s.py"}, None)
    assert "step 1 (read_until): argument 'pattern' cannot go into a bundle" in str(info.value)
    assert "RE2" in str(info.value)
