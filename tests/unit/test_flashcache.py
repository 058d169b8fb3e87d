"""Keeping a board's flash image after its first boot (ESP32), on plain files."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpbench.engine import flashcache


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPBENCH_CACHE", str(tmp_path / "cache"))


def test_a_first_run_starts_from_the_fresh_image_and_a_later_one_from_the_kept_one(tmp_path: Path) -> None:
    fresh = b"\xff" * 4096
    first = tmp_path / "first.bin"
    assert flashcache.prepare(first, "abc", fresh) is False
    assert first.read_bytes() == fresh
    first.write_bytes(b"formatted" + fresh[9:])  # what the board wrote during its first boot
    flashcache.keep(first, "abc")
    second = tmp_path / "second.bin"
    assert flashcache.prepare(second, "abc", fresh) is True
    assert second.read_bytes().startswith(b"formatted")
    second.write_bytes(fresh)  # a run's writes land in its own copy only
    assert flashcache.kept_flash("abc").read_bytes().startswith(b"formatted")


def test_another_firmware_or_size_does_not_take_the_kept_image(tmp_path: Path) -> None:
    flashcache.keep(_file(tmp_path / "k.bin", b"x" * 4096), "abc")
    assert flashcache.prepare(tmp_path / "a.bin", "other", b"\xff" * 4096) is False
    assert flashcache.prepare(tmp_path / "b.bin", "abc", b"\xff" * 8192) is False
    assert flashcache.prepare(tmp_path / "c.bin", None, b"\xff" * 4096) is False


def test_a_corrupted_image_is_discarded(tmp_path: Path) -> None:
    flashcache.keep(_file(tmp_path / "k.bin", b"x" * 4096), "abc")
    flashcache.discard("abc")
    assert not flashcache.kept_flash("abc").exists()
    flashcache.discard("abc")  # nothing kept: nothing to do


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
