"""A Renode state in a bundle, without Renode: carried on request, refused when it does not check out.

The state here is a stand-in (bytes in a ``SnapshotStore`` in a temporary
folder, Renode's version answered by a fake), written into real bundles by
``describe``/``save`` and read back by ``read_bundle``. Every bad or tampered
state must give one line through the CLI, naming ``renode-state.xz`` and what
was expected, and exit 2; the positive path through real Renode is in
``tests/integration/test_bundle_state.py``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import lzma
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_repro_bundle import RECORDS, STEPS, stand_in_board

from mpbench.cli import main
from mpbench.engine import renode as renode_mod
from mpbench.engine.snapshot import SnapshotStore, platform_key_parts, snapshot_key
from mpbench.errors import BundleError, MpbenchError
from mpbench.platform_loader import find_platform
from mpbench.repro import state as state_mod
from mpbench.repro.bundle import STATE_MEMBER, read_bundle, write_bundle
from mpbench.repro.capture import describe, readme, save
from mpbench.repro.show import render

VERSION = "Renode v1.15.1.15507"
RAW = bytes(range(256)) * 4000  # 1 MB that xz packs well, like a machine's mostly repetitive memory
BOOT = b"MicroPython v1.26.1 on 2025-01-01; PYBv1.1 with STM32F405RG\r\n>>> "


@pytest.fixture
def renode_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine "has" Renode ``VERSION`` (the checks ask; nothing is started)."""
    monkeypatch.setattr(renode_mod, "find_renode", lambda platform: ("/fake/renode", ""))
    monkeypatch.setattr(renode_mod, "renode_version", lambda binary: VERSION)


def renode_board(tmp_path: Path, raw: bytes = RAW, stepped: bool = True) -> Any:
    """A stand-in pyboard whose engine started from a boot snapshot holding ``raw``."""
    board = stand_in_board()
    board.platform = find_platform("pyboard")
    board.name = "pyboard"
    key = snapshot_key(platform_key_parts(board.platform, board.firmware.sha256, VERSION))
    store = SnapshotStore(tmp_path / "cache", key)
    store.folder.mkdir(parents=True)
    store.state_path.write_bytes(raw)
    store.boot_path.write_bytes(BOOT)
    store.meta_path.write_text(json.dumps({"sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw), "vt_us": 7}))
    board.engine = SimpleNamespace(
        **{**board.engine.__dict__, "name": "renode", "stepped": stepped, "snapshot": store, "version": lambda: VERSION}
    )
    return board


def state_bundle(tmp_path: Path, change: Any = None, data: Any = None) -> Path:
    """A bundle of the stand-in pyboard carrying its state; ``change`` edits bundle.json, ``data`` the member."""
    doc, members = describe(
        renode_board(tmp_path), STEPS, RECORDS, "raw", {"kind": "cli", "script": "x.py"}, None, include_state=True
    )
    (name, packed) = members[-1]
    if data is not None:
        packed = data(packed)
        doc["renode_state"]["compressed_size"] = len(packed)
    if change is not None:
        change(doc)
    path = tmp_path / "s.mpbundle"
    write_bundle(path, doc, readme(doc, path.name), [(name, packed)])
    return path


# -- recording ----------------------------------------------------------------------
def test_a_carried_state_round_trips_and_show_states_its_size(tmp_path: Path, renode_here: None) -> None:
    path = state_bundle(tmp_path)
    b = read_bundle(path)
    st = b.doc["renode_state"]
    assert st["size"] == len(RAW) and st["sha256"] == hashlib.sha256(RAW).hexdigest()
    assert st["renode"] == VERSION and st["board"] == "pyboard" and st["boot_output"] == BOOT.decode("latin-1")
    assert b.state is not None and len(b.state) == st["compressed_size"] == b.member_sizes[STATE_MEMBER]
    assert len(b.state) < len(RAW) // 10  # xz packed it
    shown = render(b)
    assert f"({len(b.state)} / {len(RAW)} bytes, xz)" in shown and "--trust-state" in shown
    assert "Renode state: `renode-state.xz`" in b.readme
    trusted = state_mod.unpack(b, b.state, find_platform("pyboard"), tmp_path / "unpacked")
    assert trusted.store.state_path.read_bytes() == RAW
    assert trusted.store.boot_output() == BOOT and trusted.store.usable()
    assert trusted.firmware.sha256 == b.doc["firmware"]["sha256"]
    assert trusted.store.state_path.parent == tmp_path / "unpacked"  # never the cache


def test_without_the_switch_nothing_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPBENCH_BUNDLE_STATE", raising=False)
    doc, members = describe(renode_board(tmp_path), STEPS, RECORDS, "raw", {"kind": "cli"}, None)
    assert "renode_state" not in doc and members == []
    monkeypatch.setenv("MPBENCH_BUNDLE_STATE", "1")
    doc, members = describe(renode_board(tmp_path / "2"), STEPS, RECORDS, "raw", {"kind": "cli"}, None)
    assert doc["renode_state"]["member"] == STATE_MEMBER and [m[0] for m in members] == [STATE_MEMBER]


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda tmp: stand_in_board("qemu"), "it runs on qemu; only Renode boards"),
        (lambda tmp: stand_in_board("host"), "the unix port runs on this host"),
        (lambda tmp: renode_board(tmp, stepped=False), "Renode's free clock"),
    ],
)
def test_a_board_without_a_state_says_why_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make: Any, why: str
) -> None:
    with caplog.at_level(logging.WARNING):
        doc, members = describe(make(tmp_path), STEPS, RECORDS, "raw", {"kind": "cli"}, None, include_state=True)
    reason = doc["renode_state"]["reason"]
    assert doc["renode_state"]["member"] is None and members == []
    assert why in reason and "\n" not in reason and "no Renode state added" in reason
    assert [r.getMessage() for r in caplog.records] == [reason]
    path = tmp_path / "b.mpbundle"
    save(path, doc, members)
    assert f"state        none: {reason}" in render(read_bundle(path))


def test_the_switch_takes_1_or_0() -> None:
    assert state_mod.requested({}) is False and state_mod.requested({"MPBENCH_BUNDLE_STATE": "0"}) is False
    assert state_mod.requested({"MPBENCH_BUNDLE_STATE": "1"}) is True
    with pytest.raises(MpbenchError, match=r"expected 1 .* or 0"):
        state_mod.requested({"MPBENCH_BUNDLE_STATE": "yes"})


# -- replaying: refusals, one line each, exit 2 -----------------------------------------
def _set(path: str, value: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        doc["renode_state"][path] = value

    return change


def _bomb(packed: bytes) -> bytes:
    return lzma.compress(b"\0" * (len(RAW) * 8), format=lzma.FORMAT_XZ)


CASES = {
    "sha256": (dict(change=_set("sha256", "0" * 64)), f"{STATE_MEMBER}: unpacks to sha256 "),
    "bomb": (dict(data=_bomb), f"{STATE_MEMBER}: unpacks to more than the {len(RAW)} bytes bundle.json records"),
    "huge claim": (
        dict(change=_set("size", 10**12)),
        f"{STATE_MEMBER}: bundle.json says it unpacks to {10**12} bytes; expected 1 to",
    ),
    "not xz": (dict(data=lambda p: b"PK\x03\x04" + p[4:]), f"{STATE_MEMBER}: not xz data"),
    "cut short": (dict(data=lambda p: p[: len(p) // 2]), f"{STATE_MEMBER}: the xz stream ends early"),
    "renode version": (dict(change=_set("renode", "Renode v1.14.0")), "saved by 'Renode v1.14.0', but this machine"),
    "snapshot key": (dict(change=_set("snapshot_key", "a" * 64)), f"saved for snapshot key {'a' * 64}, but this"),
    "board": (dict(change=_set("board", "spike-prime")), "saved for board 'spike-prime', expected the bundle's"),
    "firmware": (dict(change=_set("firmware_sha256", "b" * 64)), f"saved with firmware sha256 {'b' * 64}"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_state_is_one_line_naming_the_member_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], renode_here: None, case: str
) -> None:
    how, expected = CASES[case]
    path = state_bundle(tmp_path, **how)
    code = main(["repro", "run", "--trust-state", str(path)])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"mpbench: {path}: ") and expected in err, err
    assert "replaying" not in out  # refused before anything booted


def test_trust_state_on_a_bundle_without_one_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], renode_here: None
) -> None:
    doc, members = describe(renode_board(tmp_path), STEPS, RECORDS, "raw", {"kind": "cli"}, None, include_state=False)
    doc["platform"]["name"], doc["engine"]["name"] = "pyboard", "renode"
    path = tmp_path / "plain.mpbundle"
    save(path, doc, members)
    assert main(["repro", "run", "--trust-state", str(path)]) == 2
    err = capsys.readouterr().err
    assert "--trust-state: the bundle carries no Renode state; expected one recorded with MPBENCH_BUNDLE_STATE=1" in err


@pytest.mark.parametrize(
    ("change", "data", "expected"),
    [
        (
            None,
            lambda p: p + b"x",
            f"{STATE_MEMBER}: {{n}} bytes, but bundle.json records renode_state.compressed_size",
        ),
        (lambda d: d.update(renode_state={"member": None, "reason": "r"}), None, "but bundle.json records no Renode"),
        (lambda d: d["renode_state"].pop("sha256"), None, "bundle.json: renode_state: 'sha256' is a required property"),
    ],
)
def test_reading_refuses_a_state_member_that_does_not_match_bundle_json(
    tmp_path: Path, change: Any, data: Any, expected: str
) -> None:
    doc, members = describe(
        renode_board(tmp_path), STEPS, RECORDS, "raw", {"kind": "cli", "script": "x.py"}, None, include_state=True
    )
    name, packed = members[-1]
    real = len(packed)
    if data is not None:
        packed = data(packed)
    doc = copy.deepcopy(doc)
    if change is not None:
        change(doc)
    path = tmp_path / "s.mpbundle"
    write_bundle(path, doc, "# r\n", [(name, packed)])
    with pytest.raises(BundleError) as info:
        read_bundle(path)
    assert expected.format(n=real + 1) in str(info.value), info.value


def test_a_replay_without_trust_state_says_once_that_the_state_is_ignored(tmp_path: Path) -> None:
    b = read_bundle(state_bundle(tmp_path))
    note = state_mod.ignored_note(b)
    assert note is not None and "\n" not in note
    assert "ignored" in note and "--trust-state" in note and ".NET" in note
