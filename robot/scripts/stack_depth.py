# stack_use() measured at the bottom of a recursion of the given depth.
import micropython


def depth(n):
    if n == 0:
        return micropython.stack_use()
    return depth(n - 1)


print(depth(0), depth(3))
