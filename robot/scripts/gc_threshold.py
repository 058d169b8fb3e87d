# The docs' own call, then allocate garbage in small pieces until gc.mem_alloc() falls
# (a GC ran) without gc.collect(). It must fall long before the heap is full: a GC
# forced by a failed allocation would also make it fall, but only at the very end.
import gc

gc.collect()
total = gc.mem_free() + gc.mem_alloc()
t = gc.mem_free() // 4 + gc.mem_alloc()
gc.threshold(t)
start = peak = gc.mem_alloc()
piece = max(32, t // 256)  # mem_alloc() scans the heap: few, larger pieces on big heaps
fell = False
junk = None
for i in range(100000):
    junk = bytearray(piece)
    now = gc.mem_alloc()
    if now < peak:
        fell = True
        break
    peak = now
gc.threshold(-1)
print(fell, peak - start >= t // 2, total - peak >= total // 8)
