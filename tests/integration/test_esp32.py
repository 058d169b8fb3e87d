"""The ESP32 under Espressif's QEMU fork, with MicroPython v1.16 from PyPI.

The fork is in no package registry: these tests run where the user installed
it (``MPBENCH_QEMU_XTENSA`` or ``qemu-system-xtensa`` on PATH) and skip with
the platform's reason elsewhere. The first boot of an image formats its
filesystem (30-60 s); later boots start from the flash image it left.
"""

from __future__ import annotations

import hashlib

import pytest

from mpbench.board import Board
from mpbench.engine import flashcache

pytestmark = pytest.mark.emulator


def test_the_board_prints_the_version_of_the_image_it_booted(esp32: Board) -> None:
    assert "MicroPython v1.16-237" in esp32.boot_output
    assert esp32.exec("import sys\nprint(sys.implementation.version[:2])").check() == "(1, 16)\n"
    assert hashlib.sha256(esp32.firmware.path.read_bytes()).hexdigest() == esp32.firmware.sha256


def test_the_flash_the_first_boot_left_is_kept(esp32: Board) -> None:
    kept = flashcache.kept_flash(esp32.firmware.sha256)
    assert kept.is_file() and kept.stat().st_size == 4 * 1024 * 1024
    assert kept.read_bytes()[0x1000:0x1004] == esp32.firmware.path.read_bytes()[:4]


def test_a_machine_timer_callback_is_scheduled_not_hard(esp32: Board) -> None:
    code = (
        "import machine, time\nr = []\ndef cb(t):\n    r.append([1, 2])\n"  # allocating: fine in a soft callback
        "t = machine.Timer(0)\nt.init(period=10, mode=machine.Timer.PERIODIC, callback=cb)\n"
        "time.sleep_ms(200)\nt.deinit()\nprint(len(r) > 5)"
    )
    assert esp32.exec(code, timeout=30).check() == "True\n"


def test_ctrl_c_interrupts_a_loop(esp32: Board) -> None:
    s = esp32.session
    assert s is not None
    s.exec_start("print('ready')\nwhile True:\n    pass\n")
    s.read_until(b"ready")
    s.interrupt()
    r = s.exec_follow(timeout=20)
    assert r.traceback is not None and r.traceback.exc_type == "KeyboardInterrupt"
