# A unix port whose micropython.heap_lock() does nothing: the heap is never
# locked (heap_unlock() is the real one, so a lone unlock wraps the depth).
# Run as `micropython -i heap_lock_noop.py`; see kbd_intr_noop.py for how.
import _mpb_shim


def _heap_lock():
    return None


_mpb_shim.replace("micropython", heap_lock=_heap_lock)
_mpb_shim.done()
del _mpb_shim, _heap_lock
