"""The host engine: MicroPython's unix port under a pseudo-terminal.

The port (the board's firmware: a command the manifest names, found through
its variable or PATH) gets the pty as its controlling terminal, like a shell would give
it, with output post-processing off so the bytes read are the bytes it
wrote. A reset restarts the process: Ctrl-D at the unix prompt exits the
port instead of soft-resetting it.
"""

from __future__ import annotations

import fcntl
import os
import pty
import termios

from mpbench.console.pty import PtyConsole
from mpbench.engine.base import Determinism, Engine, EngineState, register_engine, requires_running
from mpbench.engine.process import ManagedProcess, install_signal_handlers
from mpbench.errors import EngineError, EngineUnavailable
from mpbench.platform import Platform


def _make_controlling_tty() -> None:
    # Runs in the child after setsid(): the pty on fd 0 becomes its terminal,
    # so the port's own terminal handling works as in a real shell.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@register_engine("host")
class HostEngine(Engine):
    @classmethod
    def unavailable_reason(cls, platform: Platform) -> str | None:
        # A pty is all this engine needs; the port itself is the board's firmware
        # (a command in the manifest), whose absence the firmware layer reports.
        return None

    def __init__(self, platform: Platform, firmware: object):
        super().__init__(platform, firmware)
        self.process: ManagedProcess | None = None
        self._console: PtyConsole | None = None
        self._keep_spare = False
        self._spare: tuple[int, str, ManagedProcess] | None = None

    @property
    def console_url(self) -> str:
        return self._console.url if self._console else ""

    def start(self) -> None:
        install_signal_handlers()
        command = getattr(self.firmware, "path", None)
        if not command:
            raise EngineUnavailable("the host engine needs the unix port as its firmware (a command)", engine="host")
        self.argv = [str(command), *self.platform.engine_config.get("args", [])]
        self._spawn()
        self.state = EngineState.RUNNING

    def keep_spare(self, enabled: bool = True) -> None:
        """Start each next port while the current one works, so a reset costs no start-up time.

        For runs that reset before every test (``mpbench upstream``): the port
        from PyPI starts through a Python wrapper (60-70 ms each, measured on
        a loaded 2-core host), which a spare started beforehand hides. Its
        banner waits in its pty until it is used.
        """
        self._keep_spare = enabled
        if enabled and self._spare is None and self.state is EngineState.RUNNING:
            self._spare = self._start_port()
        if not enabled and self._spare is not None:
            self._spare[2].stop(grace=1.0)
            os.close(self._spare[0])
            self._spare = None

    def _spawn(self) -> None:
        master, slave_name, self.process = self._spare or self._start_port()
        self._spare = self._start_port() if self._keep_spare else None
        if self._console is None:
            self._console = PtyConsole(master, slave_name, self._pid)
        else:  # a restart keeps one console object, and so one transcript
            self._console.reattach(master, f"pty://{slave_name}")

    def _start_port(self) -> tuple[int, str, ManagedProcess]:
        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST  # oflag: no \n -> \r\n rewriting
        attrs[3] &= ~(termios.ICANON | termios.ECHO | termios.IEXTEN)
        attrs[3] |= termios.ISIG
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        slave_name = os.ttyname(slave)
        try:
            process = ManagedProcess(
                self.argv,
                self.workdir / "host.log",
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=self.workdir,  # files a script writes land in the private temp dir
                preexec_fn=_make_controlling_tty,
            )
        except OSError as e:
            os.close(master)
            raise EngineError(f"could not start the unix port: {e}", engine="host", argv=self.argv) from e
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        return master, slave_name, process

    def _pid(self) -> int | None:
        return self.process.pid if self.process and self.process.alive() else None

    @requires_running
    def reset(self) -> None:
        """Restart the port: the host equivalent of a hard reset."""
        if self._console:
            self._console.transcript.event("reset (restarting the unix port)")
        if self.process:
            self.process.stop(grace=1.0)
        self._spawn()

    def _stop(self) -> None:
        self.keep_spare(False)
        if self.process is not None:
            self.process.stop(grace=1.0)
            self.process = None
        if self._console is not None:
            self._console.close()
            self._console = None

    def log_tail(self, lines: int = 15) -> str:
        rc = self.process.returncode() if self.process else None
        return "" if rc is None else f"the unix port exited with status {rc}"

    def alive(self) -> bool:
        return bool(self.process and self.process.alive())

    def version(self) -> str:
        return "unix port " + " ".join(self.argv[:1])

    def determinism(self) -> Determinism:
        return Determinism(
            "none",
            None,
            False,
            "not deterministic: the unix port runs on the host's clock and scheduler, so anything timed "
            "(ticks, sleeps, when a signal lands) can differ between runs",
        )


__all__ = ["HostEngine"]
