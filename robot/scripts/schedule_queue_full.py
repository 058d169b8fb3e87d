# Filling the queue while the scheduler is busy raises RuntimeError.
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
        result.append(("no error", n))
    except RuntimeError as e:
        result.append((str(e), n))


micropython.schedule(fill, None)
k = 0
while not result and k < 100000:
    k += 1
print(result)
