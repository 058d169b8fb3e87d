# What gc.threshold() returns before and after setting it.
import gc

first = gc.threshold()
gc.threshold(4000)
a = gc.threshold()
gc.threshold(1000)
b = gc.threshold()
gc.threshold(-1)
print(first, a, b, gc.threshold())
