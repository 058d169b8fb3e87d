*** Settings ***
Documentation     micropython.const(): "Used to declare that the expression is a constant so that
...               the compiler can optimise it. Constants declared this way are still accessible as
...               global variables from outside the module they are declared in. On the other hand,
...               if a constant begins with an underscore then it is hidden, it is not available as a
...               global variable, and does not take up any memory during execution."
Library           mpbench.keywords.MicroPythonBench
Test Tags         needs:const


*** Test Cases ***
A Const Expression May Use An Earlier Const
    [Documentation]    The documentation's example: CONST_Y = const(2 * CONST_X + 1).
    ${out} =    Execute Script File    ${CURDIR}/scripts/const_expression.py
    Should Be Equal    ${out}    123 247

A Const Is Folded Into The Code That Uses It
    [Documentation]    Rebinding the global at run time does not change a function that used the const:
    ...    the compiler put the value in its place.
    [Tags]    needs:const_folding
    ${out} =    Execute Script File    ${CURDIR}/scripts/const_folded.py
    Should Be Equal    ${out}    42

An Underscore Const Is Hidden From Module Globals
    [Tags]    needs:const_folding
    ${out} =    Execute Script File    ${CURDIR}/scripts/const_hidden.py
    Should Be Equal    ${out}    False True False

A Const Without Underscore Is Importable From Another Module
    [Documentation]    Writes a module to the board's filesystem, imports it, and removes it again.
    ${out} =    Execute Script File    ${CURDIR}/scripts/const_import.py
    Should Be Equal    ${out}    7 9
