"""Turn the traceback text MicroPython prints into data.

The shapes handled are those of every MicroPython since 1.9:
``Traceback (most recent call last):``, then frames as
``  File "<stdin>", line 3, in f`` (the ``, in f`` part is absent for
some SyntaxErrors and, at opt_level 3, every line is 1), then
``Type: message`` or just ``Type``. An exception raised with the heap
locked and no emergency buffer prints no traceback lines at all.
"""

from __future__ import annotations

import re

from mpbench.errors import DeviceTraceback, Frame

_HEADER = "Traceback (most recent call last):"
_FRAME = re.compile(r'^  File "(?P<file>[^"]*)"(?:, line (?P<line>\d+))?(?:, in (?P<func>.*))?$')
_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::(?: (?P<msg>.*)|$)|$)")


def parse_traceback(text: str) -> DeviceTraceback | None:
    """Parse the error output of one exec; None when it holds no exception."""
    text = text.replace("\r\n", "\n").strip("\n")
    if not text.strip():
        return None
    lines = text.split("\n")
    frames: list[Frame] = []
    i = 0
    if _HEADER in lines:
        i = lines.index(_HEADER) + 1
        while i < len(lines):
            m = _FRAME.match(lines[i])
            if not m:
                break
            frames.append(Frame(m["file"], int(m["line"]) if m["line"] else None, m["func"] or ""))
            i += 1
    rest = lines[i:]
    while rest and not _EXC.match(rest[0]):
        rest = rest[1:]
    if rest:
        m = _EXC.match(rest[0])
        assert m is not None
        message = "\n".join([m["msg"] or "", *rest[1:]]).rstrip("\n") if len(rest) > 1 else (m["msg"] or "")
        return DeviceTraceback(m["type"], message, tuple(frames), text)
    return DeviceTraceback("", text.strip(), tuple(frames), text)
