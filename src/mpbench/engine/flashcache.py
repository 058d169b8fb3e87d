"""Flash images kept after a board's first boot.

An ESP32 running MicroPython v1.16 spends 30-37 s of its first boot formatting
its filesystem (measured), then 3-4 s on every boot from the flash that first
boot left. So the first boot runs on a fresh image, the image is kept once the
board reached its prompt (keyed by the firmware's sha256), and every later
run starts from a private copy of it. An image the board calls corrupted is
thrown away.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from mpbench.firmware.cache import cache_dir

log = logging.getLogger(__name__)

CORRUPTED = "The filesystem appears to be corrupted"


def kept_flash(firmware_sha256: str) -> Path:
    """Where the flash image after the first boot of this firmware is kept."""
    return cache_dir() / "flash" / f"{firmware_sha256}.bin"


def prepare(target: Path, firmware_sha256: str | None, fresh: bytes) -> bool:
    """Write the flash image a run starts from to ``target``; True when it is a kept one."""
    if firmware_sha256:
        kept = kept_flash(firmware_sha256)
        if kept.is_file() and kept.stat().st_size == len(fresh):
            shutil.copyfile(kept, target)
            return True
    target.write_bytes(fresh)
    return False


def keep(flash: Path, firmware_sha256: str) -> Path:
    """Keep ``flash`` (the image a board just booted to its prompt from) for later runs."""
    kept = kept_flash(firmware_sha256)
    kept.parent.mkdir(parents=True, exist_ok=True)
    tmp = kept.with_suffix(f".tmp{os.getpid()}")
    shutil.copyfile(flash, tmp)
    os.replace(tmp, kept)  # never leave a half-written image where the next run would take it
    log.info("kept the flash image after the first boot: %s", kept)
    return kept


def discard(firmware_sha256: str) -> None:
    """Forget the kept image (the board reported its filesystem corrupted)."""
    kept = kept_flash(firmware_sha256)
    if kept.exists():
        kept.unlink()
        log.warning("discarded the kept flash image %s: the board said %r", kept, CORRUPTED)
