*** Settings ***
Documentation     The compiler needs RAM ("MicroPython on microcontrollers", Compilation phase and
...               Runtime compiler execution): "The compiler itself requires RAM, but this becomes available
...               for use when the compilation has completed." and "The Python functions eval and exec invoke
...               the compiler at runtime, which requires significant amounts of RAM."
Library           mpbench.keywords.MicroPythonBench


*** Test Cases ***
Exec And Eval Need The Heap
    [Documentation]    "The Python functions eval and exec invoke the compiler at runtime, which requires
    ...    significant amounts of RAM." With the heap locked, exec('1+1') and eval('1+1') raise
    ...    MemoryError; unlocked, eval('1+1') is 2.
    [Tags]    promise    needs:heap_lock
    ${out} =    Execute Script File    ${CURDIR}/scripts/exec_needs_ram.py
    Should Be Equal    ${out}    True True 2    the compiler ran with the heap locked

Importing A Module Needs RAM For The Compiler
    [Documentation]    "If a number of modules have already been imported the situation can arise where
    ...    there is insufficient RAM to run the compiler. In this case the import statement will produce a
    ...    memory exception." A module put on the board's filesystem cannot be imported with the heap
    ...    locked: the import raises MemoryError.
    [Tags]    promise    needs:heap_lock    needs:fs_write
    Put File On Board    ${CURDIR}/scripts/mpy_module.py    mpbimp.py
    ${out} =    Execute Script File    ${CURDIR}/scripts/import_locked.py
    Remove File From Board    mpbimp.py
    Should Be Equal    ${out}    True    the import compiled the module with the heap locked
