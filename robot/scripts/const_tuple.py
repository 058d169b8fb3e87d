# A tuple of constants is built by the compiler once: every call returns the same object.
def foo():
    return (1, 2, 3, 4, 5, 6, 100000, ("string", b"bytes", False, True))


print(foo() is foo(), foo() == (1, 2, 3, 4, 5, 6, 100000, ("string", b"bytes", False, True)))
