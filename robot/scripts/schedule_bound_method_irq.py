# The documentation's pitfall: scheduling a bound method from a hard IRQ fails, because
# creating the bound method allocates; a reference made in the constructor works.
import time

import micropython


class Handler:
    def __init__(self):
        self.hits = 0
        self.cb_ref = self.cb  # the documented workaround

    def cb(self, _):
        self.hits += 1


h = Handler()
mode = [0]
result = [None, None]


def isr(t):
    i = mode[0]
    if i < 2 and result[i] is None:
        try:
            micropython.schedule(h.cb if i == 0 else h.cb_ref, None)
            result[i] = "scheduled"
        except MemoryError:
            result[i] = "MemoryError"


{IRQ_START}
for i in (0, 1):
    mode[0] = i
    start = time.ticks_ms()
    while result[i] is None and time.ticks_diff(time.ticks_ms(), start) < 3000:
        {IRQ_FIRE}
        time.sleep_ms(10)
mode[0] = 2
{IRQ_STOP}
time.sleep_ms(20)
print(result[0], result[1], h.hits)
