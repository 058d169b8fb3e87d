"""Flash images kept after a board's first boot (ESP32), trusted only when their hash matches.

An ESP32 running MicroPython v1.16 spends 30-37 s of its first boot formatting
its filesystem (measured), then 3-4 s on every boot from the flash that first
boot left. So the first boot runs on a fresh image and later runs start from a
private copy of the image that first boot left.

What is kept, and when (``FlashRun``):

* the image as it was when the board first reached its prompt, copied while
  QEMU is paused: QMP ``stop`` drains and flushes QEMU's block I/O, so the
  copy is whole, and it holds none of what the tests of that run wrote;
* moved into the cache only once QEMU has quit, and only if the board never
  printed that its filesystem is corrupted during that run;
* written atomically (a temporary file renamed into place), under a name that
  carries its own sha256: ``<firmware sha256>-<image sha256>.bin``. Before
  use the image is hashed again; one that does not match its name (a
  truncated copy, a disk error, an edit) is discarded with a warning and the
  run starts from a fresh image.

An image the board calls corrupted is thrown away.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from mpbench.firmware.cache import cache_dir

log = logging.getLogger(__name__)

CORRUPTED = "The filesystem appears to be corrupted"
_KEPT_NAME = re.compile(r"^(?P<firmware>.+)-(?P<image>[0-9a-f]{64})\.bin$")


def flash_dir() -> Path:
    """The folder kept flash images live in (inside mpbench's cache)."""
    return cache_dir() / "flash"


def _candidates(firmware_sha256: str) -> list[Path]:
    """Kept images of this firmware, newest first (names checked, contents not yet)."""
    folder = flash_dir()
    found = []
    for p in folder.glob(f"{glob.escape(firmware_sha256)}-*.bin"):
        m = _KEPT_NAME.match(p.name)
        if m and m["firmware"] == firmware_sha256:
            found.append(p)
    with_times = []
    for p in found:
        with contextlib.suppress(FileNotFoundError):  # another run may have replaced it meanwhile
            with_times.append((p.stat().st_mtime_ns, p))
    return [p for _, p in sorted(with_times, reverse=True)]


def kept_flash(firmware_sha256: str) -> Path | None:
    """The kept image for this firmware, if any; not verified here (``prepare`` verifies)."""
    candidates = _candidates(firmware_sha256)
    return candidates[0] if candidates else None


def _drop_legacy(firmware_sha256: str) -> None:
    """Remove ``<sha>.bin`` from before images carried their hash: nothing says it is whole."""
    legacy = flash_dir() / f"{firmware_sha256}.bin"
    if legacy.exists():
        with contextlib.suppress(FileNotFoundError):
            legacy.unlink()
        log.warning("discarded the kept flash image %s: it has no sha256 to check it against", legacy)


def prepare(target: Path, firmware_sha256: str | None, fresh: bytes) -> bool:
    """Write the flash image a run starts from to ``target``; True when it is a verified kept one.

    A kept image is used only when its size is that of ``fresh`` (the
    platform's flash size) and its contents hash to the sha256 in its name;
    one that does not match is discarded, with a warning.
    """
    if firmware_sha256:
        _drop_legacy(firmware_sha256)
        for kept in _candidates(firmware_sha256):
            try:
                data = kept.read_bytes()
            except FileNotFoundError:
                continue
            if len(data) != len(fresh):
                continue  # kept for another flash size: not this run's, but not damaged either
            m = _KEPT_NAME.match(kept.name)
            assert m is not None
            actual = hashlib.sha256(data).hexdigest()
            if actual != m["image"]:
                _unlink(kept)
                log.warning(
                    "discarded the kept flash image %s: its contents hash to %s, not to the sha256 in its name",
                    kept,
                    actual,
                )
                continue
            target.write_bytes(data)
            return True
    target.write_bytes(fresh)
    return False


def keep(flash: Path, firmware_sha256: str) -> Path:
    """Keep ``flash`` for later runs of this firmware, atomically, named by its own sha256.

    Older kept images of the same firmware are removed after the new one is in
    place, so a reader always finds a whole image (or none).
    """
    folder = flash_dir()
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{firmware_sha256}-", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, open(flash, "rb") as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        kept = folder / f"{firmware_sha256}-{digest.hexdigest()}.bin"
        os.replace(tmp, kept)  # never leave a half-written image where the next run would take it
    except BaseException:
        _unlink(tmp)
        raise
    _fsync_dir(folder)
    mine = kept.stat().st_mtime_ns
    for other in _candidates(firmware_sha256):
        with contextlib.suppress(FileNotFoundError):
            if other != kept and other.stat().st_mtime_ns <= mine:
                _unlink(other)
    log.info("kept the flash image after the first boot: %s", kept)
    return kept


def discard(firmware_sha256: str, why: str = f"the board said {CORRUPTED!r}") -> None:
    """Forget every kept image of this firmware (the board reported its filesystem corrupted)."""
    for kept in _candidates(firmware_sha256):
        _unlink(kept)
        log.warning("discarded the kept flash image %s: %s", kept, why)
    _drop_legacy(firmware_sha256)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a crash right after must not lose or half-show the file)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class FlashRun:
    """The flash image of one QEMU run: where it came from, and what is kept after it.

    The engine calls ``at_prompt`` with QEMU paused once the board reached its
    prompt, and ``finish`` with everything the board printed once QEMU has
    quit. Only a run that started from a fresh image keeps one.
    """

    def __init__(self, path: Path, firmware_sha256: str | None, fresh: bytes):
        self.path = path
        self.firmware_sha256 = firmware_sha256
        self.from_cache = prepare(path, firmware_sha256, fresh)
        self.snapshot: Path | None = None

    def at_prompt(self) -> None:
        """Copy the image as it is now (QEMU paused, its writes drained) as the one to keep later."""
        if self.from_cache or not self.firmware_sha256 or self.snapshot is not None:
            return
        snapshot = self.path.with_name(self.path.stem + "-at-prompt" + self.path.suffix)
        shutil.copyfile(self.path, snapshot)
        self.snapshot = snapshot

    def corrupted(self) -> None:
        """The board called its filesystem corrupted: drop the kept image it started from, keep nothing."""
        self.snapshot = None
        if self.from_cache and self.firmware_sha256:
            discard(self.firmware_sha256)

    def finish(self, console_output: bytes) -> Path | None:
        """After QEMU quit: keep the snapshot unless the board said its filesystem is corrupted."""
        if CORRUPTED.encode() in console_output:
            if self.snapshot is not None:
                log.warning("not keeping the flash image of this first boot: the board said %r", CORRUPTED)
            self.corrupted()
            return None
        if self.snapshot is None or not self.firmware_sha256:
            return None
        snapshot, self.snapshot = self.snapshot, None
        return keep(snapshot, self.firmware_sha256)
