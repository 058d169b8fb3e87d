"""The board model: what a platform file says, as typed, frozen data.

A Platform does no I/O and knows nothing of processes (labgrid's Resource
idea): engines, sessions and suites read it. Loading and validation live in
``platform_loader``; this module only defines the shapes, so every layer can
import it cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

#: Every feature name a platform file may list. A test asks for one of these
#: with ``Skip Unless Board Has``; a typo in a file is caught by the schema.
FEATURES: tuple[str, ...] = (
    "const",
    "const_folding",
    "opt_level",
    "mem_info",
    "qstr_info",
    "stack_use",
    "heap_lock",
    "heap_unlock_depth",
    "heap_locked",
    "repl_heap_unlock",
    "kbd_intr",
    "kbd_intr_char",
    "schedule",
    "alloc_emergency_exception_buf",
    "hard_irq",
    "soft_irq",
    "stdin_read",
    "gc_collect_count",
    "gc_threshold",
    "const_tuple",
    "str_encode",
    "gc_block_16",
    "mpy_import",
    "fs_statvfs",
    "fs_write",
    "frozen_module",
)

ENGINES: tuple[str, ...] = ("qemu", "renode", "host")


@dataclass(frozen=True)
class Mcu:
    part: str
    arch: str
    clock_hz: int | None = None


@dataclass(frozen=True)
class Memory:
    flash: int | None = None
    ram: int | None = None
    heap: int | None = None


@dataclass(frozen=True)
class Console:
    """Where the REPL is reached and how much unacknowledged input it survives."""

    uart: str
    baud: int | None = None
    #: Bytes the firmware can hold unread; None means the transport paces itself.
    rx_buffer: int | None = None
    #: ``byte``: Ctrl-C is the byte 0x03 on the console; ``signal``: SIGINT (host port).
    interrupt: Literal["byte", "signal"] = "byte"


@dataclass(frozen=True)
class Repl:
    """Which REPL modes this firmware speaks."""

    raw: bool = True
    raw_paste: bool = False
    paste: bool = True
    soft_reset: Literal["ctrl-d", "restart"] = "ctrl-d"
    #: Text the banner starts with; checked when the board boots.
    banner: str | None = None
    #: Largest source one exec can compile; longer scripts go in chunks.
    max_exec_source: int | None = None
    #: Seconds of silence after a ``>>> `` that make it the prompt after boot (ESP32 prints
    #: more after early prompts when its watchdog resets it).
    prompt_settle: float = 0.02
    #: Why no REPL of this firmware can be reached (e.g. stdio only over Bluetooth).
    unreachable: str | None = None


@dataclass(frozen=True)
class Feature:
    name: str
    present: bool
    #: Why it is absent (shown as the skip reason); empty when present.
    reason: str = ""


@dataclass(frozen=True)
class IrqSource:
    """How a test raises a real interrupt on this board.

    ``start`` and ``fire`` are MicroPython snippets with ``{cb}`` standing for
    the callback's name; ``kind`` says whether the callback runs in a hard IRQ
    (heap locked, may not allocate) or is scheduled (soft).
    """

    name: str
    kind: Literal["hard", "soft"]
    start: str
    stop: str
    fire: str | None = None
    rate_hz: float | None = None
    #: First line printed when the callback raises (hard IRQs on stm32).
    header: str | None = None
    #: Engine commands that raise the IRQ from outside the firmware (e.g. a GPIO edge in Renode).
    external: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class FrozenModule:
    """A Python module frozen into the firmware, and where its source lives in a MicroPython checkout.

    Firmware keeps a frozen module as bytecode only, so comparing it with
    "the same source from a file" needs that source from somewhere else: the
    user's checkout. ``sha256`` pins which file the firmware froze (one or
    more accepted versions), so a checkout of another release is refused
    with a reason instead of being compared silently.
    """

    name: str
    source: str
    sha256: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True, eq=False)
class Platform:
    """One board: MCU, memory, console, firmware, engine settings and features.

    Frozen so no layer edits a board by accident; compared by identity
    (``eq=False``) because it holds mappings, which are not hashable.
    """

    name: str
    title: str
    path: Path
    mcu: Mcu
    console: Console
    repl: Repl
    firmware: str
    engine: str
    engines: Mapping[str, Mapping[str, Any]]
    features: Mapping[str, Feature]
    memory: Memory = field(default_factory=Memory)
    irq_sources: Mapping[str, IrqSource] = field(default_factory=dict)
    boot_timeout: float = 30.0
    notes: str = ""
    frozen_module: FrozenModule | None = None

    @property
    def engine_config(self) -> Mapping[str, Any]:
        """The settings of the engine this board runs on."""
        return self.engines.get(self.engine, {})

    def has(self, feature: str) -> bool:
        """True when the firmware has ``feature``; unknown names are a bug in the caller."""
        if feature not in FEATURES:
            raise KeyError(f"unknown feature {feature!r}; known: {', '.join(FEATURES)}")
        f = self.features.get(feature)
        return bool(f and f.present)

    def missing(self, need: str) -> str | None:
        """Why a test that needs ``need`` cannot run here (the platform file's words), or None when it can.

        ``need`` is a feature name or ``irq:SOURCE`` (an IRQ source of the
        platform file). One answer for every face that skips tests (the
        Robot library, the pytest plugin). Unknown feature names raise KeyError.
        """
        if need.startswith("irq:"):
            source = need[4:]
            if source in self.irq_sources:
                return None
            why = self.why_not("hard_irq") or self.why_not("soft_irq")
            return f"{self.name} has no IRQ source {source!r}" + (f": {why}" if why else "")
        return None if self.has(need) else self.why_not(need)

    def why_not(self, feature: str) -> str:
        """The platform file's reason a feature is absent, for skip messages."""
        if feature not in FEATURES:
            raise KeyError(f"unknown feature {feature!r}; known: {', '.join(FEATURES)}")
        f = self.features.get(feature)
        if f is None:
            return f"{self.name}: the platform file {self.path.name} does not list {feature!r}"
        if f.present:
            return ""
        return f"{self.name}: {f.reason}"
