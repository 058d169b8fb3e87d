# Three functions scheduled while the scheduler is busy (inside a scheduled
# function) run in queue order: first in, first out from MicroPython 1.11 on
# (a circular buffer), last in, first out before (a stack).
import sys

import micropython

order = []


def record(x):
    order.append(x)


def burst(_):
    for i in (1, 2, 3):
        micropython.schedule(record, i)


micropython.schedule(burst, None)
n = 0
while len(order) < 3 and n < 100000:
    n += 1
print(order, sys.implementation.version >= (1, 11, 0))
