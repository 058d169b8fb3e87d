"""Keeping a board's flash image after its first boot (ESP32), on plain files.

What the board and QEMU do is played by writing files: the cache's rules are
file handling (verify, discard, replace atomically), which needs no emulator.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest

from mpbench.engine import flashcache
from mpbench.engine.flashcache import CORRUPTED, FlashRun

FW = hashlib.sha256(b"some firmware").hexdigest()
FRESH = b"\xff" * 4096


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPBENCH_CACHE", str(tmp_path / "cache"))


def new_run(folder: Path) -> FlashRun:
    """What the engine does at start: the run's flash image in its own folder."""
    folder.mkdir(parents=True, exist_ok=True)
    return FlashRun(folder / "flash.bin", FW, FRESH)


def boot_to_prompt(run: FlashRun, written: bytes = b"formatted") -> None:
    """The board formats its filesystem and reaches its prompt; then a test writes to the flash."""
    assert run.from_cache is False
    assert run.path.read_bytes() == FRESH
    run.path.write_bytes(written + FRESH[len(written) :])
    run.at_prompt()  # the engine calls this with QEMU paused
    run.path.write_bytes(b"test wrote this" + FRESH[15:])


def first_boot(tmp_path: Path) -> Path:
    """A whole first run: fresh image, formatted, prompt, QEMU quits; returns what was kept."""
    run = new_run(tmp_path / "run1")
    boot_to_prompt(run)
    kept = run.finish(b"MicroPython v1.16\r\n>>> ")
    assert kept is not None
    return kept


def test_a_first_run_keeps_the_image_as_it_was_at_the_prompt_named_by_its_sha256(tmp_path: Path) -> None:
    kept = first_boot(tmp_path)
    data = kept.read_bytes()
    assert data.startswith(b"formatted")  # not what a test wrote after the prompt
    assert kept.name == f"{FW}-{hashlib.sha256(data).hexdigest()}.bin"
    assert flashcache.kept_flash(FW) == kept
    assert [p.name for p in kept.parent.iterdir()] == [kept.name]  # no temporary file left


def test_a_later_run_starts_from_a_private_copy_of_the_kept_image(tmp_path: Path) -> None:
    kept = first_boot(tmp_path)
    run = new_run(tmp_path / "run2")
    assert run.from_cache is True
    assert run.path.read_bytes() == kept.read_bytes()
    run.path.write_bytes(FRESH)  # a run's writes land in its own copy only
    run.at_prompt()
    assert run.finish(b">>> ") is None  # a run from a kept image keeps nothing
    assert kept.read_bytes().startswith(b"formatted")


def test_a_kept_image_that_does_not_match_its_sha256_is_discarded_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kept = first_boot(tmp_path)
    data = bytearray(kept.read_bytes())
    data[100] ^= 0x01  # one flipped bit on disk
    kept.write_bytes(bytes(data))
    target = tmp_path / "flash.bin"
    with caplog.at_level(logging.WARNING, logger="mpbench.engine.flashcache"):
        assert flashcache.prepare(target, FW, FRESH) is False
    assert target.read_bytes() == FRESH
    assert not kept.exists() and flashcache.kept_flash(FW) is None
    assert "not to the sha256 in its name" in caplog.text and str(kept) in caplog.text


def test_a_truncated_kept_image_is_not_used(tmp_path: Path) -> None:
    kept = first_boot(tmp_path)
    kept.write_bytes(kept.read_bytes()[:100])
    assert flashcache.prepare(tmp_path / "flash.bin", FW, FRESH) is False
    assert (tmp_path / "flash.bin").read_bytes() == FRESH


def test_an_image_kept_before_hashes_were_stored_is_discarded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    legacy = flashcache.flash_dir() / f"{FW}.bin"  # how images were kept before: trusted on size alone
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"x" * len(FRESH))
    with caplog.at_level(logging.WARNING, logger="mpbench.engine.flashcache"):
        assert flashcache.prepare(tmp_path / "flash.bin", FW, FRESH) is False
    assert not legacy.exists()
    assert "no sha256" in caplog.text


def test_another_firmware_or_flash_size_does_not_take_the_kept_image(tmp_path: Path) -> None:
    kept = first_boot(tmp_path)
    assert flashcache.prepare(tmp_path / "a.bin", hashlib.sha256(b"other").hexdigest(), FRESH) is False
    assert flashcache.prepare(tmp_path / "b.bin", FW, b"\xff" * 8192) is False
    assert flashcache.prepare(tmp_path / "c.bin", None, FRESH) is False
    assert kept.exists()  # a size mismatch is not damage: the image stays for runs of that size


def test_a_board_that_says_its_filesystem_is_corrupted_keeps_nothing(tmp_path: Path) -> None:
    run = FlashRun(tmp_path / "flash.bin", FW, FRESH)
    run.at_prompt()
    assert run.finish(b">>> \r\n" + CORRUPTED.encode() + b", formatting\r\n") is None
    assert flashcache.kept_flash(FW) is None


def test_a_kept_image_the_board_calls_corrupted_is_discarded(tmp_path: Path) -> None:
    first_boot(tmp_path)
    run = new_run(tmp_path / "run2")
    assert run.from_cache
    run.finish(CORRUPTED.encode())
    assert flashcache.kept_flash(FW) is None
    flashcache.discard(FW)  # nothing kept: nothing to do


def test_a_run_that_never_reached_its_prompt_keeps_nothing(tmp_path: Path) -> None:
    run = FlashRun(tmp_path / "flash.bin", FW, FRESH)
    run.path.write_bytes(b"half formatted" + FRESH[14:])
    assert run.finish(b"rst:0x8 (TG1WDT_SYS_RESET)") is None
    assert flashcache.kept_flash(FW) is None


def test_keeping_replaces_the_older_image_and_a_failed_copy_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = new_run(tmp_path / "a"), new_run(tmp_path / "b")  # two first boots at once
    boot_to_prompt(first, b"first")
    boot_to_prompt(second, b"second")
    old = first.finish(b">>> ")
    new = second.finish(b">>> ")
    assert old is not None and new is not None and old != new
    assert not old.exists() and flashcache.kept_flash(FW) == new

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    source = tmp_path / "third.bin"
    source.write_bytes(b"third" + FRESH[5:])
    with pytest.raises(OSError, match="No space left"):
        flashcache.keep(source, FW)
    assert sorted(p.name for p in flashcache.flash_dir().iterdir()) == [new.name]  # no half-written file
    assert flashcache.prepare(tmp_path / "flash.bin", FW, FRESH) is True
    assert (tmp_path / "flash.bin").read_bytes().startswith(b"second")
