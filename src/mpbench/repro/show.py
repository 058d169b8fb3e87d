"""``mpbench repro show``: what a replay of a bundle would do, read from bundle.json alone.

The README inside a bundle is the sender's: anyone can write "this only
prints 1" above steps that do something else. So ``show`` prints what a
replay uses, from the same decoded steps ``replay_once`` runs: every step,
every block of code in full, every byte written, every text or pattern
waited for, interrupts, resets and stimuli by source name. Everything from
the bundle passes through ``visible`` (control characters, ANSI escapes and
invisible formatting characters are escaped), and every line of bundle text
is indented behind a ``|`` so it cannot pose as mpbench's own output.

The sender's README is not printed unless asked for (``--readme``), and then
last, marked as unverified, each line prefixed ``sender|``: everything it
says that is true is already shown above from bundle.json, so by default it
could only add what is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mpbench.console.transcript import Chunk, Transcript
from mpbench.repro.bundle import Bundle
from mpbench.repro.replay import visible
from mpbench.repro.state import describe_carried
from mpbench.session.recorder import Step

README_HEAD = (
    "===== README.md as the sender wrote it: UNVERIFIED text from their machine; it may not match "
    "bundle.json, which is what a replay uses (shown above). Control characters are escaped. ====="
)
README_TAIL = "===== end of the sender's README.md ====="
README_LEFT_OUT = (
    "The sender's README.md is not shown: it is their text, and what a replay does is listed above from "
    "bundle.json. `mpbench repro show --readme` prints it after all of this, marked as unverified."
)


def _block(text: str, prefix: str = "       | ") -> Iterator[str]:
    """Lines of bundle text, each behind ``prefix``; a trailing newline adds no empty line."""
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    for line in lines:
        yield prefix + visible(line)


def _hidden_count(text: str) -> int:
    return sum(1 for c in text if not (c.isprintable() or c in "\n\t"))


def _timeout(value: Any, default: float) -> str:
    return f"the session's default, {default:g} s" if value is None else f"{value:g} s"


def _pattern(value: Any) -> str:
    if isinstance(value, bytes):
        return f"the text {value!r}"
    flags = []
    options = value.options
    if not options.case_sensitive:
        flags.append("IGNORECASE")
    if options.dot_nl:
        flags.append("DOTALL")
    shown = f"the RE2 pattern {value.pattern!r}"  # (?m) leads the pattern when it was MULTILINE
    return shown + (f" ({', '.join(flags)})" if flags else "")


def _code(kind: str, code: str, what: str) -> list[str]:
    n = len(code.split("\n")) - (1 if code.endswith("\n") else 0)
    out = [f"{what}, {n} line(s), {len(code)} character(s), sent as a block through the raw REPL:"]
    out += list(_block(code))
    hidden = _hidden_count(code)
    if hidden:
        out.append(
            f"       ({hidden} character(s) a terminal would not show, such as control or direction-changing "
            "characters, are escaped above as \\xNN / \\uNNNN; they are sent as they are)"
        )
    return out


def describe_step(step: Step, default_timeout: float, engine: str) -> list[str]:
    """What a replay does for ``step``: a header line, then any code or data in full."""
    a, kind = step.args, step.kind
    if kind == "exec":
        lines = _code(kind, a["code"], f"run this block to its end (timeout {_timeout(a['timeout'], default_timeout)})")
    elif kind == "start":
        lines = _code(
            kind,
            a["code"],
            f"start this block and go on while it runs (timeout {_timeout(a['timeout'], default_timeout)}; "
            f"line numbers offset by {a['line_offset']})",
        )
    elif kind == "wait_for":
        lines = [
            f"wait until the running block prints the text {a['text']!r} "
            f"(timeout {_timeout(a['timeout'], default_timeout)})"
        ]
    elif kind == "read_until":
        lines = [
            f"read the console until {_pattern(a['pattern'])} matches "
            f"(timeout {_timeout(a['timeout'], default_timeout)})"
        ]
    elif kind == "write":
        lines = [f"send {len(a['data'])} byte(s) to the running block's input: {a['data']!r}"]
    elif kind == "interrupt":
        how = "SIGINT to the unix port" if engine == "host" else "Ctrl-C (0x03) on the console"
        lines = [f"interrupt the running block: {how}"]
    elif kind == "follow":
        lines = [f"wait for the running block's result (timeout {_timeout(a['timeout'], default_timeout)})"]
    elif kind == "type":
        lines = [
            f"type one line at the friendly >>> prompt, then Enter: {a['line']!r} "
            f"(timeout {_timeout(a['timeout'], default_timeout)})"
        ]
    elif kind == "soft_reset":
        lines = [f"Ctrl-D at the friendly prompt (timeout {_timeout(a['timeout'], default_timeout)})"]
    elif kind == "recover":
        lines = [
            "interrupt whatever runs (Ctrl-C) and get back to the raw prompt "
            f"(timeout {_timeout(a['timeout'], default_timeout)})"
        ]
    elif kind == "reset":
        lines = [
            "hard reset of the board (the emulator resets or restarts it), back to the raw prompt"
            if a["hard"]
            else "soft reset (Ctrl-D, or a restart where the board has none), back to the raw prompt"
        ]
    elif kind == "stimulate":
        lines = [
            f"raise the IRQ source {a['source']!r} from outside the firmware; the commands that do it come "
            "from your local platform file of this board, never from the bundle"
        ]
    else:  # the reader refuses unknown kinds; say so rather than hide one
        lines = [f"unknown step kind {kind!r}"]
    outcome = step.error or (f"the board's code raised {step.raised}" if step.raised else None)
    if outcome:
        lines.append(f"       recorded outcome: {visible(outcome)}")
    return lines


def summary_rows(bundle: Bundle) -> list[tuple[str, str]]:
    """The ``key value`` lines at the top: what the bundle is and what a replay boots."""
    doc = bundle.doc
    fw, det, eng, origin = doc["firmware"], doc["determinism"], doc["engine"], doc["origin"]
    if fw["included"]:
        image = f"included as {fw['included']}: a replay boots the sender's image (inside the emulator only)"
    else:
        image = "not included: a replay boots your own image, which must have this sha256"
    if det["used"]:
        timing = f"recorded with {det['method']} {det['setting'] or ''}".rstrip() + "; a replay uses the same"
    else:
        timing = "recorded with host timing (not deterministic); a replay runs host-timed too"
    if origin["kind"] in ("robot", "pytest"):
        runner = "Robot" if origin["kind"] == "robot" else "pytest"
        made = f"{runner} test {origin.get('test', '?')!r} of suite {origin.get('suite', '?')!r}"
    else:
        made = f"`mpbench repro create` of {origin.get('script', '?')!r}"
    written = f"written by mpbench {doc['mpbench_version']}"
    command = " ".join(eng["argv"])
    state = describe_carried(doc)
    rows = [
        (
            "bundle",
            f"{bundle.path} (format {doc['format']} version {doc['version']}, {written})",
        ),
        ("members", ", ".join(f"{k} ({v} bytes)" for k, v in bundle.member_sizes.items())),
        ("created", f"{doc['created']}, from {made}"),
        (
            "board",
            f"{doc['platform']['name']} (engine {eng['name']}); a replay boots your own platform file of this "
            "name, never the copy in the bundle",
        ),
        ("firmware", f"{fw['id']} {fw['version']} sha256 {fw['sha256'] or '(not pinned)'}; {image}"),
        ("timing", f"{timing}. {det['note']}"),
        (
            "engine",
            f"{eng['version'] or 'version unknown'}; recorded command line (never run): {command}",
        ),
        ("seed", f"{doc['seed']['value']} (used: {doc['seed']['used']})"),
        ("steps", str(len(doc["steps"]))),
        ("fingerprint", f"{bundle.fingerprint} (a consistency check, not a seal: anyone can recompute it)"),
    ]
    if state is not None:
        rows.insert(5, ("state", state))
    return rows


def render(bundle: Bundle, include_readme: bool = False) -> str:
    """Everything ``repro show`` prints, as one text."""
    doc = bundle.doc
    out = [f"{key:12} {visible(value)}" for key, value in summary_rows(bundle)]
    failure = doc["failure"]
    out += ["", "What the sender says failed (their text, not checked):"]
    if failure:
        out += _block(failure["summary"], "  | ")
        if failure["detail"].strip() != failure["summary"].strip():
            out += _block(failure["detail"].rstrip("\n"), "  | ")
    else:
        out.append("  (nothing: the bundle says nothing failed)")

    engine, default = doc["engine"]["name"], float(doc["session"]["timeout"])
    steps = bundle.steps  # decoded exactly as a replay decodes them
    out += ["", f"What a replay does, from bundle.json (this is everything it sends), {len(steps)} step(s):"]
    boot = f"  0. boot {doc['platform']['name']} from your platform file and wait for its prompt, enter the raw REPL"
    if (doc.get("renode_state") or {}).get("member"):
        boot += " (with --trust-state: load the carried Renode state instead of booting)"
    if doc["session"]["start_mode"] == "friendly":
        boot += ", then leave it for the friendly >>> prompt (Ctrl-B)"
    out.append(boot)
    for i, step in enumerate(steps, 1):
        lines = describe_step(step, default, engine)
        out.append(f"{i:3}. [{step.t:9.3f} s] {step.kind}: {lines[0]}")
        out += lines[1:]
    if not steps:
        out.append("  (no steps: the replay boots the board and compares its output)")

    records = bundle.records
    transcript = Transcript(chunks=[Chunk(r["t"], r["dir"], r["data"].encode("latin-1")) for r in records])
    out += ["", "Console as recorded (what the board printed; what was sent is shown as «…»):"]
    out += _block(transcript.render().rstrip("\n"), "  | ") if records else ["  (empty)"]
    out.append("")
    if include_readme:
        out += [README_HEAD, *_block(bundle.readme.rstrip("\n"), "sender| "), README_TAIL]
    else:
        out.append(README_LEFT_OUT)
    return "\n".join(out)


__all__ = ["README_HEAD", "README_LEFT_OUT", "README_TAIL", "describe_step", "render", "summary_rows"]
