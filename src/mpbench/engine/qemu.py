"""QEMU: Debian's ``qemu-system-arm`` for micro:bit, Espressif's fork for ESP32.

Follows labgrid's recipe: a private temp dir, the board started paused with
QMP on a unix socket there, the console on a loopback TCP port (so mpremote
or a person can attach too), ``cont`` only once the console is connected, so
no boot output is lost. Reset and quit go through QMP; the process group is
killed if QEMU does not leave in time. A board started ``deterministic``
runs with ``-icount`` when its platform file gives a setting: guest time
then follows the instruction count, not the host clock.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess

from mpbench.console import SocketConsole
from mpbench.engine import flashcache
from mpbench.engine.base import Determinism, Engine, EngineState, register_engine, requires_running
from mpbench.engine.process import ManagedProcess, install_signal_handlers
from mpbench.engine.qmp import Qmp
from mpbench.errors import EngineError, EngineUnavailable
from mpbench.executables import find_executable
from mpbench.platform import Platform

log = logging.getLogger(__name__)

#: Formats QEMU's generic loader reads itself; others are converted to raw segments.
_NATIVE_LOADER_FORMATS = {"ihex", "elf"}


def find_binary(platform: Platform) -> tuple[str | None, str]:
    """The QEMU binary for ``platform`` (its env override, then PATH), or None and why not."""
    cfg = platform.engine_config
    return find_executable(cfg["binary"], [cfg.get("binary_env", "")])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@register_engine("qemu")
class QemuEngine(Engine):
    start_grace = 0.5  # QEMU exiting this soon means it refused its command line

    @classmethod
    def unavailable_reason(cls, platform: Platform) -> str | None:
        cfg = platform.engine_config
        binary, why = find_binary(platform)
        if binary:
            return None
        hint = cfg.get("install_hint") or (
            f"install it with `apt-get install {cfg['apt_package']}`" if cfg.get("apt_package") else ""
        )
        return why + (f"; {hint}" if hint else "")

    def __init__(self, platform: Platform, firmware: object):
        super().__init__(platform, firmware)
        self.process: ManagedProcess | None = None
        self.qmp: Qmp | None = None
        self.port = 0
        self._console: SocketConsole | None = None
        self.flash_from_cache = False

    @property
    def console_url(self) -> str:
        return f"socket://127.0.0.1:{self.port}" if self.port else ""

    def _load_args(self) -> list[str]:
        cfg = self.platform.engine_config
        fw = self.firmware
        load = cfg.get("load", "device-loader")
        if load == "mtd-flash":
            from mpbench.firmware.formats import read_segments, write_flat

            flash = cfg.get("flash", {})
            image = write_flat(
                read_segments(fw.path, fw.format, fw.load_address),
                base=0,
                size=int(flash.get("size", 4 * 1024 * 1024)),
                fill=int(flash.get("fill", 0xFF)),
            )
            flash_path = self.workdir / "flash.bin"
            self.flash_from_cache = flashcache.prepare(flash_path, fw.sha256, image)
            if not self.flash_from_cache:
                log.warning(
                    "%s: first boot of this firmware from a blank filesystem; it can take a minute "
                    "(the flash it leaves is kept for later runs)",
                    self.platform.name,
                )
            return ["-drive", f"file={flash_path},if=mtd,format=raw"]
        if fw.format in _NATIVE_LOADER_FORMATS:
            return ["-device", f"loader,file={fw.path}"]
        from mpbench.firmware.formats import read_segments

        args: list[str] = []
        for i, seg in enumerate(read_segments(fw.path, fw.format, fw.load_address)):
            part = self.workdir / f"segment{i}.bin"
            part.write_bytes(seg.data)
            args += ["-device", f"loader,file={part},addr={seg.address:#x},force-raw=on"]
        return args

    def build_argv(self) -> list[str]:
        cfg = self.platform.engine_config
        binary, _ = find_binary(self.platform)
        if not binary:
            raise EngineUnavailable(self.unavailable_reason(self.platform) or "QEMU not found", engine="qemu")
        qmp_path = self.workdir / "qmp.sock"
        return [
            binary,
            "-M",
            cfg["machine"],
            *self._load_args(),
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            f"tcp:127.0.0.1:{self.port},server=on,wait=off,nodelay=on",
            "-qmp",
            f"unix:{qmp_path},server=on,wait=off",
            "-S",
            *self._icount_args(),
            *cfg.get("extra_args", []),
        ]

    def _icount_args(self) -> list[str]:
        icount = self.platform.engine_config.get("icount")
        return ["-icount", icount] if self.deterministic and icount else []

    def determinism(self) -> Determinism:
        icount = self.platform.engine_config.get("icount")
        if not icount:
            return Determinism(
                "none", None, False, "no icount setting in the platform file: guest time follows the host clock"
            )
        active = bool(self.deterministic)
        how = "used" if active else "not used in this run"
        return Determinism(
            "icount",
            icount,
            active,
            f"QEMU -icount {icount} ({how}): guest time counts instructions, so code between two inputs runs "
            "the same way every time; when input arrives, relative to the guest's instructions, still "
            "depends on the host",
        )

    def start(self) -> None:
        install_signal_handlers()
        last_error: EngineError | None = None
        for _attempt in range(3):  # a port taken between probe and bind: try another
            self.port = free_port()
            self.argv = self.build_argv()
            self.process = ManagedProcess(self.argv, self.workdir / "qemu.log")
            try:
                self.qmp = Qmp(self.workdir / "qmp.sock")
                self._console = SocketConsole("127.0.0.1", self.port)
                self.qmp.execute("cont")
                self.state = EngineState.RUNNING
                return
            except Exception as e:
                tail = self.process.output_tail()
                code = self.process.returncode()
                self._stop()
                last_error = EngineError(
                    f"QEMU did not start for {self.platform.name}: {e}",
                    engine="qemu",
                    argv=self.argv,
                    returncode=code,
                    stderr_tail=tail,
                )
                if "Address already in use" not in tail:
                    break
        self.state = EngineState.ERROR
        assert last_error is not None
        raise last_error

    def ready(self, boot_output: str) -> None:
        """Keep a flash image the board formatted on its first boot; drop one it calls corrupted."""
        sha = getattr(self.firmware, "sha256", None)
        if self.platform.engine_config.get("load") != "mtd-flash" or not sha:
            return
        if flashcache.CORRUPTED in boot_output:
            flashcache.discard(sha)
        elif not self.flash_from_cache:
            flashcache.keep(self.workdir / "flash.bin", sha)
            self.flash_from_cache = True

    @requires_running
    def reset(self) -> None:
        assert self.qmp is not None
        if self._console:
            self._console.transcript.event("hard reset (QMP system_reset)")
        self.qmp.execute("system_reset")

    def _stop(self) -> None:
        if self.qmp is not None:
            with contextlib.suppress(Exception):
                self.qmp.sock.settimeout(1.0)
                self.qmp.execute("quit")
            self.qmp.close()
            self.qmp = None
        if self._console is not None:
            self._console.close()
            self._console = None
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.proc.wait(1.0)
            self.process.stop()
            self.process = None

    def log_tail(self, lines: int = 15) -> str:
        return self.process.output_tail(lines) if self.process else ""

    def alive(self) -> bool:
        return bool(self.process and self.process.alive())

    def version(self) -> str:
        binary, _ = find_binary(self.platform)
        if not binary:
            return ""
        try:
            out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.splitlines()[0] if out else ""
