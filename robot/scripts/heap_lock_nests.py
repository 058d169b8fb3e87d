# Two locks need two unlocks: after one unlock the heap is still locked.
import micropython

still_locked = None
micropython.heap_lock()
micropython.heap_lock()
micropython.heap_unlock()
try:
    x = [1, 2]
    still_locked = False
except MemoryError:
    still_locked = True
micropython.heap_unlock()
y = [1, 2]
print(still_locked, len(y))
