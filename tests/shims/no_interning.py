# A unix port whose compiler (as far as exec() shows) stores a repeated name once per
# use instead of once: for every use after the first of a name starting with "mpbq"
# in code given to exec(), a string of its own is interned (by compiling an assignment
# to a new name in a throwaway namespace), as a compiler without interning would keep
# one copy per occurrence. The code itself runs unchanged, so only the qstr counts
# tell. Run as `micropython -i no_interning.py`; see kbd_intr_noop.py for how.
import builtins
import sys


def _exec(code, *scopes, _real_exec=exec):
    if isinstance(code, str) and "mpbq" in code:
        for i, part in enumerate(code.split("mpbq")[2:]):
            n = 0
            while n < len(part) and part[n].isalpha():
                n += 1
            _real_exec("mpbq" + part[:n] + "_use" + str(i) + " = 0", {})
    return _real_exec(code, *scopes)


builtins.exec = _exec
sys.path[0] = ""
del builtins, sys, _exec
