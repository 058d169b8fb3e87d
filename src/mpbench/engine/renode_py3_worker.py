"""The pyrenode3 worker: one Renode emulation hosted in this process, driven over pipes.

Run by ``renode_py3.PyRenode3Engine`` with the Python interpreter that has
pythonnet and pyrenode3 (``MPBENCH_PYRENODE3_PYTHON``), which need not be the
one running mpbench: this file therefore imports nothing from mpbench and
only the standard library before pyrenode3. One process per board, because
pyrenode3 holds one emulation per process and a crash of the hosted Mono
runtime must not take the bench (or other boards) with it.

Protocol (JSON, one object a line). Commands come on standard input:
``{"op": "write", "data": HEX}`` feeds bytes to the UART; ``start`` /
``pause`` run or stop the emulation; ``{"op": "time", "id": N}`` asks for the
virtual time; ``{"op": "monitor", "cmd": TEXT, "id": N}`` runs a monitor
command; ``{"op": "pause_on", "data": HEX}`` pauses the emulation at the
instruction that prints the bytes ``data`` (Renode's precise pause, as its
TerminalTester does); ``quit``. Events go to the file descriptor named on the
command line (standard output belongs to Renode's own log): ``ready`` once
the board is loaded, ``rx`` with the bytes the UART sent and each byte's
virtual time in microseconds (the CPU's own time at the write, synced to the
instruction), ``reply``, ``paused_on`` and ``error``. Renode counts virtual
time in whole microseconds (``TimeInterval`` ticks), so that is the
resolution of every time here.

``--probe`` prints ``{"reason": ...}`` (null when this interpreter can host
Renode) without loading Renode, which takes seconds.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import json
import os
import queue
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

#: What the worker needs besides the standard library (probed without importing them).
PROBE_MODULES = ("pythonnet", "clr_loader", "pyrenode3")


def probe() -> str | None:
    """Why this interpreter cannot host Renode through pyrenode3, or None (nothing is loaded)."""
    missing = [m for m in PROBE_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        return (
            f"{sys.executable} has no {', '.join(missing)}: install pythonnet (PyPI) and pyrenode3 "
            "(https://github.com/antmicro/pyrenode3) into a virtualenv and set MPBENCH_PYRENODE3_PYTHON "
            "to its python"
        )
    runtime = os.environ.get("PYRENODE_RUNTIME", "mono")
    if runtime == "mono" and not ctypes.util.find_library("mono-2.0"):
        return "pyrenode3 hosts Renode in Mono, but libmono-2.0 was not found (install Mono, e.g. mono-complete)"
    pkg, build, binary = (os.environ.get(v) for v in ("PYRENODE_PKG", "PYRENODE_BUILD_DIR", "PYRENODE_BIN"))
    if sum(map(bool, (pkg, build, binary))) > 1:
        return "set only one of PYRENODE_PKG, PYRENODE_BUILD_DIR, PYRENODE_BIN"
    if pkg:
        return None if Path(pkg).is_file() else f"PYRENODE_PKG={pkg} is not a file"
    if build:
        out = os.environ.get("PYRENODE_BUILD_OUTPUT", "output/bin/Release")
        exe = Path(build) / out / ("Renode.exe" if runtime == "mono" else "Renode.dll")
        return None if exe.is_file() else f"PYRENODE_BUILD_DIR={build}: no {exe} (build Renode there first)"
    if binary:
        if runtime == "mono":
            return "PYRENODE_BIN needs PYRENODE_RUNTIME=coreclr (pyrenode3 cannot host a Mono portable binary)"
        return None if Path(binary).is_file() else f"PYRENODE_BIN={binary} is not a file"
    if shutil.which("renode") and Path("/opt/renode/bin/Renode.exe").is_file():
        return None
    return (
        "pyrenode3 finds no Renode: set PYRENODE_BUILD_DIR to a Renode source tree built with Mono, "
        "PYRENODE_PKG to a Renode Arch package, or install Renode's package (/opt/renode)"
    )


class Worker:
    def __init__(self, events_fd: int, script: Path, machine: str, uart: str):
        self.out = os.fdopen(events_fd, "w", buffering=1)
        self.out_lock = threading.Lock()
        self.script = script
        self.machine_name = machine
        self.uart_name = uart
        self.rx: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        self.tail = b""
        self.pause_pattern: bytes | None = None

    def send(self, **event: Any) -> None:
        with self.out_lock:
            self.out.write(json.dumps(event) + "\n")

    # -- Renode --------------------------------------------------------------------
    def load(self) -> None:
        import pyrenode3  # noqa: F401 - loads Renode's assemblies into the Mono runtime
        from Antmicro.Renode.Core import EmulationManager  # type: ignore[import-not-found]
        from pyrenode3.wrappers import Emulation, Monitor  # type: ignore[import-not-found]
        from System import Action, Byte  # type: ignore[import-not-found]

        self.manager = EmulationManager
        self.emulation = Emulation()
        self.monitor = Monitor()
        for number, line in enumerate(self.script.read_text().splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            _, err = self.monitor.execute(line)
            if err.strip():
                raise RuntimeError(f"{self.script}:{number}: {line}: {err.strip()}")
        mach = self.emulation.get_mach(self.machine_name)
        if mach is None:
            raise RuntimeError(f"{self.script}: no machine {self.machine_name!r} after the script ran")
        self.machine = mach.internal
        peripheral = mach.sysbus
        for part in self.uart_name.split(".")[1:]:
            peripheral = getattr(peripheral, part)
        self.uart = peripheral.internal
        self.cpu = mach.sysbus.cpu.internal
        self.uart.CharReceived += Action[Byte](self.on_char)

    def write(self, data: bytes) -> None:
        """Feed bytes to the UART as Renode's own terminals do: each at the machine's next synced state.

        ``WriteChar`` called straight from this thread races with the CPU
        thread reading the UART (measured: raw-REPL blocks arrived corrupted
        and a Ctrl-C was lost); ``HandleTimeDomainEvent`` runs it on the
        machine's side, as ``UARTBackend.ByteRead`` does for a pty.
        """
        from Antmicro.Renode.Time import TimeInterval, TimeStamp  # type: ignore[import-not-found]
        from System import Action, Byte  # type: ignore[import-not-found]

        when = TimeStamp(TimeInterval.Empty, self.manager.ExternalWorld)
        handler = Action[Byte](self.uart.WriteChar)
        for byte in data:
            self.machine.HandleTimeDomainEvent[Byte](handler, Byte(byte), when, None)

    def ticks(self) -> int:
        """The machine's virtual time in microseconds."""
        return int(self.machine.ElapsedVirtualTime.TimeElapsed.Ticks)

    def on_char(self, byte: int) -> None:
        """Runs on Renode's CPU thread at the write to the UART's data register.

        ``SyncTime`` counts the instructions of this quantum so far, so the
        time read after it is that of this write. Not before a precise pause:
        on Renode 1.15.1, ``SyncTime`` then ``PauseAndRequestEmulationPause``
        in one callback leaves the CPU's time handle inconsistent: virtual time
        leaps 42.95 s (2**32 / 100 µs) and the next start dies with an
        OverflowException in ``TimeHandle.ReportBackAndBreak`` (measured). The
        paused machine's time is that of the write anyway; ``pump`` reads it.
        """
        if self.pause_pattern is not None:
            self.tail = (self.tail + bytes([byte]))[-len(self.pause_pattern) :]
            if self.tail == self.pause_pattern:
                self.pause_pattern = None
                self.machine.PauseAndRequestEmulationPause(True)
                self.rx.put((-1 - int(byte), 0))
                return
        self.cpu.SyncTime()
        self.rx.put((int(byte), self.ticks()))

    def paused_ticks(self, wait: float = 10.0) -> int:
        """The virtual time once the pause ``on_char`` requested has happened (at the next sync point)."""
        end = time.monotonic() + wait
        while self.emulation_now().IsStarted and time.monotonic() < end:
            time.sleep(0.001)
        return self.ticks()

    def version(self) -> str:
        """Renode's version from its Emulator assembly (hosted, there is no entry assembly to ask)."""
        try:
            from System import AppDomain  # type: ignore[import-not-found]
            from System.Reflection import AssemblyInformationalVersionAttribute  # type: ignore[import-not-found]

            asm = next(a for a in AppDomain.CurrentDomain.GetAssemblies() if a.GetName().Name == "Renode")
            info = asm.GetCustomAttributes(AssemblyInformationalVersionAttribute, False)
            return f"v{asm.GetName().Version}" + (f" ({info[0].InformationalVersion})" if len(info) else "")
        except Exception:  # a version is for reports only
            return ""

    def emulation_now(self) -> Any:
        return self.manager.Instance.CurrentEmulation

    # -- threads ---------------------------------------------------------------------
    def pump(self) -> None:
        """Send received bytes in batches (the CPU thread only queues them)."""
        while True:
            item = self.rx.get()
            if item is None:
                return
            data, times = bytearray(), []
            while item is not None:
                byte, t = item
                if byte < 0:  # the byte that completed the pause pattern: stamped once paused
                    t = self.paused_ticks()
                    data.append(-1 - byte)
                    times.append(t)
                    self.send(ev="rx", data=data.hex(), t=times)
                    data, times = bytearray(), []
                    self.send(ev="paused_on", t=t, now=t)
                else:
                    data.append(byte)
                    times.append(t)
                try:
                    item = self.rx.get_nowait()
                except queue.Empty:
                    break
            if data:
                self.send(ev="rx", data=data.hex(), t=times)
            if item is None:
                return

    def serve(self) -> None:
        for line in sys.stdin:
            cmd = json.loads(line)
            op = cmd.get("op")
            if op == "write":
                self.write(bytes.fromhex(cmd["data"]))
            elif op == "start":
                self.emulation_now().StartAll()
            elif op == "pause":
                self.emulation_now().PauseAll()
            elif op == "time":
                self.send(ev="reply", id=cmd["id"], t=self.ticks())
            elif op == "monitor":
                out, err = self.monitor.execute(cmd["cmd"])
                self.send(ev="reply", id=cmd["id"], out=out, err=err)
            elif op == "pause_on":
                self.tail = b""
                self.pause_pattern = bytes.fromhex(cmd["data"])
            elif op == "quit":
                break
        self.quit()

    def quit(self) -> None:
        """Pause and leave at once: pyrenode3's exit handlers take seconds and keep nothing we need."""
        try:
            self.emulation_now().PauseAll()
        finally:
            self.rx.put(None)
            with self.out_lock:
                self.out.flush()
            os._exit(0)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--probe"]:
        print(json.dumps({"reason": probe()}))
        return 0
    events_fd, script, machine, uart = int(argv[0]), Path(argv[1]), argv[2], argv[3]
    worker = Worker(events_fd, script, machine, uart)
    try:
        worker.load()
    except Exception as e:  # any failure to load is reported to the engine
        worker.send(ev="error", msg=f"{type(e).__name__}: {e}".strip())
        worker.out.flush()
        os._exit(3)
    threading.Thread(target=worker.pump, name="rx-pump", daemon=True).start()
    worker.send(ev="ready", t=worker.ticks(), version=worker.version())
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
