*** Settings ***
Documentation     micropython.alloc_emergency_exception_buf(size): "Allocate size bytes of RAM for the
...               emergency exception buffer (a good size is around 100 bytes). The buffer is used to
...               create exceptions in cases when normal RAM allocation would fail (eg within an
...               interrupt handler) and therefore give useful traceback information in these
...               situations." Only hard IRQs lock the heap, so the tests need one.
Library           mpbench.keywords.MicroPythonBench
Test Tags         needs:alloc_emergency_exception_buf    needs:hard_irq    needs:irq:timer


*** Test Cases ***
With The Buffer An Exception In An IRQ Handler Prints A Traceback
    ${irq} =    IRQ Source Code    timer    isr
    ${out} =    Execute Script File    ${CURDIR}/scripts/irq_exception.py    irq=timer    timeout=20    BUFFER=100
    Should Contain    ${out}    ${irq}[header]
    Should Contain    ${out}    Traceback (most recent call last):
    Should Contain    ${out}    File "<stdin>", line 13, in isr    the raise is on line 13 of irq_exception.py
    Should Contain    ${out}    ValueError: boom
    Should Contain    ${out}    calls 1    the handler should be disabled after it raised

Without The Buffer The Traceback Is Lost
    ${irq} =    IRQ Source Code    timer    isr
    ${out} =    Execute Script File    ${CURDIR}/scripts/irq_exception.py    irq=timer    timeout=20    BUFFER=0
    Should Contain    ${out}    ${irq}[header]
    Should Not Contain    ${out}    Traceback (most recent call last):
    Should Match Regexp    ${out}    (?m)^ValueError: ?$
