# A buffer of an eighth of the free heap fits at first. Then the heap is filled with
# pieces a quarter that size and every other piece is dropped: half the heap is free
# again, but in holes smaller than the buffer, so asking for it now must fail.
import gc

gc.collect()
size = gc.mem_free() // 8
early = bytearray(size)
early_ok = len(early) == size
early = None
gc.collect()
pieces = []
try:
    while True:
        pieces.append(bytearray(size // 4))
except MemoryError:
    pass
for i in range(0, len(pieces), 2):
    pieces[i] = None
gc.collect()
free = gc.mem_free()
try:
    late = bytearray(size)
    raised = False
except MemoryError:
    raised = True
pieces = late = None
gc.collect()
print(early_ok, free > 2 * size, raised)
