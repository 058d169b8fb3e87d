# heap_unlock() returns the lock depth left after unlocking.
import micropython

a = b = None
micropython.heap_lock()
micropython.heap_lock()
a = micropython.heap_unlock()
b = micropython.heap_unlock()
print(a, b)
