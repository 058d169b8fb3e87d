# A const is folded into the code that uses it: rebinding the global at run
# time does not change what the function computes.
from micropython import const

X = const(40)


def f():
    return X + 2


globals()["X"] = 0
print(f())
