# A unix port whose gc.collect() returns None, as bare-metal ports do: the unix port
# promises the count of reclaimed regions. Run as `micropython -i gc_collect_none.py`;
# see kbd_intr_noop.py for how.
import gc as _real
import sys


class _Gc:
    pass


_m = _Gc()
for _k in dir(_real):
    if not _k.startswith("__"):
        setattr(_m, _k, getattr(_real, _k))


def _collect(_real_collect=_real.collect):
    _real_collect()


_m.collect = _collect
sys.modules["gc"] = _m
sys.path[0] = ""
del _Gc, _m, _k, _collect, _real, sys
