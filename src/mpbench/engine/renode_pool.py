"""One Renode process, and the pool that keeps stopped ones for the next board of the same run.

Renode's own start (Mono) takes about 5 s of a board's start, its boot
snapshot ``Load`` under half a second (measured, README). So a board that
stops does not quit its Renode: the engine removes its terminals, ``Clear``s
the emulation (no machine is left, nothing runs) and parks the process here;
the next Renode board of the same Python process (a Robot run, a pytest
session, ``mpbench race``) takes it and loads its own machine into it.

``RenodeProcess`` is what belongs to the process, not to a board: the
``ManagedProcess``, the thread that copies Renode's output to its log, the
monitor's sync tags, the private folder with its own TMPDIR (Renode deletes
``$TMPDIR/renode-*`` of dead processes when it starts) and config folder. The
engine borrows one for each board.

Parked processes stay in ``ManagedProcess``'s registry, so its SIGTERM
handler and ``atexit`` stop them like running ones, and the pool's own
``atexit`` removes their folders. A process whose board failed is never
parked (see ``RenodeEngine._release``). ``MPBENCH_RENODE_POOL`` is the
number kept at most (default 2); ``0`` turns reuse off.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from mpbench.engine.process import ManagedProcess
from mpbench.errors import EngineError

log = logging.getLogger(__name__)

POOL_ENV = "MPBENCH_RENODE_POOL"
#: Parked processes kept at most when ``MPBENCH_RENODE_POOL`` is not set.
DEFAULT_POOL = 2

_VIRTUAL = re.compile(rb"Elapsed Virtual Time: (\d+):(\d+):(\d+(?:\.\d+)?)")
#: A line by which Renode says a command or script line failed, in its log or a monitor answer.
#: "No such command or device" is how Renode 1.15.1 answers a typo (a wrong peripheral or
#: method in a platform file's IRQ commands, say), not with its usual error line.
_ERROR = re.compile(r"\[ERROR\]|There was an error executing command|Could not find|No such command")
_LOG_LINE = re.compile(rb"\d\d:\d\d:\d\d\.\d{4} \[(?:NOISY|DEBUG|INFO|WARNING)\] [^\n]*\n")
_SYNC = re.compile(rb"^\s*mpb-sync-(\d+)\s*$")


class RenodeProcess:
    """A Renode with its monitor on standard input, lent to one board at a time.

    ``failed`` turns true when a monitor command failed, timed out or was
    interrupted: the monitor may still be busy with it, so such a process is
    stopped, never lent again.
    """

    def __init__(self, binary: str, key: tuple[str, ...]):
        self.binary = binary
        self.key = key
        self.dir = Path(tempfile.mkdtemp(prefix="mpbench-renode-proc-"))
        self.log_path = self.dir / "renode.log"
        self.process: ManagedProcess | None = None
        self.failed = False
        self.boards = 0  # how many boards have borrowed it
        #: Where the current borrower's part of the log starts (the log spans every borrower).
        self.log_offset = 0
        #: Called with every virtual time Renode prints (the borrower's free-running clock).
        self.on_time: Callable[[float], None] | None = None
        self._pump: threading.Thread | None = None
        self._sync_cond = threading.Condition()
        self._sync_n = 0
        self._sync_seen = 0
        self._sync_lines: list[str] = []

    # -- process ------------------------------------------------------------------------
    def spawn(self, argv: list[str]) -> None:
        """Start Renode (``argv``: binary, options, the board script) in this object's private folders."""
        env = dict(os.environ, TMPDIR=str(self.dir / "tmp"), XDG_CONFIG_HOME=str(self.dir / "config"))
        for d in ("tmp", "config"):
            (self.dir / d).mkdir(exist_ok=True)
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.boards = 1
        # Its output goes through the pipe to _read_output, which writes renode.log: the
        # process needs no log file of its own.
        self.process = ManagedProcess(argv, Path(os.devnull), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert self.process.proc.stdout is not None
        self._pump = threading.Thread(
            target=self._read_output, args=(self.process.proc.stdout,), name="renode-output", daemon=True
        )
        self._pump.start()

    def borrow(self) -> None:
        """A board takes this parked process: its log and errors start here."""
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.boards += 1

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return bool(self.process and self.process.alive())

    def quit(self) -> None:
        """Ask Renode to quit, then make sure it is gone, and remove its folder; idempotent."""
        if self.process is not None:
            with contextlib.suppress(Exception):
                self.send("quit")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.proc.wait(5.0)
            self.process.stop()
        self.kill()

    def kill(self) -> None:
        """Stop the process group at once and remove the folder (exit paths)."""
        if self.process is not None:
            self.process.stop(grace=1.0)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- output -----------------------------------------------------------------------
    def _read_output(self, stream: IO[bytes]) -> None:
        """Copy Renode's output to its log and hand every virtual-time answer to the borrower's clock.

        A thread of its own, so asking for the time never waits on the
        console reader and the console reader never waits on an answer.
        """
        pending = b""
        with open(self.log_path, "ab") as out:
            while True:
                try:
                    chunk = os.read(stream.fileno(), 65536)
                except OSError:
                    return
                if not chunk:
                    return
                out.write(chunk)
                out.flush()
                # Renode's logger writes from other threads and can land in the middle of a
                # monitor answer (measured: "m12:57:11.7260 [INFO] ... paused.\npb-sync-518"):
                # take whole log lines out before splitting the answers into lines.
                complete, sep, pending = _LOG_LINE.sub(b"", pending + chunk).rpartition(b"\n")
                on_time = self.on_time
                if on_time is not None:
                    for m in _VIRTUAL.finditer(complete + sep):
                        on_time(int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]))
                if complete:
                    self._sync_feed(complete.split(b"\n"))

    def _sync_feed(self, lines: list[bytes]) -> None:
        """Hand monitor output to a waiting ``sync``; its tag line says every command before it ran."""
        with self._sync_cond:
            for line in lines:
                m = _SYNC.match(line.replace(b"\r", b""))
                if m:
                    self._sync_seen = max(self._sync_seen, int(m[1]))
                    self._sync_cond.notify_all()
                else:
                    self._sync_lines.append(line.decode("utf-8", "replace"))

    def log_lines(self) -> list[str]:
        """What Renode logged since the current borrower took it."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode("utf-8", "replace").rstrip().splitlines()
        except OSError:
            return []

    def errors(self) -> list[str]:
        return [line for line in self.log_lines() if _ERROR.search(line)]

    def log_tail(self, lines: int = 15) -> str:
        """Renode's error lines since the borrower took it, else the last lines of its log."""
        logged = self.log_lines()
        errors = [line for line in logged if _ERROR.search(line)]
        return "\n".join((errors or logged)[-lines:])

    # -- monitor ----------------------------------------------------------------------
    def send(self, command: str) -> None:
        """One monitor command, not waited for (answers and errors go to the log)."""
        if self.process is None or not self.process.alive():
            raise EngineError("Renode is not running", engine="renode", stderr_tail=self.log_tail())
        stdin: IO[bytes] | None = self.process.proc.stdin
        assert stdin is not None
        stdin.write(command.encode() + b"\n")
        stdin.flush()

    def sync(self, commands: list[str], timeout: float) -> list[str]:
        """Send ``commands`` and wait until the monitor has run them all; their output lines.

        A tag echoed after them marks the end: the monitor runs commands in
        order, and ``RunFor`` returns only once its span has run. A command
        Renode rejects raises ``EngineError`` with its message. Any failure
        (or an interrupt while waiting) marks the process ``failed``.
        """
        try:
            return self._sync(commands, timeout)
        except BaseException:
            self.failed = True
            raise

    def _sync(self, commands: list[str], timeout: float) -> list[str]:
        if self.process is None or not self.process.alive():
            raise EngineError("Renode is not running", engine="renode", stderr_tail=self.log_tail())
        stdin: IO[bytes] | None = self.process.proc.stdin
        assert stdin is not None
        with self._sync_cond:
            self._sync_n += 1
            n = self._sync_n
            self._sync_lines = []
        text = "".join(c + "\n" for c in commands) + f'echo "mpb-sync-{n}"\n'
        try:
            stdin.write(text.encode())
            stdin.flush()
        except OSError as e:
            raise EngineError(f"Renode's monitor closed: {e}", engine="renode", stderr_tail=self.log_tail()) from e
        end = time.monotonic() + timeout
        with self._sync_cond:
            while self._sync_seen < n:
                left = end - time.monotonic()
                if left <= 0 or not self.alive():
                    why = "exited" if not self.alive() else f"did not finish {commands[:2]} within {timeout:.0f} s"
                    raise EngineError(f"Renode {why}", engine="renode", stderr_tail=self.log_tail())
                self._sync_cond.wait(min(left, 0.5))
            lines = list(self._sync_lines)
        errors = [ln for ln in lines if _ERROR.search(ln)]
        if errors:
            i = next(i for i, ln in enumerate(lines) if ln in errors)
            raise EngineError(
                f"Renode refused a monitor command: {' '.join(x.strip() for x in lines[i : i + 2])}",
                engine="renode",
                stderr_tail=self.log_tail(),
            )
        return lines


# -- the pool ---------------------------------------------------------------------------
_PARKED: list[RenodeProcess] = []
_LOCK = threading.RLock()


def pool_size() -> int:
    """How many stopped Renode processes this Python process keeps (``MPBENCH_RENODE_POOL``)."""
    raw = os.environ.get(POOL_ENV, "").strip()
    if not raw:
        return DEFAULT_POOL
    try:
        return max(0, int(raw))
    except ValueError:
        log.warning("%s=%r is not a whole number: keeping no Renode process for reuse", POOL_ENV, raw)
        return 0


def take(key: tuple[str, ...]) -> RenodeProcess | None:
    """A parked process started with ``key`` (binary, driver, clock mode), or None."""
    if pool_size() == 0:
        drain()
        return None
    with _LOCK:
        for rp in list(_PARKED):
            if rp.key != key:
                continue
            _PARKED.remove(rp)
            if rp.alive() and not rp.failed:
                return rp
            rp.kill()  # died while parked
    return None


def park(rp: RenodeProcess) -> bool:
    """Keep a cleaned process for the next board; False (the caller stops it) when the pool is off.

    A full pool stops its oldest process: the newest is the likeliest to
    match the next board (a run that switched clock mode keeps no stale one).
    """
    size = pool_size()
    if size == 0:
        return False
    with _LOCK:
        rp.on_time = None
        _PARKED.append(rp)
        evicted = _PARKED[:-size]
        del _PARKED[:-size]
    for old in evicted:
        old.quit()
    return True


def parked() -> list[RenodeProcess]:
    with _LOCK:
        return list(_PARKED)


def drain() -> None:
    """Stop every parked process and remove its folder (at exit, or when the pool is turned off)."""
    with _LOCK:
        gone = list(_PARKED)
        _PARKED.clear()
    for rp in gone:
        with contextlib.suppress(Exception):
            rp.kill()


atexit.register(drain)
