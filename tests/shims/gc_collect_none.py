# A unix port whose gc.collect() returns None, as bare-metal ports do: the unix port
# promises the count of reclaimed regions. Run as `micropython -i gc_collect_none.py`;
# see kbd_intr_noop.py for how.
import gc as _real

import _mpb_shim


def _collect(_real_collect=_real.collect):
    _real_collect()


_mpb_shim.replace("gc", collect=_collect)
_mpb_shim.done()
del _mpb_shim, _collect, _real
