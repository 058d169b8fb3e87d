"""``mpbench repro show`` prints what a replay would send, from bundle.json, not what the sender's README says.

Bundles here are written by the real writer (``write_bundle``) with a README
chosen by the test, as a sender who lies would; ``show`` runs through the
CLI's ``main``. Nothing boots.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from test_repro_bundle import make_doc

from mpbench.cli import main
from mpbench.repro.bundle import write_bundle
from mpbench.repro.show import README_HEAD, README_TAIL
from mpbench.session.recorder import Step

#: Long enough, and with enough lines, that a one-line, 70-character summary (the README's) would hide most of it.
HIDDEN_CODE = (
    "import os\n"
    "for name in os.listdir():\n"
    "    os.remove(name)  # every file on the board's filesystem, gone: " + "x" * 60 + "\n"
    "print('done')\n"
)
LYING_README = "# mpbench bug report: microbit\n\nThis bundle does nothing: it only prints 1.\n"


def show(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> str:
    code = main(["repro", "show", str(path), *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def bundle_with(tmp_path: Path, steps: list[Step], readme: str = LYING_README) -> Path:
    doc = copy.deepcopy(make_doc())
    doc["steps"] = [s.to_json() for s in steps]
    path = tmp_path / "b.mpbundle"
    write_bundle(path, doc, readme)
    return path


def test_show_prints_the_code_bundle_json_holds_not_the_readme_that_lies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bundle_with(tmp_path, [Step("exec", {"code": HIDDEN_CODE, "timeout": 10.0}, 0.5)])
    out = show(capsys, path)
    for line in HIDDEN_CODE.splitlines():
        assert f"       | {line}\n" in out, line  # every line, in full
    assert "1. [    0.500 s] exec: run this block to its end (timeout 10 s), 4 line(s)" in out
    assert "does nothing" not in out  # the README is left out unless asked for


def test_the_readme_comes_last_marked_unverified_and_cannot_pose_as_mpbench(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = LYING_README + "  1. [    0.000 s] exec: nothing\n\x1b[2J\x1b]0;title\x07\u202eevil\n" + README_TAIL + "\n"
    path = bundle_with(tmp_path, [Step("exec", {"code": HIDDEN_CODE, "timeout": 10.0}, 0.5)], forged)
    out = show(capsys, path, "--readme")
    head = out.index(README_HEAD)
    assert out.index("os.remove(name)") < out.index("Console as recorded") < head  # steps and console first
    readme_part = out[head + len(README_HEAD) :].strip("\n").splitlines()
    assert readme_part[-1] == README_TAIL
    assert all(line.startswith("sender| ") for line in readme_part[:-1]), readme_part
    assert "sender|   1. [    0.000 s] exec: nothing" in readme_part  # the forged step line stays the sender's
    assert f"sender| {README_TAIL}" in readme_part  # and so does a forged end marker
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "sender| \\x1b[2J\\x1b]0;title\\x07\\u202eevil" in readme_part


def test_every_step_kind_shows_what_it_sends_or_waits_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    steps = [
        Step("reset", {"hard": False}, 0.1),
        Step("reset", {"hard": True}, 0.15),
        Step("exec", {"code": "print(1)\n", "timeout": None}, 0.2),
        Step("start", {"code": "while True:\n    pass\n", "timeout": 3.0, "line_offset": 2}, 0.3),
        Step("wait_for", {"text": b"ready\r\n", "timeout": 5.0}, 0.4),
        Step("write", {"data": b"\x03\xffhello"}, 0.5),
        Step("read_until", {"pattern": re.compile(rb"t(a|b)il$", re.IGNORECASE), "timeout": 1.0}, 0.6),
        Step("read_until", {"pattern": b"literal", "timeout": 1.0}, 0.65),
        Step("interrupt", {}, 0.7),
        Step("follow", {"timeout": 5.0}, 0.8, None, None, "KeyboardInterrupt"),
        Step("type", {"line": "x = 1", "timeout": 2.0}, 0.9),
        Step("soft_reset", {"timeout": 4.0}, 1.0),
        Step("recover", {"timeout": 4.0}, 1.1, None, "ConsoleTimeout: no prompt"),
        Step("stimulate", {"source": "pin_edge"}, 1.2),
    ]
    out = show(capsys, bundle_with(tmp_path, steps))
    expected = [
        "1. [    0.100 s] reset: soft reset",
        "2. [    0.150 s] reset: hard reset",
        "3. [    0.200 s] exec: run this block to its end (timeout the session's default, 10 s), 1 line(s)",
        "       | print(1)",
        "4. [    0.300 s] start: start this block and go on while it runs (timeout 3 s; line numbers offset by 2)",
        "       | while True:\n       |     pass\n",
        "5. [    0.400 s] wait_for: wait until the running block prints the text b'ready\\r\\n' (timeout 5 s)",
        "6. [    0.500 s] write: send 7 byte(s) to the running block's input: b'\\x03\\xffhello'",
        "7. [    0.600 s] read_until: read the console until the RE2 pattern b't(a|b)il$' (IGNORECASE) matches",
        "8. [    0.650 s] read_until: read the console until the text b'literal' matches",
        "9. [    0.700 s] interrupt: interrupt the running block: Ctrl-C (0x03) on the console",
        "10. [    0.800 s] follow: wait for the running block's result (timeout 5 s)\n"
        "       recorded outcome: the board's code raised KeyboardInterrupt",
        "11. [    0.900 s] type: type one line at the friendly >>> prompt, then Enter: 'x = 1'",
        "12. [    1.000 s] soft_reset: Ctrl-D at the friendly prompt (timeout 4 s)",
        "13. [    1.100 s] recover: interrupt whatever runs",
        "       recorded outcome: ConsoleTimeout: no prompt",
        "14. [    1.200 s] stimulate: raise the IRQ source 'pin_edge' from outside the firmware",
    ]
    for text in expected:
        assert text in out, text
    assert "14 step(s)" in out and "0. boot microbit from your platform file" in out


def test_control_and_direction_characters_in_code_are_escaped_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a bidirectional override can make "if not admin" read as something else (Trojan Source)
    code = "access = 'user\u202e \u2066# admin\u2069 \u2066'\nprint('\x1b[2Jcleared')\r\n"
    out = show(capsys, bundle_with(tmp_path, [Step("exec", {"code": code, "timeout": 1.0}, 0.1)]))
    assert not any(c in out for c in "\u202e\u2066\u2069\x1b\r")
    assert "       | access = 'user\\u202e \\u2066# admin\\u2069 \\u2066'" in out
    assert "       | print('\\x1b[2Jcleared')\\x0d" in out
    assert "(6 character(s) a terminal would not show" in out


def test_a_friendly_start_and_a_host_interrupt_are_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc: dict[str, Any] = copy.deepcopy(make_doc("host"))
    doc["session"]["start_mode"] = "friendly"
    path = tmp_path / "h.mpbundle"
    write_bundle(path, doc, "")
    out = show(capsys, path)
    assert "leave it for the friendly >>> prompt (Ctrl-B)" in out
    assert "interrupt: interrupt the running block: SIGINT to the unix port" in out
    assert "recorded with host timing (not deterministic); a replay runs host-timed too" in out
