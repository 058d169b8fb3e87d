"""mpbench: boot real MicroPython firmware on emulated boards and check it."""

__version__ = "0.1.0"
