# An IRQ handler schedules a function; the scheduled function runs outside the
# IRQ and may allocate. Inside a hard IRQ the heap is locked.
import time

import micropython

hits = [0]
isr_calls = [0]
isr_alloc = [None]
later_alloc = [None]


def later(arg):
    hits[0] += 1
    later_alloc[0] = len([1, 2, 3])  # allowed here


def isr(t):
    isr_calls[0] += 1
    if isr_alloc[0] is None:
        try:
            x = [1, 2]
            isr_alloc[0] = "allocated"
        except MemoryError:
            isr_alloc[0] = "MemoryError"
    micropython.schedule(later, None)


{IRQ_START}
{IRQ_FIRE}
start = time.ticks_ms()
while hits[0] < 5 and time.ticks_diff(time.ticks_ms(), start) < 3000:
    {IRQ_FIRE}
    time.sleep_ms(20)
{IRQ_STOP}
time.sleep_ms(50)
print("hits", hits[0] >= 5, "isr", isr_alloc[0], "later", later_alloc[0])
