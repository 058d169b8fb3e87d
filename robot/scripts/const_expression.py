# The documentation's own example: a const expression may use an earlier const.
from micropython import const

CONST_X = const(123)
CONST_Y = const(2 * CONST_X + 1)
print(CONST_X, CONST_Y)
