"""The engine contract: start a board, give its console, reset, stop.

An engine owns processes and sockets and knows nothing of Python or the REPL
(the session does). Engines register by name (``@register_engine``), and the
platform file's ``engine:`` key picks one, as labgrid's factory does.
"""

from __future__ import annotations

import enum
import functools
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from mpbench.console import Console
from mpbench.deadline import Clock
from mpbench.errors import EngineError
from mpbench.platform import Platform

_ENGINES: dict[str, type[Engine]] = {}

E = TypeVar("E", bound="type[Engine]")


def register_engine(name: str) -> Callable[[E], E]:
    def deco(cls: E) -> E:
        cls.name = name
        _ENGINES[name] = cls
        return cls

    return deco


def engine_class(name: str) -> type[Engine]:
    """The engine class registered as ``name``; the error lists the known ones."""
    # Import the built-in engines so they register themselves.
    from mpbench.engine import host, qemu, renode, renode_py3  # noqa: F401

    name = renode_py3.driver_for(name)  # MPBENCH_RENODE_DRIVER=pyrenode3 swaps the Renode driver
    try:
        return _ENGINES[name]
    except KeyError:
        raise EngineError(f"unknown engine {name!r}; known engines: {', '.join(sorted(_ENGINES))}") from None


class EngineState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    STOPPED = "stopped"
    ERROR = "error"


@dataclass(frozen=True)
class Determinism:
    """How repeatable a run on an engine is, as bundles record it.

    ``method`` is what the engine can use to make guest timing repeatable
    (``icount``: QEMU counts instructions instead of following the host
    clock; ``none``); ``setting`` its configuration; ``active`` whether this
    run uses it; ``note`` what stays host-dependent, in words.
    """

    method: str
    setting: str | None
    active: bool
    note: str

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "setting": self.setting, "active": self.active, "note": self.note}


F = TypeVar("F", bound=Callable[..., Any])


def requires_running(method: F) -> F:
    """Refuse to act on an engine that is not running, naming the call and the state."""

    @functools.wraps(method)
    def wrapper(self: Engine, *args: Any, **kwargs: Any) -> Any:
        if self.state is not EngineState.RUNNING:
            raise EngineError(
                f"{type(self).__name__}.{method.__name__}() needs a running engine; it is {self.state.value}"
            )
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class Engine(ABC):
    """One emulated (or host) board process."""

    name: ClassVar[str] = ""
    #: Asked for by ``Board(deterministic=True)`` before ``start``; see ``determinism``.
    deterministic: bool = False

    def __init__(self, platform: Platform, firmware: Any):
        self.platform = platform
        self.firmware = firmware
        self.state = EngineState.IDLE
        self.workdir = Path(tempfile.mkdtemp(prefix=f"mpbench-{platform.name}-"))
        self.argv: list[str] = []
        self._console: Console | None = None
        #: Files (board path -> bytes) to bake into the filesystem image the engine writes at start;
        #: set by ``Board`` from what ``image_accepts`` took.
        self.image_files: dict[str, bytes] = {}
        #: Set (by ``Board``) when this board failed to start or to recover: an engine that keeps its
        #: process for the next board (Renode's pool) stops it instead.
        self.failed = False

    @classmethod
    def image_accepts(cls, platform: Platform, remote: str) -> bool:
        """True when this engine can bake a file named ``remote`` into the board's boot image.

        Most engines boot no image of their own making: their files go through the REPL.
        """
        return False

    @classmethod
    @abstractmethod
    def unavailable_reason(cls, platform: Platform) -> str | None:
        """None when this machine can run the engine for ``platform``, else what is missing."""

    @abstractmethod
    def start(self) -> None:
        """Start the board (paused where the engine can) and make its console ready."""

    @requires_running
    def open_console(self) -> Console:
        """The board's console (the same object across restarts, so one transcript)."""
        if self._console is None:
            raise EngineError(f"{type(self).__name__} is running but has no console")
        return self._console

    @abstractmethod
    def reset(self) -> None:
        """Hard-reset the board (the console stays connected where the engine allows)."""

    @abstractmethod
    def _stop(self) -> None: ...

    @abstractmethod
    def log_tail(self, lines: int = 15) -> str:
        """The engine's own last output (stderr/log), for error messages."""

    def pause(self) -> None:  # noqa: B027 - engines whose idle board costs CPU override it
        """Stop the board's time while nobody talks to it (an idle Renode board burns a core).

        Safe to call on a paused or stopped engine; ``resume`` undoes it.
        Console input sent meanwhile waits in the console's buffer.
        """

    def resume(self) -> None:  # noqa: B027 - see pause
        """Let a paused board run again; safe to call on a running one."""

    def clock(self) -> Clock | None:
        """The emulator's virtual clock for waits, or None to count host time."""
        return None

    def ready(self, boot_output: str) -> bool:
        """Called once the board first reached its prompt (engines that keep state after a boot use it).

        True when the engine put the board back into a saved state, whose
        prompt the board must then wait for again (Renode's boot snapshot).
        """
        return False

    def version(self) -> str:
        """The engine's version string, for reports and bundles."""
        return ""

    def determinism(self) -> Determinism:
        """What this engine does to make runs repeatable; engines with a way override this.

        (Renode's virtual time belongs here once the Renode engine drives boards.)
        """
        return Determinism("none", None, False, f"the {self.name} engine has no control over guest timing")

    @property
    def console_url(self) -> str:
        return ""

    def stop(self) -> None:
        """Stop everything this engine started; safe to call twice."""
        try:
            self._stop()
        finally:
            self.state = EngineState.STOPPED
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
