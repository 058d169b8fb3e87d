"""QEMU: Debian's ``qemu-system-arm`` for micro:bit, Espressif's fork for ESP32.

Follows labgrid's recipe: a private folder (``Engine.workdir``, mode 0700),
the board started paused with QMP on a unix socket there, and the console on
another unix socket there, so no other user can reach either; ``cont`` only
once the console is connected, so no boot output is lost. A platform file
can ask for the console on a loopback TCP port instead (``console: tcp``),
for tools that speak only TCP; any local user can connect to that port.

Paths go into options QEMU parses as ``key=value,...`` (``-drive file=``,
``-device loader,file=``, chardev ``path=``), where a comma ends the value:
each comma is doubled, QEMU's escape. Both connect loops ask on every try
whether QEMU still runs, so a refused command line fails at once with QEMU's
own complaint. Reset, pause, resume and quit go through QMP; the process
group is killed if QEMU does not leave in time. A board started
``deterministic`` runs with ``-icount`` when its platform file gives a
setting: guest time then follows the instruction count, not the host clock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
from pathlib import Path

from mpbench.console import SocketConsole, StreamSocketConsole, UnixSocketConsole
from mpbench.console.socket import UNIX_PATH_MAX
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
    """A loopback TCP port free right now (only for ``console: tcp``)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_opt(value: str | os.PathLike[str]) -> str:
    """``value`` escaped for QEMU's ``key=value,...`` syntax, where a comma is written ``,,``.

    Without it a path such as ``/tmp/a,b/fw.hex`` ends at ``/tmp/a`` and
    ``b/fw.hex`` is read as the next option.
    """
    return os.fspath(value).replace(",", ",,")


@register_engine("qemu")
class QemuEngine(Engine):
    #: Seconds to wait for QEMU's QMP and console sockets (a QEMU that exits is noticed at once).
    connect_timeout = 10.0

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
        self._console: StreamSocketConsole | None = None
        self._url = ""
        self.flash: flashcache.FlashRun | None = None
        self.paused = False

    @property
    def console_kind(self) -> str:
        """``unix`` (the default: a socket only this user can reach) or ``tcp`` (127.0.0.1)."""
        return str(self.platform.engine_config.get("console", "unix"))

    @property
    def console_path(self) -> Path:
        return self.workdir / "console.sock"

    @property
    def qmp_path(self) -> Path:
        return self.workdir / "qmp.sock"

    @property
    def console_url(self) -> str:
        """``unix:///.../console.sock`` or ``socket://127.0.0.1:PORT`` while the board runs."""
        return self._url

    @property
    def flash_from_cache(self) -> bool:
        """True when this run's flash image is a kept (and verified) one."""
        return bool(self.flash and self.flash.from_cache)

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
            self.flash = flashcache.FlashRun(self.workdir / "flash.bin", getattr(fw, "sha256", None), image)
            if not self.flash.from_cache:
                log.warning(
                    "%s: first boot of this firmware from a blank filesystem; it can take a minute "
                    "(the flash it leaves is kept for later runs)",
                    self.platform.name,
                )
            return ["-drive", f"file={qemu_opt(self.flash.path)},if=mtd,format=raw"]
        if fw.format in _NATIVE_LOADER_FORMATS:
            return ["-device", f"loader,file={qemu_opt(fw.path)}"]
        from mpbench.firmware.formats import read_segments

        args: list[str] = []
        for i, seg in enumerate(read_segments(fw.path, fw.format, fw.load_address)):
            part = self.workdir / f"segment{i}.bin"
            part.write_bytes(seg.data)
            args += ["-device", f"loader,file={qemu_opt(part)},addr={seg.address:#x},force-raw=on"]
        return args

    def _console_args(self) -> list[str]:
        if self.console_kind == "tcp":
            backend = f"socket,id=console,host=127.0.0.1,port={self.port},server=on,wait=off,nodelay=on"
        else:
            backend = f"socket,id=console,path={qemu_opt(self.console_path)},server=on,wait=off"
        return ["-chardev", backend, "-serial", "chardev:console"]

    def _check_socket_paths(self) -> None:
        """Refuse a private folder too deep for unix socket paths, saying what to change."""
        paths = [self.qmp_path] + ([self.console_path] if self.console_kind == "unix" else [])
        for path in paths:
            if len(os.fsencode(path)) > UNIX_PATH_MAX:
                raise EngineError(
                    f"{self.platform.name}: the socket path {path} is longer than the {UNIX_PATH_MAX} bytes "
                    "a unix socket allows; set TMPDIR to a shorter folder",
                    engine="qemu",
                )

    def build_argv(self) -> list[str]:
        cfg = self.platform.engine_config
        binary, _ = find_binary(self.platform)
        if not binary:
            raise EngineUnavailable(self.unavailable_reason(self.platform) or "QEMU not found", engine="qemu")
        self._check_socket_paths()
        return [
            binary,
            "-M",
            cfg["machine"],
            *self._load_args(),
            "-nographic",
            "-monitor",
            "none",
            *self._console_args(),
            "-chardev",
            f"socket,id=qmp,path={qemu_opt(self.qmp_path)},server=on,wait=off",
            "-mon",
            "chardev=qmp,mode=control",
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
        """Start QEMU paused, connect QMP and the console, then let the board run.

        On any failure QEMU is stopped, its folder (log included) removed and
        an ``EngineError`` raised with QEMU's exit status and last output.
        """
        install_signal_handlers()
        tcp = self.console_kind == "tcp"
        last_error: EngineError | None = None
        for _attempt in range(3 if tcp else 1):  # tcp: a port taken between probe and bind; try another
            self.port = free_port() if tcp else 0
            try:
                self.argv = self.build_argv()
                self.process = ManagedProcess(self.argv, self.workdir / "qemu.log")
            except (OSError, EngineError) as e:
                self.stop()
                self.state = EngineState.ERROR
                if isinstance(e, EngineError):
                    raise
                raise EngineError(f"QEMU could not be run for {self.platform.name}: {e}", "qemu", self.argv) from e
            try:
                self._connect()
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
                last_error.__cause__ = e
                if "Address already in use" not in tail:
                    break
        self.stop()  # no QEMU, no log file, no folder left behind
        self.state = EngineState.ERROR
        assert last_error is not None
        raise last_error

    def _connect(self) -> None:
        assert self.process is not None
        alive = self.process.alive
        self.qmp = Qmp(self.qmp_path, self.connect_timeout, alive)
        if self.console_kind == "tcp":
            self._console = SocketConsole("127.0.0.1", self.port, self.connect_timeout, alive)
        else:
            self._console = UnixSocketConsole(self.console_path, self.connect_timeout, alive)
        self._url = self._console.url
        self.qmp.execute("cont")
        self.paused = False

    def ready(self, boot_output: str) -> bool:
        """The board reached its prompt: note the flash image to keep, or drop a kept one it calls corrupted.

        The image is copied with QEMU paused (QMP ``stop`` drains its block
        I/O), and moved into the cache only at ``stop``, after QEMU quit.
        The board stays where it is: False (no second prompt to wait for).
        """
        if self.flash is None:
            return False
        if flashcache.CORRUPTED in boot_output:
            self.flash.corrupted()
        elif not self.flash.from_cache:
            was_paused = self.paused
            self.pause()
            try:
                self.flash.at_prompt()
            finally:
                if not was_paused:
                    self.resume()
        return False

    def pause(self) -> None:
        """Stop the board's CPUs and clocks (QMP ``stop``): an idle board then costs no host CPU.

        Idempotent, and a no-op on an engine that is not running. Console
        input sent while paused waits in the socket until ``resume``.
        """
        if self.state is not EngineState.RUNNING or self.qmp is None or self.paused:
            return
        self.qmp.execute("stop")
        self.paused = True
        log.debug("%s: paused (QMP stop)", self.platform.name)

    def resume(self) -> None:
        """Let a paused board run again (QMP ``cont``); a no-op on a running or stopped one."""
        if self.state is not EngineState.RUNNING or self.qmp is None or not self.paused:
            return
        self.qmp.execute("cont")
        self.paused = False
        log.debug("%s: resumed (QMP cont)", self.platform.name)

    @requires_running
    def reset(self) -> None:
        """Hard reset (QMP ``system_reset``); a paused board is resumed first, so it boots again."""
        assert self.qmp is not None
        self.resume()
        if self._console:
            self._console.transcript.event("hard reset (QMP system_reset)")
        self.qmp.execute("system_reset")

    def _stop(self) -> None:
        # QMP quit works on a paused board too: no resume needed before it.
        if self.qmp is not None:
            with contextlib.suppress(Exception):
                self.qmp.sock.settimeout(1.0)
                self.qmp.execute("quit")
            self.qmp.close()
            self.qmp = None
        exited = True
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.proc.wait(1.0)
            self.process.stop()
            exited = not self.process.alive()
            self.process = None
        if self.flash is not None and exited:  # the image is final only once QEMU has quit
            printed = self._console.transcript.received() if self._console is not None else b""
            try:
                self.flash.finish(printed)
            except OSError as e:
                log.warning("%s: could not keep the flash image: %s", self.platform.name, e)
        if self._console is not None:
            self._console.close()
            self._console = None
        self._url = ""
        self.paused = False

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
