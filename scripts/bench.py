#!/usr/bin/env python3
"""How long booting and a REPL round trip take, bare and through mpbench.

For each board (micro:bit under QEMU by default; ``--board unix`` for the host
port, ``--board all`` for both, or any platform names, e.g. ``pyboard,spike-prime``)
it measures, N times each:

* bare boot-to-prompt (micro:bit and unix only): the emulator started by hand (for micro:bit the QEMU
  command from /work/shared/boards.md, with ``wait=on`` so no output is lost
  before the socket is connected; for unix the port under a pty), until
  ``>>> `` arrives;
* ``Board.start()``: mpbench's own start, until it sits at the raw prompt;
* ``exec("print(1)")``: one round trip through the raw REPL of a started board;
  on QEMU boards both over the default unix-socket console and over a
  loopback TCP console (``console: tcp``, with TCP_NODELAY and nodelay=on).

``--cpu`` also measures the share of a host core a board idle at its prompt
uses over 5 s (``/proc/PID/stat`` utime+stime), running and paused
(``Engine.pause``), and for boards with an ``icount`` setting also under
``deterministic`` (e.g. ``-icount ...,sleep=off``).

On Renode boards (whose virtual time the bench drives) it also measures the
round trip with ``MPBENCH_RENODE_CLOCK=free`` (Renode running on its own), a
cold start (``MPBENCH_RENODE_SNAPSHOTS=0``) apart from a start that loads
the boot snapshot, a ``Load`` of that snapshot inside an already running
Renode (what keeping one process per run would cost), and ``mpbench race``'s
instants per second on ``examples/race_extint_rmw.py`` (pyboard only). With
``--cpu`` the idle figure is a board at rest between two exec calls. Their
``Board.start()`` row is measured in a fresh Renode each time
(``MPBENCH_RENODE_POOL=0``); the "warm start (pooled)" row is a start in the
Renode an earlier board of the same Python process left parked (renode_pool.py),
and with ``--cpu`` a parked Renode's CPU share is given too.

``--robot`` also times ``robot --variable PLATFORMS:<the boards> robot/``
once (with Renode boards: once with ``MPBENCH_RENODE_POOL=0`` and once with the
pool, saying whether their conformance tables are equal); ``--pabot N`` times the same run under pabot with N processes
(``--chunk``), followed by ``mpbench report`` on its merged output, and says
whether its table equals the serial one (with ``--robot``). ``-n 0`` skips the
per-board measurements. This is a benchmark, not a test: it asserts nothing
beyond each step succeeding.

    .venv/bin/python scripts/bench.py [-n 10] [--board microbit|unix|all|NAME,NAME] [--cpu] [--robot] [--pabot N]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import pty
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mpbench.board import Board, resolve_firmware, unavailable_reason  # noqa: E402
from mpbench.platform import Platform  # noqa: E402
from mpbench.platform_loader import find_platform  # noqa: E402

MICROBIT_HEX = "/usr/share/firmware-microbit-micropython/firmware.hex"
PROMPT = b">>> "


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)


def bare_microbit(timeout: float = 10.0) -> float:
    """Seconds from starting qemu-system-arm by hand to the first ``>>> `` on its TCP serial."""
    binary = shutil.which("qemu-system-arm")
    if not binary:
        raise RuntimeError("qemu-system-arm not found")
    port = _free_port()
    argv = [binary, "-M", "microbit", "-device", f"loader,file={MICROBIT_HEX}", "-nographic"]
    argv += ["-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on", "-monitor", "none"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        end = started + timeout
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=1.0)
                break
            except OSError:
                if time.perf_counter() > end or proc.poll() is not None:
                    raise RuntimeError("could not connect to QEMU's serial port") from None
                time.sleep(0.002)
        with sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            while PROMPT not in buf:
                left = end - time.perf_counter()
                if left <= 0:
                    raise RuntimeError(f"no prompt from bare QEMU; got {buf[-200:]!r}")
                r, _, _ = select.select([sock], [], [], left)
                if r:
                    data = sock.recv(4096)
                    if not data:
                        raise RuntimeError(f"QEMU closed the serial port; got {buf[-200:]!r}")
                    buf += data
            return time.perf_counter() - started
    finally:
        _kill_group(proc)


def bare_unix(timeout: float = 10.0) -> float:
    """Seconds from starting the unix port under a pty to its first ``>>> ``."""
    command = str(resolve_firmware(find_platform("unix")).path)  # raises, saying why, if it is missing
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~(termios.ICANON | termios.ECHO)
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    started = time.perf_counter()
    proc = subprocess.Popen([command], stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        buf = b""
        end = started + timeout
        while PROMPT not in buf:
            left = end - time.perf_counter()
            if left <= 0:
                raise RuntimeError(f"no prompt from the unix port; got {buf[-200:]!r}")
            r, _, _ = select.select([master], [], [], left)
            if r:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    data = b""
                if not data:
                    raise RuntimeError(f"the unix port exited; got {buf[-200:]!r}")
                buf += data
        return time.perf_counter() - started
    finally:
        _kill_group(proc)
        os.close(master)


@contextlib.contextmanager
def environ(**values: str) -> Any:
    """Set environment variables for the length of a ``with`` block."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def fresh_process(fn: Callable[[], float]) -> Callable[[], float]:
    """``fn`` run with the Renode pool off: every start spawns its own Renode."""

    def run() -> float:
        with environ(MPBENCH_RENODE_POOL="0"):
            return fn()

    return run


def renode_pooled_starts(name: str, n: int) -> list[float]:
    """``n`` starts each in the Renode the board before it parked (one board started first to park one)."""
    start = board_start(name)
    with environ(MPBENCH_RENODE_POOL="1"):
        start()  # leaves its Renode parked
        return [start() for _ in range(n)]


def parked_cpu(name: str, seconds: float = 5.0) -> float:
    """Share of a core a parked (cleaned, empty) Renode uses."""
    from mpbench.engine import renode_pool

    with environ(MPBENCH_RENODE_POOL="1"):
        board_start(name)()
        parked = renode_pool.parked()
        if not parked:
            raise RuntimeError(f"{name}: no Renode was parked")
        return _cpu_share(parked[0].pid, seconds)


def board_start(name: str) -> Callable[[], float]:
    platform = find_platform(name)

    def run() -> float:
        started = time.perf_counter()
        board = Board(platform)
        try:
            board.start()
            return time.perf_counter() - started
        finally:
            board.stop()

    return run


def with_console(platform: Platform, kind: str) -> Platform:
    """``platform`` with its QEMU console on ``kind`` (``unix`` or ``tcp``)."""
    engines = dict(platform.engines)
    engines["qemu"] = {**engines["qemu"], "console": kind}
    return dataclasses.replace(platform, engines=engines)


def exec_round_trips(name: str, n: int, console: str | None = None) -> list[float]:
    """``n`` round trips of ``exec("print(1)")`` on one started board (``console``: QEMU's console kind)."""
    times = []
    platform = find_platform(name)
    if console:
        platform = with_console(platform, console)
    with Board(platform) as board:
        board.exec("print(0)").check()  # warm up: the first exec after boot
        for _ in range(n):
            started = time.perf_counter()
            out = board.exec("print(1)").check()
            times.append(time.perf_counter() - started)
            if out != "1\n":
                raise RuntimeError(f"exec('print(1)') printed {out!r}")
    return times


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_share(pid: int, seconds: float) -> float:
    before, started = _cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return (_cpu_seconds(pid) - before) / (time.perf_counter() - started)


def idle_cpu(name: str, deterministic: bool = False, seconds: float = 5.0) -> tuple[float, float]:
    """Share of a core the board's emulator uses idle at its prompt: (running, paused)."""
    with Board(find_platform(name), deterministic=deterministic) as board:
        assert board.engine is not None
        process = getattr(board.engine, "process", None)
        if process is None:
            raise RuntimeError(f"{name}: its engine has no process to measure")
        running = _cpu_share(process.pid, seconds)
        board.engine.pause()
        try:
            paused = _cpu_share(process.pid, seconds)
        finally:
            board.engine.resume()
        board.exec("print(1)").check()  # and it still answers
    return running, paused


def renode_cold_start(name: str) -> Callable[[], float]:
    """A Renode board's start without its boot snapshot (the machine built and booted)."""
    inner = board_start(name)

    def run() -> float:
        with environ(MPBENCH_RENODE_SNAPSHOTS="0", MPBENCH_RENODE_POOL="0"):
            return inner()

    return run


@contextlib.contextmanager
def renode_clock(choice: str):  # type: ignore[no-untyped-def]
    """``MPBENCH_RENODE_CLOCK=choice`` for the boards started inside (``free``: Renode runs on its own)."""
    old = os.environ.get("MPBENCH_RENODE_CLOCK")
    os.environ["MPBENCH_RENODE_CLOCK"] = choice
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MPBENCH_RENODE_CLOCK", None)
        else:
            os.environ["MPBENCH_RENODE_CLOCK"] = old


def renode_load_in_process(name: str, n: int) -> list[float]:
    """Seconds for ``Load`` of the boot snapshot in a Renode that is already running (one process per run)."""
    times = []
    with Board(find_platform(name)) as board:
        engine: Any = board.engine
        store = engine.snapshot
        if store is None or not store.usable():
            raise RuntimeError(f"{name}: no boot snapshot in the cache to load")
        for _ in range(n):
            started = time.perf_counter()
            engine.load_state(store.state_path)
            times.append(time.perf_counter() - started)
    return times


def renode_at_rest_cpu(name: str, seconds: float = 5.0) -> float:
    """Share of a core a stepped Renode board uses between two exec calls (nobody waits for it)."""
    with Board(find_platform(name)) as board:
        board.exec("print(1)").check()
        process: Any = getattr(board.engine, "process", None)
        share = _cpu_share(process.pid, seconds)
        board.exec("print(2)").check()
    return share


def race_rate(name: str) -> tuple[int, float, int]:
    """(instants, seconds of the sweep, outcomes) of ``mpbench race`` on the example lost-update script."""
    from mpbench.race import Race, offsets_of

    code = (ROOT / "examples" / "race_extint_rmw.py").read_text()
    race = Race(find_platform(name), code, "pin_edge", b"go", offsets_of(400, 20))
    race.sweep()
    return len(race.offsets), race.sweep_seconds, len(race.outcomes)


def repeat(fn: Callable[[], float], n: int) -> list[float]:
    return [fn() for _ in range(n)]


def time_robot(boards: list[str], processes: int = 0, env: dict[str, str] | None = None) -> tuple[float, str] | None:
    """Seconds one run of robot/ on ``boards`` took, and its conformance.json text.

    ``processes`` > 0 runs it under pabot (``--chunk``, PabotLib off) and
    includes the ``mpbench report`` that builds the table from pabot's output.
    """
    robot_dir = ROOT / "robot"
    if not robot_dir.is_dir():
        print("robot/ does not exist: skipping the Robot timing", file=sys.stderr)
        return None
    bindir = Path(sys.executable).parent
    robot = bindir / "robot"
    variable = ["--variable", "PLATFORMS:" + ",".join(boards)]
    with tempfile.TemporaryDirectory(prefix="mpbench-bench-robot-") as out:
        if processes:
            robot_cmd = [sys.executable, "-m", "robot"]
            argv = [str(bindir / "pabot"), "--no-pabotlib", "--processes", str(processes), "--chunk"]
            argv += ["--command", *robot_cmd, "--end-command", *variable, "--outputdir", out, str(robot_dir)]
        else:
            argv = [str(robot) if robot.exists() else "robot", *variable]
            argv += ["--outputdir", out, "--console", "dotted", str(robot_dir)]
        started = time.perf_counter()
        proc = subprocess.run(argv, cwd=out, capture_output=True, text=True, env={**os.environ, **(env or {})})
        if processes:
            report = [sys.executable, "-m", "mpbench.cli", "report", out]
            subprocess.run(report, cwd=ROOT, capture_output=True, text=True)
        took = time.perf_counter() - started
        table = Path(out, "conformance.json")
        text = table.read_text() if table.is_file() else ""
    if proc.returncode != 0:
        print(f"{argv[0]} exited with status {proc.returncode}:\n{proc.stdout[-2000:]}", file=sys.stderr)
    return took, text


def row(label: str, times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return f"{label:<48} {len(ms):>3}  {statistics.median(ms):>9.2f}  {min(ms):>9.2f}  {max(ms):>9.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10, help="repetitions of each measurement (default 10)")
    parser.add_argument("--board", default="microbit", help="microbit, unix, all, or platform names with commas")
    parser.add_argument("--cpu", action="store_true", help="also measure idle CPU, running and paused")
    parser.add_argument("--robot", action="store_true", help="also time the Robot suites in robot/ (once)")
    parser.add_argument("--pabot", type=int, default=0, metavar="N", help="also time them under pabot, N processes")
    args = parser.parse_args(argv)
    boards = ["microbit", "unix"] if args.board == "all" else args.board.split(",")
    bare = {"microbit": bare_microbit, "unix": bare_unix}
    print(f"{'measurement (ms)':<48} {'n':>3}  {'median':>9}  {'min':>9}  {'max':>9}")
    for name in boards if args.n > 0 else []:
        reason = unavailable_reason(find_platform(name))
        if reason:
            print(f"{name}: unavailable: {reason}")
            continue
        if name in bare:
            print(row(f"{name}: bare boot to '>>> '", repeat(bare[name], args.n)))
        renode = find_platform(name).engine == "renode" and os.environ.get("MPBENCH_RENODE_DRIVER") != "pyrenode3"
        if renode:
            fresh_starts = repeat(fresh_process(board_start(name)), args.n)
            print(row(f"{name}: Board.start() to raw prompt, fresh Renode", fresh_starts))
            print(row(f"{name}: warm start (pooled): in a parked Renode", renode_pooled_starts(name, args.n)))
            if args.cpu:
                print(f"{name}: a parked Renode uses {parked_cpu(name):.1%} of a core")
        else:
            print(row(f"{name}: Board.start() to raw prompt", repeat(board_start(name), args.n)))
        if find_platform(name).engine == "qemu":
            for kind in ("unix", "tcp"):
                print(row(f"{name}: exec('print(1)') round trip, {kind}", exec_round_trips(name, args.n, kind)))
        else:
            print(row(f"{name}: exec('print(1)') round trip", exec_round_trips(name, args.n)))
        renode = renode and os.environ.get("MPBENCH_RENODE_CLOCK") != "free"
        if renode:
            with renode_clock("free"):
                print(row(f"{name}: exec('print(1)') round trip, free clock", exec_round_trips(name, args.n)))
            print(row(f"{name}: cold start (no snapshot)", repeat(renode_cold_start(name), args.n)))
            print(row(f"{name}: Load of the snapshot in a running Renode", renode_load_in_process(name, args.n)))
            if name == "pyboard":
                count, took, outcomes = race_rate(name)
                rate = f"{count / took:.1f} instants/s"
                print(f"{name}: race: {count} instants in {took:.1f} s = {rate}, {outcomes} outcome(s)")
        if args.cpu and renode:
            print(f"{name}: at rest between two exec calls: {renode_at_rest_cpu(name):.1%} of a core")
        elif args.cpu:
            modes = [False, True] if find_platform(name).engine_config.get("icount") else [False]
            for deterministic in modes:
                running, paused = idle_cpu(name, deterministic)
                how = " (deterministic)" if deterministic else ""
                print(f"{name}: idle at its prompt{how}: {running:.1%} of a core running, {paused:.1%} paused")
    serial = fresh = None
    if args.robot:
        pooled = any(find_platform(b).engine == "renode" for b in boards)
        if pooled:
            fresh = time_robot(boards, env={"MPBENCH_RENODE_POOL": "0"})
            if fresh is not None:
                print(row(f"robot PLATFORMS:{','.join(boards)}, MPBENCH_RENODE_POOL=0", [fresh[0]]))
        serial = time_robot(boards)
        if serial is not None:
            print(row(f"robot PLATFORMS:{','.join(boards)}" + (", pooled" if pooled else ""), [serial[0]]))
            if pooled and fresh is not None:
                same = serial[1] == fresh[1] and serial[1] != ""
                print(f"pooled run's conformance table {'equals' if same else 'DIFFERS FROM'} the unpooled run's")
    if args.pabot:
        parallel = time_robot(boards, args.pabot)
        if parallel is not None:
            print(row(f"pabot --processes {args.pabot} PLATFORMS:{','.join(boards)}", [parallel[0]]))
            if serial is not None:
                same = serial[1] == parallel[1] and serial[1] != ""
                print(f"pabot's conformance table {'equals' if same else 'DIFFERS FROM'} the serial run's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
