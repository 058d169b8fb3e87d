*** Settings ***
Documentation     micropython.heap_lock(), heap_unlock(), heap_locked(): "When locked no memory
...               allocation can occur and a MemoryError will be raised if any heap allocation is
...               attempted. These functions can be nested ... Both heap_unlock() and heap_locked()
...               return the current lock depth ... If the REPL becomes active with the heap locked
...               then it will be forcefully unlocked."
Library           mpbench.keywords.MicroPythonBench


*** Test Cases ***
Allocation Raises MemoryError While The Heap Is Locked
    [Documentation]    "When locked no memory allocation can occur and a MemoryError will be raised if any
    ...    heap allocation is attempted."
    [Tags]    promise    needs:heap_lock
    ${out} =    Execute Script File    ${CURDIR}/scripts/heap_lock_raises.py
    Should Be Equal    ${out}    True    an allocation after heap_lock() should raise MemoryError

Allocation Works Again After Heap Unlock
    [Documentation]    "heap_unlock() must be called the same number of times to make the heap available
    ...    again."
    [Tags]    promise    needs:heap_lock
    ${out} =    Execute Script File    ${CURDIR}/scripts/heap_unlock_allows.py
    Should Be Equal    ${out}    3

Heap Locks Nest
    [Documentation]    "These functions can be nested, ie heap_lock() can be called multiple times in a row
    ...    and the lock-depth will increase" After two locks and one unlock the heap is still locked.
    [Tags]    promise    needs:heap_lock
    ${out} =    Execute Script File    ${CURDIR}/scripts/heap_lock_nests.py
    Should Be Equal    ${out}    True 2    after two locks and one unlock an allocation should still fail

Heap Unlock Returns The Remaining Depth
    [Documentation]    "Both heap_unlock() and heap_locked() return the current lock depth (after unlocking
    ...    for the former) as a non-negative integer, with 0 meaning the heap is not locked."
    [Tags]    promise    needs:heap_unlock_depth
    ${out} =    Execute Script File    ${CURDIR}/scripts/heap_unlock_depth.py
    Should Be Equal    ${out}    1 0

Heap Locked Returns The Depth
    [Documentation]    "Both heap_unlock() and heap_locked() return the current lock depth (after unlocking
    ...    for the former) as a non-negative integer, with 0 meaning the heap is not locked."
    [Tags]    promise    needs:heap_locked
    ${out} =    Execute Script File    ${CURDIR}/scripts/heap_locked_depth.py
    Should Be Equal    ${out}    0 1

The REPL Unlocks A Heap Left Locked
    [Documentation]    "If the REPL becomes active with the heap locked then it will be forcefully
    ...    unlocked." At the friendly prompt, one line locks the heap and shows that it is locked (its
    ...    allocation raises MemoryError); the next line can allocate again.
    [Tags]    promise    needs:repl_heap_unlock
    Type At Prompt    import micropython
    ${locked} =    Type At Prompt    micropython.heap_lock(); print([1, 2])
    Should Contain    ${locked}    MemoryError    heap_lock() did not lock the heap: the line printed ${locked}
    ${out} =    Type At Prompt    print(list(range(3)))
    Should Be Equal    ${out}    [0, 1, 2]
