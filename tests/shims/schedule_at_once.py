# A unix port whose micropython.schedule(func, arg) calls func(arg) at once,
# inside schedule(), instead of queueing it: it preempts a running scheduled
# function and its queue is never full.
# Run as `micropython -i schedule_at_once.py`; see kbd_intr_noop.py for how.
import sys

import micropython as _real


class _Micropython:
    pass


_m = _Micropython()
for _k in dir(_real):
    if not _k.startswith("__"):
        setattr(_m, _k, getattr(_real, _k))


def _schedule(func, arg):
    func(arg)


_m.schedule = _schedule
sys.modules["micropython"] = _m
sys.path[0] = ""  # running this file put its folder first; the plain REPL has ""
del _Micropython, _m, _k, _schedule, _real, sys
