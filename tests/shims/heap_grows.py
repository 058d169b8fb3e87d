# A unix port whose heap grows when a large buffer does not fit, as MicroPython's
# "split heap" builds can (MICROPY_GC_SPLIT_HEAP_AUTO, the ESP32 port from v1.22 adds
# a new heap area for an allocation that failed): a bytearray of 64 KB or more that
# raises MemoryError is retried after a reserve kept since start-up is let go, so a
# fragmented heap no longer refuses a big buffer. Smaller requests are unchanged.
# Run as `micropython -i heap_grows.py`; see kbd_intr_noop.py for how.
import builtins
import gc
import sys


def _bytearray(*args, _reserve=[bytearray(512 * 1024)], _real_bytearray=bytearray, _gc=gc):  # noqa: B006, B008
    try:
        return _real_bytearray(*args)
    except MemoryError:
        if not _reserve or not args or not isinstance(args[0], int) or args[0] < 64 * 1024:
            raise
        _reserve.pop()
        _gc.collect()
        return _real_bytearray(*args)


builtins.bytearray = _bytearray
sys.path[0] = ""
del builtins, gc, sys, _bytearray
