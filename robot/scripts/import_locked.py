# Importing a module compiles its source, which needs RAM: with the heap locked the
# import raises MemoryError. (The module is not imported again afterwards: on the unix
# port 1.29-preview the half-made module left in sys.modules crashes the port when used.)
import micropython


def locked_import():
    micropython.heap_lock()
    try:
        import mpbimp  # noqa: F401 - importing is the test

        return False
    except MemoryError:
        return True
    finally:
        micropython.heap_unlock()


print(locked_import())
