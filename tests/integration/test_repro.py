"""Repro bundles end to end on real firmware: a failing Robot test leaves one, and it replays the same way.

Everything runs as a user would: ``robot`` on a small suite written here that
fails on purpose, and ``mpbench repro ...`` as subprocesses. The failing test
starts a block, waits for its output, interrupts it (the script catches the
KeyboardInterrupt so where it lands does not change what it prints) and then
raises; 10 replays must give the recording's fingerprint 10 times.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import emulator_pids, wait_gone
from mpbench.board import Board
from mpbench.errors import ConsoleTimeout
from mpbench.platform_loader import find_platform
from mpbench.repro.bundle import fingerprint, read_bundle
from mpbench.repro.capture import describe, save
from mpbench.repro.replay import prepare, replay_once
from support import ROOT, mpbench, needs

pytestmark = pytest.mark.emulator

SUITE = """\
*** Settings ***
Library    mpbench.keywords.MicroPythonBench

*** Test Cases ***
Passes First
    Execute On Board    print(1)

Fails On Purpose
    ${out} =    Execute On Board    x = 6 * 7\\nprint('answer', x)
    Start On Board    try:\\n print('ready')\\n while True: pass\\nexcept KeyboardInterrupt:\\n print('stopped')
    ...    wait_for=ready
    Send Interrupt Character
    ${r} =    Wait For Board Result
    Should Contain    ${r.stdout}    stopped
    Execute On Board    raise ValueError('on purpose')
"""
BUNDLE_NAME = "Failing.Fails_On_Purpose_{board}.fail.mpbundle"


def robot(suite_dir: Path, out: Path, board: str, *variables: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "robot", "--outputdir", str(out), "--console", "dotted"]
    for v in (f"PLATFORMS:{board}", *variables):
        argv += ["--variable", v]
    return subprocess.run([*argv, str(suite_dir / "failing.robot")], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def robot_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs("microbit")
    work = tmp_path_factory.mktemp("robot")
    (work / "failing.robot").write_text(SUITE)
    proc = robot(work, work / "out", "microbit")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # one test failed, on purpose
    return work / "out" / "bundles" / BUNDLE_NAME.format(board="microbit")


def rewrite(
    src: Path,
    dest: Path,
    change_doc: Any = None,
    extra: list[tuple[str, bytes]] | tuple[()] = (),
    firmware: Any = None,
) -> Path:
    """A copy of a bundle as a tampering sender would make it: bundle.json changed, members added,
    the firmware image changed by ``firmware(bytes)`` (returning None drops it)."""
    with tarfile.open(src, "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    if change_doc is not None:
        doc = json.loads(members["bundle.json"])
        change_doc(doc)
        members["bundle.json"] = json.dumps(doc).encode()
    if firmware is not None:
        for name in [n for n in members if n.startswith("firmware/")]:
            changed = firmware(members.pop(name))
            if changed is not None:
                members[name] = changed
    with tarfile.open(dest, "w:gz") as tar:
        for name, data in [*members.items(), *extra]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dest


# -- a failing Robot test leaves a bundle ------------------------------------------------
def test_a_failing_robot_test_leaves_a_bundle_of_that_test_only(robot_bundle: Path) -> None:
    assert robot_bundle.is_file(), sorted(p.name for p in robot_bundle.parent.iterdir())
    assert [p.name for p in robot_bundle.parent.iterdir()] == [robot_bundle.name]  # the passing test left none
    b = read_bundle(robot_bundle)
    doc = b.doc
    assert doc["origin"] == {"kind": "robot", "suite": "Failing", "test": "Fails On Purpose [microbit]"}
    assert "ValueError: on purpose" in doc["failure"]["summary"]
    assert [s.kind for s in b.steps] == ["reset", "exec", "start", "wait_for", "interrupt", "follow", "exec"]
    assert b.steps[-1].raised == "ValueError: on purpose"
    assert doc["platform"]["name"] == "microbit" and doc["engine"]["name"] == "qemu"
    assert doc["firmware"]["id"] == "microbit-debian" and len(doc["firmware"]["sha256"]) == 64
    assert doc["determinism"]["method"] == "icount" and doc["determinism"]["used"] is False  # Robot runs host-timed
    assert b"answer 42" in b"".join(r["data"].encode("latin-1") for r in b.records)
    assert "ValueError: on purpose" in b.readme and "mpbench repro run" in b.readme


def test_ten_replays_give_the_recordings_fingerprint_ten_times(robot_bundle: Path) -> None:
    r = mpbench("repro", "run", "--repeat", "10", str(robot_bundle))
    assert r.returncode == 0, r.stdout + r.stderr
    runs = re.findall(r"^run (\d+)/10: fingerprint ([0-9a-f]{64}) (same|different)$", r.stdout, re.MULTILINE)
    assert len(runs) == 10, r.stdout
    recorded = read_bundle(robot_bundle).fingerprint
    assert {fp for _, fp, _ in runs} == {recorded}
    assert f"10/10 runs gave fingerprint {recorded[:12]}… (the recording's)" in r.stdout
    assert r.stdout.rstrip().endswith("same")


def test_bundles_can_be_switched_off(tmp_path: Path) -> None:
    needs("microbit")
    (tmp_path / "failing.robot").write_text(SUITE)
    proc = robot(tmp_path, tmp_path / "out", "microbit", "MPBENCH_BUNDLES:off")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert not (tmp_path / "out" / "bundles").exists()


def test_a_replay_that_differs_prints_different_and_a_diff(robot_bundle: Path, tmp_path: Path) -> None:
    def claim_other_output(doc: dict[str, Any]) -> None:
        doc["transcript"]["records"].append({"t": 99.0, "dir": "rx", "data": "a ghost line\r\n"})
        doc["transcript"]["fingerprint"] = fingerprint(doc["transcript"]["records"])

    path = rewrite(robot_bundle, tmp_path / "other.mpbundle", claim_other_output)
    r = mpbench("repro", "run", str(path))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "different: 1/1 run(s) differ from the recording" in r.stdout
    assert "\n-\\x04>a ghost line\n+\\x04>\n" in r.stdout and "--- recorded\n+++ replay" in r.stdout


# -- mpbench repro create ------------------------------------------------------------------
@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs("microbit")
    work = tmp_path_factory.mktemp("create")
    (work / "bug.py").write_text("def f(n):\n    return 100 // n\n\nprint(f(4))\nprint(f(0))\n")
    r = mpbench("repro", "create", "-p", "microbit", "bug.py", "--include-firmware", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "ZeroDivisionError" in r.stderr and "wrote bug.microbit.mpbundle" in r.stderr
    return work / "bug.microbit.mpbundle"


def test_repro_create_then_run_gives_same(created: Path) -> None:
    b = read_bundle(created)
    assert b.doc["determinism"]["used"] is True and "-icount" in b.doc["engine"]["argv"]
    assert b.firmware is not None and b.doc["firmware"]["included"] == "firmware/firmware.hex"
    assert b.doc["failure"]["summary"].startswith("the script raised ZeroDivisionError")
    r = mpbench("repro", "run", "--repeat", "3", str(created))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.rstrip().endswith("same")
    assert "3/3 runs gave fingerprint" in r.stdout


def test_repro_show_runs_nothing_and_describes_the_bundle(created: Path) -> None:
    r = mpbench("repro", "show", str(created))
    assert r.returncode == 0, r.stderr
    assert "ZeroDivisionError" in r.stdout and "firmware/firmware.hex" in r.stdout
    assert "icount shift=6" in r.stdout


def test_a_wrong_firmware_hash_is_refused_naming_both(created: Path, tmp_path: Path) -> None:
    real = read_bundle(created).doc["firmware"]["sha256"]
    wrong = "0" * 64

    def claim(doc: dict[str, Any]) -> None:
        doc["firmware"]["sha256"] = wrong
        doc["firmware"]["included"] = None

    # without the included image, so the local one is what gets checked
    path = rewrite(created, tmp_path / "wrong.mpbundle", claim, firmware=lambda data: None)
    r = mpbench("repro", "run", str(path))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "firmware hash mismatch" in r.stderr and wrong in r.stderr and real in r.stderr


def test_a_tampered_included_firmware_is_refused(created: Path, tmp_path: Path) -> None:
    path = rewrite(created, tmp_path / "tampered.mpbundle", firmware=lambda data: data.replace(b":10", b":11", 1))
    r = mpbench("repro", "run", str(path))
    assert r.returncode == 2 and "firmware hash mismatch" in r.stderr, r.stderr


def test_a_path_traversal_member_is_refused_and_nothing_is_written(created: Path, tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    path = rewrite(created, inner / "evil.mpbundle", extra=[("../escaped.txt", b"owned")])
    r = mpbench("repro", "run", str(path), cwd=inner)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "'../escaped.txt' points outside the bundle" in r.stderr
    assert not (tmp_path / "escaped.txt").exists() and not (ROOT.parent / "escaped.txt").exists()


# -- the unix port: not deterministic, and refused without --allow-host ----------------------
def test_a_unix_bundle_is_marked_non_deterministic_and_needs_allow_host(tmp_path: Path) -> None:
    needs("unix")
    (tmp_path / "s.py").write_text("print('hello from the host')\nraise OSError(5)\n")
    r = mpbench("repro", "create", "-p", "unix", "s.py", "-o", "u.mpbundle", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    b = read_bundle(tmp_path / "u.mpbundle")
    assert b.doc["determinism"]["replays_deterministic"] is False
    assert "not deterministic" in b.doc["determinism"]["note"] and "not deterministic" in b.readme
    refused = mpbench("repro", "run", "u.mpbundle", cwd=tmp_path)
    assert refused.returncode == 2 and "--allow-host" in refused.stderr
    allowed = mpbench("repro", "run", "--allow-host", "u.mpbundle", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert allowed.stdout.rstrip().endswith("same")


def test_no_bundle_leaves_an_emulator_or_temporary_folder(tmp_path: Path) -> None:
    """The replay's extracted firmware lives in a private temp dir that is removed afterwards.

    The CLI gets a TMPDIR of its own, so another run on the same machine cannot leave or take
    a folder there while this one looks.
    """
    needs("microbit")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}
    (tmp_path / "ok.py").write_text("print('ok')\n")
    made = mpbench("repro", "create", "-p", "microbit", "ok.py", "--include-firmware", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    ran = mpbench("repro", "run", "ok.microbit.mpbundle", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    assert list(tmp.iterdir()) == []


# -- a replay runs in the timing mode the recording used ---------------------------------
@pytest.mark.parametrize("which", ["robot", "create"])
def test_a_replay_runs_in_the_recorded_timing_mode(which: str, request: pytest.FixtureRequest) -> None:
    """Robot boots boards host-timed, `repro create` with -icount: each bundle says which, and a replay
    (the real QEMU it starts) runs in that mode and gives the recording's fingerprint."""
    path: Path = request.getfixturevalue("robot_bundle" if which == "robot" else "created")
    bundle = read_bundle(path)
    recorded = bundle.doc["determinism"]
    assert recorded["used"] is (which == "create") and recorded["replays_deterministic"] is recorded["used"]
    assert ("-icount" in bundle.doc["engine"]["argv"]) is recorded["used"]
    setup = prepare(bundle)
    try:
        run = replay_once(bundle, setup, max_time=120.0)
    finally:
        setup.close()
    assert run.determinism is not None and run.determinism.active is recorded["used"]
    assert ("-icount" in run.argv) is recorded["used"]
    assert run.fingerprint == bundle.fingerprint, run.errors


# -- no local paths in a bundle ------------------------------------------------------------
def local_paths() -> list[str]:
    return ["/tmp/", "/home", "/root", str(ROOT), str(Path.home()), os.environ.get("TMPDIR", "/tmp")]


def test_a_bundle_from_a_real_microbit_run_holds_no_local_path(tmp_path: Path) -> None:
    """Firmware given by --firmware from a temp folder, the engine's private folder in QEMU's command
    line, the checkout: none of it may reach bundle.json, and the bundle still replays the same."""
    needs("microbit")
    image = tmp_path / "images" / "microbit.hex"
    image.parent.mkdir()
    image.write_bytes(Path("/usr/share/firmware-microbit-micropython/firmware.hex").read_bytes())
    (tmp_path / "s.py").write_text("print('hello')\nraise OSError(5)\n")
    r = mpbench("repro", "create", "-p", "microbit", "--firmware", str(image), "s.py", "-o", "b.mpbundle", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with tarfile.open(tmp_path / "b.mpbundle") as tar:
        raw = json.loads(tar.extractfile("bundle.json").read())  # type: ignore[union-attr]
    text = json.dumps(raw, ensure_ascii=False)
    for path in [*local_paths(), str(tmp_path)]:
        assert path not in text, path
    argv = raw["engine"]["argv"]
    # The console and QMP sockets live in the engine's private folder, named there as $WORKDIR.
    assert "loader,file=$FIRMWARE" in argv and any("path=$WORKDIR/" in a for a in argv), argv
    replay = mpbench("repro", "run", "--firmware", str(image), "b.mpbundle", cwd=tmp_path)
    assert replay.returncode == 0 and replay.stdout.rstrip().endswith("same"), replay.stdout + replay.stderr


def test_a_robot_bundle_holds_no_local_path(robot_bundle: Path) -> None:
    text = json.dumps(read_bundle(robot_bundle).doc, ensure_ascii=False)
    for path in [*local_paths(), str(robot_bundle.parent)]:
        assert path not in text, path


def test_a_unix_bundle_that_prints_its_folder_replays_the_same(tmp_path: Path) -> None:
    """The port runs in the engine's private folder, whose name differs on every run: recorded and
    replayed transcripts both carry it as $WORKDIR, so the replay is `same`, and no path is in the bundle."""
    needs("unix")
    (tmp_path / "cwd.py").write_text("import os\nprint(os.getcwd())\n")
    assert mpbench("repro", "create", "-p", "unix", "cwd.py", "-o", "u.mpbundle", cwd=tmp_path).returncode == 0
    b = read_bundle(tmp_path / "u.mpbundle")
    assert b"$WORKDIR\n" in b"".join(r["data"].encode("latin-1") for r in b.records if r["dir"] == "rx")
    text = json.dumps(b.doc, ensure_ascii=False)
    for path in [*local_paths(), str(tmp_path)]:
        assert path not in text, path
    r = mpbench("repro", "run", "--allow-host", "u.mpbundle", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.rstrip().endswith("same"), r.stdout + r.stderr


# -- patterns: RE2 on a real replay ---------------------------------------------------------
def test_a_catastrophic_pattern_replays_in_seconds_on_microbit(tmp_path: Path) -> None:
    """Recorded for real with a harmless pattern, then given (a|aa)+$ as a hostile sender would.

    A wait for a text the board never prints comes first and times out, so when the pattern is
    searched the buffer already holds the whole line of 60 a's and a b (on a partial line of a's
    the pattern would simply match). Python's re would take ages there (32 a's: 1.4 s, each one
    more about 1.6 times that); RE2 times out after the recorded second and the replay goes on to
    give the recording's fingerprint.
    """
    needs("microbit")
    board = Board(find_platform("microbit"), deterministic=True, record=True).start()
    try:
        assert board.session is not None and board.recorder is not None
        s, steps_mark, records_mark = board.session, board.recorder.mark(), board.transcript.mark()
        s.exec_start("print('a' * 60 + 'b')\nwhile True:\n    pass\n", 5.0)
        for wait in (lambda: s.wait_for_text(b"#", 1.0), lambda: s.read_until(re.compile(rb"#+$"), 1.0)):
            with pytest.raises(ConsoleTimeout):  # the board never prints a "#"
                wait()
        assert bytes(s.reader.buf).startswith(b"a" * 60 + b"b")
        s.interrupt()
        assert "KeyboardInterrupt" in s.exec_follow(5.0).stderr
    finally:
        board.stop()
    doc, _ = describe(
        board,
        board.recorder.since(steps_mark),
        board.transcript.to_records()[records_mark:],
        "raw",
        {"kind": "cli", "script": "evil.py"},
        None,
    )
    assert [s["kind"] for s in doc["steps"]] == ["start", "wait_for", "read_until", "interrupt", "follow"]
    doc["steps"][2]["args"]["pattern"]["regex"] = "(a|aa)+$"
    save(tmp_path / "evil.mpbundle", doc, None)
    started = time.monotonic()
    r = mpbench("repro", "run", "evil.mpbundle", cwd=tmp_path, timeout=300)
    assert r.returncode == 0 and r.stdout.rstrip().endswith("same"), r.stdout + r.stderr
    assert "step 3 (read_until): ConsoleTimeout: no b'(a|aa)+$' on the console after waiting 1.0 s" in r.stdout
    assert time.monotonic() - started < 60


# -- the whole replay's time is bounded -------------------------------------------------------
def test_max_time_stops_a_replay_that_would_wait_an_hour_and_stops_the_board(created: Path, tmp_path: Path) -> None:
    def hang(doc: dict[str, Any]) -> None:
        doc["steps"] = [
            {"kind": "start", "t": 0.1, "args": {"code": "while True:\n    pass\n", "timeout": None, "line_offset": 0}},
            {"kind": "follow", "t": 0.2, "args": {"timeout": 3600}},
        ]

    path = rewrite(created, tmp_path / "hang.mpbundle", hang)
    before = set(emulator_pids())
    started = time.monotonic()
    r = mpbench("repro", "run", "--max-time", "6", str(path), timeout=300)
    took = time.monotonic() - started
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"mpbench: {path}: the replay did not finish within 6 s (--max-time)")
    assert "in step 2 of 2 (follow)" in r.stderr and "the board was stopped" in r.stderr
    assert 6 <= took < 60
    left = [p for p in emulator_pids() if p not in before]
    assert not wait_gone(left, 3.0), f"QEMU still runs after --max-time: {left}"


def test_the_default_time_limit_is_said_and_derived_from_the_recording(created: Path) -> None:
    r = mpbench("repro", "run", str(created))
    assert r.returncode == 0, r.stdout + r.stderr
    limit = float(re.search(r"each run stops after ([0-9.]+) s \(--max-time\)", r.stdout).group(1))  # type: ignore[union-attr]
    boot = find_platform("microbit").boot_timeout
    assert boot + 30 <= limit < boot + 30 + 60
