*** Settings ***
Documentation     micropython.alloc_emergency_exception_buf(size): "Allocate size bytes of RAM for the
...               emergency exception buffer (a good size is around 100 bytes). The buffer is used to
...               create exceptions in cases when normal RAM allocation would fail (eg within an
...               interrupt handler) and therefore give useful traceback information in these
...               situations." Only hard IRQs lock the heap, so the tests need one, and each first
...               proves that its handler really ran in one: an allocation inside it failed, and the
...               board printed the header the platform file names for that IRQ source.
Library           mpbench.keywords.MicroPythonBench
Test Tags         needs:alloc_emergency_exception_buf    needs:hard_irq    needs:irq:timer


*** Test Cases ***
With The Buffer An Exception In An IRQ Handler Prints A Traceback
    [Documentation]    "The buffer is used to create exceptions in cases when normal RAM allocation would
    ...    fail (eg within an interrupt handler) and therefore give useful traceback information in these
    ...    situations."
    [Tags]    promise
    ${out} =    Run IRQ Exception Script    100
    Should Contain    ${out}    Traceback (most recent call last):
    Should Contain    ${out}    File "<stdin>", line 22, in isr    the raise is on line 22 of irq_exception.py
    Should Contain    ${out}    ValueError: boom

Without The Buffer The Traceback Is Lost
    [Documentation]    Version fact: the docs do not say what is printed without the buffer. With the heap
    ...    locked and no buffer, no frame can be stored and the exception has no args, so only
    ...    "ValueError: " is printed. Source: micropython-facts.md §2, v1.24.1 py/objexcept.c (the
    ...    emergency exception object and buffer layout) and py/obj.c mp_obj_print_exception (the
    ...    "Traceback" line only when frames were stored); the same logic in v1.9.4.
    [Tags]    fact
    ${out} =    Run IRQ Exception Script    0
    Should Not Contain    ${out}    Traceback (most recent call last):
    ...    the traceback was printed although there was no buffer:\n${out}    values=False
    Should Match Regexp    ${out}    (?m)^ValueError: ?$

A Timer Handler That Raised Is Not Called Again
    [Documentation]    Port fact (stm32): the docs do not say what happens to a handler that raised. The
    ...    port sets the timer's callback to None, so it runs exactly once although the timer keeps
    ...    counting. Source: micropython-facts.md §2, v1.24.1 ports/stm32/timer.c
    ...    timer_handle_irq_channel (tim->callback = mp_const_none), the same in v1.9.4 and v1.16.
    [Tags]    fact
    ${out} =    Run IRQ Exception Script    100
    Should Match Regexp    ${out}    (?m)^calls 1$    the handler ran again after it raised:\n${out}


*** Keywords ***
Run IRQ Exception Script
    [Documentation]    Runs irq_exception.py with a timer IRQ and an emergency buffer of ``size`` bytes
    ...    (0: none) and returns what it printed, after checking that its handler ran in a hard IRQ: the
    ...    platform file calls the source hard and names a non-empty header, the board printed that header
    ...    as a line of its own, and an allocation inside the handler raised MemoryError (the heap was
    ...    locked).
    [Arguments]    ${size}
    ${irq} =    IRQ Source Code    timer    isr
    Should Be Equal    ${irq}[kind]    hard    the platform file says its timer IRQ is not hard
    Should Not Be Empty    ${irq}[header]
    ...    the platform file names no header for its timer IRQ: the test cannot tell the handler's report from other output
    ${out} =    Execute Script File    ${CURDIR}/scripts/irq_exception.py    irq=timer    timeout=20    BUFFER=${size}
    Should Contain    ${{ $out.splitlines() }}    ${irq}[header]
    ...    the board did not print the header line ${irq}[header]:\n${out}    values=False
    Should Contain    ${out}    isr MemoryError
    ...    the handler could allocate, so it did not run in a hard IRQ with the heap locked:\n${out}    values=False
    Should Match Regexp    ${out}    (?m)^calls [1-9]\\d*$    the handler never ran:\n${out}
    RETURN    ${out}
