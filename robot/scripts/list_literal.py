# A list literal is built on each call: two calls give two objects, and building
# one needs the heap (with it locked, the call raises MemoryError).
import micropython


def foo():
    return [1, 2, 0xFF]


def locked_call():
    micropython.heap_lock()
    try:
        foo()
        return False
    except MemoryError:
        return True
    finally:
        micropython.heap_unlock()


a, b = foo(), foo()
print(a is not b, a == b == [1, 2, 255], locked_call())
