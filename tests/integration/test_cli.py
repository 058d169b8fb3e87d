"""The ``mpbench`` command line, run for real as a subprocess on real boards."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import emulator_pids, proc_info, wait_gone
from mpbench.board import unavailable_reason
from mpbench.platform_loader import find_platform
from support import ROOT, mpbench, needs

MICROBIT_YAML = ROOT / "platforms" / "microbit.yaml"


def line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def intel_hex(image: bytes, base: int = 0) -> str:
    """``image`` as Intel HEX data records from ``base`` (under 64 KB), with the end record."""
    lines = []
    for off in range(0, len(image), 16):
        chunk = image[off : off + 16]
        addr = base + off
        rec = bytes([len(chunk), addr >> 8 & 0xFF, addr & 0xFF, 0]) + chunk
        lines.append(":" + (rec + bytes([-sum(rec) & 0xFF])).hex().upper())
    return "\n".join([*lines, ":00000001FF"]) + "\n"


# -- run ------------------------------------------------------------------------
@pytest.mark.emulator
@pytest.mark.parametrize("board", ["microbit", "unix"])
def test_run_prints_stack_use_and_exits_0(tmp_path: Path, board: str) -> None:
    needs(board)
    script = tmp_path / "stack.py"
    script.write_text("import micropython\nprint(micropython.stack_use())\n")
    r = mpbench("run", "-p", board, str(script))
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"\d+\n", r.stdout), r.stdout
    assert int(r.stdout) > 0


@pytest.mark.emulator
def test_run_of_a_script_that_raises_exits_1_with_the_traceback_on_stderr(tmp_path: Path) -> None:
    needs("microbit")
    script = tmp_path / "raises.py"
    script.write_text("print('before')\n\ndef f():\n    raise ValueError('bad value')\n\nf()\n")
    r = mpbench("run", "-p", "microbit", str(script))
    assert r.returncode == 1
    assert r.stdout == "before\n"
    assert "Traceback (most recent call last):" in r.stderr
    assert "line 4, in f" in r.stderr
    assert "line 6, in <module>" in r.stderr
    assert r.stderr.rstrip().endswith("ValueError: bad value")


# -- platform files -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "key"),
    [("boot_timeout:", "boot_timout:", "boot_timout"), ("  rx_buffer:", "  rx_bufer:", "console.rx_bufer")],
    ids=["top-level", "nested"],
)
def test_a_misspelt_key_is_reported_with_file_key_and_line(tmp_path: Path, old: str, new: str, key: str) -> None:
    text = MICROBIT_YAML.read_text()
    assert text.count(old) == 1
    bad = tmp_path / "microbit.yaml"
    bad.write_text(text.replace(old, new))
    line = line_of(bad, new)
    for args in (["platforms", "validate", str(bad)], ["run", "-p", str(bad), str(bad)]):
        r = mpbench(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert f"{bad}:{line}" in r.stderr, r.stderr
        assert key in r.stderr
        assert "unknown key" in r.stderr
        assert "Traceback" not in r.stderr


def test_validate_accepts_the_shipped_platform_files() -> None:
    r = mpbench("platforms", "validate")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""


def test_platforms_lists_what_is_available_and_why_not() -> None:
    r = mpbench("platforms")
    assert r.returncode == 0, r.stderr
    status = {}
    for line in r.stdout.splitlines()[1:]:
        name, _engine, _firmware, why = re.split(r"\s{2,}", line, maxsplit=3)
        status[name] = why
    assert {"microbit", "unix", "pyboard", "spike-prime", "esp32"} <= set(status)
    for name in ("microbit", "unix"):
        expected = "available" if unavailable_reason(find_platform(name)) is None else status[name]
        assert status[name] == expected
    # each unavailable board names what is missing on this machine
    for name, binary in [("esp32", "qemu-system-xtensa"), ("pyboard", "renode"), ("spike-prime", "renode")]:
        platform = find_platform(name)
        if unavailable_reason(platform) is None:
            assert status[name] == "available"
            continue
        assert status[name] != "available"
        if shutil.which(binary) is None and not any(os.environ.get(v) for v in ("RENODE_BIN", "MPBENCH_QEMU_XTENSA")):
            assert binary in status[name], status[name]
            assert "not found" in status[name]


# -- bad input: one line, exit 2 --------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "missing.py", "no such file"),
        (lambda d: _write(d / "latin1.py", b"print('\xe9')\n"), "not UTF-8 text (byte 0xe9 at offset 7)"),
        (lambda d: d, "is a folder"),
    ],
    ids=["missing", "not-utf8", "folder"],
)
def test_a_script_that_cannot_be_read_gives_one_line_and_exit_2(tmp_path: Path, make: Any, expected: str) -> None:
    script = make(tmp_path)
    r = mpbench("run", "-p", "microbit", str(script))
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"mpbench: {script}: "), r.stderr
    assert expected in r.stderr


def test_an_unknown_board_gives_one_line_and_exit_2(tmp_path: Path) -> None:
    script = _write(tmp_path / "s.py", b"print(1)\n")
    r = mpbench("run", "-p", "no-such-board", str(script))
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "unknown platform 'no-such-board'" in r.stderr and "microbit" in r.stderr


def test_a_host_program_as_firmware_is_bad_input_not_an_emulator_crash(tmp_path: Path) -> None:
    script = _write(tmp_path / "s.py", b"print(1)\n")
    r = mpbench("run", "-p", "microbit", "--firmware", sys.executable, str(script))
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "only 32-bit little-endian ELF is supported" in r.stderr


@pytest.mark.emulator
def test_a_script_that_does_not_finish_is_a_verdict_exit_1(tmp_path: Path) -> None:
    needs("unix")
    script = _write(tmp_path / "loop.py", b"while True:\n    pass\n")
    r = mpbench("run", "-p", "unix", "--timeout", "1", str(script))
    assert r.returncode == 1, r.stderr
    assert "the block did not finish" in r.stderr and "Traceback" not in r.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -- firmware and boot failures ------------------------------------------------------
def test_a_missing_firmware_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    started = time.monotonic()
    r = mpbench("run", "-p", "microbit", "--firmware", "/nonexistent", str(script))
    assert r.returncode == 2
    assert "/nonexistent" in r.stderr
    assert "not a file" in r.stderr
    assert "Traceback" not in r.stderr
    assert time.monotonic() - started < 10


def spin_image() -> bytes:
    """A Cortex-M image that boots and spins forever, printing nothing: a board that never prompts."""
    image = bytearray(0x44)
    image[0:4] = (0x20004000).to_bytes(4, "little")  # initial SP, in the nRF51's RAM
    image[4:8] = (0x41).to_bytes(4, "little")  # reset vector: 0x40, Thumb
    image[0x40:0x42] = b"\xfe\xe7"  # b .
    return bytes(image)


@pytest.mark.emulator
def test_a_board_that_never_prompts_fails_within_the_boot_timeout(tmp_path: Path) -> None:
    needs("microbit")
    fw = tmp_path / "spin.hex"
    fw.write_text(intel_hex(spin_image()))
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    started = time.monotonic()
    r = mpbench("run", "-p", "microbit", "--firmware", str(fw), "--boot-timeout", "2", str(script))
    took = time.monotonic() - started
    assert r.returncode == 3  # the board failed: not bad input, not a verdict on the script
    assert 2.0 <= took < 2.0 + 8.0
    assert "never reached its '>>> ' prompt" in r.stderr
    assert "2.0 s" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.emulator
def test_garbage_firmware_that_crashes_qemu_is_reported_with_what_qemu_said(tmp_path: Path) -> None:
    needs("microbit")
    fw = tmp_path / "garbage.hex"
    fw.write_text(intel_hex(bytes((i * 167 + 71) % 256 for i in range(256))))
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    started = time.monotonic()
    r = mpbench("run", "-p", "microbit", "--firmware", str(fw), "--boot-timeout", "5", str(script))
    assert r.returncode == 3
    assert time.monotonic() - started < 5.0 + 8.0
    assert "microbit" in r.stderr
    assert "qemu" in r.stderr.lower()
    assert "Traceback" not in r.stderr


# -- signals --------------------------------------------------------------------------
def _children(cli_pid: int) -> dict[int, list[str]]:
    return emulator_pids(parent=cli_pid)


@pytest.mark.emulator
@pytest.mark.parametrize(
    ("board", "when", "sig"),
    [
        ("microbit", "running", signal.SIGTERM),
        ("microbit", "booting", signal.SIGTERM),
        ("unix", "running", signal.SIGTERM),
        ("microbit", "running", signal.SIGINT),  # Ctrl-C in the terminal
        ("unix", "running", signal.SIGINT),
        ("pyboard", "running", signal.SIGINT),  # Renode: skipped where it is not installed
    ],
)
def test_a_signal_to_mpbench_run_leaves_no_emulator_behind(tmp_path: Path, board: str, when: str, sig: int) -> None:
    needs(board)
    script = tmp_path / "forever.py"
    script.write_text("n = 0\nwhile True:\n    n += 1\n")
    cli = subprocess.Popen(
        [sys.executable, "-m", "mpbench.cli", "run", "-p", board, "--timeout", "120", str(script)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        end = time.monotonic() + 20
        children: dict[int, list[str]] = {}
        while not children and time.monotonic() < end and cli.poll() is None:
            children = _children(cli.pid)
            time.sleep(0.01)
        assert children, f"no emulator appeared under mpbench (exit status {cli.poll()})"
        if when == "running":
            time.sleep(1.0 if board != "pyboard" else 6.0)  # booted (0.1 s; Renode 3.5 s) and looping
            assert cli.poll() is None
        cli.send_signal(sig)
        alive = wait_gone(list(children), 5.0)
        assert not alive, f"still running after signal {sig} to mpbench: {[children[p] for p in alive]}"
        cli.wait(10)
        assert cli.returncode == (130 if sig == signal.SIGINT else 128 + signal.SIGTERM)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(5)
        if cli.stdout:
            cli.stdout.close()
        if cli.stderr:
            cli.stderr.close()
    # nothing it spawned survives, re-parented or not
    assert all(proc_info(p) is None for p in children)


@pytest.mark.emulator
def test_the_leftover_check_finds_an_orphaned_emulator() -> None:
    """The session's final check must see a QEMU whose parent is gone (re-parented), by its environment."""
    qemu = shutil.which("qemu-system-arm")
    if not qemu:
        pytest.skip("qemu-system-arm not found")
    # the shell starts QEMU in the background and exits at once: QEMU is orphaned
    sh = subprocess.run(
        [
            "sh",
            "-c",
            f'"{qemu}" -M microbit -S -nographic -monitor none -serial none </dev/null >/dev/null 2>&1 & echo $!',
        ],
        capture_output=True,
        text=True,
        timeout=10,
    )
    pid = int(sh.stdout.strip())
    try:
        end = time.monotonic() + 5
        while pid not in emulator_pids() and time.monotonic() < end:
            time.sleep(0.02)
        info = proc_info(pid)
        assert info is not None and info[1] != os.getpid()  # not our child any more
        assert pid in emulator_pids()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not wait_gone([pid], 5.0)
    assert pid not in emulator_pids()
