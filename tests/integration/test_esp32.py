"""The ESP32 under Espressif's QEMU fork, with MicroPython v1.16 from PyPI.

The fork is in no package registry: these tests run where the user installed
it (``MPBENCH_QEMU_XTENSA`` or ``qemu-system-xtensa`` on PATH) and skip with
the platform's reason elsewhere. The first boot of an image formats its
filesystem (30-60 s); later boots start from the flash image it left, kept
once QEMU has quit.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from mpbench.board import Board
from mpbench.engine import flashcache
from mpbench.engine.qemu import QemuEngine
from mpbench.platform_loader import find_platform
from proc_stats import cpu_share

pytestmark = pytest.mark.emulator


def test_the_board_prints_the_version_of_the_image_it_booted(esp32: Board) -> None:
    assert "MicroPython v1.16-237" in esp32.boot_output
    assert esp32.exec("import sys\nprint(sys.implementation.version[:2])").check() == "(1, 16)\n"
    assert hashlib.sha256(esp32.firmware.path.read_bytes()).hexdigest() == esp32.firmware.sha256


def test_the_flash_of_a_first_boot_is_kept_only_after_qemu_quit_and_then_used(
    esp32: Board, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A private cache, so this is a first boot whatever earlier runs kept (the firmware comes along).
    firmware = tmp_path / "firmware.bin"
    shutil.copyfile(esp32.firmware.path, firmware)
    monkeypatch.setenv("MPBENCH_CACHE", str(tmp_path / "cache"))
    platform = find_platform("esp32")
    sha = esp32.firmware.sha256
    assert esp32.engine is not None
    esp32.engine.pause()  # one running ESP32 at a time on a small host (the IDF 4.x boot race)
    try:
        # A first boot formats the filesystem: 30-120 s measured, more beside busy emulators.
        first = Board(platform, firmware=firmware, boot_timeout=600).start()
        try:
            assert isinstance(first.engine, QemuEngine) and not first.engine.flash_from_cache
            assert flashcache.kept_flash(sha) is None  # nothing is kept while QEMU runs
            first.exec("open('after_prompt.txt', 'w').write('x')").check()  # not part of what is kept
        finally:
            first.stop()
        kept = flashcache.kept_flash(sha)
        assert kept is not None and kept.stat().st_size == 4 * 1024 * 1024
        data = kept.read_bytes()
        assert kept.name == f"{sha}-{hashlib.sha256(data).hexdigest()}.bin"
        assert data[0x1000:0x1004] == firmware.read_bytes()[:4]
        with Board(platform, firmware=firmware) as second:
            assert isinstance(second.engine, QemuEngine) and second.engine.flash_from_cache
            assert second.exec("import os\nprint('after_prompt.txt' in os.listdir())").check() == "False\n"
    finally:
        esp32.engine.resume()


def test_a_paused_esp32_uses_no_cpu_and_answers_after_resume(esp32: Board) -> None:
    engine = esp32.engine
    assert isinstance(engine, QemuEngine) and engine.process is not None
    running = cpu_share(engine.process.pid, 5.0)
    engine.pause()
    try:
        paused = cpu_share(engine.process.pid, 5.0)
    finally:
        engine.resume()
    print(f"esp32 idle at its prompt: {running:.0%} of a core running, {paused:.0%} paused")
    assert paused < 0.05, f"a paused ESP32 used {paused:.0%} of a core"
    assert esp32.exec("print(6 * 7)", timeout=30).check() == "42\n"


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
