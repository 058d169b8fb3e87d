"""Examples of mpbench's pytest face: each test runs once per board (``--mpbench-platform microbit,unix``).

Run them with ``pytest examples/pytest --mpbench-platform microbit,unix``;
``-n 2 --dist loadgroup`` (pytest-xdist) runs the boards in two processes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mpbench.errors import DeviceError

SCRIPTS = Path(__file__).parent / "scripts"


def test_exec_returns_what_the_board_printed(board) -> None:
    assert board.exec("print(6 * 7)").strip() == "42"


def test_run_a_script_file(board) -> None:
    assert board.run(SCRIPTS / "fib.py").strip() == "6765"


def test_an_exception_on_the_board_raises_with_its_traceback(board) -> None:
    with pytest.raises(DeviceError) as e:
        board.exec("def f():\n    return 1 // 0\nf()")
    assert "ZeroDivisionError" in str(e.value)


def test_expect_output_then_interrupt_a_loop(board) -> None:
    board.start("print('looping')\nwhile True:\n    pass")
    board.expect("looping")
    board.interrupt()
    ended = board.result()
    assert "KeyboardInterrupt" in ended.stderr


def test_reset_forgets_globals(board) -> None:
    board.exec("left_over = 1")
    board.reset()
    assert "NameError" in board.try_exec("print(left_over)").stderr


@pytest.mark.mpbench_needs("heap_lock")
def test_allocation_fails_while_the_heap_is_locked(board) -> None:
    out = board.exec(
        "import micropython\n"
        "micropython.heap_lock()\n"
        "try:\n"
        "    x = [1, 2, 3]\n"
        "    r = 'allocated'\n"
        "except MemoryError:\n"
        "    r = 'MemoryError'\n"
        "micropython.heap_unlock()\n"
        "print(r)"
    )
    assert out.strip() == "MemoryError"


def test_put_a_module_then_import_it(board) -> None:
    board.put(SCRIPTS / "greet.py")
    assert board.exec("import greet\nprint(greet.GREETING)").strip() == "hello from a file put on the board"


@pytest.mark.mpbench_needs("schedule")
def test_a_scheduled_function_runs_soon(board) -> None:
    code = "import micropython\nseen = []\nmicropython.schedule(seen.append, 7)\n"
    out = board.exec(code + "for _ in range(1000):\n    pass\nprint(seen)")
    assert out.strip() == "[7]"


@pytest.mark.mpbench_needs("stdin_read")
def test_write_to_a_running_block(board) -> None:
    board.start("import sys\nprint('ready')\nprint(sys.stdin.read(3).upper())")
    board.expect("ready")
    board.write("abc")
    assert board.result().stdout.split() == ["ABC"]  # expect() took the output through "ready"
