"""What a replay checks before anything boots, and the CLI's exit statuses for bad bundles.

No emulator starts here: every case is refused (exit 2) before a board would
boot, or is about the parts of replay that compare and print.
"""

from __future__ import annotations

import copy
import hashlib
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from test_repro_bundle import make_doc

from mpbench.board import unavailable_reason
from mpbench.cli import main
from mpbench.errors import BundleError, MpbenchError
from mpbench.platform_loader import default_directory, find_platform
from mpbench.repro import replay as replay_mod
from mpbench.repro.bundle import fingerprint, read_bundle
from mpbench.repro.capture import save
from mpbench.repro.replay import default_max_time, diff, prepare, recorded_span, summary, time_limit, visible

DEBIAN_SHA = "b76c8e56b4566d7bcb3607ffa5402639b106e4784a0711c45c3573d90d85e9d5"


def bundle_file(tmp_path: Path, engine: str = "qemu", change: Any = None, name: str = "b.mpbundle") -> Path:
    doc = copy.deepcopy(make_doc(engine))
    if change is not None:
        change(doc)
    doc["transcript"]["fingerprint"] = fingerprint(doc["transcript"]["records"])
    path = tmp_path / name
    save(path, doc, None)
    return path


def refused(path: Path, **kwargs: Any) -> str:
    with pytest.raises(BundleError) as info:
        prepare(read_bundle(path), **kwargs)
    assert str(info.value).startswith(f"{path}: ")
    return str(info.value)


def test_a_board_without_a_local_platform_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "platforms"
    empty.mkdir()
    message = refused(bundle_file(tmp_path), platforms_dir=empty)
    assert "board 'microbit', which has no platform file here" in message
    assert "never the bundle's copy" in message


def test_a_host_bundle_is_refused_without_allow_host(tmp_path: Path) -> None:
    message = refused(bundle_file(tmp_path, "host"))
    assert "runs on the host engine" in message and "--allow-host" in message


def test_a_bundle_claiming_qemu_for_a_local_host_board_is_refused_too(tmp_path: Path) -> None:
    def retarget(doc: dict[str, Any]) -> None:
        doc["platform"]["name"] = "unix"

    assert "runs on the host engine" in refused(bundle_file(tmp_path, "qemu", retarget))


def test_an_engine_other_than_the_local_platforms_is_refused(tmp_path: Path) -> None:
    def other_engine(doc: dict[str, Any]) -> None:
        doc["engine"]["name"] = "renode"

    assert "recorded on engine 'renode', but the local" in refused(bundle_file(tmp_path, change=other_engine))


def test_engine_command_lines_in_the_bundle_are_never_used(tmp_path: Path) -> None:
    """The bundle's argv and platform text may say anything: replay boots the local platform file."""
    if unavailable_reason(find_platform("microbit")):
        pytest.skip("the micro:bit firmware is not installed here")

    def hostile(doc: dict[str, Any]) -> None:
        doc["engine"]["argv"] = ["/bin/sh", "-c", "touch /tmp/owned"]
        doc["platform"]["text"] = doc["platform"]["text"].replace("qemu-system-arm", "/bin/sh")
        doc["firmware"]["sha256"] = DEBIAN_SHA

    setup = prepare(read_bundle(bundle_file(tmp_path, change=hostile)))
    try:
        assert setup.platform.path == default_directory() / "microbit.yaml"
        assert setup.platform.engine_config["binary"] == "qemu-system-arm"
        assert any("differs from the bundle's copy" in n for n in setup.notes)
        assert any(n.startswith("-") and "/bin/sh" in n for n in setup.notes)  # the diff shows what differs
    finally:
        setup.close()


def test_a_firmware_hash_mismatch_is_refused_naming_both_hashes(tmp_path: Path) -> None:
    if unavailable_reason(find_platform("microbit")):
        pytest.skip("the micro:bit firmware is not installed here")
    message = refused(bundle_file(tmp_path))  # make_doc's firmware hash is not Debian's image
    recorded = hashlib.sha256(b":020000040000FA\n:00000001FF\n").hexdigest()
    assert "firmware hash mismatch" in message
    assert recorded in message and DEBIAN_SHA in message


def test_firmware_that_is_not_here_is_refused_saying_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "manifest.yaml"
    text = (Path(__file__).resolve().parents[2] / "firmware" / "manifest.yaml").read_text()
    manifest.write_text(text.replace("/usr/share/firmware-microbit-micropython/firmware.hex", "/nonexistent/fw.hex"))
    monkeypatch.setenv("MPBENCH_MANIFEST", str(manifest))
    message = refused(bundle_file(tmp_path))
    assert "is not available here" in message and "--include-firmware" in message


# -- the CLI: exit 2 and one clear line -------------------------------------------------
def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("kind", ["truncated", "foreign", "version", "host", "missing"])
def test_repro_run_exits_2_on_a_bundle_it_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    if kind == "truncated":
        path = bundle_file(tmp_path)
        path.write_bytes(path.read_bytes()[:-20])
        expect = "truncated or damaged"
    elif kind == "foreign":
        path = tmp_path / "foreign.mpbundle"
        shutil.copy(Path(__file__), path)
        expect = "not an mpbench bundle"
    elif kind == "version":
        path = bundle_file(tmp_path, change=lambda d: d.update(version=7))
        expect = "format version 7 is not supported"
    elif kind == "host":
        path = bundle_file(tmp_path, "host")
        expect = "--allow-host"
    else:
        path = tmp_path / "missing.mpbundle"
        expect = "cannot read the bundle"
    code, out, err = run_cli(capsys, "repro", "run", str(path))
    assert code == 2, (out, err)
    assert err.startswith(f"mpbench: {path}: ") and expect in err
    code, _, err = run_cli(capsys, "repro", "show", str(path))
    assert code == (0 if kind == "host" else 2), err  # show runs nothing, so a host bundle may be shown


def test_repro_show_prints_a_summary_and_escapes_what_the_bundle_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def escape(doc: dict[str, Any]) -> None:
        doc["failure"]["summary"] = "boom \x1b[2J\x07"

    path = bundle_file(tmp_path, change=escape)
    code, out, _ = run_cli(capsys, "repro", "show", str(path))
    assert code == 0
    assert "board        microbit (engine qemu)" in out and "steps        8" in out
    assert "fingerprint " in out and "not a seal" in out
    assert "\x1b" not in out and "\x07" not in out and "  | boom \\x1b[2J\\x07" in out  # shown, not obeyed
    assert "# mpbench bug report" not in out  # the sender's README only with --readme


def test_repeat_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "repro", "run", "--repeat", "0", str(bundle_file(tmp_path)))
    assert code == 2 and "--repeat must be at least 1" in err


def test_summary_counts_each_fingerprint() -> None:
    assert summary(["a" * 64] * 10, "a" * 64) == f"10/10 runs gave fingerprint {'a' * 12}… (the recording's)"
    mixed = summary(["a" * 64] * 7 + ["b" * 64] * 3, "a" * 64)
    assert mixed == f"7/10 runs gave fingerprint {'a' * 12}… (the recording's); 3/10 runs gave fingerprint {'b' * 12}…"


def test_diff_shows_the_lines_that_differ_readably() -> None:
    a = [{"t": 0, "dir": "rx", "data": 'File "<stdin>", line 2\r\nKeyboardInterrupt\r\n\x04>'}]
    b = [{"t": 0, "dir": "rx", "data": 'File "<stdin>", line 1\r\nKeyboardInterrupt\r\n\x04>'}]
    text = diff(a, b, "replay 3")
    assert '-File "<stdin>", line 2' in text and '+File "<stdin>", line 1' in text
    assert "--- recorded" in text and "+++ replay 3" in text
    assert visible("a\x04b\n") == "a\\x04b\n"


# -- the time limit of a whole replay -----------------------------------------------------
def test_time_limit_interrupts_a_blocking_wait_once_and_restores_the_alarm_handler() -> None:
    def mine(_signum: int, _frame: Any) -> None:
        pass

    previous = signal.signal(signal.SIGALRM, mine)
    try:
        started = time.monotonic()
        with pytest.raises(replay_mod._Expired), time_limit(0.3):
            time.sleep(30)  # a wait that ignores any timeout of its own
        assert 0.25 < time.monotonic() - started < 5.0
        assert signal.getsignal(signal.SIGALRM) is mine
        with time_limit(0.3):
            pass  # finished in time: the alarm is disarmed
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        time.sleep(0.5)  # nothing fires later
    finally:
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("inf"), float("nan")])
def test_time_limit_refuses_what_is_not_a_positive_number(seconds: float) -> None:
    with pytest.raises(MpbenchError, match="--max-time must be a positive number"), time_limit(seconds):
        pass


def test_the_default_time_limit_comes_from_the_local_boot_limit_and_the_recording(tmp_path: Path) -> None:
    platform = find_platform("microbit")
    bundle = read_bundle(bundle_file(tmp_path))  # steps and records from 0.1 s to 1.1 s
    assert recorded_span(bundle) == pytest.approx(1.0)
    assert default_max_time(bundle, platform) == pytest.approx(platform.boot_timeout + 30 + 5 * 1.0)

    def a_week(doc: dict[str, Any]) -> None:
        doc["steps"][-1]["t_end"] = 7 * 24 * 3600.0

    long = read_bundle(bundle_file(tmp_path, change=a_week, name="long.mpbundle"))
    assert default_max_time(long, platform) == 3600.0  # a bundle cannot make the default limit a week


def test_max_time_must_be_a_positive_number_of_seconds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["repro", "run", "--max-time", "0", str(bundle_file(tmp_path))])
    assert info.value.code == 2 and "--max-time" in capsys.readouterr().err


def test_a_host_bundle_may_not_bring_its_own_firmware(tmp_path: Path) -> None:
    """On the host engine the "firmware" is the program that runs on this machine: never one from a bundle."""
    doc = copy.deepcopy(make_doc("host"))
    program = b"#!/bin/sh\ntouch /tmp/owned\n"
    doc["firmware"]["included"] = "firmware/micropython"
    doc["firmware"]["sha256"] = hashlib.sha256(program).hexdigest()
    path = tmp_path / "h.mpbundle"
    save(path, doc, ("firmware/micropython", program))
    message = refused(path, allow_host=True)
    assert "runs on the host engine" in message and "never a program from a bundle" in message
