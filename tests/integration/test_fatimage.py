"""The FAT image mpbench writes for boards' flash filesystems, read back by MicroPython's own FatFs.

The unix port has ``vfs.VfsFat``: mounting the image over a block device in
RAM checks the layout with the same code a Pyboard runs, not with ours.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mpbench.board import resolve_firmware, unavailable_reason
from mpbench.errors import FileTooBig, FirmwareError
from mpbench.firmware.fatimage import fat12_image
from mpbench.platform_loader import find_platform
from support import mount_fat_image

pytestmark = pytest.mark.emulator

READER = """print(sorted(vfs_listdir("/flash")))
print(repr(open("/flash/boot.py").read()))
print(repr(open("/flash/main.py").read()))
s = __import__("os").statvfs("/flash")
print(s[0], s[2])
with open("/flash/new.txt", "w") as w:
    w.write("written by the board")
print(open("/flash/new.txt").read())
"""


def test_micropython_mounts_and_reads_the_image(tmp_path: Path) -> None:
    unix = find_platform("unix")
    if unavailable_reason(unix):
        pytest.skip(f"the unix port is not available: {unavailable_reason(unix)}")
    command = str(resolve_firmware(unix).path)
    boot = b"import pyb\npyb.repl_uart(pyb.UART(1, 115200))\n"
    main = b"# " + b"x" * 1500 + b"\n"  # spans several clusters
    image = tmp_path / "fs.img"
    image.write_bytes(fat12_image({"boot.py": boot, "main.py": main}, 112 * 1024))
    script = tmp_path / "read.py"
    script.write_text(mount_fat_image(image) + "import os\nvfs_listdir = os.listdir\n" + READER)
    out = subprocess.run([command, str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "['boot.py', 'main.py']"
    assert lines[1] == repr(boot.decode())
    assert lines[2] == repr(main.decode())
    assert lines[3].split() == ["512", str(112 * 1024 // 512 - 1 - 2 - 4)]  # block size, data clusters
    assert lines[4] == "written by the board"


def test_names_that_are_not_8_3_are_refused() -> None:
    with pytest.raises(FirmwareError, match=r"8\.3"):
        fat12_image({"a_long_name.py": b""}, 112 * 1024)


def test_files_that_do_not_fit_are_refused() -> None:
    with pytest.raises(FileTooBig, match=r"do not fit in a FAT volume of 114688 bytes: they take 204800 bytes"):
        fat12_image({"big.bin": b"x" * 200 * 1024}, 112 * 1024)
