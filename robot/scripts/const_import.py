# A const without underscore can be imported from another module; the module's
# own code sees the value of its underscore const.
import os

with open("mpb_constmod.py", "w") as f:
    f.write("from micropython import const\nAPPLES = const(7)\n_ORANGES = const(9)\n")
    f.write("def oranges():\n    return _ORANGES\n")
try:
    import mpb_constmod

    print(mpb_constmod.APPLES, mpb_constmod.oranges())
finally:
    os.remove("mpb_constmod.py")
