# With kbd_intr(-1) a Ctrl-C byte on the console is data, not an interrupt.
import micropython

try:
    from sys import stdin

    def read1():
        return stdin.read(1)

except ImportError:  # micro:bit: no sys.stdin; the console is microbit.uart
    from microbit import uart

    def read1():
        while not uart.any():
            pass
        return uart.read(1)


micropython.kbd_intr(-1)
print("ready")
c = read1()
micropython.kbd_intr(3)
print("got", ord(c))
