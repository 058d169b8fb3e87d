"""Every kind of bad bundle gets one line from the CLI, ``mpbench: BUNDLE: what was wrong ...``, and exit 2.

Each bundle is built the way a damaged download or a hostile sender would
make it (real gzip and tar writers, headers that lie, numbers JSON should not
hold) and given to ``mpbench repro run`` and ``mpbench repro show`` through
``main``; a traceback would fail the test by escaping ``main``.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from test_repro_bundle import good_members, make_doc, member, write_members

from mpbench.cli import main
from mpbench.repro import bundle as bundle_mod
from mpbench.repro.capture import save


def doc_json(change: Callable[[dict], None] | None = None, raw: Callable[[str], str] | None = None) -> bytes:
    doc = copy.deepcopy(make_doc())
    if change is not None:
        change(doc)
    text = json.dumps(doc)
    return (raw(text) if raw is not None else text).encode()


def with_json(path: Path, data: bytes) -> Path:
    return write_members(path, [member("bundle.json", data), member("README.md", b"# r\n")])


def lying_size(path: Path) -> Path:
    """A README header claiming 10 GB, followed by a few bytes: refused on the header, nothing read."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info, data = member("bundle.json", doc_json())
        tar.addfile(info, io.BytesIO(data))
    head = tarfile.TarInfo("README.md")
    head.size = 10 * 1024**3
    first = buf.getvalue()[: 512 + ((len(doc_json()) + 511) // 512) * 512]  # bundle.json's header and data
    body = first + head.tobuf() + b"x" * 512
    path.write_bytes(gzip.compress(body))
    return path


def bomb(path: Path) -> Path:
    """A small file that inflates to more than any bundle may hold."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1024 * 1024)
    parts = [z.compress(chunk) for _ in range(110)]
    path.write_bytes(b"".join(parts) + z.flush())
    return path


def truncated(path: Path) -> Path:
    save(path, make_doc(), None)
    path.write_bytes(path.read_bytes()[:-30])
    return path


KINDS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "not gzip": (lambda p: (p.write_text("print('hello')\n"), p)[1], "not an mpbench bundle: expected a gzip"),
    "gzip, not tar": (lambda p: (p.write_bytes(gzip.compress(b"hello" * 200)), p)[1], "truncated or damaged"),
    "truncated": (truncated, "truncated or damaged"),
    "inflates too far": (bomb, "it unpacks to more than"),
    "a member's header lies about its size": (lying_size, "member 'README.md' is 10737418240 bytes, too large"),
    "a symlink member": (
        lambda p: write_members(p, [good_members()[0], member("README.md", kind=tarfile.SYMTYPE, link="/etc/passwd")]),
        "member 'README.md' is a link",
    ),
    "a hard link member": (
        lambda p: write_members(p, [good_members()[0], member("README.md", kind=tarfile.LNKTYPE, link="bundle.json")]),
        "member 'README.md' is a link",
    ),
    "not JSON": (lambda p: with_json(p, b"{not json"), "bundle.json is not valid JSON"),
    "JSON nested too deep": (lambda p: with_json(p, b"[" * 100000 + b"]" * 100000), "bundle.json"),
    "a JSON list": (lambda p: with_json(p, b"[1, 2]"), "bundle.json is not a JSON object"),
    "NaN": (
        lambda p: with_json(p, doc_json(raw=lambda t: t.replace('"timeout": 10.0', '"timeout": NaN', 1))),
        "NaN is not JSON",
    ),
    "a number too large for a float": (
        lambda p: with_json(p, doc_json(raw=lambda t: t.replace('"t": 0.1', '"t": 1e400', 1))),
        "number 1e400 is out of range",
    ),
    "an integer of 400 digits": (
        lambda p: with_json(p, doc_json(raw=lambda t: t.replace('"line_offset": 0', '"line_offset": ' + "9" * 400))),
        "integer of 400 digits is out of range",
    ),
    "a line offset of a billion": (
        lambda p: with_json(p, doc_json(lambda d: d["steps"][2]["args"].update(line_offset=10**9))),
        "steps[2] (start): line_offset 1000000000 is not between 0 and 1000000",
    ),
    "the wrong schema": (
        lambda p: with_json(p, doc_json(lambda d: d["session"].update(start_mode="paste"))),
        "bundle.json: session.start_mode:",
    ),
    "an unknown format version": (
        lambda p: with_json(p, doc_json(lambda d: d.update(version=2))),
        "bundle format version 2 is not supported",
    ),
    "a pattern RE2 cannot compile": (
        lambda p: with_json(
            p, doc_json(lambda d: d["steps"][5]["args"].update(pattern={"regex": r"(a)\1", "flags": 0}))
        ),
        "steps[5] (read_until): argument 'pattern' cannot be decoded",
    ),
    "a README that is not UTF-8": (
        lambda p: write_members(p, [good_members()[0], member("README.md", b"\xff\xfe\x00bad")]),
        "README.md is not UTF-8 text",
    ),
    "a folder, not a file": (lambda p: (p.mkdir(), p)[1], "cannot read the bundle"),
    "no such file": (lambda p: p, "cannot read the bundle"),
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("action", ["run", "show"])
def test_a_bad_bundle_gives_one_line_naming_it_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, action: str
) -> None:
    make, expect = KINDS[kind]
    path = make(tmp_path / "bad.mpbundle")
    code = main(["repro", action, str(path)])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith(f"mpbench: {path}: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert expect in err, err
    assert "\x1b" not in err


def test_the_limits_the_lying_header_and_the_bomb_test_are_the_readers_own() -> None:
    assert bundle_mod.MAX_README_BYTES < 10 * 1024**3
    assert bundle_mod.MAX_IMAGE_BYTES + bundle_mod.MAX_JSON_BYTES + bundle_mod.MAX_README_BYTES < 110 * 1024 * 1024


@pytest.mark.parametrize(
    ("content", "expect"),
    [(None, "cannot read the script: No such file or directory"), (b"print('\xe9')\n", "is not UTF-8 text")],
)
def test_repro_create_says_in_one_line_why_a_script_cannot_be_read(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: bytes | None,
    expect: str,
) -> None:
    script = tmp_path / "s.py"
    if content is not None:
        script.write_bytes(content)
    monkeypatch.chdir(tmp_path)
    code = main(["repro", "create", "-p", "microbit", str(script)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == f"mpbench: {script}: {err.split(': ', 2)[2]}" and err.count("\n") == 1, err
    assert expect in err and not list(tmp_path.glob("*.mpbundle"))
