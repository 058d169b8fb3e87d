# Allocation while the heap is locked must raise MemoryError. Names are bound
# before locking: adding a new global could itself need memory.
import micropython

raised = None
micropython.heap_lock()
try:
    x = [1, 2, 3]
    raised = False
except MemoryError:
    raised = True
finally:
    micropython.heap_unlock()
print(raised)
