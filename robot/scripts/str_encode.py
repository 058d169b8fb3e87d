# str.encode() makes a new bytes object: with the heap locked it raises MemoryError.
import micropython

s = "the quick brown fox"


def raises(f):
    micropython.heap_lock()
    try:
        f()
        return False
    except MemoryError:
        return True
    finally:
        micropython.heap_unlock()


print(raises(lambda: s.encode()), s.encode() == b"the quick brown fox")
