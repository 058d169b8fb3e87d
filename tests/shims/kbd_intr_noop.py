# A unix port whose micropython.kbd_intr() does nothing: Ctrl-C can never be
# switched off (or back on). Run as `micropython -i kbd_intr_noop.py`: the port
# runs this file, then its REPL, so every later `import micropython` gets the
# copy made here. The REPL shares this file's globals: everything is deleted
# at the end so scripts see the globals of an unshimmed port, and sys.path[0]
# (this file's folder while it runs) goes back to "" so that, as on the plain
# port, modules a script writes to the current folder can be imported.
import sys

import micropython as _real


class _Micropython:
    pass


_m = _Micropython()
for _k in dir(_real):
    if not _k.startswith("__"):
        setattr(_m, _k, getattr(_real, _k))


def _kbd_intr(chr):
    return None


_m.kbd_intr = _kbd_intr
sys.modules["micropython"] = _m
sys.path[0] = ""  # running this file put its folder first; the plain REPL has ""
del _Micropython, _m, _k, _kbd_intr, _real, sys
