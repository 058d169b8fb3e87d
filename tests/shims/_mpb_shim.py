# What every shim that replaces functions of a built-in module does (see kbd_intr_noop.py for
# how a shim runs): a copy of the module NAME with those functions replaced goes into
# sys.modules, so every later `import NAME` in the port's REPL gets the copy. A shim imports
# this file from its own folder, which is sys.path[0] while the shim runs; `done()` then leaves
# sys.path and sys.modules as the plain port has them.
import sys


class _Copy:
    pass


def replace(name, **functions):
    real = __import__(name)
    copy = _Copy()
    for k in dir(real):
        if not k.startswith("__"):
            setattr(copy, k, getattr(real, k))
    for k, f in functions.items():
        setattr(copy, k, f)
    sys.modules[name] = copy


def done():
    sys.path[0] = ""  # running the shim put its folder first; the plain REPL has ""
    del sys.modules["_mpb_shim"]
