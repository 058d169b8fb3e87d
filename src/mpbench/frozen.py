"""The source of a board's frozen module, taken from the user's MicroPython checkout.

The memory chapter promises that a frozen module costs less RAM than "the
same source" imported from a file. Firmware keeps frozen modules as bytecode
only, and committing MicroPython's sources here is not allowed, so the source
comes from a checkout the user names with ``MPBENCH_MICROPYTHON_SRC`` (the
folder ``mpbench upstream --micropython`` also takes). The platform file pins
the file's sha256: a checkout of another release holds other source, and a
comparison with it would not be the one the documentation makes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from mpbench.platform import Platform

ENV = "MPBENCH_MICROPYTHON_SRC"
#: Frozen modules the platforms name are a few KB; a larger file is not the one pinned anyway.
MAX_BYTES = 256 * 1024
_LIB = "lib/micropython-lib/"


def candidates(checkout: Path, source: str) -> list[Path]:
    """Where ``source`` may be: inside a MicroPython checkout, or a micropython-lib checkout itself."""
    paths = [checkout / source]
    if source.startswith(_LIB):
        paths.append(checkout / source[len(_LIB) :])
    return paths


def frozen_source(platform: Platform, checkout: str | None = None) -> tuple[Path | None, str]:
    """The host path of the source of ``platform``'s frozen module, or None and why not.

    ``checkout`` defaults to ``$MPBENCH_MICROPYTHON_SRC``. Every "why not"
    is a reason to skip (the bench cannot show the promise here), never a
    verdict on MicroPython.
    """
    spec = platform.frozen_module
    if spec is None:
        return None, f"{platform.name}: the platform file {platform.path.name} names no frozen module"
    where = checkout if checkout is not None else os.environ.get(ENV, "")
    if not where:
        return None, (
            f"{platform.name} freezes {spec.name!r}; comparing it with its source needs a MicroPython checkout: "
            f"set {ENV} to one (with lib/micropython-lib) that has {spec.source}"
        )
    root = Path(where)
    if not root.is_dir():
        return None, f"{ENV}={where}: not a folder (expected a MicroPython checkout)"
    found = next((p for p in candidates(root, spec.source) if p.is_file()), None)
    if found is None:
        return None, f"{ENV}={where}: no {spec.source} there (is lib/micropython-lib checked out?)"
    size = found.stat().st_size
    if size > MAX_BYTES:
        return None, f"{found}: {size} bytes, larger than any frozen module source the bench expects"
    digest = hashlib.sha256(found.read_bytes()).hexdigest()
    if digest not in spec.sha256:
        return None, (
            f"{found} (sha256 {digest[:12]}...) is not the source {platform.name}'s firmware froze "
            f"(platform file {platform.path.name}: {', '.join(s[:12] + '...' for s in spec.sha256)}); "
            "use a checkout of the firmware's release"
        )
    return found, ""
