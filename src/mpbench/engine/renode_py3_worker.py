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
import faulthandler
import importlib.util
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

STARTED = time.monotonic()
#: What the worker needs besides the standard library (probed without importing them).
PROBE_MODULES = ("pythonnet", "clr_loader", "pyrenode3")

#: The UART tap, compiled at start by Renode's own C# compiler (``AdHocCompiler``). The
#: CharReceived handler must be .NET code: a Python handler needs the GIL on Renode's CPU
#: thread, and pythonnet keeps the GIL during a .NET call that blocks until the CPU thread
#: syncs (``HandleTimeDomainEvent``, ``PauseAll``): measured, the worker deadlocked after
#: some hundred execs. Values are ``ticks << 9 | paused << 8 | byte``.
TAP_SOURCE = r"""
using System.Collections.Concurrent;
using System.Collections.Generic;
using Antmicro.Renode.Core;
using Antmicro.Renode.Peripherals.CPU;
using Antmicro.Renode.Peripherals.UART;
using Antmicro.Renode.Time;

namespace Mpbench
{
    public class UartTap
    {
        public UartTap(IMachine machine, IUART uart, ICPU cpu)
        {
            this.machine = machine;
            this.uart = uart;
            this.cpu = cpu;
            uart.CharReceived += OnChar;
        }

        public void PauseOn(byte[] p)
        {
            lock(sync) { tail.Clear(); pattern = p; }
        }

        public long[] Drain()
        {
            var list = new List<long>();
            while(queue.TryDequeue(out var v)) { list.Add(v); }
            return list.ToArray();
        }

        public void Write(byte[] data)
        {
            var when = new TimeStamp(TimeInterval.Empty, EmulationManager.ExternalWorld);
            foreach(var b in data) { machine.HandleTimeDomainEvent(uart.WriteChar, b, when); }
        }

        private void OnChar(byte b)
        {
            lock(sync)
            {
                if(pattern != null)
                {
                    tail.Add(b);
                    if(tail.Count > pattern.Length) { tail.RemoveAt(0); }
                    if(tail.Count == pattern.Length && Matches())
                    {
                        pattern = null;
                        // No SyncTime before a precise pause (see the Python side).
                        machine.PauseAndRequestEmulationPause(true);
                        queue.Enqueue((1L << 8) | b);
                        return;
                    }
                }
            }
            cpu.SyncTime();
            queue.Enqueue(((long)machine.ElapsedVirtualTime.TimeElapsed.Ticks << 9) | b);
        }

        private bool Matches()
        {
            for(var i = 0; i < pattern.Length; i++) { if(tail[i] != pattern[i]) return false; }
            return true;
        }

        private readonly IMachine machine;
        private readonly IUART uart;
        private readonly ICPU cpu;
        private readonly object sync = new object();
        private readonly List<byte> tail = new List<byte>();
        private byte[] pattern;
        private readonly ConcurrentQueue<long> queue = new ConcurrentQueue<long>();
    }
}
"""


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
        self.stopping = False

    def note(self, what: str) -> None:
        """A line in the worker's log saying how long the start has taken so far (the log is the engine's)."""
        print(f"mpbench worker: {what} after {time.monotonic() - STARTED:.2f} s", file=sys.stderr, flush=True)

    def send(self, **event: Any) -> None:
        with self.out_lock:
            self.out.write(json.dumps(event) + "\n")

    # -- Renode --------------------------------------------------------------------
    def load(self) -> None:
        import pyrenode3  # noqa: F401 - loads Renode's assemblies into the Mono runtime
        from Antmicro.Renode.Core import EmulationManager  # type: ignore[import-not-found]
        from pyrenode3.wrappers import Emulation, Monitor  # type: ignore[import-not-found]

        self.note("pythonnet and Renode's assemblies loaded")
        self.manager = EmulationManager
        self.emulation = Emulation()
        self.monitor = Monitor()
        self.note("emulation created")
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
        self.note("board script run")
        self.tap = self.compile_tap()(self.machine, self.uart, self.cpu)
        self.note("UART tap compiled")

    def compile_tap(self) -> Any:
        """Build ``TAP_SOURCE`` with Renode's compiler and return the ``UartTap`` class."""
        import clr  # type: ignore[import-not-found]
        from Antmicro.Renode.Utilities import AdHocCompiler  # type: ignore[import-not-found]

        source = Path(os.environ.get("TMPDIR") or self.script.parent) / "mpbench_uart_tap.cs"
        source.write_text(TAP_SOURCE)
        clr.AddReference(str(AdHocCompiler().Compile(str(source))))
        from Mpbench import UartTap  # type: ignore[import-not-found]

        return UartTap

    def write(self, data: bytes) -> None:
        """Feed bytes to the UART as Renode's own terminals do: each at the machine's next synced state.

        ``WriteChar`` called straight from this thread races with the CPU
        thread reading the UART (measured: raw-REPL blocks arrived corrupted
        and a Ctrl-C was lost); the tap hands each byte to
        ``HandleTimeDomainEvent``, as ``UARTBackend.ByteRead`` does for a pty.
        """
        from System import Array, Byte  # type: ignore[import-not-found]

        self.tap.Write(Array[Byte](list(data)))

    def ticks(self) -> int:
        """The machine's virtual time in microseconds."""
        return int(self.machine.ElapsedVirtualTime.TimeElapsed.Ticks)

    # On the tap's CharReceived handler: ``SyncTime`` counts the instructions of this quantum
    # so far, so the time read after it is that of this write. Not before a precise pause: on
    # Renode 1.15.1, ``SyncTime`` then ``PauseAndRequestEmulationPause`` in one handler leaves
    # the CPU's time handle inconsistent: virtual time leaps 42.95 s (2**32 / 100 µs) and the
    # next start dies with an OverflowException in ``TimeHandle.ReportBackAndBreak``
    # (measured). The paused machine's time is that of the write anyway; ``pump`` reads it.

    def paused_ticks(self, wait: float = 10.0) -> int:
        """The virtual time once the pause the tap requested has happened (at the next sync point)."""
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
        """Send what the tap received, in batches, polling it every 2 ms."""
        while not self.stopping:
            values = list(self.tap.Drain())
            if not values:
                time.sleep(0.002)
                continue
            data, times = bytearray(), []
            for v in values:
                data.append(v & 0xFF)
                if v & 0x100:  # the byte that completed the pause pattern: stamped once paused
                    t = self.paused_ticks()
                    times.append(t)
                    self.send(ev="rx", data=data.hex(), t=times)
                    data, times = bytearray(), []
                    self.send(ev="paused_on", t=t, now=t)
                else:
                    times.append(v >> 9)
            if data:
                self.send(ev="rx", data=data.hex(), t=times)

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
                from System import Array, Byte  # type: ignore[import-not-found]

                self.tap.PauseOn(Array[Byte](list(bytes.fromhex(cmd["data"]))))
            elif op == "quit":
                break
        self.quit()

    def quit(self) -> None:
        """Pause and leave at once: pyrenode3's exit handlers take seconds and keep nothing we need."""
        try:
            self.emulation_now().PauseAll()
        finally:
            self.stopping = True
            with self.out_lock:
                self.out.flush()
            os._exit(0)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--probe"]:
        print(json.dumps({"reason": probe()}))
        return 0
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 writes every Python thread's stack to the log
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
