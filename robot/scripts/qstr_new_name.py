# Intern a name that cannot exist yet (built at run time), then list the interned names.
import micropython

micropython.qstr_info()
name = "mpb" + "uniq" + str(4000 + 242)
exec(name + " = 1")
micropython.qstr_info(1)
