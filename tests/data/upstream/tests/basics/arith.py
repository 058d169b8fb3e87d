# integer arithmetic that MicroPython and CPython agree on
print(7 * 6, 2**10, 17 // 5, 17 % 5, -17 // 5)
print(sum(range(100)))
