"""The Robot suites fail when a firmware lacks what its board description claims.

Real firmware throughout: a micro:bit description that claims every feature
(MicroPython 1.9.2 has few of them), and a unix port whose ``micropython``
module is stripped at start-up by a shim run with ``-i``, standing in for a
build configured without those functions. If a suite passed here, it would
not be checking the behaviour it names.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mpbench.platform import FEATURES
from mpbench.report import outcomes_from_output

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.emulator

SHIM = """\
import sys, micropython
class _Stripped:
    pass
_m = _Stripped()
for _k in dir(micropython):
    if _k.startswith("__"):
        continue
    setattr(_m, _k, getattr(micropython, _k))
for _k in ("const", "opt_level", "mem_info", "qstr_info", "stack_use", "heap_lock",
           "heap_unlock", "kbd_intr", "schedule"):
    delattr(_m, _k)
sys.modules["micropython"] = _m
del _m, _k, _Stripped
"""


def _liar(src: str, name: str, tmp: Path, **changes: object) -> None:
    data = yaml.safe_load((ROOT / "platforms" / f"{src}.yaml").read_text())
    data["name"] = name
    data["features"] = {"present": list(FEATURES), "absent": {}}
    data.update(changes)
    (tmp / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    tmp = tmp_path_factory.mktemp("liars")
    fake_timer = {
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
    _liar("microbit", "microbit-claims-all", tmp, irq_sources=fake_timer)
    shim = tmp / "strip_micropython.py"
    shim.write_text(SHIM)
    unix = yaml.safe_load((ROOT / "platforms" / "unix.yaml").read_text())
    engines = {"host": {**unix["engines"]["host"], "args": ["-i", str(shim)]}}
    _liar("unix", "unix-stripped", tmp, engines=engines, irq_sources=fake_timer)
    out = tmp / "results"
    env = {**os.environ, "MPBENCH_PLATFORMS": str(tmp)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "robot",
            "--outputdir",
            str(out),
            "--console",
            "dotted",
            "--variable",
            "PLATFORMS:microbit-claims-all,unix-stripped",
            str(ROOT / "robot"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert (out / "output.xml").is_file(), proc.stdout + proc.stderr
    found, _ = outcomes_from_output(out / "output.xml")
    return {(o.board, o.behaviour): o.status for o in found}


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
    ("microbit-claims-all", "With The Buffer An Exception In An IRQ Handler Prints A Traceback"),
    ("unix-stripped", "Without The Buffer The Traceback Is Lost"),
]


@pytest.mark.parametrize(("board", "behaviour"), EXPECTED_FAILURES)
def test_suite_fails_when_the_firmware_lacks_the_feature(
    outcomes: dict[tuple[str, str], str], board: str, behaviour: str
) -> None:
    assert (board, behaviour) in outcomes, f"no result for {behaviour} on {board}"
    assert outcomes[(board, behaviour)] == "FAIL"


def test_nothing_is_skipped_when_a_board_claims_everything(outcomes: dict[tuple[str, str], str]) -> None:
    """Skips come only from the platform file: a board claiming every feature skips nothing."""
    skipped = [k for k, status in outcomes.items() if status == "SKIP"]
    assert skipped == []
