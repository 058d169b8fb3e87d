# kbd_intr(-1), then kbd_intr(3), in one block (every block starts with Ctrl-C
# enabled, so both settings must be tried in the same one): first Ctrl-C
# arrives as data, then it interrupts again. The test sends Ctrl-C and then an
# "x" after "disabled", and Ctrl-C again after "restored".
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
print("disabled")
got = []
while not got or got[-1] != 120:  # up to the "x"
    got.append(ord(read1()))
micropython.kbd_intr(3)
print("got", got)
print("restored")
while True:
    pass
