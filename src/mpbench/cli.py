"""``mpbench``: the command line for people.

A table of subcommands, one ``do_<verb>`` handler each, and one exit path
(mpremote's shape): ``MpbenchError`` becomes ``mpbench: <message>`` and its
exit status (``errors.EXIT_*``: 1 the script raised or did not finish, 2 bad
input, 3 the board or emulator failed), Ctrl-C exits 130, and every board is
stopped on the way out.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpbench.board import Board, unavailable_reason
from mpbench.errors import EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, MpbenchError
from mpbench.frozen import ENV as MICROPYTHON_SRC
from mpbench.session.repl import ReplMode

REPL_EXIT_KEY = b"\x1d"  # Ctrl-], as in telnet and miniterm


def _platforms_dir(args: argparse.Namespace) -> Path | None:
    return Path(args.platforms) if getattr(args, "platforms", None) else None


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows)


# -- platforms ------------------------------------------------------------------
def do_platforms(args: argparse.Namespace) -> int:
    from mpbench.platform_loader import find_platform, load_all, validate_files

    if args.action == "validate":
        from mpbench.platform_loader import default_directory

        paths = [Path(p) for p in args.files] or sorted((_platforms_dir(args) or default_directory()).glob("*.yaml"))
        errors = validate_files(paths)
        for e in errors:
            print(f"mpbench: {e}", file=sys.stderr)
        if not errors:
            print(f"{len(paths)} platform file(s) valid")
        return EXIT_INPUT if errors else EXIT_OK
    if args.action == "show":
        if not args.files:
            raise MpbenchError("usage: mpbench platforms show NAME")
        p = find_platform(args.files[0], _platforms_dir(args))
        print(p.path.read_text(), end="")
        reason = unavailable_reason(p)
        print(f"# status: {'available' if reason is None else 'unavailable: ' + reason}")
        return EXIT_OK
    rows = [["NAME", "ENGINE", "FIRMWARE", "STATUS"]]
    for p in load_all(_platforms_dir(args)).values():
        reason = unavailable_reason(p)
        rows.append([p.name, p.engine, p.firmware, "available" if reason is None else reason])
    print(_table(rows))
    return EXIT_OK


# -- firmware -------------------------------------------------------------------
def do_firmware(args: argparse.Namespace) -> int:
    from mpbench.firmware.cache import available, resolve, verify
    from mpbench.firmware.manifest import load_manifest

    manifest = load_manifest()
    ids = args.ids or list(manifest)
    unknown = [i for i in ids if i not in manifest]
    if unknown:
        raise MpbenchError(f"unknown firmware id(s) {', '.join(unknown)}; known: {', '.join(manifest)}")
    if args.action == "list":
        rows = [["ID", "VERSION", "SOURCE", "STATUS"]]
        for i in ids:
            e = manifest[i]
            reason = available(e)
            rows.append([i, e.version or "?", e.source.describe(), "ready" if reason is None else reason])
        print(_table(rows))
        return EXIT_OK
    failed = 0
    for i in ids:
        entry = manifest[i]
        if args.action == "verify" and not args.ids and available(entry) is not None:
            print(f"{i}: skipped ({available(entry)})")
            continue
        try:
            fw = resolve(entry, fetch=args.action == "fetch")
            verify(fw)
            print(f"{i}: ok  {fw.path}  " + (f"sha256 {fw.sha256}" if fw.sha256 else "(an installed command: no hash)"))
        except MpbenchError as e:
            failed += 1
            print(f"mpbench: {i}: {e}", file=sys.stderr)
    return EXIT_INPUT if failed else EXIT_OK


# -- run / repl -----------------------------------------------------------------
def _board(args: argparse.Namespace) -> Board:
    from mpbench.platform_loader import find_platform
    from mpbench.session.files import BoardFile

    platform = find_platform(args.platform, _platforms_dir(args))
    return Board(
        platform,
        firmware=Path(args.firmware) if args.firmware else None,
        timeout=args.timeout,
        boot_timeout=args.boot_timeout,
        fetch=args.fetch,
        files=[BoardFile.from_spec(spec) for spec in getattr(args, "put", None) or []],
    )


def read_script(name: str) -> str:
    """The text of a script file (``-``: standard input), or one line saying why it cannot be read."""
    where = "standard input" if name == "-" else name
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except FileNotFoundError:
        raise MpbenchError(f"{where}: no such file (expected a MicroPython script, or - for standard input)") from None
    except IsADirectoryError:
        raise MpbenchError(f"{where}: is a folder, not a script file") from None
    except OSError as e:
        raise MpbenchError(f"{where}: cannot be read: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MpbenchError(
            f"{where}: not UTF-8 text (byte {data[e.start]:#04x} at offset {e.start}); "
            "MicroPython reads its source as UTF-8"
        ) from None


def do_run(args: argparse.Namespace) -> int:
    code = read_script(args.script)
    board = _board(args)
    try:
        board.start()
        session = board.session
        assert session is not None
        try:
            result = session.exec(code, args.timeout)
        except KeyboardInterrupt:
            # Stop the script on the board too, as a person at its REPL would; whatever
            # that meets, the run still ends as interrupted (exit 130).
            if session.mode is ReplMode.RUNNING:
                with contextlib.suppress(MpbenchError, KeyboardInterrupt):
                    session.interrupt()
                    session.exec_follow(2.0)
            raise
        sys.stdout.write(result.stdout)
        if result.traceback is not None:
            sys.stdout.flush()
            sys.stderr.write(result.stderr)
            return EXIT_FAILED
        return EXIT_OK
    finally:
        if args.transcript and board.transcript is not None:
            Path(args.transcript).write_text(board.transcript.render())
        board.stop()


def do_repl(args: argparse.Namespace) -> int:
    board = _board(args)
    try:
        board.start()
        session = board.session
        assert session is not None
        session.enter_friendly()
        print(
            f"mpbench: connected to {board.name} ({board.engine.console_url if board.engine else ''}); "
            "leave with Ctrl-]",
            file=sys.stderr,
        )
        sys.stdout.buffer.write(b">>> ")
        sys.stdout.flush()
        _terminal(session.console, session.window)
        print("\nmpbench: left the REPL", file=sys.stderr)
        return EXIT_OK
    finally:
        board.stop()


def _terminal(console: object, window: int | None = None) -> None:
    """Copy bytes between this terminal and the board until Ctrl-] (``REPL_EXIT_KEY``).

    On boards with a small input buffer (``window``), pasted text goes in
    pieces, each after the board echoed most of the one before, so a paste
    into the micro:bit's REPL is not cut.
    """
    from mpbench.console import Console

    assert isinstance(console, Console)
    fd = sys.stdin.fileno()
    is_tty = os.isatty(fd)
    saved = termios.tcgetattr(fd) if is_tty else None
    try:
        if is_tty:
            tty.setraw(fd)
        while True:
            data = console.read(0.02)
            if data is None:
                return
            if data:
                os.write(sys.stdout.fileno(), data)
            r, _, _ = select.select([fd], [], [], 0)
            if r:
                key = os.read(fd, 1024)
                if not key or REPL_EXIT_KEY in key:
                    key = key.split(REPL_EXIT_KEY)[0]
                    if key:
                        console.write(key)
                    time.sleep(0.05)
                    return
                if key == b"\x03":
                    console.interrupt()
                else:
                    _paced_write(console, key, window)
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _paced_write(console: object, data: bytes, window: int | None) -> None:
    """Write ``data``; with a ``window``, no more than that many bytes before the board echoes them."""
    from mpbench.console import Console

    assert isinstance(console, Console)
    if window is None or len(data) <= window:
        console.write(data)
        return
    for i in range(0, len(data), window):
        piece = data[i : i + window]
        console.write(piece)
        echoed, end = 0, time.monotonic() + 0.5
        while echoed < len(piece) * 3 // 4 and time.monotonic() < end:
            got = console.read(0.02)
            if got is None:
                return
            echoed += len(got)
            os.write(sys.stdout.fileno(), got)


def do_serve(args: argparse.Namespace) -> int:
    from mpbench.engine.process import install_signal_handlers
    from mpbench.serve import PtyClientEnd, StdioClientEnd, serve

    install_signal_handlers()  # SIGTERM unwinds like Ctrl-C: the board is stopped, the link removed
    client = StdioClientEnd() if args.stdio else PtyClientEnd(Path(args.link) if args.link else None)
    board = _board(args)
    try:
        serve(board, client, pacing=not args.no_pacing)
        return EXIT_OK
    finally:
        board.stop()
        client.close()


def do_upstream(args: argparse.Namespace) -> int:
    from mpbench.errors import EXIT_BOARD
    from mpbench.upstream import run_upstream

    board = _board(args)
    try:
        outcomes = run_upstream(
            board,
            Path(args.micropython),
            args.tests,
            Path(args.result_dir),
            timeout=args.timeout,
            say=lambda line: print(line, flush=True),
        )
    finally:
        board.stop()
    if any(o.status == "fail" for o in outcomes):
        return EXIT_FAILED
    return EXIT_BOARD if any(o.status == "error" for o in outcomes) else EXIT_OK


# -- the table ------------------------------------------------------------------
def _board_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--platform", required=True, help="board name (see `mpbench platforms`) or a platform file")
    p.add_argument("--firmware", help="boot this image instead of the manifest's (ELF, .bin, .hex, .dfu)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the script (default 10)")
    p.add_argument("--boot-timeout", type=float, help="seconds to wait for the prompt (default: the platform's)")
    p.add_argument("--fetch", action="store_true", help="download the firmware if it is not cached")


def _platforms_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", default="list", choices=["list", "show", "validate"])
    p.add_argument("files", nargs="*", help="NAME for show; platform files for validate (default: all)")


def _firmware_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", default="list", choices=["list", "fetch", "verify"])
    p.add_argument("ids", nargs="*", help="firmware ids (default: all)")


def _run_args(p: argparse.ArgumentParser) -> None:
    _board_options(p)
    p.add_argument("script", help="MicroPython script to run, or - for stdin")
    p.add_argument("--transcript", help="write the whole console transcript to this file")
    p.add_argument(
        "--put",
        action="append",
        metavar="LOCAL[:REMOTE]",
        help="write this file into the board's filesystem before the script runs (repeatable)",
    )


def _repl_args(p: argparse.ArgumentParser) -> None:
    _board_options(p)


def _serve_args(p: argparse.ArgumentParser) -> None:
    _board_options(p)
    p.add_argument("--link", help="also make this path a symbolic link to the pty (removed on exit)")
    p.add_argument("--stdio", action="store_true", help="the console on stdin/stdout instead of a pty")
    p.add_argument(
        "--no-pacing", action="store_true", help="send the client's bytes unpaced (shows the input loss it prevents)"
    )


def _upstream_args(p: argparse.ArgumentParser) -> None:
    _board_options(p)
    p.set_defaults(timeout=30.0)  # run-tests.py's TEST_TIMEOUT
    checkout = os.environ.get(MICROPYTHON_SRC) or None
    p.add_argument(
        "--micropython",
        required=checkout is None,
        default=checkout,
        metavar="DIR",
        help=f"a MicroPython checkout (its tests/ folder); default ${MICROPYTHON_SRC}",
    )
    p.add_argument("--result-dir", default="upstream-results", help="where failing outputs and JSON go")
    p.add_argument("tests", nargs="*", help="tests or folders (default: tests/micropython and tests/basics)")


def _lazy(module: str, name: str) -> Callable:
    """A handler or argument setup that lives in another face, imported only when used."""

    def call(arg: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(module), name)(arg)

    return call


#: Every subcommand: handler, argument setup, help. The report and repro faces are listed
#: here and imported on use, so they never import this module to register themselves.
COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None], str]] = {
    "platforms": (do_platforms, _platforms_args, "list, show and validate board descriptions"),
    "firmware": (do_firmware, _firmware_args, "list, fetch and verify firmware images"),
    "run": (do_run, _run_args, "boot a board, run a script, print its output (exit 1 if it raised)"),
    "repl": (do_repl, _repl_args, "open an interactive REPL on a board (leave with Ctrl-])"),
    "serve": (do_serve, _serve_args, "boot a board and offer its REPL on a pty for mpremote and other tools"),
    "upstream": (do_upstream, _upstream_args, "run MicroPython's own tests from a checkout on a board"),
    "report": (
        _lazy("mpbench.report", "do_report"),
        _lazy("mpbench.report", "report_args"),
        "rebuild the conformance table from Robot's output.xml (several runs: merged; --compare OLD NEW)",
    ),
    "repro": (
        _lazy("mpbench.repro.cli", "do_repro"),
        _lazy("mpbench.repro.cli", "repro_args"),
        "create, replay and show bug-report bundles",
    ),
    "race": (
        _lazy("mpbench.race", "do_race"),
        _lazy("mpbench.race", "race_args"),
        "raise an external IRQ at every instant of a window after TEXT; group the outcomes (Renode boards)",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mpbench", description="Run MicroPython firmware on emulated boards.")
    parser.add_argument("--platforms", help="folder of platform files (default: the repository's platforms/)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log engine command lines and protocol steps")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_handler, setup, help_text) in COMMANDS.items():
        setup(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    import logging

    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    else:  # warnings (e.g. why a bundle carries no Renode state) read like every other line mpbench prints
        logging.basicConfig(level=logging.WARNING, format="mpbench: %(message)s")
    handler = COMMANDS[args.command][0]
    status = EXIT_INTERRUPTED
    try:
        status = handler(args)
    except MpbenchError as e:
        print(f"mpbench: {e}", file=sys.stderr)
        status = e.exit_status
    except KeyboardInterrupt:
        print("\nmpbench: interrupted", file=sys.stderr)
        status = EXIT_INTERRUPTED
    finally:
        from mpbench.engine.process import stop_all

        # A second Ctrl-C while emulators are being stopped must not turn exit 130 into a traceback.
        with contextlib.suppress(KeyboardInterrupt):
            stop_all()
    return status


if __name__ == "__main__":
    sys.exit(main())
