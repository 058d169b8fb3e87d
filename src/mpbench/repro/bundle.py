"""The ``.mpbundle`` file: writing one, and reading one that may be hostile.

A bundle is a gzip-compressed tar holding ``bundle.json`` (what happened, see
``bundle_schema.json``), ``README.md`` (the same for people) and, when asked,
``firmware/<name>`` (the image) and ``renode-state.xz`` (the board's Renode
boot state, see ``state``: loaded only when the receiver trusts it). It travels between people, so reading it
trusts nothing: the archive is read in memory and never extracted, only
regular files with known names are accepted, sizes are capped, the JSON is
checked against the schema and per step kind, and the transcript's
fingerprint and the firmware's sha256 must match what the bundle claims.
Every refusal is a ``BundleError`` naming the bundle and what was expected.

Those two hashes are consistency checks, not tamper protection: whoever
edits bundle.json can recompute them. What protects the reader is what a
replay takes from the bundle at all (steps, and an image that runs inside
the emulator; see ``replay``) and that its patterns are compiled by RE2
(``pattern``), never by Python's backtracking ``re``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import re
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from mpbench.errors import BundleError
from mpbench.firmware.cache import MAX_IMAGE_BYTES
from mpbench.firmware.manifest import is_safe_member
from mpbench.repro.pattern import PatternError, compile_pattern
from mpbench.session.recorder import Step

FORMAT = "mpbench-bundle"
VERSION = 1
SUFFIX = ".mpbundle"
JSON_MEMBER, README_MEMBER, FIRMWARE_DIR = "bundle.json", "README.md", "firmware/"
STATE_MEMBER = "renode-state.xz"
#: The largest state member (compressed; a pyboard's is about 0.85 MB). The whole bundle's cap stays as it was.
MAX_STATE_MEMBER_BYTES = 32 * 1024 * 1024
MAX_JSON_BYTES = 32 * 1024 * 1024
MAX_README_BYTES = 4 * 1024 * 1024
MAX_MEMBERS = 8
#: Seconds a recorded step may wait at most: a bundle cannot make a replay hang for days.
MAX_STEP_TIMEOUT = 3600.0
#: The largest line offset of a block (where a long script was cut into chunks): a script's line count.
MAX_LINE_OFFSET = 1_000_000

_TEXT, _NUM = (str,), (int, float)
#: Per step kind: argument name -> (JSON types allowed, may be None).
_STEP_ARGS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "exec": {"code": (_TEXT, False), "timeout": (_NUM, True)},
    "start": {"code": (_TEXT, False), "timeout": (_NUM, True), "line_offset": ((int,), False)},
    "wait_for": {"text": ((dict,), False), "timeout": (_NUM, True)},
    "read_until": {"pattern": ((dict,), False), "timeout": (_NUM, True)},
    "write": {"data": ((dict,), False)},
    "interrupt": {},
    "follow": {"timeout": (_NUM, True)},
    "type": {"line": (_TEXT, False), "timeout": (_NUM, True)},
    "soft_reset": {"timeout": (_NUM, True)},
    "recover": {"timeout": (_NUM, True)},
    "reset": {"hard": ((bool,), False)},
    "stimulate": {"source": (_TEXT, False)},
}


@cache
def _validator() -> Draft202012Validator:
    text = resources.files("mpbench.repro").joinpath("bundle_schema.json").read_text(encoding="utf-8")
    return Draft202012Validator(json.loads(text))


# -- the transcript's fingerprint ---------------------------------------------------
def normalise(records: Iterable[Mapping[str, Any]]) -> bytes:
    """What a replay must reproduce: the bytes the board sent, with ``\\r\\n`` as ``\\n``.

    Bytes sent to the board and timings are left out (they differ between
    runs without the board behaving differently); echoes and prompts the
    session's own input caused are part of what the board sent, so they stay.
    """
    rx = b"".join(str(r["data"]).encode("latin-1") for r in records if r["dir"] == "rx")
    return rx.replace(b"\r\n", b"\n")


def fingerprint(records: Iterable[Mapping[str, Any]]) -> str:
    """sha256 of ``normalise(records)``: equal fingerprints, equal console conversations."""
    return hashlib.sha256(normalise(records)).hexdigest()


def short(digest: str | None) -> str:
    return f"{digest[:12]}…" if digest else "(none)"


# -- writing ----------------------------------------------------------------------
def write_bundle(
    path: Path,
    doc: Mapping[str, Any],
    readme: str,
    firmware: tuple[str, bytes] | list[tuple[str, bytes]] | None = None,
) -> int:
    """Write the archive atomically (a half-written bundle never has the final name); its size in bytes.

    ``firmware``: the extra members (the image, the Renode state), one or a list.
    """
    mtime = int(time.time())
    members: list[tuple[str, bytes]] = [
        (JSON_MEMBER, (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")),
        (README_MEMBER, readme.encode("utf-8")),
    ]
    if isinstance(firmware, tuple):
        members.append(firmware)
    elif firmware:
        members.extend(firmware)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=mtime) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            tar.addfile(info, io.BytesIO(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".mpbundle-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf.getvalue())
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a bug report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(buf.getvalue())


# -- reading ----------------------------------------------------------------------
@dataclass(frozen=True)
class Bundle:
    """A bundle read and checked; ``doc`` is its bundle.json."""

    path: str
    doc: dict[str, Any]
    readme: str
    firmware: bytes | None
    member_sizes: dict[str, int]
    #: The carried Renode state as stored (xz), checked only for its size here: ``state.unpack`` checks the rest.
    state: bytes | None = None

    @property
    def steps(self) -> list[Step]:
        """The recorded calls, as a replay makes them (and ``repro show`` prints them): patterns compiled by RE2."""
        return [
            Step(
                kind=s["kind"],
                args={k: decode_value(v) for k, v in s["args"].items()},
                t=float(s["t"]),
                t_end=s.get("t_end"),
                error=s.get("error"),
                raised=s.get("raised"),
            )
            for s in self.doc["steps"]
        ]

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.doc["transcript"]["records"]

    @property
    def fingerprint(self) -> str:
        return self.doc["transcript"]["fingerprint"]


def read_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read and check a bundle without extracting anything; ``BundleError`` says what is wrong."""
    where = os.fspath(path)
    try:
        with open(where, "rb") as f:
            data = f.read(MAX_IMAGE_BYTES + MAX_JSON_BYTES + MAX_README_BYTES + 1)
    except OSError as e:
        raise BundleError(where, f"cannot read the bundle: {e.strerror or e}") from e
    if not data.startswith(b"\x1f\x8b"):
        raise BundleError(
            where, f"not an mpbench bundle: expected a gzip-compressed tar archive, the file starts with {data[:8]!r}"
        )
    files = _members(where, data)
    if JSON_MEMBER not in files:
        raise BundleError(where, f"not an mpbench bundle: no {JSON_MEMBER} in the archive (it has {sorted(files)})")
    doc = _parse_json(where, files[JSON_MEMBER])
    _check_doc(where, doc)
    firmware = _check_firmware(where, doc, files)
    state = _check_state(where, doc, files)
    try:
        readme = files.get(README_MEMBER, b"").decode("utf-8")
    except UnicodeDecodeError as e:
        raise BundleError(where, f"{README_MEMBER} is not UTF-8 text: {e}") from e
    return Bundle(where, doc, readme, firmware, {k: len(v) for k, v in files.items()}, state)


def _gunzip(where: str, data: bytes) -> bytes:
    """Decompress the whole gzip stream, checking its CRC and length: a cut-short file fails here.

    (tarfile alone reads a bundle cut inside its end padding without noticing.) The output is
    capped, so a small file that inflates to gigabytes is refused, not unpacked.
    """
    limit = MAX_IMAGE_BYTES + MAX_JSON_BYTES + MAX_README_BYTES + 64 * 1024
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data, limit + 1)
    if len(out) > limit:
        raise BundleError(where, f"refusing the bundle: it unpacks to more than {limit} bytes")
    if not d.eof:
        raise EOFError("the compressed data ends early")
    if d.unused_data:
        raise BundleError(where, "refusing the bundle: there is data after the end of the archive")
    return out


def _members(where: str, data: bytes) -> dict[str, bytes]:
    """The archive's regular files by name, read in memory; anything else refuses the whole bundle."""
    limits = {JSON_MEMBER: MAX_JSON_BYTES, README_MEMBER: MAX_README_BYTES, STATE_MEMBER: MAX_STATE_MEMBER_BYTES}
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(_gunzip(where, data)), mode="r:") as tar:
            for count, info in enumerate(tar, 1):
                name = info.name
                if count > MAX_MEMBERS:
                    raise BundleError(where, f"refusing the bundle: more than {MAX_MEMBERS} members")
                if not is_safe_member(name) or name != os.path.normpath(name):
                    raise BundleError(where, f"refusing the bundle: member {name!r} points outside the bundle")
                if not info.isfile():
                    kind = "a link" if info.issym() or info.islnk() else "not a regular file"
                    raise BundleError(where, f"refusing the bundle: member {name!r} is {kind}")
                firmware = name.startswith(FIRMWARE_DIR) and name.count("/") == 1 and len(name) > len(FIRMWARE_DIR)
                if name not in limits and not firmware:
                    known = f"{JSON_MEMBER}, {README_MEMBER}, {FIRMWARE_DIR}<name>, {STATE_MEMBER}"
                    raise BundleError(
                        where, f"refusing the bundle: unexpected member {name!r} (a bundle holds {known})"
                    )
                if name in files:
                    raise BundleError(where, f"refusing the bundle: member {name!r} appears twice")
                if info.size > limits.get(name, MAX_IMAGE_BYTES):
                    raise BundleError(where, f"refusing the bundle: member {name!r} is {info.size} bytes, too large")
                f = tar.extractfile(info)
                content = f.read() if f is not None else b""
                if len(content) != info.size:
                    raise EOFError(f"member {name!r} is cut short")
                files[name] = content
    except BundleError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise BundleError(where, f"the archive is truncated or damaged ({e}); ask for the bundle again") from e
    return files


def decode_value(value: Any) -> Any:
    """A step argument from bundle.json: ``{"bytes"}`` as bytes, ``{"regex"}`` as an RE2 pattern, else as is.

    The bundle's counterpart of ``recorder.decode_arg``, which compiles with
    Python's ``re`` and so is only for steps this process recorded itself.
    """
    if isinstance(value, dict) and set(value) == {"bytes"}:
        return value["bytes"].encode("latin-1")
    if isinstance(value, dict) and "regex" in value:
        return compile_pattern(value["regex"], int(value.get("flags", 0)))
    return value


#: Integers longer than this many digits are refused (nothing in a bundle needs more; seeds are 32-bit).
_MAX_INT_DIGITS = 20


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range (a bundle's numbers are finite)")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"integer of {len(text)} digits is out of range")
    return int(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (a bundle's numbers are finite)")


def _parse_json(where: str, raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw.decode("utf-8"), parse_float=_finite, parse_int=_bounded_int, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BundleError(where, f"{JSON_MEMBER} is not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise BundleError(where, f"{JSON_MEMBER} is not a JSON object")
    if doc.get("format") != FORMAT:
        raise BundleError(where, f"not an mpbench bundle: format is {doc.get('format')!r}, expected {FORMAT!r}")
    version = doc.get("version")
    if version != VERSION:
        raise BundleError(
            where,
            f"bundle format version {version!r} is not supported: this mpbench reads version {VERSION} "
            "(a newer mpbench may have written it)",
        )
    return doc


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _check_doc(where: str, doc: dict[str, Any]) -> None:
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        e = errors[0]
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise BundleError(where, f"{JSON_MEMBER}: {_dotted(e.absolute_path)}: {e.message[:300]}{more}")
    for i, step in enumerate(doc["steps"]):
        _check_step(where, i, step)
    try:
        actual = fingerprint(doc["transcript"]["records"])
    except UnicodeEncodeError as e:
        raise BundleError(where, f"{JSON_MEMBER}: transcript.records: data is not latin-1 text ({e})") from e
    if actual != doc["transcript"]["fingerprint"]:
        raise BundleError(
            where,
            f"{JSON_MEMBER}: the transcript's fingerprint is {actual}, but the bundle says "
            f"{doc['transcript']['fingerprint']}: the bundle was altered or damaged",
        )


def _check_step(where: str, i: int, step: dict[str, Any]) -> None:
    spec = _STEP_ARGS[step["kind"]]
    args = step["args"]
    at = f"{JSON_MEMBER}: steps[{i}] ({step['kind']})"
    unknown = sorted(set(args) - set(spec))
    if unknown:
        raise BundleError(where, f"{at}: unknown argument {unknown[0]!r}; expected {', '.join(spec) or 'none'}")
    for name, (types, nullable) in spec.items():
        if name not in args:
            raise BundleError(where, f"{at}: argument {name!r} is missing")
        value = args[name]
        if value is None and nullable:
            continue
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise BundleError(where, f"{at}: argument {name!r} has the wrong type ({type(value).__name__})")
        if name == "timeout" and not 0 < value <= MAX_STEP_TIMEOUT:
            raise BundleError(where, f"{at}: timeout {value!r} is not between 0 and {MAX_STEP_TIMEOUT:.0f} s")
        if name == "line_offset" and not 0 <= value <= MAX_LINE_OFFSET:
            # a replay sends that many newlines ahead of the block on raw-paste boards
            raise BundleError(where, f"{at}: line_offset {value!r} is not between 0 and {MAX_LINE_OFFSET}")
        if isinstance(value, dict):
            _check_encoded(where, at, name, value)


def _check_encoded(where: str, at: str, name: str, value: dict[str, Any]) -> None:
    """Bytes and patterns are encoded as ``{"bytes": ...}`` or ``{"regex": ..., "flags": ...}``.

    A pattern is compiled here, by RE2, so a bundle whose pattern RE2 refuses
    is refused when it is read, before anything boots.
    """
    ok = (set(value) == {"bytes"} and isinstance(value["bytes"], str)) or (
        set(value) <= {"regex", "flags", "bytes_pattern"}
        and isinstance(value.get("regex"), str)
        and value.get("bytes_pattern", True) is True
        and isinstance(value.get("flags", 0), int)
        and not isinstance(value.get("flags", 0), bool)
        and value.get("flags", 0) & ~(re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE) == 0
    )
    if name in ("text", "data") and "bytes" not in value:
        ok = False
    if not ok:
        raise BundleError(where, f"{at}: argument {name!r} is not an encoded byte string or pattern")
    try:
        decode_value(value)
    except UnicodeEncodeError as e:
        raise BundleError(where, f"{at}: argument {name!r} cannot be decoded: {e}") from e
    except PatternError as e:
        raise BundleError(
            where,
            f"{at}: argument {name!r} cannot be decoded: {e}; expected literal text or a pattern in RE2's "
            "syntax (no backreferences or lookaround)",
        ) from e


def _check_firmware(where: str, doc: dict[str, Any], files: dict[str, bytes]) -> bytes | None:
    fw = doc["firmware"]
    member = fw["included"]
    present = [n for n in files if n.startswith(FIRMWARE_DIR)]
    if member is None:
        if present:
            raise BundleError(
                where, f"refusing the bundle: it holds {present[0]!r} but {JSON_MEMBER} includes no firmware"
            )
        return None
    if present != [member]:
        raise BundleError(
            where, f"the firmware {member!r} that {JSON_MEMBER} names is missing (found {present or 'none'})"
        )
    data = files[member]
    actual = hashlib.sha256(data).hexdigest()
    if fw["sha256"] is None or actual != fw["sha256"]:
        raise BundleError(
            where,
            f"firmware hash mismatch: {member} has sha256 {actual}, but the bundle records {fw['sha256']}",
        )
    return data


def _check_state(where: str, doc: dict[str, Any], files: dict[str, bytes]) -> bytes | None:
    """The state member, present exactly when bundle.json names it, of the size bundle.json states."""
    state = doc.get("renode_state")
    named = state.get("member") if state else None
    if named is None:
        if STATE_MEMBER in files:
            raise BundleError(
                where, f"refusing the bundle: it holds {STATE_MEMBER!r} but {JSON_MEMBER} records no Renode state"
            )
        return None
    if STATE_MEMBER not in files:
        raise BundleError(where, f"the Renode state {STATE_MEMBER!r} that {JSON_MEMBER} names is missing")
    data = files[STATE_MEMBER]
    if len(data) != state["compressed_size"]:
        raise BundleError(
            where,
            f"{STATE_MEMBER}: {len(data)} bytes, but {JSON_MEMBER} records renode_state.compressed_size "
            f"{state['compressed_size']}: altered or damaged",
        )
    return data


__all__ = [
    "FORMAT",
    "SUFFIX",
    "VERSION",
    "Bundle",
    "decode_value",
    "fingerprint",
    "normalise",
    "read_bundle",
    "short",
    "write_bundle",
]
