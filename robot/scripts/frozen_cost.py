# What importing a module leaves on the heap: gc.mem_alloc() after a collection, before and after.
# The module stays in sys.modules, so what it keeps (its bytecode too, unless frozen) is counted.
import gc
import sys


def cost(name):
    gc.collect()
    before = gc.mem_alloc()
    __import__(name)
    gc.collect()
    return gc.mem_alloc() - before


def public(name):
    return sorted(n for n in dir(sys.modules[name]) if not n.startswith("__"))
