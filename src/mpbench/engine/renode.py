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
its log is read for errors instead of trusting the exit status. A stopped
board's Renode is cleaned and kept for the next board of the same run
(renode_pool.py): Mono's start is most of a board's start.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import subprocess
import tempfile
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpbench.console.pty import PtyConsole
from mpbench.engine import renode_pool
from mpbench.engine.base import Determinism, Engine, EngineState, register_engine, requires_running
from mpbench.engine.process import ManagedProcess, install_signal_handlers
from mpbench.engine.renode_pool import _VIRTUAL, RenodeProcess
from mpbench.engine.renode_stepper import ANSWER, STEPPER_SOURCE, silent_steps, steps_command, write_command
from mpbench.engine.vtime import US, InstantPlan, Schedule, SlicePlanner, Stimulus
from mpbench.errors import EngineError, EngineUnavailable
from mpbench.executables import find_executable
from mpbench.platform import Platform

log = logging.getLogger(__name__)

#: Host seconds between repeated time questions while no answer has come.
REASK = 1.0
#: Seconds Renode may take from process start to having created the UART's pty.
START_TIMEOUT = 90.0
_QUANTUM = re.compile(rb"Quantum: (\d+):(\d+):(\d+(?:\.\d+)?)")
#: The seed Renode's pseudo-random generator gets on every stepped board (recorded in bundles).
SEED = 1
#: Host seconds one monitor step (a RunFor of at most SlicePlanner.max_us) may take before the
#: engine calls Renode hung; generous because a loaded 2-core host stalls Mono for seconds.
STEP_TIMEOUT = 120.0
#: Host seconds to wait for the pty to deliver bytes Renode's stepper saw the UART emit (they are
#: written as emitted, so this only matters on a stalled host).
DRAIN_WAIT = 2.0
#: Host seconds the clean-up of a stopping board's Renode (terminals off, ``Clear``) may take
#: before the process is stopped instead of kept for the next board.
CLEAN_TIMEOUT = 30.0


#: Virtual microseconds a wait's budget is rounded up to (see ``budget_grid``).
BUDGET_GRID_US = 50_000


def budget_grid(budget: float) -> int:
    """A read's budget in whole ``BUDGET_GRID_US``: what the session asks, without the host's jitter.

    Callers pass what is left of a deadline, which shrinks with host time
    (a quiet-wait of 0.05 s asks for 0.0497 s when the host was slow); rounded
    up to the grid, the same wait runs the same steps on every run.
    """
    if budget <= 0:
        return 0
    return -(-round(budget * US) // BUDGET_GRID_US) * BUDGET_GRID_US


def stepped_mode(platform: Platform) -> bool:
    """Whether the bench drives this board's virtual time (the default) or lets Renode run freely.

    ``MPBENCH_RENODE_CLOCK=free`` (or ``clock: free`` in the platform's renode
    section) brings back free running: the board runs whenever it is not
    paused, and inputs land at host-timed instants.
    """
    choice = os.environ.get("MPBENCH_RENODE_CLOCK") or platform.engine_config.get("clock", "stepped")
    return choice != "free"


def find_renode(platform: Platform) -> tuple[str | None, str]:
    """The renode binary (the platform's variable, ``RENODE_BIN``, then PATH), or None and why not."""
    return find_executable("renode", [platform.engine_config.get("binary_env", ""), "RENODE_BIN"])


def board_file(platform: Platform, key: str) -> Path | None:
    """A file the platform's renode section names, relative to the platform file's folder."""
    rel = platform.engine_config.get(key)
    return (platform.path.parent / rel).resolve() if rel else None


@register_engine("renode")
class RenodeEngine(Engine):
    #: A ``snapshot.SnapshotStore`` to start from instead of the cache's and instead of booting the
    #: firmware (``repro run --trust-state``, set by ``Board`` before ``start``); None: the usual way.
    trusted_state: Any = None

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
        #: The Renode process this board borrowed (fresh, or parked by an earlier board: renode_pool.py).
        self.rp: RenodeProcess | None = None
        self.reused_process = False
        self._console: PtyConsole | None = None
        # Renode answers its monitor only once the board script has loaded, which took over
        # 30 s on a loaded 2-core host (measured): give the first answer twice the boot timeout.
        self._clock = VirtualClock(self, first_answer=max(60.0, 2 * platform.boot_timeout))
        self.paused = False
        # -- stepped virtual time (see vtime.py) --
        self.stepped = stepped_mode(platform)
        self.vt_us = 0  # Renode's own virtual time now, in microseconds (a loaded snapshot starts later)
        self.quantum_us: int | None = None
        self.planner = SlicePlanner()
        self.schedule = Schedule()
        self.plan = InstantPlan()
        self._planned_irqs: list[Stimulus] = []
        self.stimuli: list[Stimulus] = []
        self.steps_run = 0
        self.last_step = (0, 0)  # (start, end) of the last RunFor, in microseconds
        self._terminal_gen = 0
        self._pending_rx = b""
        self.snapshot: Any = None  # a snapshot.SnapshotStore once start() decided on one
        self.started_from_snapshot = False
        self._stepped_clock = SteppedClock(self)
        self._stepper_pid: int | None = None  # the Renode process the stepper was included into
        self.renode_us = 0  # virtual time as Renode's stepper last reported it
        self._queued: list[tuple[int | None, str]] = []  # console input for the next round trip

    @property
    def console_url(self) -> str:
        return self._console.url if self._console else ""

    @property
    def process(self) -> ManagedProcess | None:
        """The Renode process this board runs in now (None before start and after stop)."""
        return self.rp.process if self.rp is not None else None

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
        if self.trusted_state is not None:  # no firmware file to load: the state holds the machine's memory
            return self.build_load_script(self.trusted_state.state_path)
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
        lines += self._terminal_commands("console")
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
        if self.stepped:
            from mpbench.engine.snapshot import SnapshotStore

            self.snapshot = SnapshotStore.for_engine(self, renode_version(binary))
            if self.snapshot is not None and self.snapshot.usable():
                script = self.build_load_script(self.snapshot.state_path)
                self.started_from_snapshot = True
        self.argv = [binary, "--console", "--disable-xwt", "--plain", str(script)]
        self._spawn()
        self.state = EngineState.RUNNING

    def build_load_script(self, state: Path) -> Path:
        """A .resc that loads a saved machine instead of building one, then wires the console."""
        lines = [f"Load @{state}", "mach set 0", *self._terminal_commands("console")]
        path = self.workdir / "load.resc"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _terminal_commands(self, name: str) -> list[str]:
        uart = self.platform.engine_config["uart"]
        return [
            f'emulation CreateUartPtyTerminal "{name}" "{self.workdir / "console"}" true',
            f"connector Connect {uart} {name}",
        ]

    def _pool_key(self) -> tuple[str, ...]:
        """What a parked Renode must share with this board to be lent to it: binary, driver, clock mode.

        The clock mode because a stepped board sets the process-wide log level.
        """
        return (self.argv[0], "monitor", "stepped" if self.stepped else "free")

    def _spawn(self) -> None:
        """Run the board script (``self.argv``'s last item) in a parked Renode, or else in a new one."""
        pty_path = self.workdir / "console"
        with contextlib.suppress(FileNotFoundError):
            pty_path.unlink()
        self._clock.new_process()
        self.paused = False
        rp = renode_pool.take(self._pool_key())
        self.reused_process = rp is not None
        if rp is not None:
            rp.borrow()
            rp.on_time = self._clock.answer
        else:
            rp = RenodeProcess(self.argv[0], self._pool_key())
            rp.on_time = self._clock.answer
            try:
                rp.spawn(self.argv)
            except BaseException:
                rp.kill()
                raise
        self.rp = rp
        if self.reused_process:
            try:
                # the monitor answers once the script ran; the same first-answer time as a new process
                rp.sync([f"include @{self.argv[-1]}"], timeout=self._clock.first_answer)
            except EngineError as e:
                self._discard()
                raise EngineError(
                    f"Renode (reused) could not set up {self.platform.name}: {str(e).splitlines()[0]}",
                    engine="renode",
                    argv=self.argv,
                    stderr_tail=e.stderr_tail,
                ) from e
        end = time.monotonic() + START_TIMEOUT
        while not pty_path.exists():
            errors = rp.errors()
            if errors or not rp.alive() or time.monotonic() > end:
                why = "reported errors" if errors else ("exited" if not rp.alive() else "timed out")
                tail = self.log_tail()
                code = rp.process.returncode() if rp.process else None
                self._discard()
                raise EngineError(
                    f"Renode {why} while setting up {self.platform.name}",
                    engine="renode",
                    argv=self.argv,
                    returncode=code,
                    stderr_tail=tail,
                )
            time.sleep(0.05)
        fd = self._open_pty()
        if self._console is None:
            self._console = SteppedConsole(fd, str(pty_path), self) if self.stepped else PtyConsole(fd, str(pty_path))
        else:  # a restart keeps one console object, and so one transcript
            self._console.reattach(fd)
        if self.reused_process:
            self._console.transcript.event(f"in a reused Renode process (pid {rp.pid}, board {rp.boards} in it)")
        if not self.stepped:
            self.monitor("start")
            return
        # The machine stays paused: it runs only in the steps a wait asks for (vtime.py).
        self._terminal_gen = 0
        self.planner.active()
        lines = self._sync(
            [
                "logLevel 2",  # no INFO line per step ("Machine paused."): warnings and errors still show
                "emulation SetAdvanceImmediately true",
                f"emulation SetSeed {SEED}",
                "emulation GetTimeSourceInfo",
            ],
            timeout=self._clock.first_answer,
        )
        self._read_time(lines)
        self._stepped_clock.new_process(self.vt_us)
        if self.started_from_snapshot and self.snapshot is not None:
            self._pending_rx = self.snapshot.boot_output()
            self._console.transcript.event(
                f"restored the machine from boot snapshot {self.snapshot.state_path.name} at {self.vt_us} us"
            )

    def _open_pty(self) -> int:
        fd = os.open(self.workdir / "console", os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(fd)
        return fd

    def _errors(self) -> list[str]:
        """Error lines Renode logged since this board took its process."""
        return self.rp.errors() if self.rp is not None else []

    def monitor(self, command: str, record: bool = True) -> None:
        """Send one command to Renode's monitor (answers and errors go to its log)."""
        if self.rp is None or not self.rp.alive():
            raise EngineError("Renode is not running", engine="renode", stderr_tail=self.log_tail())
        if record and self._console is not None:
            self._console.transcript.event(f"renode: {command}")
        self.rp.send(command)

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
        if self.stepped:
            return self._stepped_clock.now()
        try:
            return self._clock.fresh(wait)
        except EngineError:
            return None

    def clock(self) -> VirtualClock | SteppedClock:
        return self._stepped_clock if self.stepped else self._clock

    def pause(self) -> None:
        """Stop the emulation: an idle board at its prompt otherwise burns 50-80 % of a core (measured).

        A stepped board is always at rest between waits: nothing to do.
        """
        if self.stepped:
            return
        if self.state is EngineState.RUNNING and not self.paused and self.alive():
            self.monitor("pause")
            self.paused = True

    def resume(self) -> None:
        if self.stepped:
            return
        if self.state is EngineState.RUNNING and self.paused and self.alive():
            self.monitor("start")
        self.paused = False

    @requires_running
    def stimulate(self, commands: tuple[str, ...] | list[str], source: str = "") -> None:
        """Run monitor commands that act on the board from outside (a pin edge, ...).

        Stepped: applied at the current virtual instant (or the one a replay's
        plan recorded), between two steps, and recorded with that instant.
        """
        if not self.stepped:
            for command in commands:
                self.monitor(command)
            return
        if self._planned_irqs:
            # A replay scheduled this IRQ at its recorded instant (plan_instants): run there, where
            # the schedule applies it, instead of applying it a second time now.
            planned = self._planned_irqs.pop(0)
            if planned.at_us < self.vt_us:
                self.plan.divergences.append(f"the IRQ recorded at {planned.at_us} us was due before {self.vt_us} us")
            self.run_to(planned.at_us)
            return
        self._stimulus("irq", source or "; ".join(commands))
        self._sync(list(commands))

    # -- stepped virtual time -------------------------------------------------------
    def _sync(self, commands: list[str], timeout: float = STEP_TIMEOUT) -> list[str]:
        """Send ``commands`` and wait until the monitor has run them all; their output lines.

        See ``RenodeProcess.sync``: a command Renode rejects raises
        ``EngineError``, and a process whose command failed is never lent again.
        """
        if self.rp is None:
            raise EngineError("Renode is not running", engine="renode", stderr_tail=self.log_tail())
        commands = self._take_queued() + list(commands)
        if any(c.startswith("mpb_") for c in commands):
            commands = self._stepper_install() + commands
        return self.rp.sync(commands, timeout)

    def _take_queued(self) -> list[str]:
        """Console input ``inject`` queued for this Renode process (a restarted one never gets the old one's)."""
        pid = self.process.pid if self.process is not None else None
        queued, self._queued = self._queued, []
        return [c for p, c in queued if p == pid]

    def _read_time(self, lines: list[str]) -> None:
        """Take the virtual time (and quantum) from a ``GetTimeSourceInfo`` answer."""
        blob = "\n".join(lines).encode()
        m = _VIRTUAL.search(blob)
        if m is None:
            raise EngineError("Renode did not report its virtual time", engine="renode", stderr_tail=self.log_tail())
        self.vt_us = (int(m[1]) * 3600 + int(m[2]) * 60) * US + round(float(m[3]) * US)
        q = _QUANTUM.search(blob)
        if q is not None:
            self.quantum_us = (int(q[1]) * 3600 + int(q[2]) * 60) * US + round(float(q[3]) * US)

    def run_for(self, us: int) -> None:
        """Run the machine for exactly ``us`` microseconds of virtual time, then apply what is due."""
        if us > 0:
            self._run_steps([us], stop_on_output=False)
        else:
            self._apply_due()

    def _apply_due(self, sent: bool = False) -> None:
        """Apply the scheduled IRQs due now (``sent``: Renode already ran their commands at the instant)."""
        for item in self.schedule.pop_due(self.vt_us):
            if not item.commands:  # only a step boundary (race's fine search for its TEXT moment)
                continue
            self._stimulus("irq", item.label or "; ".join(item.commands))
            if not sent:
                self._sync(list(item.commands))
            self.planner.active()

    def _run_steps(self, steps: list[int], stop_on_output: bool) -> tuple[int, int]:
        """Run ``steps`` (us) inside Renode in one round trip; (steps run, UART bytes emitted meanwhile).

        With ``stop_on_output`` it stops after the first step in which the
        UART emitted a byte. The IRQs scheduled at the instant the last step
        ends on go in the same round trip, applied there only if every step
        ran (as ``run_for`` would apply them after that step); console input
        queued by ``inject`` goes first. The planner is told ``silent`` for
        every step but the last, whose outcome the caller judges.
        See renode_stepper.py.
        """
        if not steps or min(steps) <= 0:
            raise ValueError(f"steps must be positive microseconds, not {steps}")
        end = self.vt_us + sum(steps)
        then = [c for item in self.schedule.due_at(end) for c in item.commands]
        uart = self.platform.engine_config["uart"]
        lines = self._sync([steps_command(uart, steps, stop_on_output, then)])
        m = next((m for m in map(ANSWER.search, lines) if m), None)
        if m is None:
            raise EngineError(
                "Renode's stepper gave no answer: " + " | ".join(ln.strip() for ln in lines[-3:]),
                engine="renode",
                stderr_tail=self.log_tail(),
            )
        ran, renode_us, emitted, ok = (int(x) for x in m.groups())
        if not 0 < ran <= len(steps):
            raise EngineError(f"Renode's stepper ran {ran} of {len(steps)} steps", engine="renode")
        self.last_step = (self.vt_us + sum(steps[: ran - 1]), self.vt_us + sum(steps[:ran]))
        self.vt_us = self.last_step[1]
        self.steps_run += ran
        self.renode_us = renode_us
        if not ok:
            raise EngineError(f"Renode refused one of {then}", engine="renode", stderr_tail=self.log_tail())
        for _ in range(ran - 1):  # the steps before the last were silent (or it would have stopped there)
            self.planner.silent()
        self._apply_due(sent=ran == len(steps))
        return ran, emitted

    def _stepper_install(self) -> list[str]:
        """The ``include`` that defines the stepper, once per Renode process (harmless if already there)."""
        pid = self.process.pid if self.process is not None else None
        if pid is not None and pid == self._stepper_pid:
            return []
        self._stepper_pid = pid
        path = self.workdir / "mpb_stepper.py"
        if not path.exists():
            path.write_text(STEPPER_SOURCE)
        return [f"include @{path}"]

    def run_to(self, at_us: int) -> None:
        """Run until virtual instant ``at_us`` (no-op when already there), output left on the console."""
        self.run_for(0)
        while self.vt_us < at_us:
            steps = silent_steps(self.planner, self.vt_us, at_us, self.schedule)
            self._run_steps(steps, stop_on_output=False)
            self.planner.silent()

    def _drain(self, wait: float = 0.0) -> bytes:
        """What the console has right now, without running the machine (``wait``: host seconds for a byte)."""
        data, self._pending_rx = self._pending_rx, b""
        console = self._console
        if isinstance(console, SteppedConsole):
            more = console.read_now(0.0 if data else wait)
            if more is None:
                return data or b""
            data += more
        return data

    def advance(self, budget: float) -> bytes | None:
        """Run the machine in steps until it prints something or ``budget`` virtual seconds have passed.

        The board runs only inside this call (something waits for it): between
        two calls it is paused and costs no CPU. What it printed is returned
        once the step that printed it has ended, so it is stamped with that
        step's end, the same on every run. The steps run inside Renode, as
        many per round trip as stay silent (renode_stepper.py); the planner
        goes through the same states as if each step had been a round trip.
        """
        data = self._drain()
        if data:
            return data
        end = self.vt_us + budget_grid(budget)
        self.run_for(0)  # a stimulus due now lands before the first step
        while self.vt_us < end:
            steps = silent_steps(self.planner, self.vt_us, end, self.schedule)
            _, emitted = self._run_steps(steps, stop_on_output=True)
            # Renode's pty terminal writes each byte as the UART emits it: wait only for a slow host.
            data = self._drain(wait=DRAIN_WAIT if emitted else 0.0)
            if data:
                self.planner.active()
                return data
            self.planner.silent()
        return b""

    def _catch_up(self, kind: str) -> None:
        """Before a stimulus of a replay: run to the instant the recording applied it at."""
        ahead = self.plan.due(self.vt_us, kind)
        if ahead:
            self.run_to(self.vt_us + ahead)

    def _stimulus(self, kind: str, detail: str) -> None:
        self.stimuli.append(Stimulus(self.vt_us, kind, detail))
        self.planner.active()
        if self._console is not None:
            self._console.transcript.event(f"{kind} at {self.vt_us} us: {detail[:60]!r}")

    def inject(self, data: bytes) -> None:
        """Put bytes into the board's UART receive queue at the current instant (no host timing).

        Through the monitor's Python, as hex so no quoting can break it: bytes
        written to the pty would reach the UART whenever Renode's reader
        thread gets to them, possibly in the middle of a later step. Queued
        and sent ahead of the next round trip (no virtual time passes in
        between), so a write and the read after it cost one round trip.
        """
        if not data:
            return
        self._catch_up("console")
        self._stimulus("console", data.decode("latin-1"))
        uart = self.platform.engine_config["uart"]
        pid = self.process.pid if self.process is not None else None
        for i in range(0, len(data), 4096):
            self._queued.append((pid, write_command(uart, data[i : i + 4096])))

    def plan_instants(self, stimuli: list[Stimulus]) -> None:
        """A replay: apply the coming stimuli at these recorded instants, in order.

        Console input is pulled to its instant when the session sends it; an
        IRQ is scheduled at its instant with the commands of the *local*
        platform's source of that name (a bundle never supplies commands), so
        it lands there whichever step of the replay reaches it.
        """
        self.plan = InstantPlan([s for s in stimuli if s.kind == "console"])
        self._planned_irqs = []
        for s in stimuli:
            if s.kind != "irq":
                continue
            irq = self.platform.irq_sources.get(s.detail)
            if irq is None or not irq.external:
                self.plan.divergences.append(f"the recorded IRQ {s.detail!r} is no external source of this board")
                continue
            self.schedule.add(s.at_us, irq.external, s.detail)
            self._planned_irqs.append(s)

    def instants_record(self) -> dict[str, Any]:
        """What a bundle keeps so a replay applies every stimulus at the same virtual instant."""
        return {
            "driver": "renode-monitor",
            "quantum_us": self.quantum_us,
            "seed": SEED,
            "slice_us": [self.planner.min_us, self.planner.max_us],
            "stimuli": [s.to_json() for s in self.stimuli],
        }

    def save_state(self, path: Path) -> None:
        """Renode ``Save`` of the machine, without the console terminal (its pty belongs to this process).

        A terminal in the state would be recreated on ``Load`` at this
        process's pty path, and disposing it later crashed Renode 1.15.1
        (measured), so it is removed before and a fresh one connected after.
        """
        self._detach_terminals()
        try:
            self._sync([f"Save @{path}"])
        finally:
            self._attach_terminal()

    def load_state(self, path: Path) -> None:
        """Renode ``Load`` of a saved machine in this process, with a fresh console terminal."""
        self._sync([f"Load @{path}", "mach set 0", "emulation GetTimeSourceInfo"], timeout=STEP_TIMEOUT)
        self._terminal_gen = 0
        self._attach_terminal()
        lines = self._sync(["emulation GetTimeSourceInfo"])
        self._read_time(lines)
        self.planner.active()
        self.schedule.clear()

    def reload_boot(self) -> None:
        """Back to the boot snapshot in this process, its boot output waiting to be read as on a start."""
        if self.snapshot is None or not self.snapshot.usable():
            raise EngineError(f"{self.platform.name}: no boot snapshot to go back to", engine="renode")
        self.load_state(self.snapshot.state_path)
        self._pending_rx = self.snapshot.boot_output()
        if self._console is not None:
            self._console.transcript.event(f"restored the machine from boot snapshot at {self.vt_us} us")

    def _detach_terminals(self) -> None:
        name = f"console{self._terminal_gen}" if self._terminal_gen else "console"
        self._sync(
            [
                f"connector Disconnect {self.platform.engine_config['uart']} {name}",
                'python "from Antmicro.Renode.Core import EmulationManager as M; '
                "e = M.Instance.CurrentEmulation; x = e.ExternalsManager; "
                "ts = [t for t in list(x.Externals) if x.TryGetName(t)[1].startswith('console')]; "
                '[e.Connector.DisconnectFromAll(t) or x.RemoveExternal(t) or t.Dispose() for t in ts]"',
            ]
        )

    def _attach_terminal(self) -> None:
        self._terminal_gen += 1
        pty_path = self.workdir / "console"
        with contextlib.suppress(FileNotFoundError):
            pty_path.unlink()
        self._sync(self._terminal_commands(f"console{self._terminal_gen}"))
        if self._console is not None:
            self._console.reattach(self._open_pty())

    def _quit(self) -> None:
        """Quit this board's Renode (a reset starts the board script in another one)."""
        self._discard()

    def _discard(self) -> None:
        rp, self.rp = self.rp, None
        if rp is not None:
            rp.quit()

    def _release(self) -> None:
        """Give the Renode back: cleaned and parked for the next board when healthy, else quit.

        Never parked: a board marked ``failed``, a process whose monitor
        command failed, timed out or was interrupted, one that died or logged
        an error for this board. Cleaned means no terminal left (the next
        board connects its own pty) and no machine (``Clear``): nothing runs.
        """
        rp = self.rp
        if rp is None:
            return
        why = ""
        if renode_pool.pool_size() == 0:
            why = f"{renode_pool.POOL_ENV}=0"
        elif self.failed or rp.failed:
            why = "its board failed"
        elif not rp.alive():
            why = "it exited"
        elif rp.errors():
            why = "it logged errors"
        if not why:
            try:
                self._detach_terminals()
                rp.sync(["Clear", "emulation GetTimeSourceInfo"], timeout=CLEAN_TIMEOUT)
            except EngineError as e:
                why = f"its clean-up failed: {str(e).splitlines()[0]}"
        if not why:
            rp.on_time = None
            self.rp = None
            if renode_pool.park(rp):
                log.debug("%s: parked Renode pid %d for the next board", self.platform.name, rp.pid)
                return
            self.rp = rp
            why = f"{renode_pool.POOL_ENV}=0"
        log.debug("%s: stopping its Renode (not kept: %s)", self.platform.name, why)
        self._discard()

    def _stop(self) -> None:
        try:
            self._release()
        finally:
            self._discard()  # whatever _release raised (Ctrl-C), the process is not left unowned
            if self._console is not None:
                self._console.close()
                self._console = None

    def log_tail(self, lines: int = 15) -> str:
        """Renode's error lines since this board took its process, else the last lines of its log."""
        return self.rp.log_tail(lines) if self.rp is not None else ""

    def alive(self) -> bool:
        return bool(self.process and self.process.alive())

    def determinism(self) -> Determinism:
        if self.stepped:
            return Determinism(
                "virtual-time-stepped",
                f"quantum {self.quantum_us} us, seed {SEED}",
                True,
                "the bench runs Renode's machine in exact RunFor steps and applies every input, Ctrl-C and pin "
                "edge at a recorded virtual instant; a replay applies them at the same instants",
            )
        return Determinism(
            "virtual-time",
            None,
            True,
            "Renode runs the board on virtual time, so code between two inputs runs the same way every time; "
            "inputs and pin edges are still sent at host-timed moments, not at recorded virtual times",
        )

    def ready(self, boot_output: str) -> bool:
        """First prompt of a cold stepped boot: keep the machine as this board's boot snapshot.

        Then go back into that state, as every later start does (its boot
        output replayed, the prompt waited for again): a cold start and a
        snapshot start then share one virtual timeline, so a bundle recorded
        on either replays on the other.
        """
        store = self.snapshot
        if not self.stepped or self.started_from_snapshot or store is None or self._console is None:
            return False
        try:
            store.take(self, self._console.transcript.received())
            self._console.transcript.event(f"saved boot snapshot {store.state_path.name} ({store.size()} bytes)")
        except (OSError, EngineError) as e:  # a board without a snapshot still works
            log.warning("%s: could not save a boot snapshot: %s", self.platform.name, str(e).splitlines()[0])
            return False
        self.reload_boot()
        return True

    def version(self) -> str:
        """``Renode v1.15.1.xxxxx`` (asked once per binary: Mono takes seconds to start)."""
        binary, _ = find_renode(self.platform)
        return renode_version(binary) if binary else ""


class SteppedConsole(PtyConsole):
    """Renode's UART pty, read and written through the engine's virtual-time steps.

    A read runs the machine (up to its timeout, counted in virtual seconds)
    until it prints; a write goes into the UART at the current instant; every
    chunk carries the virtual time it was received or sent at.
    """

    def __init__(self, master_fd: int, slave_name: str, engine: RenodeEngine):
        super().__init__(master_fd, slave_name)
        self.engine = engine

    def read_now(self, wait: float = 0.0) -> bytes | None:
        return super()._read(wait)

    def _read(self, timeout: float) -> bytes | None:
        return self.engine.advance(timeout)

    def _write(self, data: bytes) -> None:
        self.engine.inject(data)

    def virtual_now(self) -> float | None:
        return self.engine.vt_us / US


class SteppedClock:
    """Virtual time of a stepped board: known exactly, since the bench itself runs every step.

    Continues across restarts and snapshot loads like ``VirtualClock``: a new
    process's time counts on from where the last one stopped.
    """

    name = "virtual"

    def __init__(self, engine: RenodeEngine):
        self.engine = engine
        self._base_us = 0
        self._origin_us = 0
        self._last_us = 0

    def new_process(self, origin_us: int) -> None:
        self._base_us = self._last_us
        self._origin_us = origin_us

    def now(self) -> float:
        self._last_us = max(self._last_us, self._base_us + self.engine.vt_us - self._origin_us)
        return self._last_us / US


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
