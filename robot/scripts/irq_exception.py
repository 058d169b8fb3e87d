# An exception inside an IRQ handler. BUFFER is the emergency buffer size (0: none).
import time

import micropython

if BUFFER:
    micropython.alloc_emergency_exception_buf(BUFFER)
calls = [0]


def isr(t):
    calls[0] += 1
    raise ValueError("boom")


{IRQ_START}
{IRQ_FIRE}
start = time.ticks_ms()
while calls[0] == 0 and time.ticks_diff(time.ticks_ms(), start) < 3000:
    time.sleep_ms(10)
time.sleep_ms(100)
{IRQ_STOP}
print("calls", calls[0])
