"""``parse_traceback`` on the shapes MicroPython really prints.

The texts below were captured from the two boards this project runs (micro:bit
MicroPython 1.9.2 under QEMU and the unix port 1.29 preview) through the raw
REPL, or written from the formats in /work/shared/micropython-facts.md where a
board here cannot produce them (an IRQ handler's exception with no emergency
buffer). Line endings are the board's: ``\\r\\n``.
"""

from __future__ import annotations

import pytest

from mpbench.errors import Frame
from mpbench.session.traceback import parse_traceback


def crlf(text: str) -> str:
    """The console sends \\r\\n; the parser must not care."""
    return text.replace("\n", "\r\n")


# unix, `def a(n): ... raise RuntimeError('bottom')` recursing 3 deep, called on line 5.
DEEP = """Traceback (most recent call last):
  File "<stdin>", line 5, in <module>
  File "<stdin>", line 4, in a
  File "<stdin>", line 4, in a
  File "<stdin>", line 4, in a
  File "<stdin>", line 3, in a
RuntimeError: bottom
"""


@pytest.mark.parametrize("text", [DEEP, crlf(DEEP)], ids=["lf", "crlf"])
def test_multi_frame_traceback(text: str) -> None:
    tb = parse_traceback(text)
    assert tb is not None
    assert tb.exc_type == "RuntimeError"
    assert tb.message == "bottom"
    assert tb.frames == (
        Frame("<stdin>", 5, "<module>"),
        Frame("<stdin>", 4, "a"),
        Frame("<stdin>", 4, "a"),
        Frame("<stdin>", 4, "a"),
        Frame("<stdin>", 3, "a"),
    )
    assert "RuntimeError: bottom" in str(tb)


def test_staged_exec_frames_from_string_keep_their_files() -> None:
    # micro:bit: a staged script runs through exec(), so its frames are "<string>"
    # under the raw REPL's own "<stdin>" line.
    text = crlf(
        'Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\n'
        '  File "<string>", line 3, in <module>\n  File "<string>", line 2, in f\nValueError: x\n'
    )
    tb = parse_traceback(text)
    assert tb is not None
    assert [f.file for f in tb.frames] == ["<stdin>", "<string>", "<string>"]
    assert [(f.line, f.function) for f in tb.frames] == [(1, "<module>"), (3, "<module>"), (2, "f")]


def test_memory_error_with_heap_locked_and_no_traceback_lines() -> None:
    # An exception built with the heap locked and no emergency buffer: no
    # "Traceback" line, no args, so the type, a colon and a trailing space.
    tb = parse_traceback("MemoryError: \r\n")
    assert tb is not None
    assert tb.exc_type == "MemoryError"
    assert tb.message == ""
    assert tb.frames == ()


def test_irq_header_line_is_not_taken_for_the_exception() -> None:
    # stm32 v1.24: the IRQ handler's header, then the exception with no traceback (no buffer).
    tb = parse_traceback("uncaught exception in Timer(4) interrupt handler\r\nValueError: \r\n")
    assert tb is not None
    assert tb.exc_type == "ValueError"
    assert tb.message == ""
    assert tb.frames == ()


def test_irq_header_then_two_frame_traceback() -> None:
    # The emergency buffer keeps the innermost two frames.
    text = crlf(
        "uncaught exception in ExtInt interrupt handler line 0\n"
        'Traceback (most recent call last):\n  File "<stdin>", line 7, in cb\nValueError: boom\n'
    )
    tb = parse_traceback(text)
    assert tb is not None
    assert (tb.exc_type, tb.message) == ("ValueError", "boom")
    assert tb.frames == (Frame("<stdin>", 7, "cb"),)


def test_keyboard_interrupt_with_colon_and_no_message() -> None:
    # What micro:bit 1.9.2 and unix 1.29 print after Ctrl-C on `while True: pass`.
    tb = parse_traceback(
        crlf('Traceback (most recent call last):\n  File "<stdin>", line 3, in <module>\nKeyboardInterrupt: \n')
    )
    assert tb is not None
    assert tb.exc_type == "KeyboardInterrupt"
    assert tb.message == ""
    assert tb.frames == (Frame("<stdin>", 3, "<module>"),)


@pytest.mark.parametrize("text", ["KeyboardInterrupt", "KeyboardInterrupt\r\n", "KeyboardInterrupt:"])
def test_bare_type_without_message(text: str) -> None:
    tb = parse_traceback(text)
    assert tb is not None
    assert tb.exc_type == "KeyboardInterrupt"
    assert tb.message == ""
    assert tb.frames == ()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # `x = (1,` then `y = 2`: the error is found on line 2; no ", in f" part.
        ('Traceback (most recent call last):\n  File "<stdin>", line 2\nSyntaxError: invalid syntax\n', 2),
        ('Traceback (most recent call last):\n  File "<stdin>", line 1\nSyntaxError: invalid syntax\n', 1),
    ],
)
def test_syntax_error_frame_without_function(text: str, line: int) -> None:
    tb = parse_traceback(crlf(text))
    assert tb is not None
    assert tb.exc_type == "SyntaxError"
    assert tb.message == "invalid syntax"
    assert tb.frames == (Frame("<stdin>", line, ""),)


def test_frame_without_line_number() -> None:
    tb = parse_traceback("Traceback (most recent call last):\n  File \"main.py\"\nImportError: no module named 'x'\n")
    assert tb is not None
    assert tb.frames == (Frame("main.py", None, ""),)
    assert tb.message == "no module named 'x'"


def test_multi_line_message_is_kept_whole() -> None:
    # raise ValueError('first line\nsecond line\nthird'), as unix prints it.
    text = crlf(
        'Traceback (most recent call last):\n  File "<stdin>", line 3, in <module>\n'
        '  File "<stdin>", line 2, in f\nValueError: first line\nsecond line\nthird\n'
    )
    tb = parse_traceback(text)
    assert tb is not None
    assert tb.exc_type == "ValueError"
    assert tb.message == "first line\nsecond line\nthird"
    assert tb.frames == (Frame("<stdin>", 3, "<module>"), Frame("<stdin>", 2, "f"))


def test_message_with_colons_is_not_split_again() -> None:
    tb = parse_traceback("OSError: [Errno 2] ENOENT: a: b\r\n")
    assert tb is not None
    assert (tb.exc_type, tb.message) == ("OSError", "[Errno 2] ENOENT: a: b")


def test_opt_level_3_frames_all_say_line_1() -> None:
    # unix: opt_level(3) on line 2, then exec() of `def f(): return xyz` / `f()`.
    text = crlf(
        'Traceback (most recent call last):\n  File "<stdin>", line 3, in <module>\n'
        '  File "<string>", line 1, in <module>\n  File "<string>", line 1, in f\n'
        "NameError: name 'xyz' isn't defined\n"
    )
    tb = parse_traceback(text)
    assert tb is not None
    assert tb.frames == (Frame("<stdin>", 3, "<module>"), Frame("<string>", 1, "<module>"), Frame("<string>", 1, "f"))
    assert (tb.exc_type, tb.message) == ("NameError", "name 'xyz' isn't defined")


def test_v1_9_is_not_defined_wording() -> None:
    # micro:bit MicroPython 1.9.2 says "is not defined" (1.10+ says "isn't").
    text = crlf(
        'Traceback (most recent call last):\n  File "<stdin>", line 4, in <module>\n'
        "  File \"<stdin>\", line 2, in f\nNameError: name 'undefined_name' is not defined\n"
    )
    tb = parse_traceback(text)
    assert tb is not None
    assert tb.exc_type == "NameError"
    assert tb.message == "name 'undefined_name' is not defined"
    assert tb.frames == (Frame("<stdin>", 4, "<module>"), Frame("<stdin>", 2, "f"))


def test_dotted_exception_type() -> None:
    tb = parse_traceback(
        'Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\nustruct.error: bad\n'
    )
    assert tb is not None
    assert (tb.exc_type, tb.message) == ("ustruct.error", "bad")


def test_text_is_kept_for_display() -> None:
    tb = parse_traceback(crlf(DEEP))
    assert tb is not None
    assert tb.text.splitlines() == DEEP.splitlines()
    assert str(tb).splitlines()[-1] == "RuntimeError: bottom"


@pytest.mark.parametrize("text", ["", "\r\n", "\n\n", "   \r\n  "])
def test_empty_input_returns_none(text: str) -> None:
    assert parse_traceback(text) is None
