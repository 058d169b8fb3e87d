# A hard IRQ fills the schedule queue: the call that finds it full raises RuntimeError,
# which the handler can catch without allocating.
import time

import micropython

full = [None]
count = [0]


def noop(_):
    pass


def isr(t):
    if full[0] is None:
        try:
            n = 0
            while n < 64:  # no range(): creating one would allocate
                micropython.schedule(noop, None)
                count[0] += 1
                n += 1
            full[0] = False
        except RuntimeError:
            full[0] = True


{IRQ_START}
{IRQ_FIRE}
start = time.ticks_ms()
while full[0] is None and time.ticks_diff(time.ticks_ms(), start) < 3000:
    time.sleep_ms(10)
{IRQ_STOP}
print(full[0], count[0])
