# A unix port whose micropython.heap_unlock() unlocks but returns None instead
# of the remaining lock depth (what MicroPython 1.9-1.12 did).
# Run as `micropython -i heap_unlock_none.py`; see kbd_intr_noop.py for how.
import _mpb_shim
import micropython as _real


def _heap_unlock(unlock=_real.heap_unlock):
    unlock()
    return None


_mpb_shim.replace("micropython", heap_unlock=_heap_unlock)
_mpb_shim.done()
del _mpb_shim, _heap_unlock, _real
