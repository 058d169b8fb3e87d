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
    [Documentation]    Version fact: the docs say only "The default optimisation level is usually level
    ...    0." Source: micropython-facts.md §5, mp_init() in py/runtime.c sets the level to 0 at every
    ...    (soft) reset, in every version checked (v1.9.4 to v1.29).
    [Tags]    fact
    ${out} =    Execute On Board    import micropython\nprint(micropython.opt_level())
    Should Be Equal    ${out}    0

Setting The Level Returns None And Getting It Returns The Level
    [Documentation]    "If level is given then this function sets the optimisation level for subsequent
    ...    compilation of scripts, and returns None. Otherwise it returns the current optimisation level."
    [Tags]    promise
    ${out} =    Execute On Board    import micropython\nprint(micropython.opt_level(2))\nprint(micropython.opt_level())
    Should Be Equal    ${out}    None\n2

At Level 0 Assertions Run
    [Documentation]    "at level 0 assertion statements are enabled and compiled into the bytecode"
    [Tags]    promise
    Board Should Raise    import micropython\nmicropython.opt_level(0)\nexec("assert 1 == 2, 'checked'")
    ...    AssertionError    ^checked$

At Level 0 __debug__ Is True
    [Documentation]    "at level 0 this variable expands to True"
    [Tags]    promise
    ${out} =    Execute On Board    import micropython\nmicropython.opt_level(0)\nexec("print(__debug__)")
    Should Be Equal    ${out}    True

At Level 1 Assertions Are Not Compiled And __debug__ Is False
    [Documentation]    "at levels 1 and higher assertions are not compiled" and "at levels 1 and higher it
    ...    expands to False"
    [Tags]    promise
    ${out} =    Execute On Board
    ...    import micropython\nmicropython.opt_level(1)\nexec("assert 1 == 2")\nexec("print(__debug__)")
    Should Be Equal    ${out}    False

At Level 2 Tracebacks Still Carry Line Numbers
    [Documentation]    "at levels 0, 1 and 2 source-code line number are stored along with the bytecode so
    ...    that exceptions can report the line number they occurred at"
    [Tags]    promise
    ${result} =    Run Script File    ${CURDIR}/scripts/opt_level_lines.py    LEVEL=2
    Should Be Equal    ${result.traceback.exc_type}    ValueError
    Traceback Should Point To    4    deep

At Level 3 Tracebacks Carry No Line Numbers
    [Documentation]    "at levels 3 and higher line numbers are not stored." The function raises on its
    ...    line 4; without a line-number table its frame cannot name that line.
    [Tags]    promise
    ${result} =    Run Script File    ${CURDIR}/scripts/opt_level_lines.py    LEVEL=3
    Should Be Equal    ${result.traceback.exc_type}    ValueError
    Should Not Be Empty    ${result.traceback.frames}    the traceback has no frames:\n${result.stderr}
    Should Not Be Equal As Integers    ${result.traceback.frames[-1].line}    4
    ...    the frame compiled at level 3 still names the line it raised on:\n${result.stderr}

At Level 3 Every Frame Reports Line 1
    [Documentation]    Version fact: which line a frame without a line-number table reports is not
    ...    documented. Source: micropython-facts.md §5, py/emitbc.c emits no line table at level 3 and
    ...    py/bc.h starts decoding at source_line = 1 (upstream tests/micropython/opt_level_lineno.py.exp).
    [Tags]    fact
    ${result} =    Run Script File    ${CURDIR}/scripts/opt_level_lines.py    LEVEL=3
    Should Be Equal    ${result.traceback.exc_type}    ValueError
    Traceback Should Point To    1    deep
