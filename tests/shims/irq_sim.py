# A stand-in for a hard timer IRQ on the unix port, which has no interrupts,
# so the emergency-buffer tests can run here and be shown to fail.
#
# `mpb_irq_sim.Timer(cb, hard=True, header="...")` gives a timer whose fire()
# does what MicroPython's stm32 port does when a pyb.Timer interrupt calls a
# Python callback (ports/stm32/timer.c, timer_handle_irq_channel): lock the
# heap (the real gc lock, taken through the real heap_lock), call the
# callback, and if it raises, print the header line and the exception while
# the heap is still locked, then disable the callback. With hard=False the
# heap is not locked (a port that runs its "hard" callbacks like soft ones);
# header="" prints an empty header line. Only the dispatch is simulated: the
# heap lock, MemoryError and the traceback printing are the port's own.
#
# Unlike a real ISR it does not lock the scheduler, so it is used only for
# tests that do not schedule from the handler. The unix port's emergency
# exception buffer is static (256 bytes) and always there: the added
# micropython.alloc_emergency_exception_buf() accepts a size and changes
# nothing.
#
# Run as `micropython -i irq_sim.py`; see kbd_intr_noop.py for how.
import sys

import micropython as _real


class _Micropython:
    pass


class _Timer:
    def __init__(self, callback, hard=True, header=""):
        self.callback = callback
        self.hard = hard
        self.header = header

    def fire(self, lock=_real.heap_lock, unlock=_real.heap_unlock, print_exception=sys.print_exception):
        # the real functions are bound here, so a later shim of the module cannot change them
        cb = self.callback
        if cb is None:
            return
        if self.hard:
            lock()
        try:
            cb(self)
        except BaseException as e:
            print(self.header)
            print_exception(e)
            self.callback = None
        if self.hard:
            unlock()

    def deinit(self):
        self.callback = None


class _Sim:
    Timer = _Timer


def _alloc_emergency_exception_buf(size):
    return None


_m = _Micropython()
for _k in dir(_real):
    if not _k.startswith("__"):
        setattr(_m, _k, getattr(_real, _k))
_m.alloc_emergency_exception_buf = _alloc_emergency_exception_buf
sys.modules["micropython"] = _m
sys.path[0] = ""  # running this file put its folder first; the plain REPL has ""
sys.modules["mpb_irq_sim"] = _Sim()
del _Micropython, _Sim, _Timer, _m, _k, _alloc_emergency_exception_buf, _real, sys
