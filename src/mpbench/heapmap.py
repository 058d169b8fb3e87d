"""The heap map ``micropython.mem_info(1)`` prints, read into figures a test can check.

Its shape (py/gc.c ``gc_dump_alloc_table``, the same from v1.9 to v1.29):
``GC memory layout; from ADDR:``, then one line per 64 blocks of heap, each
``OFFSET: `` (5 hex digits before v1.20, 8 after) followed by one character
per block, and runs of empty lines shortened to ``       (N lines all free)``.
The last line may be short. Nothing here assumes a block size: the bytes a
line covers are measured from the offsets, so a test can compare them with
what the docs say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LINE = re.compile(r"^([0-9a-f]{5,8}): (\S*)$")
_FREE_RUN = re.compile(r"^\s+\((\d+) lines all free\)$")


@dataclass
class HeapMap:
    """What a heap map shows: printed lines as (offset, blocks), and lines elided after each."""

    lines: list[tuple[int, str]] = field(default_factory=list)
    elided_after: dict[int, int] = field(default_factory=dict)

    @property
    def bytes_per_line(self) -> list[int]:
        """Every distinct value of (offset difference / lines between) over consecutive printed lines."""
        found = set()
        for i in range(len(self.lines) - 1):
            span = 1 + self.elided_after.get(i, 0)
            found.add((self.lines[i + 1][0] - self.lines[i][0]) // span)
        return sorted(found)

    @property
    def full_line_lengths(self) -> list[int]:
        """Every distinct number of block characters on the printed lines but the last."""
        return sorted({len(blocks) for _, blocks in self.lines[:-1]})

    @property
    def letters(self) -> str:
        """Every distinct block character shown, sorted."""
        return "".join(sorted({c for _, blocks in self.lines for c in blocks}))


def parse_heap_map(text: str) -> HeapMap:
    """The map in ``text`` (the output of ``mem_info(1)``); empty when it holds none."""
    result = HeapMap()
    started = False
    for raw in text.splitlines():
        if raw.startswith("GC memory layout"):
            started = True
            continue
        if not started:
            continue
        m = _LINE.match(raw)
        if m:
            result.lines.append((int(m.group(1), 16), m.group(2)))
            continue
        m = _FREE_RUN.match(raw)
        if m and result.lines:
            result.elided_after[len(result.lines) - 1] = int(m.group(1))
    return result
