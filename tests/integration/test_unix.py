"""The real unix port (MicroPython 1.29 preview) under a pty, through mpbench's session.

One port process serves the whole module. Expected values come from the
scripts themselves or from the platform file, never from mpbench.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator

import pytest

from mpbench.board import Board
from support import checksum_script, line_of, recovering

pytestmark = pytest.mark.emulator


@pytest.fixture
def board(unix: Board) -> Iterator[Board]:
    yield from recovering(unix)


# -- micropython module -----------------------------------------------------------
def test_mem_info_fields_are_numbers_and_gc_total_is_the_platform_heap(board: Board) -> None:
    out = board.exec("import micropython, gc\nmicropython.mem_info()\nprint(gc.mem_alloc() + gc.mem_free())").check()
    mem = re.search(r"^mem: total=(\d+), current=(\d+), peak=(\d+)$", out, re.M)
    stack = re.search(r"^stack: (\d+) out of (\d+)$", out, re.M)
    gc_line = re.search(r"^GC: total: (\d+), used: (\d+), free: (\d+)$", out, re.M)
    blocks = re.search(r"^ No\. of 1-blocks: (\d+), 2-blocks: (\d+), max blk sz: (\d+), max free sz: (\d+)$", out, re.M)
    assert mem and stack and gc_line and blocks, out
    m_total, m_current, m_peak = map(int, mem.groups())
    assert 0 < m_current <= m_peak <= m_total
    used_stack, stack_max = map(int, stack.groups())
    assert 0 < used_stack < stack_max
    total, used, free = map(int, gc_line.groups())
    assert total == board.platform.memory.heap == 2072832
    assert used + free == total
    assert int(out.strip().splitlines()[-1]) == total  # gc agrees with mem_info


def test_mem_info_used_grows_with_an_allocation(board: Board) -> None:
    code = (
        "import micropython\nmicropython.mem_info()\nkeep = bytearray(30000)\nmicropython.mem_info()\ndel keep\n"
        "import gc\ngc.collect()\n"
    )
    out = board.exec(code).check()
    used = [int(u) for u in re.findall(r"^GC: total: \d+, used: (\d+), free: \d+$", out, re.M)]
    assert len(used) == 2
    assert used[1] - used[0] >= 30000


def test_stack_use_is_an_int_that_grows_with_call_depth(board: Board) -> None:
    code = (
        "import micropython\n"
        "def f(n):\n"
        "    here = micropython.stack_use()\n"
        "    return [here] if n == 0 else [here] + f(n - 1)\n"
        "print(type(micropython.stack_use()) is int)\n"
        "print(f(10))\n"
    )
    out = board.exec(code).check().splitlines()
    assert out[0] == "True"
    depths = ast.literal_eval(out[1])
    assert len(depths) == 11 and all(isinstance(d, int) and d > 0 for d in depths)
    assert all(a < b for a, b in itertools.pairwise(depths))


# -- tracebacks -------------------------------------------------------------------
def test_a_real_traceback_is_parsed(board: Board) -> None:
    code = "def inner(d):\n    return d['missing']\n\ndef outer():\n    return inner({})\n\nouter()\n"
    r = board.exec(code)
    assert r.traceback is not None
    assert r.traceback.exc_type == "KeyError"
    assert r.traceback.message == "missing"
    assert [(f.file, f.line, f.function) for f in r.traceback.frames] == [
        ("<stdin>", line_of(code, "outer()"), "<module>"),
        ("<stdin>", line_of(code, "    return inner({})"), "outer"),
        ("<stdin>", line_of(code, "    return d['missing']"), "inner"),
    ]


def test_name_error_wording_since_1_10(board: Board) -> None:
    r = board.exec("print(no_such_name)")
    assert r.traceback is not None
    assert r.traceback.exc_type == "NameError"
    assert r.traceback.message == "name 'no_such_name' isn't defined"


def test_opt_level_3_reports_line_1(board: Board) -> None:
    code = "import micropython\nmicropython.opt_level(3)\nexec('x = 1\\ny = 2\\nz = 1 // 0')\n"
    try:
        r = board.exec(code)
    finally:
        board.exec("import micropython\nmicropython.opt_level(0)").check()
    assert r.traceback is not None and r.traceback.exc_type == "ZeroDivisionError"
    assert [(f.file, f.line) for f in r.traceback.frames] == [("<stdin>", 3), ("<string>", 1)]


def test_exec_after_an_exception_still_works(board: Board) -> None:
    assert board.exec("raise ValueError('first')").traceback.message == "first"
    assert board.exec("x = 6\nprint(x * 7)").check() == "42\n"
    assert board.exec("1/0").traceback.exc_type == "ZeroDivisionError"
    assert board.exec("print('still here')").check() == "still here\n"


# -- long scripts -----------------------------------------------------------------
def test_a_long_script_keeps_its_line_numbers(board: Board) -> None:
    filler = "".join(f"a{i} = {i} + 1\n" for i in range(300))
    code = (
        filler
        + "def inner(x):\n"
        + "    return 100 // x\n"
        + "\n"
        + "def outer():\n"
        + "    return inner(a0 - 1)\n"
        + "\n"
        + "print('before the error', a299)\n"
        + "outer()\n"
    )
    r = board.exec(code)
    assert r.stdout == "before the error 300\n"
    assert r.traceback is not None and r.traceback.exc_type == "ZeroDivisionError"
    assert [(f.line, f.function) for f in r.traceback.frames] == [
        (line_of(code, "outer()"), "<module>"),
        (line_of(code, "    return inner(a0 - 1)"), "outer"),
        (line_of(code, "    return 100 // x"), "inner"),
    ]


@pytest.mark.parametrize("steps", [90, 2000], ids=["2kb", "60kb"])
def test_a_long_script_arrives_byte_exact(board: Board, steps: int) -> None:
    code, expected = checksum_script(steps)
    assert len(code) > 2048
    assert board.exec(code, timeout=30).check() == f"{expected}\n"


# -- control ----------------------------------------------------------------------
def test_ctrl_c_interrupts_a_running_loop(board: Board) -> None:
    s = board.session
    assert s is not None
    s.exec_start("n = 0\nwhile True:\n    n += 1\n    if n == 1000:\n        print('ready')\n")
    s.read_until(b"ready", timeout=5.0)
    s.interrupt()
    r = s.exec_follow(timeout=5.0)
    assert r.traceback is not None
    assert r.traceback.exc_type == "KeyboardInterrupt"
    assert board.exec("print(n >= 1000)").check() == "True\n"  # the loop ran on, and the port answers again


def test_reset_clears_globals(board: Board) -> None:
    board.exec("marker = 12345").check()
    assert board.exec("print(marker)").check() == "12345\n"
    board.reset()
    assert board.exec("print('marker' in globals())").check() == "False\n"
    r = board.exec("print(marker)")
    assert r.traceback is not None and r.traceback.exc_type == "NameError"


def test_friendly_line_shows_the_value_of_a_bare_expression(board: Board) -> None:
    s = board.session
    assert s is not None
    assert s.friendly_line("6 * 7") == "42\n"
    assert s.friendly_line("y = 5") == ""
    assert s.friendly_line("[y] * 3") == "[5, 5, 5]\n"
    assert board.exec("print(y)").check() == "5\n"


def test_mpbench_micropython_names_the_port_to_run_over_the_one_on_path(tmp_path, monkeypatch) -> None:
    """The variable wins over PATH: a wrapper that gives the port a small heap shows in gc's figures."""
    from mpbench.board import resolve_firmware
    from mpbench.platform_loader import find_platform

    platform = find_platform("unix")
    real = resolve_firmware(platform).path
    wrapper = tmp_path / "micropython-small-heap"
    wrapper.write_text(f'#!/bin/sh\nexec "{real}" -X heapsize=100000 "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("MPBENCH_MICROPYTHON", str(wrapper))
    with Board(platform) as small:
        total = int(small.exec("import gc\nprint(gc.mem_alloc() + gc.mem_free())").check())
    assert total < 100_000 < platform.memory.heap  # not the default heap of the port on PATH
