# Make garbage (20 lists no longer referenced), then collect: what does gc.collect() return?
import gc

gc.collect()
for i in range(20):
    junk = [i, i + 1]
junk = None
n = gc.collect()
print(n is None, isinstance(n, int), n)
