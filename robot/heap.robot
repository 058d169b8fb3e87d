*** Settings ***
Documentation     micropython.heap_lock(), heap_unlock(), heap_locked(): "When locked no memory
...               allocation can occur and a MemoryError will be raised if any heap allocation is
...               attempted. These functions can be nested ... Both heap_unlock() and heap_locked()
...               return the current lock depth ... If the REPL becomes active with the heap locked
...               then it will be forcefully unlocked."
Library           mpbench.keywords.MicroPythonBench


*** Test Cases ***
Allocation Raises MemoryError While The Heap Is Locked
    [Tags]    needs:heap_lock
    ${out} =    Execute Script File    ${CURDIR}/scripts/heap_lock_raises.py
    Should Be Equal    ${out}    True

Allocation Works Again After Heap Unlock
    [Tags]    needs:heap_lock
    ${out} =    Execute Script File    ${CURDIR}/scripts/heap_unlock_allows.py
    Should Be Equal    ${out}    3

Heap Locks Nest
    [Documentation]    After two locks and one unlock the heap is still locked.
    [Tags]    needs:heap_lock
    ${out} =    Execute Script File    ${CURDIR}/scripts/heap_lock_nests.py
    Should Be Equal    ${out}    True 2

Heap Unlock Returns The Remaining Depth
    [Tags]    needs:heap_unlock_depth
    ${out} =    Execute Script File    ${CURDIR}/scripts/heap_unlock_depth.py
    Should Be Equal    ${out}    1 0

Heap Locked Returns The Depth
    [Tags]    needs:heap_locked
    ${out} =    Execute Script File    ${CURDIR}/scripts/heap_locked_depth.py
    Should Be Equal    ${out}    0 1

The REPL Unlocks A Heap Left Locked
    [Documentation]    At the friendly prompt, a heap locked by one line is unlocked before the next prompt.
    [Tags]    needs:repl_heap_unlock
    Type At Prompt    import micropython
    Type At Prompt    micropython.heap_lock()
    ${out} =    Type At Prompt    print(list(range(3)))
    Should Be Equal    ${out}    [0, 1, 2]
