"""Child processes that can never outlive mpbench.

Every emulator runs in its own process group (``start_new_session``) so a stop
reaches its helpers too. Stopping is polite first, then SIGKILL to the group
(Robot's Process library recipe). A module-level registry lets the SIGTERM
handler and ``atexit`` stop whatever is still running, so a Ctrl-C or a crash
never leaves an emulator behind.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_LIVE: set[ManagedProcess] = set()
_LOCK = threading.Lock()


class ManagedProcess:
    """A child process in its own group, with its output kept in a log file."""

    def __init__(self, argv: Sequence[str], log_path: Path, **popen: Any):
        self.argv = list(argv)
        self.log_path = log_path
        log.debug("starting: %s", " ".join(self.argv))
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        popen.setdefault("stdout", self._log)
        popen.setdefault("stderr", subprocess.STDOUT)
        popen.setdefault("stdin", subprocess.DEVNULL)
        self.proc = subprocess.Popen(self.argv, start_new_session=True, close_fds=True, **popen)
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
        """SIGTERM the group, wait ``grace`` seconds, then SIGKILL it; idempotent."""
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(5)
        else:
            # The leader exited; make sure nothing it spawned lingers.
            self._signal_group(signal.SIGKILL)
        with _LOCK:
            _LIVE.discard(self)
        with contextlib.suppress(OSError):
            self._log.close()
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
