# A unix port whose gc.threshold() remembers the value it is given (as given, not in
# whole blocks) but never acts on it: no GC runs when that much has been allocated. Run as
# `micropython -i gc_threshold_noop.py`; see kbd_intr_noop.py for how.
import gc as _real

import _mpb_shim


def _threshold(*amount, _kept=[-1]):  # noqa: B006 - the list is the kept value
    if amount:
        _kept[0] = -1 if amount[0] < 0 else amount[0]  # kept as given, not in whole blocks
        return None
    return _kept[0]


_real.threshold(-1)
_mpb_shim.replace("gc", threshold=_threshold)
_mpb_shim.done()
del _mpb_shim, _threshold, _real
