# A const whose name starts with an underscore is not a global, in the module
# itself or for an importer; one without underscore is.
import os

from micropython import const

_HIDDEN = const(40)
SHOWN = const(2)
with open("mpb_constmod2.py", "w") as f:
    f.write("from micropython import const\n_ORANGES = const(9)\n")
try:
    import mpb_constmod2

    print("_HIDDEN" in globals(), "SHOWN" in globals(), hasattr(mpb_constmod2, "_ORANGES"))
finally:
    os.remove("mpb_constmod2.py")
