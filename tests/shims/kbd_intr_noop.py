# A unix port whose micropython.kbd_intr() does nothing: Ctrl-C can never be
# switched off (or back on). Run as `micropython -i kbd_intr_noop.py`: the port
# runs this file, then its REPL, so every later `import micropython` gets the
# copy made here (by _mpb_shim.py, which the other shims share). The REPL shares
# this file's globals: everything is deleted at the end so scripts see the
# globals of an unshimmed port, and _mpb_shim.done() puts sys.path[0] (this
# file's folder while it runs) back to "" so that, as on the plain port,
# modules a script writes to the current folder can be imported.
import _mpb_shim


def _kbd_intr(chr):
    return None


_mpb_shim.replace("micropython", kbd_intr=_kbd_intr)
_mpb_shim.done()
del _mpb_shim, _kbd_intr
