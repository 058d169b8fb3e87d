# A pin edge driven from outside the firmware (by the emulator) reaches an IRQ handler,
# which schedules a function that runs with its argument.
import time

import micropython

got = []


def later(line):
    got.append(line)


def isr(line):
    micropython.schedule(later, line)


{IRQ_START}
print("ready")
start = time.ticks_ms()
while not got and time.ticks_diff(time.ticks_ms(), start) < 5000:
    time.sleep_ms(10)
{IRQ_STOP}
print("got", got)
