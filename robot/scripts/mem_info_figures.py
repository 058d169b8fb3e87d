# mem_info() twice: at the top level, then one call deeper with 1 KB more of
# the heap held. If it prints the stack and heap in use, both figures grow.
import gc

import micropython


def deeper(n):
    if n:
        deeper(n - 1)
    else:
        micropython.mem_info()


gc.collect()
micropython.mem_info()
keep = bytearray(1024)
deeper(1)
