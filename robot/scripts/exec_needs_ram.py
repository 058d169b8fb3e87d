# exec() and eval() run the compiler, which needs the heap: with it locked they raise MemoryError.
import micropython


def locked(f):
    micropython.heap_lock()
    try:
        f()
        return False
    except MemoryError:
        return True
    finally:
        micropython.heap_unlock()


print(locked(lambda: exec("1+1")), locked(lambda: eval("1+1")), eval("1+1"))
