# A unix port whose micropython.mem_info(1) prints no heap map: the verbose argument
# is ignored. Run as `micropython -i mem_info_no_map.py`; see kbd_intr_noop.py for how.
import sys

import micropython as _real


class _Micropython:
    pass


_m = _Micropython()
for _k in dir(_real):
    if not _k.startswith("__"):
        setattr(_m, _k, getattr(_real, _k))


def _no_map(*verbose, _mem_info=_real.mem_info):
    _mem_info()


_m.mem_info = _no_map
sys.modules["micropython"] = _m
sys.path[0] = ""
del _Micropython, _m, _k, _no_map, _real, sys
