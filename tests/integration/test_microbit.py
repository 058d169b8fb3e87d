"""The real micro:bit firmware (MicroPython 1.9.2) under QEMU, through mpbench's session.

One board serves the whole module (booting is cheap, but a shared board also
shows that each test leaves it usable for the next). Expected values come from
the scripts themselves or from the platform file, never from mpbench.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpbench.board import Board
from support import checksum_script, line_of, recovering

pytestmark = pytest.mark.emulator


@pytest.fixture
def board(microbit: Board) -> Iterator[Board]:
    yield from recovering(microbit)


# -- micropython module -----------------------------------------------------------
def test_mem_info_fields_are_numbers_and_gc_total_is_the_platform_heap(board: Board) -> None:
    out = board.exec("import micropython, gc\nmicropython.mem_info()\nprint(gc.mem_alloc() + gc.mem_free())").check()
    stack = re.search(r"^stack: (\d+) out of (\d+)$", out, re.M)
    gc_line = re.search(r"^GC: total: (\d+), used: (\d+), free: (\d+)$", out, re.M)
    blocks = re.search(r"^ No\. of 1-blocks: (\d+), 2-blocks: (\d+), max blk sz: (\d+), max free sz: (\d+)$", out, re.M)
    assert stack and gc_line and blocks, out
    used_stack, stack_max = map(int, stack.groups())
    assert 0 < used_stack < stack_max
    total, used, free = map(int, gc_line.groups())
    assert total == board.platform.memory.heap == 10048
    assert used + free == total
    assert int(out.strip().splitlines()[-1]) == total  # gc agrees with mem_info
    assert not re.search(r"^mem: ", out, re.M)  # MICROPY_MEM_STATS is off on this port


def test_mem_info_used_grows_with_an_allocation(board: Board) -> None:
    code = (
        "import micropython\nmicropython.mem_info()\nkeep = bytearray(3000)\nmicropython.mem_info()\ndel keep\n"
        "import gc\ngc.collect()\n"
    )
    out = board.exec(code).check()
    used = [int(u) for u in re.findall(r"^GC: total: \d+, used: (\d+), free: \d+$", out, re.M)]
    assert len(used) == 2
    assert used[1] - used[0] >= 3000


def test_stack_use_is_an_int_that_grows_with_call_depth(board: Board) -> None:
    code = (
        "import micropython\n"
        "def f(n):\n"
        "    here = micropython.stack_use()\n"
        "    return [here] if n == 0 else [here] + f(n - 1)\n"
        "print(type(micropython.stack_use()) is int)\n"
        "print(f(2))\n"
    )
    out = board.exec(code).check().splitlines()
    assert out[0] == "True"
    depths = ast.literal_eval(out[1])
    assert len(depths) == 3 and all(isinstance(d, int) and d > 0 for d in depths)
    assert depths[0] < depths[1] < depths[2]


# -- tracebacks -------------------------------------------------------------------
def test_a_real_traceback_is_parsed(board: Board) -> None:
    code = "def inner(d):\n    return d['missing']\n\ndef outer():\n    return inner({})\n\nouter()\n"
    r = board.exec(code)
    assert r.traceback is not None
    assert r.traceback.exc_type == "KeyError"
    assert r.traceback.message == "missing"
    assert [(f.line, f.function) for f in r.traceback.frames] == [
        (line_of(code, "outer()"), "<module>"),
        (line_of(code, "    return inner({})"), "outer"),
        (line_of(code, "    return d['missing']"), "inner"),
    ]
    assert "KeyError" in r.stderr


def test_v1_9_name_error_wording(board: Board) -> None:
    r = board.exec("print(no_such_name)")
    assert r.traceback is not None
    assert r.traceback.exc_type == "NameError"
    assert r.traceback.message == "name 'no_such_name' is not defined"


def test_exec_after_an_exception_still_works(board: Board) -> None:
    assert board.exec("raise ValueError('first')").traceback.message == "first"
    assert board.exec("x = 6\nprint(x * 7)").check() == "42\n"
    assert board.exec("1/0").traceback.exc_type == "ZeroDivisionError"
    assert board.exec("print('still here')").check() == "still here\n"


# -- long scripts: chunked and staged delivery -------------------------------------
def test_a_script_over_max_exec_source_runs_and_keeps_its_line_numbers(board: Board) -> None:
    limit = board.platform.repl.max_exec_source
    assert limit is not None
    filler = "".join(f"a{i} = {i} + 1\n" for i in range(50))
    code = (
        "print('start')\n"
        + filler
        + "print('middle', a49)\n"
        + filler
        + "def inner(x):\n"
        + "    return 100 // x\n"
        + "\n"
        + "def outer():\n"
        + "    return inner(a0 - 1)\n"
        + "\n"
        + "print('before the error')\n"
        + "outer()\n"
        + "print('never printed')\n"
    )
    assert len(code.encode()) > 2 * limit
    r = board.exec(code)
    assert r.stdout == "start\nmiddle 50\nbefore the error\n"
    assert r.traceback is not None
    assert r.traceback.exc_type == "ZeroDivisionError"
    assert [(f.line, f.function) for f in r.traceback.frames] == [
        (line_of(code, "outer()"), "<module>"),
        (line_of(code, "    return inner(a0 - 1)"), "outer"),
        (line_of(code, "    return 100 // x"), "inner"),
    ]


def test_a_lone_carriage_return_in_a_long_script_keeps_line_numbers(board: Board) -> None:
    board.reset()  # 80 new globals need a dict of ~1.8 KB: start from a clean 10 KB heap
    code = "x = 1\ry = 2\n" + "".join(f"v{i} = {i}\n" for i in range(80)) + "1/0\n"
    assert len(code) > board.platform.repl.max_exec_source
    short = board.exec("x = 1\ry = 2\n1/0\n")
    assert short.traceback is not None and short.traceback.frames[-1].line == 3  # the board counts \r as a line end
    r = board.exec(code)
    assert r.traceback is not None and r.traceback.exc_type == "ZeroDivisionError"
    assert r.traceback.frames[-1].line == 83


def test_a_2kb_script_arrives_byte_exact(board: Board) -> None:
    code, expected = checksum_script(90)
    assert len(code) > 2048
    r = board.exec(code)
    assert r.check() == f"{expected}\n"


def test_a_long_single_line_is_staged_and_exact(board: Board) -> None:
    # One statement longer than the 63-byte input ring: it cannot be split, only staged.
    values = [(i * 37) % 101 for i in range(120)]
    code = f"print(sum([{','.join(map(str, values))}]))\n"
    assert 63 < len(code) < board.platform.repl.max_exec_source
    assert board.exec(code).check() == f"{sum(values)}\n"


# -- control ----------------------------------------------------------------------
@pytest.mark.parametrize("pad", [0, 120], ids=["direct", "staged"])
def test_ctrl_c_interrupts_a_running_loop(board: Board, pad: int) -> None:
    s = board.session
    assert s is not None
    code = "#" * pad + "\nn = 0\nwhile True:\n    n += 1\n    if n == 1000:\n        print('ready')\n"
    s.exec_start(code)
    s.read_until(b"ready", timeout=5.0)
    s.interrupt()
    r = s.exec_follow(timeout=5.0)
    assert r.traceback is not None
    assert r.traceback.exc_type == "KeyboardInterrupt"
    assert board.exec("print(n >= 1000)").check() == "True\n"  # the loop ran on, and the board answers again


def test_soft_reset_clears_globals(board: Board) -> None:
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
    long_expr = " + ".join(str(i) for i in range(30))  # longer than the input ring
    assert s.friendly_line(long_expr) == f"{sum(range(30))}\n"
    # and the raw REPL still works afterwards, with the same globals
    assert board.exec("print(y)").check() == "5\n"


def test_a_board_that_never_prompts_is_tried_again_then_reported(tmp_path, caplog) -> None:
    """boot_retries: a hung boot is killed and retried from scratch, and each try is logged."""
    import yaml
    from test_cli import intel_hex, spin_image  # a sibling test module (pytest puts its folder on sys.path)

    from mpbench.board import BootError
    from mpbench.platform_loader import load_platform

    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "platforms" / "microbit.yaml").read_text())
    data["name"] = "microbit-never"
    data["engines"]["qemu"]["boot_retries"] = 1
    path = tmp_path / "microbit-never.yaml"
    path.write_text(yaml.safe_dump(data))
    spin = tmp_path / "spin.hex"
    spin.write_text(intel_hex(spin_image()))  # boots and spins, printing nothing
    board = Board(load_platform(path), firmware=spin, boot_timeout=1)
    with caplog.at_level("WARNING"), pytest.raises(BootError):
        board.start()
    assert "boot attempt 1 of 2 failed" in caplog.text
    assert board.engine is not None and board.engine.process is None  # the second QEMU is stopped too
