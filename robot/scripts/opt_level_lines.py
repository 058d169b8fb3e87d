# Compile a function at the level given by the test and raise inside it on its line 4.
import micropython

micropython.opt_level(LEVEL)
exec("def deep():\n    a = 1\n    b = 2\n    raise ValueError('deep')\ndeep()")
