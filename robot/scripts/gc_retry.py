# Fill the heap with garbage (each new buffer drops the one before), then ask for a
# buffer larger than what is free: the failed allocation must run a GC and retry.
# Only that GC may run: no gc.collect() here, and no threshold.
import gc

gc.collect()
gc.threshold(-1)
want = gc.mem_free() // 3  # a third: a block that big is free after a GC even on a 10 KB heap
piece = max(64, want // 128)  # mem_free() scans the heap: few, larger pieces on big heaps
junk = None
while gc.mem_free() > want // 2:
    junk = bytearray(piece)
before = gc.mem_free()
big = bytearray(want)
print(before < want, len(big) == want)
