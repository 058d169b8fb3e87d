# A unix port that never collects garbage by itself: neither a failed allocation nor a
# threshold runs a GC (the real gc.disable(), and gc.enable() does nothing), only an
# explicit gc.collect(). Run as `micropython -i gc_auto_off.py`; see kbd_intr_noop.py.
import gc as _real
import sys


class _Gc:
    pass


_m = _Gc()
for _k in dir(_real):
    if not _k.startswith("__"):
        setattr(_m, _k, getattr(_real, _k))


def _enable():
    return None


_real.disable()
_m.enable = _enable
sys.modules["gc"] = _m
sys.path[0] = ""
del _Gc, _m, _k, _enable, _real, sys
