"""Patterns from a bundle, compiled with RE2 so a hostile one cannot stall a replay.

A ``read_until`` step may carry a regular expression (``ReplSession.read_until``
takes a compiled ``re.Pattern``; mpbench's own faces record literal text
only, but the Python API records whatever a caller passed). Python's ``re``
backtracks: ``(a|aa)+$`` against 32 characters takes seconds, against 40
minutes, and a replay searches the console buffer again after every read.
A bundle is someone else's input, so its patterns never reach ``re``: they
are compiled by RE2 (PyPI ``google-re2``), whose matching time is linear in
the text, with Latin-1 encoding so a pattern matches console bytes one to
one, and errors kept off stderr (RE2 logs them there by default).

RE2 is not Python's ``re``: no backreferences, no lookaround, repetition
counts up to 1000, and ``$`` without MULTILINE matches only at the very end
(Python's also matches before a final newline). A pattern RE2 refuses makes
the bundle refused; Python's ``\\Z`` is RE2's ``\\z`` and is translated.
"""

from __future__ import annotations

import re
from typing import Any

import re2

#: The ``re`` flags a recorded pattern may carry, and how each maps to RE2.
ALLOWED_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL


class PatternError(ValueError):
    """A recorded pattern RE2 cannot take; the message says why, in one line."""


def _translate(pattern: bytes) -> bytes:
    r"""Python's ``\Z`` (end of text) as RE2's ``\z``; every other escape stays as it is."""
    out = bytearray()
    i = 0
    while i < len(pattern):
        if pattern[i : i + 1] == b"\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1 : i + 2]
            out += b"\\z" if nxt == b"Z" else b"\\" + nxt
            i += 2
        else:
            out += pattern[i : i + 1]
            i += 1
    return bytes(out)


def _options(flags: int) -> re2.Options:
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1  # one character per console byte, like re on bytes
    options.log_errors = False  # RE2 writes parse errors to stderr; the refusal says it in one line
    options.case_sensitive = not flags & re.IGNORECASE
    options.dot_nl = bool(flags & re.DOTALL)
    return options


def compile_pattern(text: str, flags: int = 0) -> Any:
    """An RE2 pattern over bytes for a recorded ``{"regex": text, "flags": flags}``; ``PatternError`` if refused.

    The result has what ``ConsoleReader`` uses of a compiled pattern:
    ``search(buffer)`` returning a match with ``start()``/``end()``, and ``pattern``.
    """
    if flags & ~ALLOWED_FLAGS:
        names = [f.name for f in re.RegexFlag if f & flags & ~ALLOWED_FLAGS]
        raise PatternError(
            f"flags {', '.join(str(n) for n in names) or flags} are not supported; "
            "expected only IGNORECASE, MULTILINE, DOTALL"
        )
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError as e:
        raise PatternError(f"the pattern is not Latin-1 text (console bytes): {e}") from e
    source = (b"(?m)" if flags & re.MULTILINE else b"") + _translate(raw)
    try:
        return re2.compile(source, _options(flags))
    except re2.error as e:
        why = e.args[0] if e.args else e
        why = why.decode("latin-1", "backslashreplace") if isinstance(why, bytes) else str(why)
        raise PatternError(f"RE2 cannot compile {raw!r}: {why}") from e


def is_re2(pattern: object) -> bool:
    """True for a pattern ``compile_pattern`` made (tests use it to prove ``re`` never sees bundle patterns)."""
    return isinstance(pattern, re2._Regexp)


__all__ = ["ALLOWED_FLAGS", "PatternError", "compile_pattern", "is_re2"]
