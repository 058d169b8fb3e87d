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
    [Documentation]    The documentation's example: "CONST_Y = const(2 * CONST_X + 1)"
    [Tags]    promise
    ${out} =    Execute Script File    ${CURDIR}/scripts/const_expression.py
    Should Be Equal    ${out}    123 247

A Const Is Folded Into The Code That Uses It
    [Documentation]    Port fact: the docs say only "so that the compiler can optimise it", not
    ...    how. Rebinding the global at run time does not change a function that used the const: the
    ...    compiler put the value in its place. Source: py/compile.c with MICROPY_COMP_CONST (on by
    ...    default); micropython-facts.md (Corrections): micro:bit 1.9.2 is built without it.
    [Tags]    fact    needs:const_folding
    ${out} =    Execute Script File    ${CURDIR}/scripts/const_folded.py
    Should Be Equal    ${out}    42

An Underscore Const Is Hidden From Module Globals
    [Documentation]    "if a constant begins with an underscore then it is hidden, it is not available as a
    ...    global variable" and "Constants declared this way are still accessible as global variables
    ...    from outside the module they are declared in."
    [Tags]    promise    needs:const_folding
    ${out} =    Execute Script File    ${CURDIR}/scripts/const_hidden.py
    Should Be Equal    ${out}    False True False

A Const Without Underscore Is Importable From Another Module
    [Documentation]    "Constants declared this way are still accessible as global variables from outside
    ...    the module they are declared in." Writes a module to the board's filesystem, imports it, and
    ...    removes it again.
    [Tags]    promise
    ${out} =    Execute Script File    ${CURDIR}/scripts/const_import.py
    Should Be Equal    ${out}    7 9
