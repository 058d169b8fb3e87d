# no .exp beside this file: the expected output is what CPython prints
words = ["delta", "alpha", "charlie", "bravo"]
print(sorted(words))
print(",".join(w.upper() for w in words if "a" in w))
print({k: len(k) for k in ("ab", "abc")}["abc"])
