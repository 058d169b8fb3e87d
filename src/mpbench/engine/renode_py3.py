"""Renode driven through pyrenode3 (opt-in: ``MPBENCH_RENODE_DRIVER=pyrenode3``).

The same boards and board script as the monitor driver (``renode.py``, whose
script builder this reuses), but Renode runs inside a worker process
(``renode_py3_worker.py``) that hosts it with pythonnet and pyrenode3 and talks
to this engine over two pipes, never a socket. What that gives over the
monitor: every byte the UART sends arrives with the virtual time of the
instruction that wrote it (1 µs resolution), the clock is read directly instead
of parsing ``emulation GetTimeSourceInfo`` from the monitor's output, and the
emulation can be paused at the exact instruction that printed a pattern
(``pause_on``). One worker per board: pyrenode3 holds one emulation per
process, and a crash of the hosted Mono runtime stays in that process.

pythonnet is on PyPI; pyrenode3 is not, so like Renode itself it is installed
by hand: into any virtualenv whose python ``MPBENCH_PYRENODE3_PYTHON`` names
(default: the interpreter running mpbench). pyrenode3 finds Renode through its
own variables (``PYRENODE_BUILD_DIR`` for a source build, ``PYRENODE_PKG``, or
an installed package). When any of it is missing, ``unavailable_reason`` says
what, and boards skip with that reason.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from array import array
from pathlib import Path
from typing import Any

from mpbench.console.base import Console
from mpbench.engine.base import Determinism, Engine, EngineState, register_engine, requires_running
from mpbench.engine.process import ManagedProcess, install_signal_handlers
from mpbench.engine.renode import START_TIMEOUT, RenodeEngine, board_file
from mpbench.errors import EngineError, EngineUnavailable, MpbenchError, SessionError
from mpbench.platform import Platform

NAME = "renode-pyrenode3"
#: ``MPBENCH_RENODE_DRIVER``: which driver runs platforms whose engine is ``renode``.
DRIVER_VAR = "MPBENCH_RENODE_DRIVER"
DRIVERS = {"monitor": "renode", "pyrenode3": NAME}
PYTHON_VAR = "MPBENCH_PYRENODE3_PYTHON"
WORKER = Path(__file__).with_name("renode_py3_worker.py")
#: Host seconds a question to the worker (the time, a monitor command) may take.
ANSWER_TIMEOUT = 30.0


def driver_for(engine: str) -> str:
    """The engine that runs ``engine``: ``renode`` becomes the driver ``MPBENCH_RENODE_DRIVER`` picks."""
    choice = os.environ.get(DRIVER_VAR, "")
    if engine != "renode" or not choice:
        return engine
    if choice not in DRIVERS:
        raise MpbenchError(f"{DRIVER_VAR}={choice!r}: expected one of {', '.join(DRIVERS)}")  # bad input: exit 2
    return DRIVERS[choice]


def worker_python() -> str:
    """The interpreter that runs the worker (absolute: the worker runs in the engine's folder)."""
    return os.path.abspath(os.environ.get(PYTHON_VAR) or sys.executable)


@functools.cache
def _probe(python: str, env_key: tuple[tuple[str, str], ...]) -> str | None:
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return f"{PYTHON_VAR}={python} is not an executable file"
    try:
        out = subprocess.run(
            [python, str(WORKER), "--probe"], capture_output=True, text=True, timeout=60, env=dict(env_key)
        )
        return json.loads(out.stdout.strip().splitlines()[-1])["reason"]
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError, KeyError) as e:
        return f"{python} {WORKER.name} --probe failed: {e}"


def pyrenode3_reason() -> str | None:
    """None when pythonnet, pyrenode3, Mono and a Renode build are there (nothing is loaded), else what is missing."""
    return _probe(worker_python(), tuple(sorted(os.environ.items())))


class WorkerConsole(Console):
    """The UART as the worker reports it: bytes in from ``feed``, bytes out as ``write`` commands."""

    def __init__(self, engine: PyRenode3Engine):
        super().__init__()
        self.engine = engine
        self.url = "pyrenode3://" + engine.platform.name
        self._buf = bytearray()
        self._ended = False
        self._cond = threading.Condition()

    def feed(self, data: bytes | None) -> None:
        with self._cond:
            if data is None:
                self._ended = True
            else:
                self._buf += data
            self._cond.notify_all()

    def restart(self) -> None:
        with self._cond:
            self._buf.clear()
            self._ended = False

    def _write(self, data: bytes) -> None:
        try:
            self.engine.command(op="write", data=data.hex())
        except EngineError as e:
            raise SessionError(f"console {self.url} closed while writing: {e}") from e

    def _read(self, timeout: float) -> bytes | None:
        with self._cond:
            self._cond.wait_for(lambda: self._buf or self._ended, max(0.0, timeout))
            if self._buf:
                data = bytes(self._buf)
                self._buf.clear()
                return data
            return None if self._ended else b""

    def _close(self) -> None:
        self.feed(None)


class WorkerClock:
    """The emulation's virtual time, read from the worker (a pipe round trip) at most every ``every`` s.

    In between, the latest reading or received byte's stamp stands in: a
    stale reading can only make a wait longer, never shorter, and a session
    looks at the clock on every read of the console. A restarted worker
    counts from zero again; the time the workers before it reached is kept
    as a base, so the clock never runs backwards.
    """

    name = "virtual"

    def __init__(self, engine: PyRenode3Engine, every: float = 0.05):
        self.engine = engine
        self.every = every
        self.base = 0.0
        self.last = 0.0
        self._asked: float | None = None

    def new_process(self) -> None:
        self.base += self.last
        self.last = 0.0
        self._asked = None

    def seen(self, micros: int) -> None:
        """A received byte's stamp (called by the engine's reader thread)."""
        self.last = max(self.last, micros / 1e6)

    def fresh(self) -> float:
        """Ask the worker now."""
        self._asked = time.monotonic()
        self.last = max(self.last, self.engine.ask(op="time")["t"] / 1e6)
        return self.base + self.last

    def now(self) -> float:
        if self._asked is None or time.monotonic() - self._asked >= self.every:
            return self.fresh()
        return self.base + self.last


@register_engine(NAME)
class PyRenode3Engine(Engine):
    @classmethod
    def unavailable_reason(cls, platform: Platform) -> str | None:
        for key in ("repl", "script"):
            path = board_file(platform, key)
            if path is not None and not path.is_file():
                return f"{platform.path}: engines.renode.{key}: {path} does not exist"
        reason = pyrenode3_reason()
        return f"pyrenode3 driver ({DRIVER_VAR}=pyrenode3): {reason}" if reason else None

    def __init__(self, platform: Platform, firmware: Any):
        super().__init__(platform, firmware)
        self.process: ManagedProcess | None = None
        self._console: WorkerConsole | None = None
        self._events: Any = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._answers: dict[int, dict[str, Any]] = {}
        self._answered = threading.Condition(self._lock)
        self._next_id = 0
        self._ready: dict[str, Any] | None = None
        self._error = ""
        self._clock = WorkerClock(self)
        #: Every received byte's virtual time in µs since this worker started (``rx_data`` holds the bytes).
        self.rx_times: array[int] = array("q")
        self.rx_data = bytearray()
        #: ``(virtual µs of the matching byte, virtual µs once paused)`` of the last ``pause_on``.
        self.paused_on: tuple[int, int] | None = None
        self._paused_on = threading.Event()
        self.paused = False
        self.started_at = 0.0

    # -- the board script (the monitor driver's, without its pty terminal) --------------
    def build_script(self) -> Path:
        builder = RenodeEngine(self.platform, self.firmware)
        shutil.rmtree(builder.workdir, ignore_errors=True)
        builder.workdir = self.workdir
        uart = self.platform.engine_config["uart"]
        dropped = ('emulation CreateUartPtyTerminal "console"', f"connector Connect {uart} console")
        lines = [ln for ln in builder.build_script().read_text().splitlines() if not ln.startswith(dropped)]
        path = self.workdir / "board-pyrenode3.resc"
        path.write_text("\n".join(lines) + "\n")
        return path

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        install_signal_handlers()
        reason = self.unavailable_reason(self.platform)
        if reason:
            raise EngineUnavailable(reason, engine=NAME)
        script = self.build_script()
        machine = self.platform.name
        self.argv = [
            worker_python(),
            str(WORKER),
            "EVENTS_FD",
            str(script),
            machine,
            self.platform.engine_config["uart"],
        ]
        self._spawn()
        self.state = EngineState.RUNNING

    def _spawn(self) -> None:
        env = dict(os.environ, TMPDIR=str(self.workdir / "tmp"), XDG_CONFIG_HOME=str(self.workdir / "config"))
        for d in ("tmp", "config"):
            (self.workdir / d).mkdir(exist_ok=True)
        read_fd, write_fd = os.pipe()
        argv = list(self.argv)
        argv[2] = str(write_fd)
        self._ready, self._error, self.paused = None, "", False
        self._clock.new_process()
        self.rx_times, self.rx_data = array("q"), bytearray()
        if self._console is None:
            self._console = WorkerConsole(self)
        else:  # a restart keeps one console object, and so one transcript
            self._console.restart()
        self.started_at = time.monotonic()
        try:
            # Its folder as working directory: Mono writes mono_crash.* files there when it crashes.
            self.process = ManagedProcess(
                argv,
                self.workdir / "pyrenode3.log",
                stdin=subprocess.PIPE,
                pass_fds=(write_fd,),
                env=env,
                cwd=self.workdir,
            )
        finally:
            os.close(write_fd)
        self._events = os.fdopen(read_fd, "rb")
        self._reader = threading.Thread(target=self._read_events, args=(self._events,), name=NAME, daemon=True)
        self._reader.start()
        end = time.monotonic() + START_TIMEOUT
        with self._lock:
            while self._ready is None and not self._error and self.process.alive() and time.monotonic() < end:
                self._answered.wait(0.1)
        if self._ready is None:
            why = self._error or ("exited" if not self.process.alive() else f"timed out after {START_TIMEOUT:.0f} s")
            code = self.process.returncode()
            tail = self.log_tail()
            self._quit()
            raise EngineError(
                f"pyrenode3 worker could not set up {self.platform.name}: {why}",
                engine=NAME,
                argv=self.argv,
                returncode=code,
                stderr_tail=tail,
            )
        self.command(op="start")

    def _read_events(self, stream: Any) -> None:
        """One thread per worker: console bytes to the console, answers to whoever asked."""
        for line in stream:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("ev")
            if kind == "rx":
                data = bytes.fromhex(event["data"])
                self.rx_data += data
                self.rx_times.extend(event["t"])
                self._clock.seen(event["t"][-1])
                if self._console is not None:
                    self._console.feed(data)
                continue
            with self._lock:
                if kind == "reply":
                    self._answers[event["id"]] = event
                elif kind == "ready":
                    self._ready = event
                elif kind == "error":
                    self._error = event.get("msg", "")
                elif kind == "paused_on":
                    self.paused_on = (event["t"], event["now"])
                    self.paused = True
                    self._paused_on.set()
                self._answered.notify_all()
        with self._lock:  # the worker is gone: nobody will answer, and the console has ended
            self._error = self._error or "the pyrenode3 worker exited"
            self._answered.notify_all()
        if self._console is not None:
            self._console.feed(None)

    # -- talking to the worker ---------------------------------------------------------------
    def command(self, **cmd: Any) -> None:
        process = self.process
        if process is None or not process.alive() or process.proc.stdin is None:
            raise EngineError("the pyrenode3 worker is not running", engine=NAME, stderr_tail=self.log_tail())
        try:
            process.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
            process.proc.stdin.flush()
        except (OSError, ValueError) as e:
            raise EngineError(f"the pyrenode3 worker stopped listening: {e}", engine=NAME) from e

    def ask(self, **cmd: Any) -> dict[str, Any]:
        """Send a command that answers, and wait for the answer."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        self.command(id=ident, **cmd)
        with self._lock:
            if not self._answered.wait_for(
                lambda: ident in self._answers or bool(self._error and self._ready), ANSWER_TIMEOUT
            ):
                raise EngineError(f"the pyrenode3 worker did not answer {cmd['op']} in {ANSWER_TIMEOUT:.0f} s")
            if ident not in self._answers:
                raise EngineError(f"the pyrenode3 worker failed: {self._error}", engine=NAME)
            return self._answers.pop(ident)

    def monitor(self, command: str) -> str:
        """Run one Renode monitor command in the worker; its output, or EngineError with Renode's error."""
        if self._console is not None:
            self._console.transcript.event(f"renode: {command}")
        answer = self.ask(op="monitor", cmd=command)
        if answer.get("err", "").strip():
            raise EngineError(f"Renode: {command}: {answer['err'].strip()}", engine=NAME)
        return str(answer.get("out", ""))

    # -- what the monitor driver cannot do -------------------------------------------------------
    def pause_on(self, pattern: bytes) -> None:
        """Pause the emulation at the instruction that completes ``pattern`` on the UART (call ``wait_paused``)."""
        self._paused_on.clear()
        self.paused_on = None
        self.command(op="pause_on", data=pattern.hex())

    def wait_paused(self, timeout: float) -> tuple[int, int]:
        """``(µs of the byte that matched, µs at which the emulation stopped)`` once ``pause_on`` hit."""
        if not self._paused_on.wait(timeout) or self.paused_on is None:
            raise EngineError(f"the board did not print the pause pattern within {timeout:.0f} s", engine=NAME)
        return self.paused_on

    def virtual_time(self, wait: float = 5.0) -> float | None:
        try:
            return self._clock.fresh()
        except EngineError:
            return None

    def clock(self) -> WorkerClock:
        return self._clock

    # -- the Engine contract ------------------------------------------------------------------
    @requires_running
    def reset(self) -> None:
        """Restart the worker from the same script: flash, pins and hooks come back as at first boot."""
        if self._console:
            self._console.transcript.event("reset (restarting the pyrenode3 worker)")
        self._quit()
        self._spawn()

    def pause(self) -> None:
        if self.state is EngineState.RUNNING and not self.paused and self.alive():
            self.command(op="pause")
            self.paused = True

    def resume(self) -> None:
        if self.state is EngineState.RUNNING and self.paused and self.alive():
            self.command(op="start")
        self.paused = False

    @requires_running
    def stimulate(self, commands: tuple[str, ...] | list[str]) -> None:
        for command in commands:
            self.monitor(command)

    def _quit(self) -> None:
        if self.process is None:
            return
        try:
            self.command(op="quit")
            self.process.proc.wait(5.0)
        except (EngineError, subprocess.TimeoutExpired):
            pass
        self.process.stop()
        self.process = None
        if self._reader is not None:
            self._reader.join(5.0)
        if self._events is not None:
            self._events.close()
            self._events = None

    def _stop(self) -> None:
        self._quit()
        if self._console is not None:
            self._console.close()
            self._console = None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = (self.workdir / "pyrenode3.log").read_text("utf-8", "replace")
        except OSError:
            text = ""
        logged = text.rstrip().splitlines()
        return "\n".join(([self._error] if self._error else []) + logged[-lines:])

    def alive(self) -> bool:
        return bool(self.process and self.process.alive())

    def determinism(self) -> Determinism:
        return Determinism(
            "virtual-time",
            None,
            True,
            "Renode (hosted by pyrenode3) runs the board on virtual time and stamps every received byte with it; "
            "inputs and pin edges are still sent at host-timed moments",
        )

    def version(self) -> str:
        """Renode's version as the hosted runtime reports it (known once a worker started)."""
        said = (self._ready or {}).get("version", "")
        return f"Renode {said} (pyrenode3)" if said else "Renode (pyrenode3)"
