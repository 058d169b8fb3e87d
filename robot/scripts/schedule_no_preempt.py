# A function scheduled from inside a scheduled function waits for it to return,
# even though the first one passes many points where pending work could run.
import micropython

log = []


def second(_):
    log.append("second")


def first(_):
    log.append("first start")
    micropython.schedule(second, None)
    for i in range(2000):
        pass
    log.append("first end")


micropython.schedule(first, None)
n = 0
while len(log) < 3 and n < 100000:
    n += 1
print(log)
