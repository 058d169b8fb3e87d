"""``mpbench repro create | run | show``: bug reports anyone can replay.

``create`` boots a board deterministically, runs a script with every session
call recorded and writes the bundle; ``run`` replays a bundle and says
whether the board said the same thing (exit 0), something different (exit 1),
could not be set up (exit 2: a bad bundle, or what it needs is not here) or
the board, emulator or time limit failed it (exit 3); ``show`` prints what a
replay would do, from bundle.json, without running anything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mpbench.board import Board
from mpbench.errors import EXIT_FAILED, EXIT_OK, MpbenchError, SessionError
from mpbench.platform_loader import find_platform
from mpbench.repro.bundle import SUFFIX, read_bundle, short
from mpbench.repro.capture import describe, sanitize, save
from mpbench.repro.replay import default_max_time, diff, prepare, replay_once, summary, visible
from mpbench.repro.show import render
from mpbench.repro.state import ignored_note
from mpbench.repro.state import requested as requested_state

#: ``repro run``: the replay gave the recording's fingerprint every time, or not.
EXIT_SAME, EXIT_DIFFERENT = EXIT_OK, EXIT_FAILED


def _read_script(name: str) -> str:
    """The script to record, or one line saying why it cannot be read (exit 2), never a traceback."""
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_bytes().decode("utf-8")
    except OSError as e:
        raise MpbenchError(f"{name}: cannot read the script: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise MpbenchError(f"{name}: the script is not UTF-8 text ({e.reason} at byte {e.start})") from e


def _platforms_dir(args: argparse.Namespace) -> Path | None:
    return Path(args.platforms) if getattr(args, "platforms", None) else None


def do_create(args: argparse.Namespace) -> int:
    requested_state()  # a bad MPBENCH_BUNDLE_STATE is refused before the board boots
    platform = find_platform(args.platform, _platforms_dir(args))
    script = "stdin" if args.script == "-" else Path(args.script).name
    code = _read_script(args.script)
    out = Path(args.output) if args.output else Path(f"{sanitize(Path(script).stem)}.{platform.name}{SUFFIX}")
    board = Board(
        platform,
        firmware=Path(args.firmware) if args.firmware else None,
        timeout=args.timeout,
        boot_timeout=args.boot_timeout,
        fetch=args.fetch,
        deterministic=True,
        record=True,
    )
    failure: dict[str, str] | None = None
    try:
        board.start()
        assert board.session is not None and board.recorder is not None
        steps_mark, transcript_mark = board.recorder.mark(), board.transcript.mark()
        try:
            result = board.session.exec(code, args.timeout)
        except SessionError as e:  # a hang or a crash is worth a report too
            failure = {"summary": f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}", "detail": str(e)}
            print(f"mpbench: {e}", file=sys.stderr)
        else:
            sys.stdout.write(result.stdout)
            if result.traceback is not None:
                sys.stdout.flush()
                sys.stderr.write(result.stderr)
                tb = result.traceback
                failure = {"summary": f"the script raised {tb.exc_type}: {tb.message}".rstrip(": "), "detail": tb.text}
    finally:
        board.stop()
    steps = board.recorder.since(steps_mark)
    records = board.transcript.to_records()[transcript_mark:]
    origin = {"kind": "cli", "script": script}
    doc, member = describe(board, steps, records, "raw", origin, failure, args.include_firmware)
    size = save(out, doc, member)
    digest = short(doc["transcript"]["fingerprint"])
    state = doc.get("renode_state")
    carried = f", a Renode state of {state['compressed_size']} bytes" if state and state["member"] else ""
    print(
        f"mpbench: wrote {out} ({size} bytes{carried}, {len(steps)} step(s), fingerprint {digest}); "
        f"replay it with `mpbench repro run {out}`",
        file=sys.stderr,
    )
    return EXIT_OK


def do_run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise MpbenchError(f"--repeat must be at least 1, not {args.repeat}")
    bundle = read_bundle(args.bundle)
    doc = bundle.doc
    setup = prepare(
        bundle,
        _platforms_dir(args),
        args.allow_host,
        Path(args.firmware) if args.firmware else None,
        args.fetch,
        args.trust_state,
    )
    runs = []
    try:
        max_time = default_max_time(bundle, setup.platform) if args.max_time is None else args.max_time
        for note in setup.notes:
            print(f"mpbench: {visible(note)}", file=sys.stderr)
        state_note = None if args.trust_state else ignored_note(bundle)
        if state_note:
            print(f"mpbench: {visible(state_note)}", file=sys.stderr)
        elif setup.trusted is not None:
            print(
                f"mpbench: --trust-state: loading the bundle's Renode state ({setup.trusted.store.size()} bytes, "
                "checked) instead of booting the firmware",
                file=sys.stderr,
            )
        det = doc["determinism"]
        how = (
            f"timing as recorded: {det['method']} {det['setting'] or ''}".rstrip()
            if det["used"]
            else "timing as recorded: host-timed, not deterministic"
        )
        print(
            f"replaying {bundle.path}: board {setup.platform.name}, firmware {visible(doc['firmware']['id'])} "
            f"(sha256 {short(doc['firmware']['sha256'])}), {len(doc['steps'])} step(s), {visible(how)}; "
            f"each run stops after {max_time:.1f} s (--max-time)"
        )
        for i in range(1, args.repeat + 1):
            run = replay_once(bundle, setup, max_time)
            if run.determinism is not None and run.determinism.active != bool(det["used"]):
                print(
                    f"mpbench: the recording {'used' if det['used'] else 'did not use'} {det['method']}, but your "
                    f"platform file makes this replay run {'with' if run.determinism.active else 'without'} it",
                    file=sys.stderr,
                )
            verdict = "same" if run.fingerprint == bundle.fingerprint else "different"
            print(f"run {i}/{args.repeat}: fingerprint {run.fingerprint} {verdict}", flush=True)
            for err in run.errors:
                print(f"  {visible(err)}")
            runs.append(run)
    finally:
        setup.close()
    print(summary([r.fingerprint for r in runs], bundle.fingerprint) + f"; recorded {short(bundle.fingerprint)}")
    differing = [r for r in runs if r.fingerprint != bundle.fingerprint]
    if not differing:
        print("same")
        return EXIT_SAME
    print(f"different: {len(differing)}/{len(runs)} run(s) differ from the recording")
    print(diff(bundle.records, differing[0].records, "replay"))
    return EXIT_DIFFERENT


def do_show(args: argparse.Namespace) -> int:
    """Print what a replay would do, from bundle.json; the sender's README only with ``--readme``, last."""
    bundle = read_bundle(args.bundle)
    print(render(bundle, include_readme=args.readme))
    return EXIT_OK


def do_repro(args: argparse.Namespace) -> int:
    return {"create": do_create, "run": do_run, "show": do_show}[args.repro_action](args)


def repro_args(p: argparse.ArgumentParser) -> None:
    from mpbench.cli import _board_options

    sub = p.add_subparsers(dest="repro_action", required=True)
    create = sub.add_parser("create", help="run a script on a board and write a bundle that replays it")
    _board_options(create)
    create.add_argument("script", help="MicroPython script to run, or - for stdin")
    create.add_argument("-o", "--output", help=f"the bundle to write (default: SCRIPT.BOARD{SUFFIX} here)")
    create.add_argument("--include-firmware", action="store_true", help="put the firmware image in the bundle")
    run = sub.add_parser("run", help="replay a bundle and compare the console with the recording")
    run.add_argument("bundle")
    run.add_argument("--repeat", type=int, default=1, help="replay N times and print each run's fingerprint")
    run.add_argument("--allow-host", action="store_true", help="replay a unix-port bundle (its code runs on this host)")
    run.add_argument("--firmware", help="boot this image (it must have the recorded sha256)")
    run.add_argument("--fetch", action="store_true", help="download the recorded firmware if it is not cached")
    run.add_argument(
        "--trust-state",
        action="store_true",
        help="load the Renode state the bundle carries instead of booting the firmware (no image needed); "
        "Renode deserializes the sender's .NET objects, so only for a sender you trust",
    )
    run.add_argument(
        "--max-time",
        type=_seconds,
        metavar="S",
        help="stop a run (boot and steps) after S seconds and stop the board, exit 3 (default: your platform's "
        "boot time limit + 30 s + 5 times the recording's duration, at most 3600 s)",
    )
    show = sub.add_parser("show", help="print every step and all code a replay would send; runs nothing")
    show.add_argument("bundle")
    show.add_argument(
        "--readme", action="store_true", help="also print the sender's README.md, last and marked as unverified"
    )


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (argparse turns the ValueError into a usage error, exit 2)."""
    value = float(text)
    if not (0 < value < float("inf")):
        raise ValueError(text)
    return value


__all__ = ["do_repro", "repro_args"]
