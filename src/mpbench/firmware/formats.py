"""Firmware file formats, read into (address, bytes) segments.

Engines load images differently (QEMU's loader takes a hex or ELF, Renode's
``LoadBinary`` wants an address, ESP32's QEMU wants a whole flash file), so the
firmware layer turns every format into the same thing: a list of segments at
absolute addresses. Parsers are strict and every error names the file (and the
line, for Intel HEX): a truncated download must fail here, not as a silent
board later.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from mpbench.errors import FirmwareError

#: Formats ``detect_format`` can return and ``read_segments`` can read.
FILE_FORMATS: tuple[str, ...] = ("ihex", "bin", "elf", "dfu")


@dataclass(frozen=True)
class Segment:
    """Bytes that belong at an absolute address of the target."""

    address: int
    data: bytes

    @property
    def end(self) -> int:
        """The first address after this segment."""
        return self.address + len(self.data)


def detect_format(path: Path | str) -> str:
    """Guess ``ihex``, ``elf``, ``dfu`` or ``bin`` from the file's first bytes.

    Only magic numbers are trusted, never the file name: a user's ``--firmware``
    may be called anything.
    """
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"\x7fELF"):
        return "elf"
    if head.startswith(b"DfuSe"):
        return "dfu"
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if first.startswith(b":") and all(c in b"0123456789ABCDEFabcdef:\r\n \t" for c in first):
        return "ihex"
    return "bin"


def read_segments(path: Path | str, fmt: str | None = None, load_address: int | None = None) -> list[Segment]:
    """Read a firmware file into segments sorted by address.

    ``fmt`` defaults to what ``detect_format`` finds; ``load_address`` is
    required for a raw ``bin`` (it carries no address of its own) and ignored
    otherwise.
    """
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in FILE_FORMATS:
        raise FirmwareError(f"{path}: cannot read segments from format {fmt!r}; known: {', '.join(FILE_FORMATS)}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FirmwareError(f"{path}: cannot read firmware: {e.strerror or e}") from e
    if fmt == "ihex":
        return _ihex(path, data)
    if fmt == "elf":
        return _elf(path, data)
    if fmt == "dfu":
        return _dfuse(path, data)
    if load_address is None:
        raise FirmwareError(f"{path}: a raw .bin has no address of its own; give its load address")
    if not data:
        raise FirmwareError(f"{path}: empty firmware file")
    return [Segment(load_address, data)]


def write_flat(segments: list[Segment], base: int, size: int, fill: int = 0xFF) -> bytes:
    """Lay segments into one image of ``size`` bytes starting at address ``base``.

    For flash files an emulator loads whole (ESP32: 4 MB of erased 0xFF with the
    image at 0x1000). A segment outside the image or two overlapping segments
    are errors, never silently clipped or overwritten.
    """
    image = bytearray([fill]) * size
    previous: Segment | None = None
    for seg in sorted(segments, key=lambda s: s.address):
        if seg.address < base or seg.end > base + size:
            raise FirmwareError(
                f"segment 0x{seg.address:08x}-0x{seg.end:08x} falls outside the image 0x{base:08x}-0x{base + size:08x}"
            )
        if previous is not None and seg.address < previous.end:
            raise FirmwareError(f"segments at 0x{previous.address:08x} and 0x{seg.address:08x} overlap")
        image[seg.address - base : seg.end - base] = seg.data
        previous = seg
    return bytes(image)


def _merge(path: Path, chunks: list[tuple[int, bytes]]) -> list[Segment]:
    """Join touching chunks into segments; overlapping ones are an error."""
    segments: list[Segment] = []
    for address, data in sorted(chunks, key=lambda c: c[0]):
        if segments and address < segments[-1].end:
            raise FirmwareError(f"{path}: data at 0x{address:08x} overlaps data before it")
        if segments and address == segments[-1].end:
            segments[-1] = Segment(segments[-1].address, segments[-1].data + data)
        else:
            segments.append(Segment(address, data))
    return segments


def _ihex(path: Path, data: bytes) -> list[Segment]:
    """Intel HEX: records 00-05, each checksum verified, an end record required."""
    chunks: list[tuple[int, bytearray]] = []
    base = 0
    ended = False
    for lineno, raw in enumerate(data.splitlines(), 1):
        line = raw.strip()
        if lineno == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")
        if not line:
            continue
        where = f"{path}:{lineno}"
        if ended:
            raise FirmwareError(f"{where}: data after the end-of-file record")
        if not line.startswith(b":"):
            raise FirmwareError(f"{where}: an Intel HEX record starts with ':'")
        try:
            rec = bytes.fromhex(line[1:].decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise FirmwareError(f"{where}: not hexadecimal digits") from None
        if len(rec) < 5 or len(rec) != rec[0] + 5:
            raise FirmwareError(f"{where}: record length does not match its byte count")
        if sum(rec) & 0xFF:
            expected = (-sum(rec[:-1])) & 0xFF
            raise FirmwareError(f"{where}: bad checksum 0x{rec[-1]:02x} (expected 0x{expected:02x})")
        count, offset, rtype, payload = rec[0], (rec[1] << 8) | rec[2], rec[3], rec[4:-1]
        if rtype == 0x00:
            address = base + offset
            if chunks and chunks[-1][0] + len(chunks[-1][1]) == address:
                chunks[-1][1].extend(payload)
            else:
                chunks.append((address, bytearray(payload)))
        elif rtype == 0x01:
            ended = True
        elif rtype in (0x02, 0x04):
            if count != 2:
                raise FirmwareError(f"{where}: an address record carries 2 bytes, not {count}")
            value = (payload[0] << 8) | payload[1]
            base = value << 4 if rtype == 0x02 else value << 16
        elif rtype in (0x03, 0x05):
            if count != 4:
                raise FirmwareError(f"{where}: a start address record carries 4 bytes, not {count}")
        else:
            raise FirmwareError(f"{where}: unknown record type 0x{rtype:02x}")
    if not ended:
        raise FirmwareError(f"{path}: no end-of-file record (:00000001FF); the file is truncated")
    if not chunks:
        raise FirmwareError(f"{path}: no data records")
    return _merge(path, [(a, bytes(d)) for a, d in chunks])


_PT_LOAD = 1


def _elf(path: Path, data: bytes) -> list[Segment]:
    """ELF32 little-endian: every PT_LOAD with file bytes, at its physical address.

    ``p_paddr`` (the load address) is used, not ``p_vaddr``: initialised data
    lives in flash (LMA) and is copied to RAM (VMA) by the startup code.
    """
    if len(data) < 52 or not data.startswith(b"\x7fELF"):
        raise FirmwareError(f"{path}: not an ELF file")
    if data[4] != 1 or data[5] != 1:
        raise FirmwareError(f"{path}: only 32-bit little-endian ELF is supported (class {data[4]}, data {data[5]})")
    (phoff,) = struct.unpack_from("<I", data, 28)
    phentsize, phnum = struct.unpack_from("<HH", data, 42)
    if phnum == 0:
        raise FirmwareError(f"{path}: ELF has no program headers")
    if phentsize < 32 or phoff + phentsize * phnum > len(data):
        raise FirmwareError(f"{path}: ELF program header table is truncated")
    chunks: list[tuple[int, bytes]] = []
    for i in range(phnum):
        p_type, p_offset, _vaddr, p_paddr, p_filesz = struct.unpack_from("<5I", data, phoff + i * phentsize)
        if p_type != _PT_LOAD or p_filesz == 0:
            continue
        if p_offset + p_filesz > len(data):
            raise FirmwareError(f"{path}: ELF segment {i} runs past the end of the file")
        chunks.append((p_paddr, data[p_offset : p_offset + p_filesz]))
    if not chunks:
        raise FirmwareError(f"{path}: ELF has no loadable segment with data")
    return _merge(path, chunks)


def dfu_crc(data: bytes) -> int:
    """The DFU suffix CRC: zlib's CRC-32 without its final inversion."""
    return ~zlib.crc32(data) & 0xFFFFFFFF


def _dfuse(path: Path, data: bytes) -> list[Segment]:
    """ST's DfuSe container: 'DfuSe' prefix, 'Target's of (address, size) elements, 'UFD' suffix.

    The suffix CRC covers every byte before it, so a corrupted or cut file is
    caught before a board boots half an image.
    """
    if len(data) < 11 + 16 or not data.startswith(b"DfuSe"):
        raise FirmwareError(f"{path}: not a DfuSe file")
    suffix = data[-16:]
    if suffix[8:11] != b"UFD" or suffix[11] != 16:
        raise FirmwareError(f"{path}: no DFU suffix ('UFD', length 16) at the end of the file")
    (stored,) = struct.unpack_from("<I", suffix, 12)
    actual = dfu_crc(data[:-4])
    if stored != actual:
        raise FirmwareError(f"{path}: DFU suffix CRC 0x{stored:08x} does not match the file (0x{actual:08x})")
    version, image_size, n_targets = struct.unpack_from("<BIB", data, 5)
    if version != 1:
        raise FirmwareError(f"{path}: DfuSe version {version} (only 1 is known)")
    if image_size != len(data) - 16:
        raise FirmwareError(f"{path}: DfuSe prefix says {image_size} bytes, the file has {len(data) - 16}")
    chunks: list[tuple[int, bytes]] = []
    pos, end = 11, len(data) - 16
    for t in range(n_targets):
        if pos + 274 > end or data[pos : pos + 6] != b"Target":
            raise FirmwareError(f"{path}: DfuSe target {t} has no 'Target' signature at offset {pos}")
        target_size, n_elements = struct.unpack_from("<II", data, pos + 266)
        pos += 274
        target_end = pos + target_size
        if target_end > end:
            raise FirmwareError(f"{path}: DfuSe target {t} runs past the end of the image")
        for e in range(n_elements):
            if pos + 8 > target_end:
                raise FirmwareError(f"{path}: DfuSe target {t} element {e} header is truncated")
            address, size = struct.unpack_from("<II", data, pos)
            pos += 8
            if pos + size > target_end:
                raise FirmwareError(f"{path}: DfuSe target {t} element {e} runs past its target")
            chunks.append((address, data[pos : pos + size]))
            pos += size
        if pos != target_end:
            raise FirmwareError(f"{path}: DfuSe target {t} size does not match its elements")
    if pos != end:
        raise FirmwareError(f"{path}: {end - pos} unexpected bytes after the DfuSe targets")
    if not chunks:
        raise FirmwareError(f"{path}: DfuSe file holds no elements")
    return _merge(path, chunks)
