"""Reading and writing ``.mpbundle`` files, without an emulator: a bundle is untrusted input.

Bundles here are built by ``capture.describe`` from a stand-in board (the real
micro:bit platform, a firmware record, an engine that only describes itself),
then written, altered or hand-crafted, and read back. Every refusal must be a
``BundleError`` that names the bundle and what was expected, and reading must
never write anything.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import hashlib
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mpbench.engine.base import Determinism
from mpbench.errors import BundleError, MpbenchError
from mpbench.firmware.cache import Firmware
from mpbench.platform_loader import find_platform
from mpbench.repro import bundle as bundle_mod
from mpbench.repro.bundle import fingerprint, normalise, read_bundle, write_bundle
from mpbench.repro.capture import describe, readme, robot_bundle_path, sanitize, save
from mpbench.session.recorder import STEP_KINDS, Step

FIRMWARE_BYTES = b":020000040000FA\n:00000001FF\n"

RECORDS = [
    {"t": 0.5, "dir": "tx", "data": "print(1)\x04"},
    {"t": 0.51, "dir": "rx", "data": "OK1\r\n\x04"},
    {"t": 0.52, "dir": "event", "data": "SIGINT"},
    {"t": 0.53, "dir": "rx", "data": "Traceback\r\n\x04>"},
]


def stand_in_board(engine: str = "qemu", sha256: str | None = None) -> Any:
    """What ``describe`` reads of a board: platform, firmware, engine, timeout, boot output."""
    platform = find_platform("microbit" if engine == "qemu" else "unix")
    fw = Firmware(
        "microbit-debian",
        Path("/nonexistent/firmware.hex"),
        sha256 or hashlib.sha256(FIRMWARE_BYTES).hexdigest(),
        "ihex",
        None,
        "1.9.2-34-gd64154c73",
        "Debian package firmware-microbit-micropython",
    )
    det = (
        Determinism("icount", "shift=6", True, "counted") if engine == "qemu" else Determinism("none", None, False, "")
    )
    eng = SimpleNamespace(
        name=engine, argv=[f"{engine}-binary", "-S"], version=lambda: f"{engine} 1.0", determinism=lambda: det
    )
    return SimpleNamespace(
        name=platform.name, platform=platform, firmware=fw, engine=eng, timeout=10.0, boot_output=">>> "
    )


STEPS = [
    Step("reset", {"hard": False}, 0.1, 0.2),
    Step("exec", {"code": "print(1)\n", "timeout": 10.0}, 0.5, 0.52),
    Step("start", {"code": "while True: pass\n", "timeout": None, "line_offset": 0}, 0.6),
    Step("wait_for", {"text": b"ready", "timeout": 5.0}, 0.7),
    Step("write", {"data": b"\x03\xff"}, 0.8),
    Step("read_until", {"pattern": re.compile(rb"x|\x04"), "timeout": 1.0}, 0.85),
    Step("interrupt", {}, 0.9),
    Step("follow", {"timeout": 5.0}, 1.0, 1.1, None, "KeyboardInterrupt"),
]


def make_doc(engine: str = "qemu") -> dict[str, Any]:
    doc, _member = describe(
        stand_in_board(engine),
        STEPS,
        RECORDS,
        "raw",
        {"kind": "robot", "suite": "S", "test": "T [microbit]"},
        {"summary": "it failed", "detail": "it failed\nbadly"},
    )
    return doc


def write_members(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def member(name: str, data: bytes = b"x", kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple[Any, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def good_members(doc: dict[str, Any] | None = None) -> list[tuple[Any, bytes | None]]:
    return [member("bundle.json", json.dumps(doc or make_doc()).encode()), member("README.md", b"# hi\n")]


def refused(path: Path) -> str:
    with pytest.raises(BundleError) as info:
        read_bundle(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message  # every refusal names the bundle
    assert info.value.exit_status == 2
    return message


# -- round trip ---------------------------------------------------------------------
def test_a_written_bundle_reads_back_with_its_steps_and_fingerprint(tmp_path: Path) -> None:
    doc = make_doc()
    path = tmp_path / "b.mpbundle"
    size = save(path, doc, None)
    assert size == path.stat().st_size
    b = read_bundle(path)
    assert b.doc == json.loads(json.dumps(doc))
    assert [s.kind for s in b.steps] == [s.kind for s in STEPS]
    assert b.steps[3].args["text"] == b"ready"
    assert b.steps[4].args["data"] == b"\x03\xff"
    assert b.steps[5].args["pattern"].pattern == rb"x|\x04"
    assert b.steps[7].raised == "KeyboardInterrupt"
    assert b.fingerprint == hashlib.sha256(b"OK1\n\x04Traceback\n\x04>").hexdigest()
    assert b.firmware is None
    assert set(b.member_sizes) == {"bundle.json", "README.md"}
    assert "mpbench repro run b.mpbundle" in b.readme
    assert "it failed" in b.readme


def test_bundle_json_names_everything_a_replay_and_a_reader_need() -> None:
    doc = make_doc()
    assert (doc["format"], doc["version"]) == ("mpbench-bundle", 1)
    assert doc["platform"]["name"] == "microbit" and "name: microbit" in doc["platform"]["text"]
    assert doc["firmware"]["sha256"] == hashlib.sha256(FIRMWARE_BYTES).hexdigest()
    assert doc["engine"] == {"name": "qemu", "version": "qemu 1.0", "argv": ["qemu-binary", "-S"]}
    assert doc["determinism"]["used"] is True and "virtual time" in doc["determinism"]["virtual_time"]
    assert doc["seed"]["used"] is False and isinstance(doc["seed"]["value"], int)
    assert doc["session"]["start_mode"] == "raw"


def test_a_unix_bundle_says_it_is_not_deterministic_and_needs_allow_host() -> None:
    doc = make_doc("host")
    assert doc["determinism"]["replays_deterministic"] is False
    text = readme(doc, "u.mpbundle")
    assert "not deterministic" in text
    assert "repro run --allow-host u.mpbundle" in text


def test_included_firmware_is_stored_and_checked(tmp_path: Path) -> None:
    image = tmp_path / "firmware.hex"
    image.write_bytes(FIRMWARE_BYTES)
    board = stand_in_board()
    board.firmware = Firmware(**{**board.firmware.__dict__, "path": image})
    doc, fw_member = describe(board, STEPS, RECORDS, "raw", {"kind": "cli", "script": "x.py"}, None, True)
    assert fw_member == [("firmware/firmware.hex", FIRMWARE_BYTES)]
    path = tmp_path / "b.mpbundle"
    save(path, doc, fw_member)
    b = read_bundle(path)
    assert b.firmware == FIRMWARE_BYTES
    assert b.doc["firmware"]["included"] == "firmware/firmware.hex"


def test_normalise_keeps_received_bytes_only_with_crlf_as_lf() -> None:
    assert normalise(RECORDS) == b"OK1\n\x04Traceback\n\x04>"
    split = [{"t": 0, "dir": "rx", "data": "a\r"}, {"t": 0, "dir": "rx", "data": "\nb"}]
    assert normalise(split) == b"a\nb"  # a \r\n split across two reads is still one line end
    assert fingerprint(split) == fingerprint([{"t": 9, "dir": "rx", "data": "a\r\nb"}])


def test_robot_bundle_names_are_sanitized_and_unique_within_a_run(tmp_path: Path) -> None:
    taken: set[str] = set()
    first = robot_bundle_path(tmp_path, "Robot.Kbd Intr", "Ctrl-C Raises [microbit]", taken)
    assert first == tmp_path / "bundles" / "Robot.Kbd_Intr.Ctrl-C_Raises_microbit.fail.mpbundle"
    second = robot_bundle_path(tmp_path, "Robot.Kbd Intr", "Ctrl-C Raises (microbit)", taken)
    assert second.name == "Robot.Kbd_Intr.Ctrl-C_Raises_microbit.fail2.mpbundle"
    assert sanitize("../../etc/passwd") == "etc_passwd"
    assert sanitize("///") == "unnamed"


def test_the_schema_and_the_reader_know_every_step_kind() -> None:
    schema = json.loads(Path(bundle_mod.__file__).with_name("bundle_schema.json").read_text())
    assert tuple(schema["$defs"]["step"]["properties"]["kind"]["enum"]) == STEP_KINDS
    assert tuple(bundle_mod._STEP_ARGS) == STEP_KINDS


# -- refusals: the archive ---------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expect"),
    [
        ("../evil.txt", "points outside the bundle"),
        ("/etc/evil.txt", "points outside the bundle"),
        ("firmware/../../evil.txt", "points outside the bundle"),
        ("./bundle.json", "points outside the bundle"),
        ("notes.txt", "unexpected member 'notes.txt'"),
        ("firmware/sub/x.hex", "unexpected member"),
    ],
)
def test_member_names_outside_the_bundle_or_unknown_are_refused(tmp_path: Path, name: str, expect: str) -> None:
    path = write_members(tmp_path / "b.mpbundle", [*good_members(), member(name, b"owned")])
    assert expect in refused(path)
    assert not (tmp_path.parent / "evil.txt").exists() and not Path("/etc/evil.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.mpbundle"]  # nothing was extracted


@pytest.mark.parametrize(
    ("kind", "link", "expect"),
    [
        (tarfile.SYMTYPE, "/etc/passwd", "is a link"),
        (tarfile.LNKTYPE, "bundle.json", "is a link"),
        (tarfile.CHRTYPE, "", "not a regular file"),
        (tarfile.FIFOTYPE, "", "not a regular file"),
        (tarfile.DIRTYPE, "", "not a regular file"),
    ],
)
def test_links_devices_and_folders_are_refused(tmp_path: Path, kind: bytes, link: str, expect: str) -> None:
    name = "README.md" if kind != tarfile.DIRTYPE else "firmware/x"
    path = write_members(tmp_path / "b.mpbundle", [good_members()[0], member(name, kind=kind, link=link)])
    assert expect in refused(path)


def test_a_member_twice_and_too_many_members_are_refused(tmp_path: Path) -> None:
    twice = write_members(tmp_path / "twice.mpbundle", [*good_members(), member("README.md")])
    assert "appears twice" in refused(twice)
    many = [member(f"firmware/f{i}.bin") for i in range(10)]
    assert "more than" in refused(write_members(tmp_path / "many.mpbundle", [*good_members(), *many]))


def test_a_truncated_archive_is_refused(tmp_path: Path) -> None:
    whole = tmp_path / "whole.mpbundle"
    save(whole, make_doc(), None)
    data = whole.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 12):
        part = tmp_path / f"cut{cut}.mpbundle"
        part.write_bytes(data[:cut])
        assert "truncated or damaged" in refused(part)


@pytest.mark.parametrize("kind", ["text", "zip", "empty", "gzip-not-tar"])
def test_a_foreign_file_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "foreign.mpbundle"
    if kind == "text":
        path.write_text("print('hello')\n")
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("bundle.json", json.dumps(make_doc()))
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(gzip.compress(b"not a tar archive at all" * 40))
    message = refused(path)
    assert "not an mpbench bundle" in message or "truncated or damaged" in message


def test_a_tar_without_bundle_json_is_refused(tmp_path: Path) -> None:
    path = write_members(tmp_path / "b.mpbundle", [member("README.md", b"# hello\n")])
    assert "no bundle.json" in refused(path)


def test_a_missing_file_is_a_bundle_error(tmp_path: Path) -> None:
    assert "cannot read the bundle" in refused(tmp_path / "nope.mpbundle")


# -- refusals: bundle.json ---------------------------------------------------------
def altered(tmp_path: Path, change: Any, refingerprint: bool = True) -> Path:
    doc = copy.deepcopy(make_doc())
    change(doc)
    if refingerprint and isinstance(doc.get("transcript"), dict):
        with contextlib.suppress(KeyError, TypeError, AttributeError, UnicodeEncodeError):
            doc["transcript"]["fingerprint"] = fingerprint(doc["transcript"]["records"])
    path = tmp_path / "altered.mpbundle"
    return write_members(path, good_members(doc))


def test_an_unknown_format_version_is_refused(tmp_path: Path) -> None:
    message = refused(altered(tmp_path, lambda d: d.update(version=2)))
    assert "format version 2 is not supported" in message and "reads version 1" in message


def test_another_format_is_refused(tmp_path: Path) -> None:
    assert "not an mpbench bundle: format is 'other'" in refused(altered(tmp_path, lambda d: d.update(format="other")))


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        (lambda d: d["steps"][1].update(kind="shell"), "steps[1].kind"),
        (lambda d: d["platform"].update(name="../../etc/passwd"), "platform.name"),
        (lambda d: d.pop("firmware"), "'firmware' is a required property"),
        (lambda d: d["firmware"].update(included="../evil"), "firmware.included"),
        (lambda d: d["session"].update(start_mode="paste"), "session.start_mode"),
        (lambda d: d["steps"][1]["args"].update(code=42), "argument 'code' has the wrong type"),
        (lambda d: d["steps"][1]["args"].update(timeout=1e9), "timeout 1000000000.0 is not between"),
        (lambda d: d["steps"][0]["args"].update(hard="yes"), "argument 'hard' has the wrong type"),
        (lambda d: d["steps"][1]["args"].update(shell="rm -rf /"), "unknown argument 'shell'"),
        (lambda d: d["steps"][3]["args"].update(text="ready"), "argument 'text' has the wrong type"),
        (lambda d: d["steps"][4]["args"].update(data={"bytes": "\u20ac"}), "cannot be decoded"),
        (lambda d: d["steps"][5]["args"].update(pattern={"regex": "(", "flags": 0}), "cannot be decoded"),
        (lambda d: d["steps"][5]["args"].update(pattern={"regex": "x", "flags": 256}), "not an encoded byte string"),
    ],
)
def test_a_malformed_bundle_json_is_refused_with_the_field(tmp_path: Path, change: Any, expect: str) -> None:
    assert expect in refused(altered(tmp_path, change))


def test_an_altered_transcript_is_refused_by_its_fingerprint(tmp_path: Path) -> None:
    path = altered(tmp_path, lambda d: d["transcript"]["records"][1].update(data="OK2\r\n\x04"), refingerprint=False)
    message = refused(path)
    assert "fingerprint" in message and "altered or damaged" in message


def test_included_firmware_with_the_wrong_hash_is_refused_naming_both_hashes(tmp_path: Path) -> None:
    doc = make_doc()
    doc["firmware"]["included"] = "firmware/firmware.hex"
    tampered = FIRMWARE_BYTES.replace(b"FA", b"FB")
    path = write_members(tmp_path / "b.mpbundle", [*good_members(doc), member("firmware/firmware.hex", tampered)])
    message = refused(path)
    assert "firmware hash mismatch" in message
    assert hashlib.sha256(tampered).hexdigest() in message and doc["firmware"]["sha256"] in message


def test_firmware_named_but_missing_or_present_but_not_named_is_refused(tmp_path: Path) -> None:
    doc = make_doc()
    doc["firmware"]["included"] = "firmware/firmware.hex"
    assert "is missing" in refused(write_members(tmp_path / "a.mpbundle", good_members(doc)))
    extra = [*good_members(), member("firmware/firmware.hex", FIRMWARE_BYTES)]
    assert "includes no firmware" in refused(write_members(tmp_path / "b.mpbundle", extra))


def test_bundle_json_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = write_members(tmp_path / "b.mpbundle", [member("bundle.json", b"{not json"), member("README.md")])
    assert "bundle.json is not valid JSON" in refused(path)
    deep = b"[" * 100000 + b"]" * 100000
    assert "bundle.json" in refused(write_members(tmp_path / "c.mpbundle", [member("bundle.json", deep)]))


def test_bundle_error_is_an_mpbench_error_with_exit_status_2() -> None:
    e = BundleError("x.mpbundle", "bad")
    assert isinstance(e, MpbenchError) and e.exit_status == 2 and str(e) == "x.mpbundle: bad"


def test_writing_is_atomic_and_the_file_is_shareable(tmp_path: Path) -> None:
    path = tmp_path / "out" / "b.mpbundle"
    write_bundle(path, make_doc(), "# r\n")
    assert sorted(p.name for p in path.parent.iterdir()) == ["b.mpbundle"]  # no temporary left behind
    assert path.stat().st_mode & 0o044  # readable by others (umask permitting), unlike mkstemp's 0600
