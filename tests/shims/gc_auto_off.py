# A unix port that never collects garbage by itself: neither a failed allocation nor a
# threshold runs a GC (the real gc.disable(), and gc.enable() does nothing), only an
# explicit gc.collect(). Run as `micropython -i gc_auto_off.py`; see kbd_intr_noop.py.
import gc as _real

import _mpb_shim


def _enable():
    return None


_real.disable()
_mpb_shim.replace("gc", enable=_enable)
_mpb_shim.done()
del _mpb_shim, _enable, _real
