import pyb
count = 0
def handler(line):
    global count
    count += 100
ext = pyb.ExtInt(pyb.Pin('X1'), pyb.ExtInt.IRQ_RISING, pyb.Pin.PULL_DOWN, handler)
print('go')
for i in range(100):
    v = count
    v = v + 1
    count = v
ext.disable()
print('count', count)
