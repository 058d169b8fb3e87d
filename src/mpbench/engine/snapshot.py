"""Boot snapshots of Renode boards: the machine saved at its first prompt, loaded by later starts.

A Renode board spends most of its start building the machine (platform
description, SVD files, loading the ELF) and booting the firmware. After the
first boot of a given (board, firmware sha256, Renode version, platform text
with its .repl and .resc files), the engine saves the machine with Renode's
``Save`` at the prompt; later starts run ``Load`` instead and replay the boot
output the first boot printed.

Kept in the cache folder (``mpbench.firmware.cache.cache_dir``), under
``renode-snapshots/<key>.*``: the state, the boot output, and a small JSON
file with the state's sha256 and size. A state whose hash does not match is
discarded with a warning (a truncated write, a disk error, an edit). Files
are written to a temporary name and renamed, so a crash never leaves half a
snapshot under the real name. ``MPBENCH_RENODE_SNAPSHOTS=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpbench.firmware.cache import Firmware, cache_dir

if TYPE_CHECKING:
    from mpbench.engine.renode import RenodeEngine
    from mpbench.platform import Platform

log = logging.getLogger(__name__)

#: Bumped when what a snapshot holds, or how it is taken, changes.
FORMAT = 1
ENV = "MPBENCH_RENODE_SNAPSHOTS"


def snapshot_key(parts: dict[str, Any]) -> str:
    """sha256 of everything that decides what the saved machine is (sorted JSON)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def key_parts(engine: RenodeEngine, renode_version: str) -> dict[str, Any]:
    """The inputs a snapshot depends on: board, firmware hash, Renode version, platform text and its files."""
    return platform_key_parts(engine.platform, getattr(engine.firmware, "sha256", None), renode_version)


def platform_key_parts(platform: Platform, firmware_sha256: str | None, renode_version: str) -> dict[str, Any]:
    """``key_parts`` without an engine: a replay checks a carried state's key before it has a firmware file."""
    from mpbench.engine.renode import board_file

    files = {}
    for key in ("repl", "script"):
        path = board_file(platform, key)
        if path is not None:
            files[key] = path.read_text(encoding="utf-8", errors="replace")
    return {
        "format": FORMAT,
        "board": platform.name,
        "firmware_sha256": firmware_sha256,
        "renode": renode_version,
        "platform_text": platform.path.read_text(encoding="utf-8", errors="replace"),
        "files": files,
    }


class SnapshotStore:
    """One board configuration's snapshot files in the cache."""

    def __init__(self, folder: Path, key: str):
        self.folder = folder
        self.key = key
        self.state_path = folder / f"{key}.state"
        self.boot_path = folder / f"{key}.boot"
        self.meta_path = folder / f"{key}.json"

    @classmethod
    def for_engine(cls, engine: RenodeEngine, renode_version: str) -> SnapshotStore | None:
        """The store for this engine's board, or None when snapshots are off or cannot be keyed.

        An engine given a ``trusted_state`` (a replay's ``--trust-state``: a
        state carried in a bundle, checked and unpacked into its own folder)
        gets that store, whatever the cache holds.
        """
        trusted = getattr(engine, "trusted_state", None)
        if trusted is not None:
            return trusted  # type: ignore[no-any-return]
        if os.environ.get(ENV, "1") == "0" or not renode_version:
            return None
        if engine.image_files:
            # Files baked into the filesystem image (``--put``) live in the machine's flash: a snapshot
            # taken without them would restore a filesystem that lacks them (measured: ENOENT), and one
            # per file set would fill the cache. Such a start boots cold.
            return None
        if getattr(engine.firmware, "sha256", None) is None:
            return None
        try:
            parts = key_parts(engine, renode_version)
        except OSError as e:
            log.warning("no boot snapshot for %s: %s", engine.platform.name, e)
            return None
        return cls(cache_dir() / "renode-snapshots", snapshot_key(parts))

    def usable(self) -> bool:
        """True when all three files are there and the state hashes to what its JSON says."""
        try:
            meta = json.loads(self.meta_path.read_text())
            if not self.boot_path.is_file():
                return False
            with open(self.state_path, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
        except (OSError, ValueError):
            return False
        if digest != meta.get("sha256"):
            log.warning("boot snapshot %s does not match its hash: discarding it", self.state_path)
            self.discard()
            return False
        return True

    def boot_output(self) -> bytes:
        return self.boot_path.read_bytes()

    def size(self) -> int:
        try:
            return self.state_path.stat().st_size
        except OSError:
            return 0

    def discard(self) -> None:
        for p in (self.meta_path, self.state_path, self.boot_path):
            with contextlib.suppress(OSError):
                p.unlink()

    def take(self, engine: RenodeEngine, boot_output: bytes) -> None:
        """Save ``engine``'s machine (at its prompt) and the boot output into the cache, atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.key}-", suffix=".state", dir=self.folder)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            tmp.unlink()  # Renode writes the file itself
            engine.save_state(tmp)
            with open(tmp, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            _atomic_write(self.boot_path, boot_output)
            os.replace(tmp, self.state_path)
            _atomic_write(
                self.meta_path,
                json.dumps({"sha256": digest, "size": self.state_path.stat().st_size, "vt_us": engine.vt_us}).encode(),
            )
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


@dataclass(frozen=True)
class TrustedState:
    """A machine state someone else saved, checked and unpacked here, that a board starts from.

    ``store`` holds it like a cache snapshot (its own folder, never the
    cache); ``firmware`` describes the image the state was booted from, which
    need not exist on this machine: its memory is in the state. Only a replay
    given ``--trust-state`` makes one (see ``mpbench.repro.state``).
    """

    store: SnapshotStore
    firmware: Firmware


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
