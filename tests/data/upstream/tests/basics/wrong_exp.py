# its .exp says 5: the board prints 4, so this test must fail and keep its output
print(2 + 2)
