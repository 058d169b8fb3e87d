*** Settings ***
Documentation     Heap fragmentation ("MicroPython on microcontrollers", The heap): "despite there being
...               a substantial amount of RAM available, there is insufficient contiguous space to allocate
...               a particular object, and the program fails with a memory error."
Library           mpbench.keywords.MicroPythonBench


*** Test Cases ***
A Fragmented Heap Refuses A Buffer That Fits Early
    [Documentation]    "In a complex or long running program the heap can become fragmented: despite there
    ...    being a substantial amount of RAM available, there is insufficient contiguous space to allocate a
    ...    particular object, and the program fails with a memory error." and "Where large permanent buffers
    ...    or other objects are required it is best to instantiate these early in the process of program
    ...    execution before fragmentation can occur." A buffer of an eighth of the free heap is allocated
    ...    first; after the heap is filled with quarter-size pieces and every other one dropped, more than
    ...    twice its size is free, yet the same buffer raises MemoryError.
    [Tags]    promise
    ${out} =    Execute Script File    ${CURDIR}/scripts/fragmentation.py
    ${early}    ${plenty_free}    ${raised} =    Evaluate    $out.split()
    Should Be Equal    ${early}    True    the buffer could not be allocated even before fragmentation
    Should Be Equal    ${plenty_free}    True    less than twice the buffer was free after dropping half the pieces
    Should Be Equal    ${raised}    True    the buffer was allocated in a fragmented heap: no MemoryError
