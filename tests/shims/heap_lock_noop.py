# A unix port whose micropython.heap_lock() does nothing: the heap is never
# locked (heap_unlock() is the real one, so a lone unlock wraps the depth).
# Run as `micropython -i heap_lock_noop.py`; see kbd_intr_noop.py for how.
import sys

import micropython as _real


class _Micropython:
    pass


_m = _Micropython()
for _k in dir(_real):
    if not _k.startswith("__"):
        setattr(_m, _k, getattr(_real, _k))


def _heap_lock():
    return None


_m.heap_lock = _heap_lock
sys.modules["micropython"] = _m
sys.path[0] = ""  # running this file put its folder first; the plain REPL has ""
del _Micropython, _m, _k, _heap_lock, _real, sys
