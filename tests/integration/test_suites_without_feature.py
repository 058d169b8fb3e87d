"""The Robot suites fail when a firmware lacks what its board description claims.

Real firmware throughout: a micro:bit description that claims every feature
(MicroPython 1.9.2 has few of them), and a unix port whose ``micropython``
module is stripped at start-up by a shim run with ``-i``, standing in for a
build configured without those functions. If a suite passed here, it would
not be checking the behaviour it names.

The micro:bit's IRQ sources name ``pyb``, which its firmware lacks: that is
the missing feature. The stripped unix port gets its IRQs from
tests/shims/irq_sim.py (a stand-in for a hard timer ISR on a port without
interrupts), so its IRQ tests fail because ``schedule`` or
``alloc_emergency_exception_buf`` is gone, not because an import failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mpbench.frozen import ENV
from mpbench.platform import FEATURES
from suite_runs import ROOT, SHIMS, Result, run_suites, with_features, write_variant
from support import needs

pytestmark = pytest.mark.emulator

STRIPPED = (
    "const",
    "opt_level",
    "mem_info",
    "qstr_info",
    "stack_use",
    "heap_lock",
    "heap_unlock",
    "kbd_intr",
    "schedule",
    "alloc_emergency_exception_buf",
)

#: Run after tests/shims/irq_sim.py, in the same file: removes ``STRIPPED`` from the module it left.
SHIM = f"""\
import sys, micropython
class _Stripped:
    pass
_m = _Stripped()
for _k in dir(micropython):
    if _k.startswith("__"):
        continue
    setattr(_m, _k, getattr(micropython, _k))
for _k in {STRIPPED!r}:
    delattr(_m, _k)
sys.modules["micropython"] = _m
del _m, _k, _Stripped
"""

EVERYTHING = {"present": list(FEATURES), "absent": {}}

#: Claimed by the micro:bit, whose firmware has no pyb: every IRQ test must fail there.
PYB_IRQS = {
    "timer": {
        "kind": "hard",
        "start": "import pyb; _t = pyb.Timer(4, freq=100, callback={cb})",
        "stop": "_t.deinit()",
        "header": "uncaught exception in Timer(4) interrupt handler",
    },
    "soft_timer": {
        "kind": "soft",
        "start": "import machine; _s = machine.Timer(-1, period=10, callback={cb})",
        "stop": "_s.deinit()",
    },
    "swint": {
        "kind": "hard",
        "start": "import pyb; _e = pyb.ExtInt('X1', 1, 2, {cb})",
        "fire": "_e.swint()",
        "stop": "_e.disable()",
    },
    "pin_edge": {
        "kind": "hard",
        "start": "import pyb; _e = pyb.ExtInt('X1', 1, 2, {cb})",
        "stop": "_e.disable()",
        "external": ["sysbus.gpioPortA OnGPIO 0 true"],
    },
}


def _sim(name: str, hard: bool, **more: object) -> dict[str, object]:
    """An IRQ source served by tests/shims/irq_sim.py's simulated timer."""
    return {
        "kind": "hard" if hard else "soft",
        "start": f"import mpb_irq_sim; {name} = mpb_irq_sim.Timer({{cb}}, hard={hard}, header='irq sim')",
        "fire": f"{name}.fire()",
        "stop": f"{name}.deinit()",
        **more,
    }


#: Claimed by the micro:bit, whose `this` is built in C: with a checkout the sources differ, without one it skips.
CLAIMED = {**yaml.safe_load((ROOT / "platforms" / "unix.yaml").read_text())["frozen_module"], "name": "this"}

#: Claimed by the stripped unix port; pin_edge asks the engine to drive a pin, which the host engine cannot.
SIM_IRQS = {
    "timer": _sim("_t", True, header="irq sim"),
    "soft_timer": _sim("_s", False),
    "swint": _sim("_e", True),
    "pin_edge": {**PYB_IRQS["pin_edge"]},
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Result]:
    needs("microbit")
    needs("unix")
    tmp = tmp_path_factory.mktemp("liars")
    platforms = tmp / "platforms"
    platforms.mkdir()
    write_variant(
        platforms, "microbit", "microbit-claims-all", features=EVERYTHING, irq_sources=PYB_IRQS, frozen_module=CLAIMED
    )
    shim = tmp / "strip_micropython.py"
    shim.write_text((SHIMS / "irq_sim.py").read_text() + "\n" + SHIM)
    write_variant(platforms, "unix", "unix-stripped", shim, features=EVERYTHING, irq_sources=SIM_IRQS)
    return run_suites(platforms, ["microbit-claims-all", "unix-stripped"], tmp / "results")


# One behaviour per promise, and the board whose firmware lacks it.
EXPECTED_FAILURES = [
    ("microbit-claims-all", "A Const Is Folded Into The Code That Uses It"),
    ("microbit-claims-all", "An Underscore Const Is Hidden From Module Globals"),
    ("unix-stripped", "A Const Expression May Use An Earlier Const"),
    ("unix-stripped", "The Default Level Is 0"),
    ("unix-stripped", "At Level 3 Tracebacks Carry No Line Numbers"),
    ("unix-stripped", "Mem Info Prints Stack And Heap Figures"),
    ("unix-stripped", "Verbose Qstr Info Lists A Name Just Interned"),
    ("unix-stripped", "Stack Use Grows With Call Depth"),
    ("unix-stripped", "Allocation Raises MemoryError While The Heap Is Locked"),
    ("microbit-claims-all", "Heap Unlock Returns The Remaining Depth"),
    ("microbit-claims-all", "Heap Locked Returns The Depth"),
    ("unix-stripped", "Heap Locked Returns The Depth"),
    ("microbit-claims-all", "The REPL Unlocks A Heap Left Locked"),
    ("unix-stripped", "Kbd Intr 3 Restores Ctrl-C"),
    ("unix-stripped", "Another Character Can Be Chosen As The Interrupt"),
    ("microbit-claims-all", "A Scheduled Function Runs With Its Argument"),
    ("microbit-claims-all", "A Full Queue Raises RuntimeError"),
    ("unix-stripped", "Scheduled Functions Run In Queue Order"),
    ("microbit-claims-all", "Schedule Works From A Hard Timer IRQ"),
    ("microbit-claims-all", "Schedule Works From A Soft Timer IRQ"),
    ("microbit-claims-all", "Schedule Works From A Software-Triggered IRQ"),
    ("microbit-claims-all", "Schedule Works From A Pin Edge Driven From Outside"),
    ("unix-stripped", "A Full Queue Raises RuntimeError Inside A Hard IRQ"),
    ("unix-stripped", "A Bound Method Cannot Be Scheduled From A Hard IRQ But A Stored Reference Can"),
    ("unix-stripped", "Schedule Works From A Hard Timer IRQ"),
    ("unix-stripped", "Schedule Works From A Soft Timer IRQ"),
    ("unix-stripped", "Schedule Works From A Software-Triggered IRQ"),
    ("microbit-claims-all", "With The Buffer An Exception In An IRQ Handler Prints A Traceback"),
    ("unix-stripped", "With The Buffer An Exception In An IRQ Handler Prints A Traceback"),
    ("unix-stripped", "A Timer Handler That Raised Is Not Called Again"),
    # The memory suites (issue 14): micro:bit 1.9.2 breaks these promises where its file says so.
    ("microbit-claims-all", "Gc Collect Returns The Count On Unix And None On Bare Metal"),
    ("microbit-claims-all", "A Tuple Of Constants Is One Object"),
    ("microbit-claims-all", "Str Encode Allocates"),
    ("microbit-claims-all", "A Precompiled Module Imports And Runs Like Its Source"),
    ("microbit-claims-all", "An Mpy Of Another Version Is Refused With ValueError"),
    ("unix-stripped", "Adjacent String Literals Are Joined At Compile Time"),
    ("unix-stripped", "Exec And Eval Need The Heap"),
    ("unix-stripped", "A Name Used Many Times Is Interned Once"),
]


@pytest.mark.parametrize(("board", "behaviour"), EXPECTED_FAILURES)
def test_suite_fails_when_the_firmware_lacks_the_feature(
    outcomes: dict[tuple[str, str], Result], board: str, behaviour: str
) -> None:
    assert (board, behaviour) in outcomes, f"no result for {behaviour} on {board}"
    assert outcomes[(board, behaviour)].status == "FAIL"


def test_the_stripped_ports_irq_tests_fail_for_the_missing_function(outcomes: dict[tuple[str, str], Result]) -> None:
    """On the stripped unix port the IRQ handlers ran and met the missing function, not a missing module."""
    for behaviour in ("Schedule Works From A Hard Timer IRQ", "A Full Queue Raises RuntimeError Inside A Hard IRQ"):
        message = outcomes[("unix-stripped", behaviour)].message
        assert "has no attribute 'schedule'" in message, message
    message = outcomes[("unix-stripped", "With The Buffer An Exception In An IRQ Handler Prints A Traceback")].message
    assert "alloc_emergency_exception_buf" in message, message


def test_nothing_is_skipped_when_a_board_claims_everything(outcomes: dict[tuple[str, str], Result]) -> None:
    """Skips come only from the platform file: a board claiming every feature skips nothing.

    Except what the bench itself lacks: without a MicroPython checkout the
    frozen-module test cannot get its source, and says so.
    """
    skipped = [k for k, r in outcomes.items() if r.status == "SKIP" and ENV not in r.message]
    assert skipped == []


def test_the_heap_map_test_fails_where_a_line_is_not_0x400_bytes(tmp_path: Path) -> None:
    """The unix port is 64-bit (32-byte blocks, 0x800-byte lines): claiming 16-byte blocks turns the test red."""
    needs("unix")
    platforms = tmp_path / "platforms"
    platforms.mkdir()
    write_variant(platforms, "unix", "unix-claims-16-byte-blocks", features=with_features("unix", "gc_block_16"))
    results = run_suites(platforms, ["unix-claims-16-byte-blocks"], tmp_path / "results", "--suite", "heap_map")
    r = results[("unix-claims-16-byte-blocks", "Each Line Of The Heap Map Covers 0x400 Bytes")]
    assert r.status == "FAIL" and r.message.startswith("the lines cover [2048] bytes each"), r.message
