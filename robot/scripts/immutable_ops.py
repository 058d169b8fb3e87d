# bytes.lstrip() makes a new object: with the heap locked it raises MemoryError.
import micropython

foo = b"   empty whitespace"


def raises(f):
    micropython.heap_lock()
    try:
        f()
        return False
    except MemoryError:
        return True
    finally:
        micropython.heap_unlock()


print(raises(lambda: foo.lstrip()), foo.lstrip() == b"empty whitespace")
