*** Settings ***
Documentation     gc.collect()'s return value ("MicroPython on microcontrollers", footnote): "On Unix
...               and Windows platforms the gc.collect() method returns an integer which signifies the
...               number of distinct memory regions that were reclaimed in the collection" and "For
...               efficiency reasons bare metal ports do not return this value."
Library           mpbench.keywords.MicroPythonBench
Library           String


*** Test Cases ***
Gc Collect Returns The Count On Unix And None On Bare Metal
    [Documentation]    "On Unix and Windows platforms the gc.collect() method returns an integer which
    ...    signifies the number of distinct memory regions that were reclaimed in the collection" and "For
    ...    efficiency reasons bare metal ports do not return this value." With 20 small lists just dropped,
    ...    a port that counts (platform feature gc_collect_count) must return an int of at least 20; a
    ...    bare-metal port returns None.
    [Tags]    promise
    ${out} =    Execute Script File    ${CURDIR}/scripts/gc_collect_value.py
    ${is_none}    ${is_int}    ${n} =    Split String    ${out}
    ${counts} =    Board Has    gc_collect_count
    IF    ${counts}
        Should Be Equal    ${is_int}    True    gc.collect() returned ${n}, not an int
        Should Be True    ${n} >= 20    gc.collect() said ${n} regions were reclaimed; 20 lists had just been dropped
    ELSE
        Should Be Equal    ${is_none}    True    a bare-metal port's gc.collect() returned ${n}, not None
    END
