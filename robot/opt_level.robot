*** Settings ***
Documentation     micropython.opt_level([level]): "If level is given then this function sets the
...               optimisation level for subsequent compilation of scripts, and returns None.
...               Otherwise it returns the current optimisation level." Level 0: assertions compiled,
...               __debug__ True; 1 and higher: assertions not compiled, __debug__ False; 3 and higher:
...               no line numbers. (Pybricks' docs number the same levels from 1: the tests use the
...               value passed to opt_level(), which is the same in both editions.)
Library           mpbench.keywords.MicroPythonBench
Test Tags         needs:opt_level


*** Test Cases ***
The Default Level Is 0
    ${out} =    Execute On Board    import micropython\nprint(micropython.opt_level())
    Should Be Equal    ${out}    0

Setting The Level Returns None And Getting It Returns The Level
    ${out} =    Execute On Board    import micropython\nprint(micropython.opt_level(2))\nprint(micropython.opt_level())
    Should Be Equal    ${out}    None\n2

At Level 0 Assertions Run
    Board Should Raise    import micropython\nmicropython.opt_level(0)\nexec("assert 1 == 2, 'checked'")
    ...    AssertionError    ^checked$

At Level 0 __debug__ Is True
    ${out} =    Execute On Board    import micropython\nmicropython.opt_level(0)\nexec("print(__debug__)")
    Should Be Equal    ${out}    True

At Level 1 Assertions Are Not Compiled And __debug__ Is False
    ${out} =    Execute On Board
    ...    import micropython\nmicropython.opt_level(1)\nexec("assert 1 == 2")\nexec("print(__debug__)")
    Should Be Equal    ${out}    False

At Level 2 Tracebacks Still Carry Line Numbers
    ${result} =    Run Script File    ${CURDIR}/scripts/opt_level_lines.py    LEVEL=2
    Should Be Equal    ${result.traceback.exc_type}    ValueError
    Traceback Should Point To    4    deep

At Level 3 Tracebacks Carry No Line Numbers
    [Documentation]    Without a line-number table every frame compiled at level 3 reports line 1.
    ${result} =    Run Script File    ${CURDIR}/scripts/opt_level_lines.py    LEVEL=3
    Should Be Equal    ${result.traceback.exc_type}    ValueError
    Traceback Should Point To    1    deep
