# A unix port whose micropython.heap_unlock() unlocks but returns None instead
# of the remaining lock depth (what MicroPython 1.9-1.12 did).
# Run as `micropython -i heap_unlock_none.py`; see kbd_intr_noop.py for how.
import sys

import micropython as _real


class _Micropython:
    pass


_m = _Micropython()
for _k in dir(_real):
    if not _k.startswith("__"):
        setattr(_m, _k, getattr(_real, _k))


def _heap_unlock(unlock=_real.heap_unlock):
    unlock()
    return None


_m.heap_unlock = _heap_unlock
sys.modules["micropython"] = _m
sys.path[0] = ""  # running this file put its folder first; the plain REPL has ""
del _Micropython, _m, _k, _heap_unlock, _real, sys
