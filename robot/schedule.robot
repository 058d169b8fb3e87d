*** Settings ***
Documentation     micropython.schedule(func, arg): "Schedule the function func to be executed 'very
...               soon'. The function is passed the value arg as its single argument ... A scheduled
...               function will never preempt another scheduled function ... There is a finite queue
...               to hold the scheduled functions and schedule() will raise a RuntimeError if the
...               queue is full." and "A use for this function is to schedule a callback from a
...               preempting IRQ."
Library           mpbench.keywords.MicroPythonBench
Test Tags         needs:schedule


*** Test Cases ***
A Scheduled Function Runs With Its Argument
    [Documentation]    "The function is passed the value arg as its single argument."
    [Tags]    promise
    ${out} =    Execute Script File    ${CURDIR}/scripts/schedule_argument.py
    Should Be Equal    ${out}    [42]

Scheduled Functions Run In Queue Order
    [Documentation]    Version fact: the docs give no order. First in, first out from MicroPython 1.11 (a
    ...    circular buffer); before, a stack (last in, first out). The script prints whether the firmware
    ...    is 1.11 or later, and the order must match. Source: micropython-facts.md §1, v1.11+
    ...    py/scheduler.c (commit 8977c7eb58), v1.9.4 py/scheduler.c (sched_stack[--sched_sp]).
    [Tags]    fact
    ${out} =    Execute Script File    ${CURDIR}/scripts/schedule_order.py
    Should Match Regexp    ${out}    ^(\\[1, 2, 3\\] True|\\[3, 2, 1\\] False)$

A Scheduled Function Does Not Preempt Another
    [Documentation]    "A scheduled function will never preempt another scheduled function."
    [Tags]    promise
    ${out} =    Execute Script File    ${CURDIR}/scripts/schedule_no_preempt.py
    Should Be Equal    ${out}    ['first start', 'first end', 'second']

A Full Queue Raises RuntimeError
    [Documentation]    "There is a finite queue to hold the scheduled functions and schedule() will raise a
    ...    RuntimeError if the queue is full."
    [Tags]    promise
    ${out} =    Execute Script File    ${CURDIR}/scripts/schedule_queue_full.py
    Should Match Regexp    ${out}    ^RuntimeError [1-9]\\d*\\b
    ...    schedule() should raise RuntimeError once at least one function is queued; it gave: ${out}

The Full-Queue Error Says The Queue Is Full
    [Documentation]    Version fact: the docs promise the RuntimeError, not its text. "schedule queue full"
    ...    from 1.12 on, "schedule stack full" before. Source: micropython-facts.md §1,
    ...    v1.24.1 py/modmicropython.c:162 (mp_raise_msg), v1.9.4 py/modmicropython.c.
    [Tags]    fact
    ${out} =    Execute Script File    ${CURDIR}/scripts/schedule_queue_full.py
    Should Match Regexp    ${out}    ^RuntimeError \\d+ ('schedule queue full' True|'schedule stack full' False)$

Schedule Works From A Hard Timer IRQ
    [Documentation]    "A use for this function is to schedule a callback from a preempting IRQ. Such an IRQ
    ...    puts restrictions on the code that runs in the IRQ (for example the heap may be locked) and
    ...    scheduling a function to call later will lift those restrictions." A timer interrupt handler
    ...    that runs in the IRQ itself (hard: the heap is locked, so it cannot allocate) schedules a
    ...    function at least five times; the scheduled function may allocate.
    [Tags]    promise    needs:hard_irq    needs:irq:timer
    ${out} =    Execute Script File    ${CURDIR}/scripts/schedule_from_irq.py    irq=timer    timeout=20
    Should Be Equal    ${out}    hits True isr MemoryError later 3

Schedule Works From A Soft Timer IRQ
    [Documentation]    "Schedule the function func to be executed 'very soon'." The same with a timer
    ...    whose callback the port already schedules (soft: the handler is not in the IRQ and may allocate,
    ...    as the platform file says). On the ESP32 (MicroPython v1.16) every callback is soft.
    [Tags]    promise    needs:soft_irq    needs:irq:soft_timer
    ${out} =    Execute Script File    ${CURDIR}/scripts/schedule_from_irq.py    irq=soft_timer    timeout=20
    Should Be Equal    ${out}    hits True isr allocated later 3

Schedule Works From A Software-Triggered IRQ
    [Documentation]    "A use for this function is to schedule a callback from a preempting IRQ." The same
    ...    with an interrupt the firmware raises itself (pyb.ExtInt.swint() on stm32).
    [Tags]    promise    needs:irq:swint
    ${irq} =    IRQ Source Code    swint    isr
    ${out} =    Execute Script File    ${CURDIR}/scripts/schedule_from_irq.py    irq=swint    timeout=20
    ${in_isr} =    Set Variable If    '${irq}[kind]' == 'hard'    MemoryError    allocated
    Should Be Equal    ${out}    hits True isr ${in_isr} later 3

A Full Queue Raises RuntimeError Inside A Hard IRQ
    [Documentation]    "schedule() will raise a RuntimeError if the queue is full." The handler runs with
    ...    the heap locked and still gets the RuntimeError.
    [Tags]    promise    needs:hard_irq    needs:irq:timer
    ${out} =    Execute Script File    ${CURDIR}/scripts/schedule_queue_full_irq.py    irq=timer    timeout=20
    Should Match Regexp    ${out}    ^True [1-9]\\d*$

A Bound Method Cannot Be Scheduled From A Hard IRQ But A Stored Reference Can
    [Documentation]    "If schedule() is called from a preempting IRQ, when memory allocation is not allowed
    ...    and the callback to be passed to schedule() is a bound method, passing this directly will
    ...    fail." and "A solution is to create a reference to the method in the class constructor and to
    ...    pass that reference to schedule()."
    [Tags]    promise    needs:hard_irq    needs:irq:timer
    ${out} =    Execute Script File    ${CURDIR}/scripts/schedule_bound_method_irq.py    irq=timer    timeout=20
    Should Be Equal    ${out}    MemoryError scheduled 1

Schedule Works From A Pin Edge Driven From Outside
    [Documentation]    "A use for this function is to schedule a callback from a preempting IRQ." The
    ...    emulator drives a pin (Renode: a GPIO edge into EXTI); the firmware's handler schedules a
    ...    function that gets the interrupt line as its argument.
    [Tags]    promise    needs:irq:pin_edge
    ${script} =    Script Text    ${CURDIR}/scripts/schedule_pin_edge.py    irq=pin_edge
    Start On Board    ${script}    wait_for=ready
    Raise IRQ From Outside    pin_edge
    ${result} =    Wait For Board Result    timeout=20
    Should Be Equal    ${result.traceback}    ${None}    the script raised: ${result.stderr}
    Should Match Regexp    ${result.stdout}    (?m)^got \\[\\d+\\]$
