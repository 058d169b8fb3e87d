# never finishes: the run must interrupt it, recover the board and go on
while True:
    pass
