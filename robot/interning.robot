*** Settings ***
Documentation     String interning ("MicroPython on microcontrollers", String operations): "When a module
...               is compiled, strings which occur multiple times are stored once only, a process known as
...               string interning. In MicroPython an interned string is known as a qstr."
Library           mpbench.keywords.MicroPythonBench
Library           String


*** Test Cases ***
A Name Used Many Times Is Interned Once
    [Documentation]    "When a module is compiled, strings which occur multiple times are stored once only,
    ...    a process known as string interning." Code using a new name once, then code using another new
    ...    name of the same length 50 times, are compiled with exec(): micropython.qstr_info() counts one
    ...    more interned string and the same string bytes for each.
    [Tags]    promise    needs:qstr_info
    ${out} =    Execute Script File    ${CURDIR}/scripts/interning.py
    ${n} =    Get Regexp Matches    ${out}    n_qstr=(\\d+)    1
    ${bytes} =    Get Regexp Matches    ${out}    n_str_data_bytes=(\\d+)    1
    Length Should Be    ${n}    3    expected three qstr_info() reports:\n${out}
    Should Be True    ${n}[1] - ${n}[0] == 1    compiling a new name once interned ${${n}[1] - ${n}[0]} strings:\n${out}
    Should Be True    ${n}[2] - ${n}[1] == 1    a name used 50 times was interned ${${n}[2] - ${n}[1]} times:\n${out}
    Should Be True    ${bytes}[2] - ${bytes}[1] == ${bytes}[1] - ${bytes}[0]
    ...    the name used 50 times took ${${bytes}[2] - ${bytes}[1]} bytes of strings, once took ${${bytes}[1] - ${bytes}[0]}
    Should End With    ${out}    49
