# With the heap locked, adjacent literals (joined by the compiler) still work;
# joining the same strings with + at run time needs memory and raises MemoryError.
import micropython


def joined():
    micropython.heap_lock()
    try:
        # the adjacent literals are the test: the formatter must not join them
        a = "foo" "bar"  # fmt: skip
        ok = True
    except MemoryError:
        a, ok = None, False
    try:
        b = "foo" + "bar"
        plus_raised = False
    except MemoryError:
        plus_raised = True
    finally:
        micropython.heap_unlock()
    return ok, plus_raised, a == "foobar"


print(*joined())
