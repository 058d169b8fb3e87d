"""The stepping loop of a stepped Renode board, run inside Renode: one monitor round trip per wait.

Every monitor round trip costs 1-8 ms of host time whatever the step's
length (measured on Renode 1.15.1, 2 loaded cores), and a wait on a board
that stays silent takes many steps. So the engine sends the whole list of
steps a wait may take (``silent_steps``, computed from its ``SlicePlanner``,
the one definition of step sizes) to a function defined in the monitor's
IronPython (``STEPPER_SOURCE``); it runs them with ``Emulation.RunFor``
until the UART has emitted a byte (a counter on its ``CharReceived`` event,
inside Renode) and answers with how many ran. The engine then updates its
planner as if it had sent each step itself, so the sequence of steps, and
with it every stamp and fingerprint, is the one the step-per-round-trip
loop ran.

The IronPython side is plain Python 2/3: the unit tests run it in CPython
against a fake emulation (``tests/unit/test_vtime.py``).
"""

from __future__ import annotations

import copy
import re

from mpbench.engine.vtime import Schedule, SlicePlanner, run_plan

#: Most steps sent in one round trip: a silent 30 s wait is 1500 steps of 20 ms; the monitor line stays short.
MAX_STEPS = 400

#: The answer of ``mpb_steps``: steps run, Renode's virtual time (us), UART bytes emitted, then-commands ok.
ANSWER = re.compile(r"mpb-ran (\d+) (\d+) (\d+) (\d)")

#: Defines ``mpb_steps`` in the monitor's Python scope. Including it again is harmless: it keeps the
#: hooks it already made (one per machine and UART, replaced when a ``Load`` made new objects).
STEPPER_SOURCE = r'''
# mpbench: run a list of RunFor steps inside Renode (see mpbench/engine/renode_stepper.py)
try:
    from Antmicro.Renode.Core import EmulationManager as _mpb_M
    from Antmicro.Renode.Time import TimeInterval as _mpb_TI
except ImportError:  # CPython unit tests put fakes into the scope
    pass
try:
    _mpb_hooks
except NameError:
    _mpb_hooks = {}


def _mpb_unhex(text):
    return "".join([chr(int(text[i:i + 2], 16)) for i in range(0, len(text), 2)])


def _mpb_counter(emu, uart_name):
    """A one-element list counting the bytes this machine's UART emits (hooked once per UART object)."""
    machine = monitor.Machine
    try:
        key = "%s/%s" % (emu.TryGetMachineName(machine)[1], uart_name)
    except Exception:
        key = uart_name
    uart = machine[uart_name]
    hook = _mpb_hooks.get(key)
    if hook is not None and hook[0] is uart:
        return hook[1]
    if hook is not None:  # a Load replaced the machine: let the old one go
        try:
            hook[0].CharReceived -= hook[2]
        except Exception:
            pass
    count = [0]

    def on_char(byte):
        count[0] += 1

    uart.CharReceived += on_char
    _mpb_hooks[key] = (uart, count, on_char)
    return count


def mpb_steps(uart_name, sizes, stop_on_output, then_hex):
    """Run the steps (microseconds, comma-separated) in order; stop after a step in which the UART emitted.

    If every step ran, run the monitor commands in then_hex (hex of newline-separated commands: the
    IRQs scheduled at the instant the last step ends on). One answer line: steps run, virtual time,
    bytes emitted, whether the commands all succeeded.
    """
    emu = _mpb_M.Instance.CurrentEmulation
    count = _mpb_counter(emu, uart_name)
    before = count[0]
    steps = [int(s) for s in sizes.split(",") if s]
    ran = 0
    for us in steps:
        emu.RunFor(_mpb_TI.FromMicroseconds(us))
        ran += 1
        if stop_on_output and count[0] != before:
            break
    ok = 1
    if then_hex and ran == len(steps):
        for command in _mpb_unhex(then_hex).split("\n"):
            if not monitor.Parse(command):
                ok = 0
                break
    now = emu.MasterTimeSource.ElapsedVirtualTime.TotalMicroseconds
    print("mpb-ran %d %d %d %d" % (ran, now, count[0] - before, ok))


def _mpb_write(uart_name, data_hex):
    """Put bytes (hex) into the UART's receive queue now."""
    uart = monitor.Machine[uart_name]
    for i in range(0, len(data_hex), 2):
        uart.WriteChar(int(data_hex[i:i + 2], 16))


# Monitor commands (mc_*): called with their arguments, without compiling a Python line each time.
mc_mpb_steps = mpb_steps
mc_mpb_write = _mpb_write
'''


def silent_steps(
    planner: SlicePlanner, now_us: int, end_us: int, schedule: Schedule, limit: int = MAX_STEPS
) -> list[int]:
    """The steps a wait from ``now_us`` to ``end_us`` runs while the board stays silent.

    Exactly what the step-per-round-trip loop would send: ``run_plan`` for
    each, the planner told ``silent`` after each, stopping at ``end_us`` and
    at the next scheduled instant (where the engine applies an IRQ and the
    planner goes back to short steps). ``planner`` itself is not changed.
    """
    p = copy.copy(planner)
    nxt = schedule.next_at()
    steps: list[int] = []
    t = now_us
    while t < end_us and len(steps) < limit:
        n = run_plan(t, end_us - t, p, schedule)
        if n <= 0:
            break
        steps.append(n)
        t += n
        if nxt is not None and t >= nxt:
            break
        p.silent()
    return steps


def steps_command(uart: str, steps: list[int], stop_on_output: bool, then: list[str]) -> str:
    """The monitor line that runs ``steps`` inside Renode (``then``: commands if all ran)."""
    sizes = ",".join(str(s) for s in steps)
    then_hex = "\n".join(then).encode().hex()
    return f'mpb_steps "{uart}" "{sizes}" {int(stop_on_output)} "{then_hex}"'


def write_command(uart: str, data: bytes) -> str:
    """The monitor line that puts ``data`` into the UART's receive queue (hex: no quoting can break it)."""
    return f'mpb_write "{uart}" "{data.hex()}"'
