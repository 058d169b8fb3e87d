# A lost update: the loop reads `count`, adds one and writes it back; the pin-edge handler adds
# 100 to the same global. An edge between the read and the write is overwritten by the write.
# Find every outcome with:
#   mpbench race -p pyboard --irq pin_edge --after go --window 800us --step 20us examples/race_extint_rmw.py
import pyb

count = 0
hits = 0


def handler(line):
    global count, hits
    hits += 1
    count += 100


ext = pyb.ExtInt(pyb.Pin("X1"), pyb.ExtInt.IRQ_RISING, pyb.Pin.PULL_DOWN, handler)
print("go")
for _ in range(100):
    v = count  # read
    v = v + 1  # modify
    count = v  # write: a handler that ran since the read is lost here
ext.disable()
print("hits", hits, "count", count)
