*** Settings ***
Documentation     micropython.stack_use(): "Return an integer representing the current amount of stack
...               that is being used. The absolute value of this is not particularly useful, rather it
...               should be used to compute differences in stack usage at different points."
Library           mpbench.keywords.MicroPythonBench
Test Tags         needs:stack_use


*** Test Cases ***
Stack Use Is A Positive Integer
    [Documentation]    "Return an integer representing the current amount of stack that is being used."
    [Tags]    promise
    ${out} =    Execute On Board    import micropython\nu = micropython.stack_use()\nprint(isinstance(u, int), u > 0)
    Should Be Equal    ${out}    True True

Stack Use Grows With Call Depth
    [Documentation]    "rather it should be used to compute differences in stack usage at different points."
    ...    Three calls deeper, more stack is in use.
    [Tags]    promise
    ${out} =    Execute Script File    ${CURDIR}/scripts/stack_depth.py
    ${shallow}    ${deep} =    Evaluate    [int(v) for v in $out.split()]
    Should Be True    ${deep} > ${shallow}    three calls deeper should use more stack: ${out}
