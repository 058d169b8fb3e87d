# A unix port whose micropython.schedule(func, arg) calls func(arg) at once,
# inside schedule(), instead of queueing it: it preempts a running scheduled
# function and its queue is never full.
# Run as `micropython -i schedule_at_once.py`; see kbd_intr_noop.py for how.
import _mpb_shim


def _schedule(func, arg):
    func(arg)


_mpb_shim.replace("micropython", schedule=_schedule)
_mpb_shim.done()
del _mpb_shim, _schedule
