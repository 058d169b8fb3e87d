# An exception inside an IRQ handler. BUFFER is the emergency buffer size (0: none).
# The handler first tries to allocate: in a hard IRQ the heap is locked, so that
# must fail, which proves where the handler ran.
import time

import micropython

if BUFFER:
    micropython.alloc_emergency_exception_buf(BUFFER)
calls = [0]
alloc = [None]


def isr(t):
    calls[0] += 1
    if alloc[0] is None:
        try:
            x = [1, 2]
            alloc[0] = "allocated"
        except MemoryError:
            alloc[0] = "MemoryError"
    raise ValueError("boom")


{IRQ_START}
{IRQ_FIRE}
start = time.ticks_ms()
while calls[0] == 0 and time.ticks_diff(time.ticks_ms(), start) < 3000:
    time.sleep_ms(10)
time.sleep_ms(100)
{IRQ_STOP}
print("isr", alloc[0])
print("calls", calls[0])
