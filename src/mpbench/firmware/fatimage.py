"""A small FAT12 volume with a few files in its root folder, built in Python.

Boards whose REPL lives on USB (the Pyboard) get it moved to a UART by a
``boot.py`` in their internal flash filesystem; mpbench writes that
filesystem itself, so no ``mkfs.fat``/``mtools`` and no rebuilt firmware are
needed. The layout is plain FAT12 (one sector per cluster), which every
FatFs build reads, including MicroPython's.
"""

from __future__ import annotations

import struct

from mpbench.errors import FileTooBig, FirmwareError

ROOT_ENTRIES = 64  # 4 sectors of 32-byte entries: plenty for a boot.py and a main.py
FAT_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1  # the earliest valid FAT date, so no file has 1980-00-00


def _short_name(name: str) -> bytes:
    """The 8.3 directory name of ``name`` (``boot.py`` -> ``BOOT    PY ``)."""
    base, _, ext = name.upper().partition(".")
    if not base or len(base) > 8 or len(ext) > 3 or not (base + ext).isascii() or "." in ext:
        raise FirmwareError(f"{name!r} is not an 8.3 file name; the FAT image holds 8.3 names only")
    return base.ljust(8).encode() + ext.ljust(3).encode()


def _set_fat12(fat: bytearray, cluster: int, value: int) -> None:
    i = cluster * 3 // 2
    if cluster % 2 == 0:
        fat[i] = value & 0xFF
        fat[i + 1] = (fat[i + 1] & 0xF0) | ((value >> 8) & 0x0F)
    else:
        fat[i] = (fat[i] & 0x0F) | ((value << 4) & 0xF0)
        fat[i + 1] = (value >> 4) & 0xFF


def is_short_name(name: str) -> bool:
    """True when ``name`` can go in the image's root folder as it is (an 8.3 name, no folder)."""
    try:
        _short_name(name)
    except FirmwareError:
        return False
    return "/" not in name


def fat12_image(files: dict[str, bytes], size: int, sector_size: int = 512, label: str = "MPBENCH") -> bytes:
    """A FAT12 volume of ``size`` bytes holding ``files`` (8.3 names) in its root folder.

    Files that do not fit raise ``FileTooBig`` (bad input, exit 2) with the sizes.
    """
    if size % sector_size:
        raise FirmwareError(f"a FAT volume of {size} bytes is not a whole number of {sector_size}-byte sectors")
    total = size // sector_size
    root_sectors = ROOT_ENTRIES * 32 // sector_size
    fat_sectors = 1
    while True:  # enough FAT for every cluster the data area can hold
        clusters = total - 1 - 2 * fat_sectors - root_sectors
        if (clusters + 2) * 3 // 2 + 1 <= fat_sectors * sector_size:
            break
        fat_sectors += 1
    if clusters < 16 or clusters >= 4085:
        raise FirmwareError(f"a FAT12 volume needs 16 to 4084 clusters; {size} bytes gives {clusters}")
    boot = bytearray(sector_size)
    boot[0:3] = b"\xeb\x3c\x90"
    boot[3:11] = b"MPBENCH "
    struct.pack_into(
        "<HBHBHHBHHHII", boot, 11, sector_size, 1, 1, 2, ROOT_ENTRIES, total, 0xF8, fat_sectors, 63, 255, 0, 0
    )
    struct.pack_into("<BBBI", boot, 36, 0x80, 0, 0x29, 0x4D504230)
    boot[43:54] = label.upper().ljust(11)[:11].encode()
    boot[54:62] = b"FAT12   "
    boot[510:512] = b"\x55\xaa"

    fat = bytearray(fat_sectors * sector_size)
    _set_fat12(fat, 0, 0xFF8)
    _set_fat12(fat, 1, 0xFFF)
    root = bytearray(root_sectors * sector_size)
    data = bytearray((total - 1 - 2 * fat_sectors - root_sectors) * sector_size)
    root[0:11] = label.upper().ljust(11)[:11].encode()
    root[11] = 0x08  # volume label
    entry = 1
    next_cluster = 2
    for name, content in files.items():
        if entry >= ROOT_ENTRIES:
            raise FirmwareError(f"too many files for the FAT image's root folder (at most {ROOT_ENTRIES - 1})")
        n = max(1, -(-len(content) // sector_size))
        first = next_cluster if content else 0
        if content:
            if next_cluster + n - 2 > clusters:
                need = sum(max(1, -(-len(c) // sector_size)) for c in files.values() if c) * sector_size
                raise FileTooBig(
                    f"the files do not fit in a FAT volume of {size} bytes: they take {need} bytes of clusters "
                    f"({sum(len(c) for c in files.values())} bytes of data, {name} is {len(content)}) "
                    f"and it holds {clusters * sector_size}"
                )
            for k in range(n):
                c = next_cluster + k
                _set_fat12(fat, c, 0xFFF if k == n - 1 else c + 1)
            off = (next_cluster - 2) * sector_size
            data[off : off + len(content)] = content
            next_cluster += n
        e = entry * 32
        root[e : e + 11] = _short_name(name)
        root[e + 11] = 0x20  # archive
        base, _, ext = name.partition(".")
        # NT case flags: a name given in lower case lists in lower case (FatFs honours them)
        root[e + 12] = (0x08 if base.islower() else 0) | (0x10 if ext.islower() else 0)
        struct.pack_into("<HH", root, e + 22, 0, FAT_DATE_1980_01_01)  # modified time and date
        struct.pack_into("<HI", root, e + 26, first, len(content))
        entry += 1
    return bytes(boot + fat + fat + root + data)
