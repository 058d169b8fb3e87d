# Compile a new name used once, then another new name used 50 times, printing the qstr
# counts before and after each: the second costs what the first cost. The names and the
# code are built at run time, so this script's own compilation interned neither.
import micropython

once = "mpbq" + "once"
many = "mpbq" + "many"
code_once = once + " = 1\n"
code_many = many + " = 0\n" + (many + " = " + many + " + 1\n") * 49
micropython.qstr_info()
exec(code_once)
micropython.qstr_info()
exec(code_many)
micropython.qstr_info()
print(globals()[many])
