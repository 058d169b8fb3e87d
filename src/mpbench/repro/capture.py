"""Turning a board that just failed into a bundle: bundle.json and its README.

Used by ``mpbench repro create`` and by the Robot library's teardown. Both
hand over a ``Board`` (platform, firmware, engine) plus the slice of steps
and console traffic that belongs to the failure; this module only describes
them, it never talks to the board.

What it records is what a replay will do: the timing mode the board really
ran in (the Robot library boots boards without ``-icount``, ``repro create``
with it, and a replay uses the recorded one), and patterns only if RE2 can
compile them (a replay compiles with nothing else). Local absolute paths are
replaced (``scrub``) so a bundle says nothing about the sender's machine.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mpbench import __version__
from mpbench.board import Board
from mpbench.console.transcript import Chunk, Transcript
from mpbench.errors import BundleError
from mpbench.repro.bundle import FORMAT, SUFFIX, VERSION, fingerprint, short, write_bundle
from mpbench.repro.pattern import PatternError, compile_pattern
from mpbench.repro.scrub import board_paths, scrub_records, scrub_text
from mpbench.repro.state import carry, requested
from mpbench.session.recorder import Step

log = logging.getLogger(__name__)

VIRTUAL_TIME = (
    "Renode boards run on virtual time, but stimuli are replayed at host-timed moments; "
    "scheduling them at the recorded virtual times is not built yet"
)
SEED_NOTE = (
    "recorded for replays that will randomise (e.g. input pacing); nothing in mpbench uses it yet, "
    "so replays do not depend on it"
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize(name: str, limit: int = 120) -> str:
    """A file-name-safe form of a suite or test name (Renode's renode-keywords.robot does the same)."""
    return _UNSAFE.sub("_", name).strip("._")[:limit] or "unnamed"


def describe(
    board: Board,
    steps: Sequence[Step],
    records: Sequence[Mapping[str, Any]],
    start_mode: str,
    origin: Mapping[str, str],
    failure: Mapping[str, str] | None,
    include_firmware: bool = False,
    include_state: bool | None = None,
    notes: list[str] | None = None,
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """bundle.json for ``board``'s failure, and the members beside it (the firmware, the Renode state).

    ``include_state`` None: as ``MPBENCH_BUNDLE_STATE`` says (see ``state``).
    Asked for on a board without a state, bundle.json says why, and so does
    one logged warning (Robot shows it), also appended to ``notes`` for a face
    whose runner keeps logs to itself (pytest).
    """
    platform, fw, engine = board.platform, board.firmware, board.engine
    if fw is None or engine is None:
        raise BundleError(board.name, "the board never started, so there is nothing to record")
    text = platform.path.read_text(encoding="utf-8")
    member = None
    if include_firmware:
        if fw.sha256 is None:
            raise BundleError(
                board.name, f"--include-firmware: {fw.id} is an installed command ({fw.path}), not an image to include"
            )
        data = Path(fw.path).read_bytes()
        if hashlib.sha256(data).hexdigest() != fw.sha256:
            raise BundleError(board.name, f"{fw.path} changed since it was booted; not including it")
        member = (f"firmware/{sanitize(Path(fw.path).name, 100).lstrip('-') or 'image'}", data)
    _check_patterns(board.name, steps)
    paths = board_paths(board)
    det = engine.determinism()
    text = scrub_text(text, paths)
    records = scrub_records(records, paths)
    failure = {k: scrub_text(str(v), paths) for k, v in failure.items()} if failure else None
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "mpbench_version": __version__,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "origin": dict(origin),
        "failure": dict(failure) if failure else None,
        "platform": {
            "name": platform.name,
            "title": platform.title,
            "file": platform.path.name,
            "text": text,
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        },
        "firmware": {
            "id": fw.id,
            "sha256": fw.sha256,
            "source": scrub_text(fw.source, paths),
            "version": fw.version,
            "format": fw.format,
            "included": member[0] if member else None,
        },
        "engine": {
            "name": engine.name,
            "version": scrub_text(engine.version(), paths),
            "argv": [scrub_text(a, paths) for a in engine.argv],
        },
        "determinism": {
            "method": det.method,
            "setting": det.setting,
            "used": det.active,  # a replay runs in this mode, so it is the one this run really used
            "replays_deterministic": det.active,
            "note": det.note,
            "virtual_time": VIRTUAL_TIME,
        },
        "seed": {"value": secrets.randbits(32), "used": False, "note": SEED_NOTE},
        "session": {
            "timeout": board.timeout,
            "start_mode": start_mode,
            "boot_output": scrub_text(board.boot_output, paths),
        },
        "steps": [_scrubbed_step(s, paths) for s in steps],
        "transcript": {"records": [dict(r) for r in records], "fingerprint": fingerprint(records)},
    }
    instants = _instants(engine, records)
    if instants is not None:
        doc["instants"] = instants
    members = [member] if member else []
    if requested() if include_state is None else include_state:
        carried = carry(board)
        if isinstance(carried, str):
            log.warning("%s", carried)
            if notes is not None:
                notes.append(carried)
            doc["renode_state"] = {"member": None, "reason": carried}
        else:
            doc["renode_state"], state_member = carried
            members.append(state_member)
    return doc, members


def _instants(engine: Any, records: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The virtual instants of the stimuli behind ``records`` (boards whose clock the bench drives).

    Each console write is one ``tx`` record and each IRQ one ``irq at`` event,
    so the last that many stimuli the engine applied are this slice's.
    """
    record = getattr(engine, "instants_record", None)
    if record is None or not getattr(engine, "stepped", False):
        return None
    doc = record()
    n = sum(1 for r in records if r["dir"] == "tx" or (r["dir"] == "event" and str(r["data"]).startswith("irq at ")))
    doc["stimuli"] = doc["stimuli"][-n:] if n else []
    return doc


def _scrubbed_step(step: Step, paths: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A step as JSON with local paths out of its outcome; its arguments stay exactly what a replay sends."""
    out = step.to_json()
    for key in ("error", "raised"):
        if out[key] is not None:
            out[key] = scrub_text(out[key], paths)
    return out


def _check_patterns(name: str, steps: Sequence[Step]) -> None:
    """Refuse to write a bundle no replay could read: every pattern must compile with RE2."""
    for i, step in enumerate(steps, 1):
        for arg, value in step.args.items():
            if isinstance(value, re.Pattern):
                raw = value.pattern if isinstance(value.pattern, bytes) else value.pattern.encode("utf-8")
                try:
                    compile_pattern(raw.decode("latin-1"), int(value.flags & ~re.UNICODE))
                except PatternError as e:
                    raise BundleError(
                        name,
                        f"step {i} ({step.kind}): argument {arg!r} cannot go into a bundle: {e}; replays compile "
                        "patterns with RE2 only (literal text, or RE2 syntax: no backreferences or lookaround)",
                    ) from e


def _step_line(i: int, step: Mapping[str, Any]) -> str:
    args = step["args"]
    main = args.get("code") or args.get("line") or args.get("text") or args.get("data") or args.get("pattern")
    if isinstance(main, dict):
        main = main.get("bytes", main.get("regex", ""))
    shown = ""
    if isinstance(main, str):
        first = main.strip("\n").splitlines()[0] if main.strip("\n") else ""
        more = " …" if main.strip("\n").count("\n") else ""
        shown = f" {first[:70]!r}{more}"
    if step["kind"] == "reset":
        shown = " (hard)" if args.get("hard") else " (soft)"
    end = (
        f" -> {step['error']}" if step.get("error") else (f" -> raised {step['raised']}" if step.get("raised") else "")
    )
    return f"{i:3}. [{step['t']:9.3f} s] {step['kind']}{shown}{end}"


def readme(doc: Mapping[str, Any], file_name: str) -> str:
    """The README.md inside a bundle: what failed, where, and how to replay it."""
    fw, eng, det, origin = doc["firmware"], doc["engine"], doc["determinism"], doc["origin"]
    failure = doc["failure"]
    if origin["kind"] in ("robot", "pytest"):
        runner = "Robot" if origin["kind"] == "robot" else "pytest"
        source = f"{runner} test `{origin.get('test', '?')}` of suite `{origin.get('suite', '?')}`"
    else:
        source = f"`mpbench repro create` of `{origin.get('script', '?')}`"
    what = f"**{failure['summary']}**\n\n```\n{failure['detail'].rstrip()}\n```" if failure else "Nothing failed."
    included = f"included as `{fw['included']}`" if fw["included"] else "not included: the replaying machine needs it"
    host = doc["engine"]["name"] == "host"
    allow = " --allow-host" if host else ""
    transcript = Transcript(
        chunks=[Chunk(r["t"], r["dir"], r["data"].encode("latin-1")) for r in doc["transcript"]["records"]]
    )
    lines = [
        f"# mpbench bug report: {doc['platform']['name']}",
        "",
        f"What failed ({source}):",
        "",
        what,
        "",
        f"- Board: `{doc['platform']['name']}` ({doc['platform'].get('title', '')}), platform file "
        f"`{doc['platform']['file']}` (its text is in bundle.json)",
        f"- Firmware: `{fw['id']}` version {fw['version']}, sha256 `{fw['sha256'] or 'not pinned'}`, "
        f"from {fw['source']}; {included}",
        f"- Engine: {eng['name']} ({eng['version'] or 'version unknown'})",
        f"- Determinism: {det['note']}"
        + ("" if det["replays_deterministic"] else " **(this board is not deterministic)**"),
        f"- Recorded {doc['created']} by mpbench {doc['mpbench_version']}; seed {doc['seed']['value']} (not used)",
        f"- Console fingerprint: `{doc['transcript']['fingerprint']}`",
        *_state_lines(doc),
        "",
        "## Replay",
        "",
        "```sh",
        f"mpbench repro run{allow} {file_name}              # replays and prints same or different",
        f"mpbench repro run{allow} --repeat 10 {file_name}  # replays 10 times, prints each fingerprint",
        f"mpbench repro show {file_name}",
        "```",
        "",
        "Replay boots the board from *your* platform file of the same name (never the command line in "
        "this bundle), in the timing mode recorded above. Without an included image it boots your own "
        "and checks that it has the sha256 above; an included image is the sender's and runs inside the "
        "emulator only.",
        "",
        "This README is the sender's text and nothing checks it: `mpbench repro show` lists every step and "
        "all the code a replay sends, from bundle.json. The console fingerprint is a consistency check, not "
        "a seal: whoever edits bundle.json can recompute it.",
    ]
    if host:
        lines += [
            "",
            "This is a unix-port bundle: its code runs on your machine with your rights, so `repro run` "
            "refuses it without `--allow-host`. Read the steps below first.",
        ]
    lines += ["", f"## Steps ({len(doc['steps'])})", "", "```"]
    lines += [_step_line(i, s) for i, s in enumerate(doc["steps"], 1)] or ["(none)"]
    lines += ["```", "", "## Console (as recorded; sent bytes shown as «…»)", "", "```", transcript.render().rstrip()]
    lines += ["```", ""]
    return "\n".join(lines)


def _state_lines(doc: Mapping[str, Any]) -> list[str]:
    state = doc.get("renode_state")
    if not state:
        return []
    if state["member"] is None:
        return [f"- Renode state: none ({state['reason']})"]
    return [
        f"- Renode state: `{state['member']}`, {state['compressed_size']} bytes compressed / {state['size']} bytes "
        f"({state['renode']}); `mpbench repro run --trust-state` loads it instead of booting the firmware "
        "(no image needed). Loading deserializes a .NET object graph written by the sender: only if you trust them",
    ]


def save(path: Path, doc: dict[str, Any], member: tuple[str, bytes] | list[tuple[str, bytes]] | None = None) -> int:
    """Write the bundle with its README and ``describe``'s members; the archive's size."""
    return write_bundle(path, doc, readme(doc, path.name), member)


def robot_bundle_path(outdir: Path, suite: str, test: str, taken: set[str]) -> Path:
    """``<outdir>/bundles/<suite>.<test>.fail.mpbundle``; a second one of that name in a run gets ``fail2``."""
    stem = f"{sanitize(suite, 100)}.{sanitize(test, 120)}.fail"  # stays under 255 bytes
    n = 1
    while (name := stem + (str(n) if n > 1 else "") + SUFFIX) in taken:
        n += 1
    taken.add(name)
    return outdir / "bundles" / name


def write_test_bundle(
    board: Board,
    since: tuple[int, int, str],
    *,
    suite: str,
    test: str,
    message: str,
    outdir: Path,
    taken: set[str],
    kind: str = "robot",
    notes: list[str] | None = None,
) -> tuple[Path, int]:
    """The bundle of a failed Robot (or pytest, ``kind``) test: its steps and console from ``since`` on.

    ``since`` is where the test took its board (`Use Board`, the pytest ``board`` fixture).
    """
    transcript_mark, steps_mark, mode = since
    steps = board.recorder.since(steps_mark) if board.recorder else []
    records = board.transcript.to_records()[transcript_mark:] if board.transcript else []
    summary = (message.strip().splitlines() or ["the test failed"])[0]
    failure = {"summary": summary, "detail": message}
    origin = {"kind": kind, "suite": suite, "test": test}
    doc, member = describe(board, steps, records, mode, origin, failure, notes=notes)
    path = robot_bundle_path(outdir, suite, test, taken)
    return path, save(path, doc, member)


__all__ = ["describe", "readme", "robot_bundle_path", "sanitize", "save", "short", "write_test_bundle"]
