# A unix port whose micropython.mem_info(1) prints no heap map: the verbose argument
# is ignored. Run as `micropython -i mem_info_no_map.py`; see kbd_intr_noop.py for how.
import _mpb_shim
import micropython as _real


def _no_map(*verbose, _mem_info=_real.mem_info):
    _mem_info()


_mpb_shim.replace("micropython", mem_info=_no_map)
_mpb_shim.done()
del _mpb_shim, _no_map, _real
