*** Settings ***
Documentation     Automatic garbage collection ("MicroPython on microcontrollers", Control of garbage
...               collection): "When an attempt at allocation fails, a GC is performed and the allocation
...               re-tried. Only if this fails is an exception raised. Secondly an automatic GC will be
...               triggered if the amount of free RAM falls below a threshold."
Library           mpbench.keywords.MicroPythonBench


*** Test Cases ***
A Failed Allocation Runs A GC And Is Retried
    [Documentation]    "When an attempt at allocation fails, a GC is performed and the allocation re-tried.
    ...    Only if this fails is an exception raised." The heap is filled with garbage until less than a
    ...    third of it is free; then a buffer larger than what is free must still be allocated, with no
    ...    gc.collect() call and no threshold set.
    [Tags]    promise    needs:gc_threshold
    ${out} =    Execute Script File    ${CURDIR}/scripts/gc_retry.py
    Should Be Equal    ${out}    True True    the allocation larger than the free heap failed: no GC and retry

A Threshold Provokes A GC Before The Heap Is Full
    [Documentation]    "Secondly an automatic GC will be triggered if the amount of free RAM falls below a
    ...    threshold. This threshold can be adapted as execution progresses:" and "gc.threshold(gc.mem_free()
    ...    // 4 + gc.mem_alloc())" After that call, garbage allocated in small pieces must make
    ...    gc.mem_alloc() fall (a GC ran) with no gc.collect() call, after at least half the threshold was
    ...    allocated and while an eighth of the heap was still free (a GC forced by a failed allocation
    ...    comes only when the heap is full).
    [Tags]    promise    needs:gc_threshold
    ${out} =    Execute Script File    ${CURDIR}/scripts/gc_threshold.py
    ${fell}    ${late_enough}    ${not_full} =    Evaluate    $out.split()
    Should Be Equal    ${fell}    True    gc.mem_alloc() never fell: no GC ran at the threshold
    Should Be Equal    ${late_enough}    True    the GC ran before half the threshold was allocated
    Should Be Equal    ${not_full}    True    the GC ran only when the heap was nearly full, not at the threshold

Gc Threshold Returns The Value Set In Whole Blocks
    [Documentation]    Port fact: gc.threshold() with no argument returns -1 until a threshold is set,
    ...    then the value set rounded down to whole GC blocks (4000 stays 4000, 1000 becomes 992 with 16-
    ...    or 32-byte blocks), and -1 again after gc.threshold(-1). Source: py/modgc.c gc_threshold
    ...    (MP_STATE_MEM(gc_alloc_threshold) is kept in blocks); measured on every board with a REPL.
    [Tags]    fact    needs:gc_threshold
    ${out} =    Execute Script File    ${CURDIR}/scripts/gc_threshold_value.py
    Should Be Equal    ${out}    -1 4000 992 -1
