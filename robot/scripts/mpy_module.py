# The module the .mpy test precompiles: its answers must be the same from source and from .mpy.
NAMES = ("alpha", "beta", "gamma")


def answer():
    return sum(len(n) for n in NAMES) * 7, "-".join(NAMES)
