"""Renode: STM32 boards (Pyboard, SPIKE Prime) with real hard IRQs.

Renode is in no package registry this project installs from: users put
``renode`` on PATH or name it with ``RENODE_BIN`` (or the platform's
``binary_env``). Each instance runs headless with its monitor on standard
input (``--console``), so no monitor port listens on the network, and the
board's UART on a pseudo-terminal Renode creates in the engine's private
folder (Renode's socket terminal listens on every interface). Each instance
also gets its own TMPDIR and XDG_CONFIG_HOME: Renode deletes
``$TMPDIR/renode-*`` at start and writes config and caches under
``~/.config/renode``. Renode exits 0 even when a platform fails to load, so
its log is read for errors instead of trusting the exit status.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
import tempfile
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from mpbench.console.pty import PtyConsole
from mpbench.engine.base import Determinism, Engine, EngineState, register_engine, requires_running
from mpbench.engine.process import ManagedProcess, install_signal_handlers
from mpbench.errors import EngineError, EngineUnavailable
from mpbench.executables import find_executable
from mpbench.platform import Platform

#: Host seconds between repeated time questions while no answer has come.
REASK = 1.0
#: Seconds Renode may take from process start to having created the UART's pty.
START_TIMEOUT = 90.0
_VIRTUAL = re.compile(rb"Elapsed Virtual Time: (\d+):(\d+):(\d+(?:\.\d+)?)")
_ERROR = re.compile(r"\[ERROR\]|There was an error executing command|Could not find|No such command")


def find_renode(platform: Platform) -> tuple[str | None, str]:
    """The renode binary (the platform's variable, ``RENODE_BIN``, then PATH), or None and why not."""
    return find_executable("renode", [platform.engine_config.get("binary_env", ""), "RENODE_BIN"])


def board_file(platform: Platform, key: str) -> Path | None:
    """A file the platform's renode section names, relative to the platform file's folder."""
    rel = platform.engine_config.get(key)
    return (platform.path.parent / rel).resolve() if rel else None


@register_engine("renode")
class RenodeEngine(Engine):
    @classmethod
    def unavailable_reason(cls, platform: Platform) -> str | None:
        binary, why = find_renode(platform)
        if binary is None:
            hint = platform.engine_config.get("install_hint", "")
            return why + (f"; {hint}" if hint else "")
        for key in ("repl", "script"):
            path = board_file(platform, key)
            if path is not None and not path.is_file():
                return f"{platform.path}: engines.renode.{key}: {path} does not exist"
        return None

    def __init__(self, platform: Platform, firmware: Any):
        super().__init__(platform, firmware)
        self.process: ManagedProcess | None = None
        self._console: PtyConsole | None = None
        self._log_offset = 0
        # Renode answers its monitor only once the board script has loaded, which took over
        # 30 s on a loaded 2-core host (measured): give the first answer twice the boot timeout.
        self._clock = VirtualClock(self, first_answer=max(60.0, 2 * platform.boot_timeout))
        self._pump: threading.Thread | None = None
        self.paused = False

    @property
    def console_url(self) -> str:
        return self._console.url if self._console else ""

    # -- the board script ----------------------------------------------------------
    def _firmware_commands(self) -> list[str]:
        fw = self.firmware
        cfg = self.platform.engine_config
        if fw.format == "elf":
            link = self.workdir / "firmware.elf"
            link.symlink_to(Path(fw.path).resolve())
            cmds = [f"sysbus LoadELF @{link}"]
            lowest = None
        else:
            from mpbench.firmware.formats import read_segments

            cmds = []
            segments = read_segments(fw.path, fw.format, fw.load_address)
            for i, seg in enumerate(segments):
                part = self.workdir / f"segment{i}.bin"
                part.write_bytes(seg.data)
                cmds.append(f"sysbus LoadBinary @{part} {seg.address:#x}")
            lowest = min(seg.address for seg in segments)
        vector_table = cfg.get("vector_table", lowest)
        if vector_table is not None:
            cmds.append(f"sysbus.cpu VectorTableOffset {vector_table:#x}")
        return cmds

    @classmethod
    def image_accepts(cls, platform: Platform, remote: str) -> bool:
        """Files with an 8.3 name in the root folder go into the FAT image this engine writes."""
        fs = platform.engine_config.get("filesystem")
        if not fs or "boot_py" not in fs:
            return False
        from mpbench.firmware.fatimage import is_short_name

        name = remote[len("/flash/") :] if remote.startswith("/flash/") else remote.lstrip("/")
        return is_short_name(name) and name.lower() != "boot.py"

    def _filesystem_commands(self) -> list[str]:
        fs = self.platform.engine_config.get("filesystem")
        if not fs or "boot_py" not in fs:
            return []
        from mpbench.firmware.fatimage import fat12_image

        files = {"boot.py": fs["boot_py"].encode()}
        for remote, data in self.image_files.items():
            files[remote[len("/flash/") :] if remote.startswith("/flash/") else remote.lstrip("/")] = data
        image = self.workdir / "filesystem.img"
        image.write_bytes(fat12_image(files, int(fs["size"]), int(fs.get("sector_size", 512))))
        return [f"sysbus LoadBinary @{image} {int(fs['address']):#x}"]

    def build_script(self) -> Path:
        """Write the .resc that creates the machine, loads everything and wires the console."""
        cfg = self.platform.engine_config
        repl = board_file(self.platform, "repl")
        lines = [f'mach create "{self.platform.name}"']
        if repl is not None:
            lines.append(f"machine LoadPlatformDescription @{repl}")
        lines += self._firmware_commands()
        lines += self._filesystem_commands()
        for pin in cfg.get("gpio_at_reset", []):
            lines.append(f"sysbus.gpioPort{pin['port']} OnGPIO {int(pin['pin'])} {str(bool(pin['value'])).lower()}")
        for reg, value in cfg.get("registers", {}).items():
            lines.append(f"sysbus.cpu SetRegisterUnsafe {int(reg.lstrip('rR'))} {int(value):#x}")
        script = board_file(self.platform, "script")
        if script is not None:
            lines.append(f"include @{script}")
        lines.append(f'emulation CreateUartPtyTerminal "console" "{self.workdir / "console"}" true')
        lines.append(f"connector Connect {cfg['uart']} console")
        path = self.workdir / "board.resc"
        path.write_text("\n".join(lines) + "\n")
        return path

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        install_signal_handlers()
        binary, why = find_renode(self.platform)
        if binary is None:
            raise EngineUnavailable(self.unavailable_reason(self.platform) or why, engine="renode")
        script = self.build_script()
        self.argv = [binary, "--console", "--disable-xwt", "--plain", str(script)]
        self._spawn()
        self.state = EngineState.RUNNING

    def _spawn(self) -> None:
        env = dict(os.environ, TMPDIR=str(self.workdir / "tmp"), XDG_CONFIG_HOME=str(self.workdir / "config"))
        for d in ("tmp", "config"):
            (self.workdir / d).mkdir(exist_ok=True)
        pty_path = self.workdir / "console"
        with contextlib.suppress(FileNotFoundError):
            pty_path.unlink()
        log = self.workdir / "renode.log"
        self._log_offset = log.stat().st_size if log.exists() else 0
        self._clock.new_process()
        self.paused = False
        # Its output goes through the pipe to _read_output, which writes renode.log: the
        # process needs no log file of its own.
        self.process = ManagedProcess(
            self.argv, Path(os.devnull), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert self.process.proc.stdout is not None
        self._pump = threading.Thread(
            target=self._read_output, args=(self.process.proc.stdout, log), name="renode-output", daemon=True
        )
        self._pump.start()
        end = time.monotonic() + START_TIMEOUT
        while not pty_path.exists():
            errors = self._errors()
            if errors or not self.process.alive() or time.monotonic() > end:
                why = "reported errors" if errors else ("exited" if not self.process.alive() else "timed out")
                tail = self.log_tail()
                code = self.process.returncode()
                self.process.stop()
                raise EngineError(
                    f"Renode {why} while setting up {self.platform.name}",
                    engine="renode",
                    argv=self.argv,
                    returncode=code,
                    stderr_tail=tail,
                )
            time.sleep(0.05)
        fd = os.open(pty_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(fd)
        if self._console is None:
            self._console = PtyConsole(fd, str(pty_path))
        else:  # a restart keeps one console object, and so one transcript
            self._console.reattach(fd)
        self.monitor("start")

    def _read_output(self, stream: IO[bytes], log: Path) -> None:
        """Copy Renode's output to its log and hand every virtual-time answer to the clock.

        A thread of its own, so asking for the time never waits on the
        console reader and the console reader never waits on an answer.
        """
        pending = b""
        with open(log, "ab") as out:
            while True:
                try:
                    chunk = os.read(stream.fileno(), 65536)
                except OSError:
                    return
                if not chunk:
                    return
                out.write(chunk)
                out.flush()
                complete, sep, pending = (pending + chunk).rpartition(b"\n")
                for m in _VIRTUAL.finditer(complete + sep):
                    self._clock.answer(int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]))

    def _log_lines(self) -> list[str]:
        """What Renode logged since this process started (the log spans restarts)."""
        try:
            with open(self.workdir / "renode.log", "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode("utf-8", "replace").rstrip().splitlines()
        except OSError:
            return []

    def _errors(self) -> list[str]:
        """Error lines Renode logged since this process started."""
        return [line for line in self._log_lines() if _ERROR.search(line)]

    def monitor(self, command: str, record: bool = True) -> None:
        """Send one command to Renode's monitor (answers and errors go to its log)."""
        if self.process is None or not self.process.alive():
            raise EngineError("Renode is not running", engine="renode", stderr_tail=self.log_tail())
        stdin: IO[bytes] | None = self.process.proc.stdin
        assert stdin is not None
        if record and self._console is not None:
            self._console.transcript.event(f"renode: {command}")
        stdin.write(command.encode() + b"\n")
        stdin.flush()

    @requires_running
    def reset(self) -> None:
        """Restart Renode from the same script: flash, pins and hooks come back as at first boot."""
        if self._console:
            self._console.transcript.event("reset (restarting Renode)")
        self._quit()
        self._spawn()

    def ask_time(self) -> None:
        """Ask Renode's monitor for its virtual time; the answer reaches the clock asynchronously."""
        with contextlib.suppress(OSError, EngineError):
            self.monitor("emulation GetTimeSourceInfo", record=False)

    def virtual_time(self, wait: float = 5.0) -> float | None:
        """Seconds of virtual time this board has run now (across restarts), or None if Renode did not say."""
        try:
            return self._clock.fresh(wait)
        except EngineError:
            return None

    def clock(self) -> VirtualClock:
        return self._clock

    def pause(self) -> None:
        """Stop the emulation: an idle board at its prompt otherwise burns 50-80 % of a core (measured)."""
        if self.state is EngineState.RUNNING and not self.paused and self.alive():
            self.monitor("pause")
            self.paused = True

    def resume(self) -> None:
        if self.state is EngineState.RUNNING and self.paused and self.alive():
            self.monitor("start")
        self.paused = False

    @requires_running
    def stimulate(self, commands: tuple[str, ...] | list[str]) -> None:
        """Run monitor commands that act on the board from outside (a pin edge, ...)."""
        for command in commands:
            self.monitor(command)

    def _quit(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(Exception):
            self.monitor("quit")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.proc.wait(5.0)
        self.process.stop()
        self.process = None

    def _stop(self) -> None:
        self._quit()
        if self._console is not None:
            self._console.close()
            self._console = None

    def log_tail(self, lines: int = 15) -> str:
        """Renode's error lines since this process started, else the last lines of its log."""
        logged = self._log_lines()
        errors = [line for line in logged if _ERROR.search(line)]
        return "\n".join((errors or logged)[-lines:])

    def alive(self) -> bool:
        return bool(self.process and self.process.alive())

    def determinism(self) -> Determinism:
        return Determinism(
            "virtual-time",
            None,
            True,
            "Renode runs the board on virtual time, so code between two inputs runs the same way every time; "
            "inputs and pin edges are still sent at host-timed moments, not at recorded virtual times",
        )

    def version(self) -> str:
        """``Renode v1.15.1.xxxxx`` (asked once per binary: Mono takes seconds to start)."""
        binary, _ = find_renode(self.platform)
        return renode_version(binary) if binary else ""


class VirtualClock:
    """Renode's virtual time, for waits that a slow host must not cut short.

    Asking is a monitor command whose answer the output thread delivers
    (``answer``); ``now`` asks at most every ``every`` host seconds and
    returns the latest answer, which can only make a wait longer, never
    shorter (the host-time cap in ``Deadline`` bounds a stalled emulation).
    Only the first reading of a process waits for an answer, so a wait can
    never start from a made-up zero. A restarted Renode counts from zero
    again: the time of the processes before it is kept as a base, so the
    clock never runs backwards across a restart.
    """

    name = "virtual"

    def __init__(self, engine: RenodeEngine, every: float = 0.25, first_answer: float = 30.0):
        self.engine = engine
        self.every = every
        self.first_answer = first_answer
        self._lock = threading.Lock()
        self._base = 0.0
        self._last: float | None = None
        self._asked: float | None = None
        self._answers = 0
        self._fresh = threading.Condition(self._lock)

    def answer(self, seconds: float) -> None:
        """Renode said its virtual time (called from the output thread)."""
        with self._lock:
            if self._last is None or seconds >= self._last:
                self._last = seconds
            self._answers += 1
            self._fresh.notify_all()

    def fresh(self, wait: float) -> float:
        """Ask now and wait up to ``wait`` host seconds for an answer given after this question."""
        with self._lock:
            seen = self._answers
        self._await(lambda: self._answers > seen, wait)
        with self._lock:
            assert self._last is not None
            return self._base + self._last

    def _await(self, answered: Callable[[], bool], wait: float) -> None:
        """Ask, and ask again every ``REASK`` seconds, until ``answered()`` or ``wait`` runs out.

        One question is not enough: Renode can drop a monitor command that
        arrives while it is busy (measured: 1 first boot in 12 got no answer
        to its one question in 60 s, while the board ran).
        """
        end = time.monotonic() + wait
        while True:
            self._asked = time.monotonic()
            self.engine.ask_time()
            with self._lock:
                if self._fresh.wait_for(answered, min(REASK, max(0.0, end - time.monotonic()))):
                    return
            if time.monotonic() >= end:
                raise EngineError(
                    f"Renode did not report its virtual time within {wait:.0f} s (its monitor does not answer)",
                    engine="renode",
                    stderr_tail=self.engine.log_tail(),
                )

    def new_process(self) -> None:
        """A new Renode process starts at zero: keep what the last one reached as the base."""
        with self._lock:
            self._base += self._last or 0.0
            self._last = None
            self._asked = None

    def read(self, wait: float) -> float:
        """The virtual time, waiting up to ``wait`` host seconds for this process's first answer."""
        t = time.monotonic()
        if self._last is None:
            self._await(lambda: self._last is not None, wait)
        elif self._asked is None or t - self._asked >= self.every:
            self._asked = t
            self.engine.ask_time()
        with self._lock:
            assert self._last is not None
            return self._base + self._last

    def now(self) -> float:
        return self.read(self.first_answer)


@functools.cache
def renode_version(binary: str) -> str:
    """What ``renode --version`` says, run in a throw-away TMPDIR and config folder."""
    with tempfile.TemporaryDirectory(prefix="mpbench-renode-version-") as tmp:
        env = dict(os.environ, TMPDIR=tmp, XDG_CONFIG_HOME=tmp)
        try:
            out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60, env=env)
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return next((ln for ln in out.stdout.splitlines() if "Renode" in ln), "").strip()
