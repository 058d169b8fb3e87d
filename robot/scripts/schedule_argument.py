# A scheduled function runs soon, with the argument it was scheduled with.
import micropython

got = []


def callback(arg):
    got.append(arg)


micropython.schedule(callback, 42)
n = 0
while not got and n < 100000:
    n += 1
print(got)
