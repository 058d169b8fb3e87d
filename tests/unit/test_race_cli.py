"""``mpbench race`` refuses bad input with exit 2 and one line, before any board boots."""

from __future__ import annotations

import pytest

from mpbench.race import first_difference, offsets_of
from support import ROOT, mpbench

SCRIPT = str(ROOT / "examples" / "race_extint_rmw.py")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-p", "pyboard", "--irq", "timer"], "not an external IRQ source of pyboard (pyboard has pin_edge)"),
        (["-p", "microbit", "--irq", "pin_edge"], "boards with external IRQ sources: pyboard (pin_edge); spike-prime"),
        (["-p", "pyboard", "--irq", "pin_edge", "--window", "1min"], "'1min' is not a duration"),
        (["-p", "pyboard", "--irq", "pin_edge", "--step", "0us"], "--step 0us: must be longer than 0"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], says: str) -> None:
    opts = {"--after": "go", "--window": "1ms", "--step": "10us"}
    for i in range(0, len(args), 2):
        opts.pop(args[i], None)
    flat = [x for kv in opts.items() for x in kv]
    r = mpbench("race", *args, *flat, SCRIPT)
    assert r.returncode == 2, r.stderr
    assert says in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_offsets_and_first_difference() -> None:
    assert offsets_of(100, 25) == [0, 25, 50, 75, 100]
    assert first_difference("go\nhits 1 count 200\n", "go\nhits 1 count 100\n") == "line 2: 'hits 1 count 100'"
