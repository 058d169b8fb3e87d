"""Files on the board (`mpbench run --put`, `Board.put_file`), on real boards.

Every check reads the file back on the board with MicroPython's own file
API, or imports it: what the board holds, not what mpbench says it sent.
The two routes (baked into a FAT image, or written through the REPL) are
compared on the unix port with a FAT volume mounted by MicroPython's own
FatFs, and on the Pyboard (local builds only) with the image it boots from.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpbench.board import Board
from mpbench.engine import engine_class
from mpbench.errors import FileTooBig, SessionError
from mpbench.firmware.fatimage import fat12_image
from mpbench.platform_loader import find_platform
from mpbench.session import files
from mpbench.session.files import BoardFile
from support import mount_fat_image, mpbench, needs, recovering

pytestmark = pytest.mark.emulator

MODULE = b"def hello():\n    return 'hi from ' + __name__\n"


@pytest.fixture
def board(unix: Board) -> Iterator[Board]:
    yield from recovering(unix)


def _blob(n: int, seed: int = 1) -> bytes:
    """``n`` bytes using every byte value, quotes and backslashes included (the literals must survive them)."""
    return bytes((i * 131 + seed * 7 + (i >> 8)) % 256 for i in range(n))


@pytest.mark.parametrize("name", ["microbit", "unix"])
def test_put_files_then_the_script_imports_and_reads_them(tmp_path: Path, name: str) -> None:
    needs(name)
    (tmp_path / "mod.py").write_bytes(MODULE)
    blob = _blob(3000)
    (tmp_path / "rnd.bin").write_bytes(blob)
    script = tmp_path / "use.py"
    script.write_text(
        # read in pieces: the micro:bit's 10 KB heap has no room for 3000 bytes at once
        "import mod\nprint(mod.hello())\nf = open('data.bin', 'rb')\nn = s = 0\nwhile True:\n"
        "    d = f.read(200)\n    if not d:\n        break\n    n += len(d)\n"
        "    for c in d:\n        s = (s * 31 + c) % 1000003\nf.close()\nprint(n, s)\n"
    )
    s = 0
    for c in blob:
        s = (s * 31 + c) % 1000003
    out = mpbench("run", "-p", name, "--put", str(tmp_path / "mod.py"), "--put", f"{tmp_path / 'rnd.bin'}:data.bin",
                  str(script))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["hi from mod", f"3000 {s}"]


def test_a_file_too_big_for_the_micro_bit_is_refused_with_the_sizes(tmp_path: Path) -> None:
    needs("microbit")
    big = tmp_path / "big.bin"
    big.write_bytes(_blob(20000))
    script = tmp_path / "s.py"
    script.write_text("import os\nprint(os.listdir())\n")
    out = mpbench("run", "-p", "microbit", "--put", str(big), str(script))
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith(
        f"mpbench: {big} (20000 bytes) does not fit on microbit: its filesystem was full after"
    )
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [("/nonexistent/x.py", "no such file"), (":x.py", "no local file named"), ("/tmp", "is a folder")],
)
def test_bad_put_arguments_exit_2_with_one_line(tmp_path: Path, spec: str, message: str) -> None:
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    out = mpbench("run", "-p", "unix", "--put", spec, str(script))
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.fixture
def fat_volume(board: Board, tmp_path: Path) -> Iterator[BoardFile]:
    """A 32 KiB FAT volume mounted at /flash on the unix port, made by fat12_image with one file baked in."""
    baked = BoardFile("/flash/baked.bin", _blob(5000, seed=3))
    image = tmp_path / "fs.img"
    image.write_bytes(fat12_image({"baked.bin": baked.data}, 32 * 1024))
    board.exec(mount_fat_image(image)).check()
    yield baked
    board.exec("import vfs\nvfs.umount('/flash')").check()


def test_a_baked_file_and_a_file_written_through_the_repl_read_back_the_same(
    board: Board, fat_volume: BoardFile
) -> None:
    """The two routes give the same file: same size and checksum as the host's, and the same bytes."""
    files.verify(board.session, fat_volume)  # the image route, read by MicroPython's FatFs
    board.put_file(BoardFile("/flash/repl.bin", fat_volume.data))
    assert files.readback(board.session, "/flash/repl.bin") == files.readback(board.session, "/flash/baked.bin")
    assert files.readback(board.session, "/flash/repl.bin") == (5000, zlib.adler32(fat_volume.data))
    same = board.exec("print(open('/flash/repl.bin','rb').read() == open('/flash/baked.bin','rb').read())").check()
    assert same.strip() == "True"


def test_a_file_bigger_than_the_free_space_is_refused_before_writing(board: Board, fat_volume: BoardFile) -> None:
    with pytest.raises(FileTooBig, match=r"\(40000 bytes\) does not fit on unix: its filesystem has \d+ bytes free of"):
        board.put_file(BoardFile("/flash/huge.bin", _blob(40000)))
    assert "huge.bin" not in board.exec("import os\nprint(os.listdir('/flash'))").check()


def test_verify_fails_when_the_board_holds_other_bytes(board: Board, fat_volume: BoardFile) -> None:
    """The check can fail: one changed byte on the board is seen."""
    board.exec("f = open('/flash/baked.bin', 'r+b')\nf.seek(4000)\nf.write(b'!')\nf.close()").check()
    with pytest.raises(SessionError, match="arrived damaged: the board reads 5000 bytes"):
        files.verify(board.session, fat_volume)


def test_the_renode_boards_bake_8_3_names_and_leave_the_rest_to_the_repl() -> None:
    for name in ("pyboard", "spike-prime"):
        platform = find_platform(name)
        accepts = engine_class(platform.engine).image_accepts
        assert accepts(platform, "mod.py") and accepts(platform, "/flash/data.bin")
        assert not accepts(platform, "a_long_name.py") and not accepts(platform, "lib/mod.py")
        assert not accepts(platform, "boot.py")  # the board's own boot.py stays
    for name in ("microbit", "unix", "esp32"):
        platform = find_platform(name)
        assert not engine_class(platform.engine).image_accepts(platform, "mod.py")


@pytest.mark.parametrize("name", ["pyboard", "spike-prime"])
def test_on_a_renode_board_both_routes_give_the_same_file(name: str, tmp_path: Path) -> None:
    """Local builds only: one file baked into the boot image, one through the REPL, both read back alike."""
    needs(name)
    data = _blob(6000, seed=5)
    baked = BoardFile("baked.bin", data)
    long_name = BoardFile("through_the_repl.bin", data)
    module = BoardFile("mod.py", MODULE)
    with Board(find_platform(name), files=[baked, long_name, module]) as b:
        assert b.file_routes == {"baked.bin": "image", "through_the_repl.bin": "repl", "mod.py": "image"}
        assert files.readback(b.session, "baked.bin") == files.readback(b.session, "through_the_repl.bin")
        assert files.readback(b.session, "baked.bin") == (6000, zlib.adler32(data))
        assert b.exec("import mod\nprint(mod.hello())").check().strip() == "hi from mod"


def test_a_file_too_big_for_the_boot_image_is_refused_with_the_sizes(tmp_path: Path) -> None:
    """Local builds only: the image is written before Renode starts, so the refusal costs no boot."""
    needs("pyboard")
    big = tmp_path / "big.bin"
    big.write_bytes(_blob(200000))
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    out = mpbench("run", "-p", "pyboard", "--put", str(big), str(script))
    assert out.returncode == 2, out.stderr
    assert "do not fit in a FAT volume of 114688 bytes" in out.stderr and "big.bin is 200000" in out.stderr
