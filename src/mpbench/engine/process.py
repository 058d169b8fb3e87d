"""Child processes that can never outlive mpbench.

Every emulator runs in its own process group (``start_new_session``) so a stop
reaches its helpers too, and with a parent-death signal (``setpriv --pdeathsig``)
so even a SIGKILL of mpbench, which no handler sees, takes it down. Stopping is polite first, then SIGKILL to the group
(Robot's Process library recipe). A module-level registry lets the SIGTERM
handler and ``atexit`` stop whatever is still running, so a Ctrl-C or a crash
never leaves an emulator behind.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_LIVE: set[ManagedProcess] = set()
#: util-linux's setpriv (Debian: always installed) starts a child with a parent-death signal, so an
#: emulator dies with mpbench even when mpbench is SIGKILLed and no handler runs (seen: QEMUs left
#: by killed test runs for hours). Done by exec'ing setpriv, not in a preexec_fn, which is unsafe
#: with threads; and only from the main thread, because the signal comes when the *thread* that
#: started the child ends.
_SETPRIV = shutil.which("setpriv")
#: Reentrant: the SIGTERM handler runs on the main thread, possibly while that thread
#: holds the lock (starting or stopping a process); a plain Lock would deadlock there.
_LOCK = threading.RLock()


class ManagedProcess:
    """A child process in its own group, with its output kept in a log file."""

    def __init__(self, argv: Sequence[str], log_path: Path, **popen: Any):
        self.argv = list(argv)
        self.log_path = log_path
        log.debug("starting: %s", " ".join(self.argv))
        launch = self.argv
        if _SETPRIV and threading.current_thread() is threading.main_thread():
            # Checked here because setpriv would turn a missing program into exit 127.
            if shutil.which(self.argv[0]) is None:
                raise FileNotFoundError(2, "No such file or directory", self.argv[0])
            launch = [_SETPRIV, "--pdeathsig", "KILL", "--", *self.argv]
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        popen.setdefault("stdout", self._log)
        popen.setdefault("stderr", subprocess.STDOUT)
        popen.setdefault("stdin", subprocess.DEVNULL)
        try:
            self.proc = subprocess.Popen(launch, start_new_session=True, close_fds=True, **popen)
        except BaseException:
            self._log.close()  # nothing started: nothing else to clean up
            raise
        with _LOCK:
            _LIVE.add(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def returncode(self) -> int | None:
        return self.proc.poll()

    def output_tail(self, lines: int = 15) -> str:
        """The last lines the process wrote (its log), for error messages."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").rstrip().splitlines()[-lines:])

    def stop(self, grace: float = 2.0) -> int | None:
        """SIGTERM the group, wait ``grace`` seconds, then SIGKILL it; idempotent.

        The bookkeeping (registry, log file, pipes) is done whatever the waits
        raise: a process stuck in the kernel after SIGKILL must not leave the
        registry and files behind too.
        """
        try:
            if self.proc.poll() is None:
                self._signal_group(signal.SIGTERM)
                try:
                    self.proc.wait(grace)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.proc.wait(5)
            else:
                # The leader exited; make sure nothing it spawned lingers.
                self._signal_group(signal.SIGKILL)
        finally:
            with _LOCK:
                _LIVE.discard(self)
            with contextlib.suppress(OSError):
                self._log.close()
            for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
        return self.proc.returncode

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)


def stop_all() -> None:
    """Stop every process still registered (atexit and signal handlers call this)."""
    with _LOCK:
        live = list(_LIVE)
    for p in live:
        with contextlib.suppress(Exception):
            p.stop(grace=1.0)


def live_processes() -> list[ManagedProcess]:
    with _LOCK:
        return list(_LIVE)


def _on_sigterm(signum: int, frame: object) -> None:
    # Raise so that finally blocks and context managers run; stop_all covers the rest.
    stop_all()
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """Make SIGTERM and SIGHUP unwind the program (SIGINT already raises KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _on_sigterm)


atexit.register(stop_all)
