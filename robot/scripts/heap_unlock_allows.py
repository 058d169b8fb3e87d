# After heap_unlock() the heap works again.
import micropython

micropython.heap_lock()
micropython.heap_unlock()
y = [1, 2, 3]
print(len(y))
