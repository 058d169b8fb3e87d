# heap_locked() returns the current lock depth (0 when unlocked).
import micropython

before = inside = None
before = micropython.heap_locked()
micropython.heap_lock()
inside = micropython.heap_locked()
micropython.heap_unlock()
print(before, inside)
