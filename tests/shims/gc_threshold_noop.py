# A unix port whose gc.threshold() remembers the value it is given (as given, not in
# whole blocks) but never acts on it: no GC runs when that much has been allocated. Run as
# `micropython -i gc_threshold_noop.py`; see kbd_intr_noop.py for how.
import gc as _real
import sys


class _Gc:
    pass


_m = _Gc()
for _k in dir(_real):
    if not _k.startswith("__"):
        setattr(_m, _k, getattr(_real, _k))


def _threshold(*amount, _kept=[-1]):  # noqa: B006 - the list is the kept value
    if amount:
        _kept[0] = -1 if amount[0] < 0 else amount[0]  # kept as given, not in whole blocks
        return None
    return _kept[0]


_real.threshold(-1)
_m.threshold = _threshold
sys.modules["gc"] = _m
sys.path[0] = ""
del _Gc, _m, _k, _threshold, _real, sys
