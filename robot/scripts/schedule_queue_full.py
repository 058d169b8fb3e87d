# Filling the queue while the scheduler is busy raises RuntimeError. Prints
# what ended the filling, how many calls were queued before, the error's
# message, and whether the firmware is 1.12 or later (the message changed).
import sys

import micropython

result = []


def noop(_):
    pass


def fill(_):
    n = 0
    try:
        for i in range(100):
            micropython.schedule(noop, None)
            n += 1
        result.append(("no-error", n, ""))
    except RuntimeError as e:
        result.append(("RuntimeError", n, str(e)))


micropython.schedule(fill, None)
k = 0
while not result and k < 100000:
    k += 1
what, n, message = result[0] if result else ("fill-never-ran", 0, "")
print(what, n, repr(message), sys.implementation.version >= (1, 12, 0))
