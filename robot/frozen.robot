*** Settings ***
Documentation     Frozen bytecode ("MicroPython on microcontrollers", Flash memory and Compilation phase).
...               A frozen module's source is not in the firmware: the
...               test takes it from the user's MicroPython checkout (MPBENCH_MICROPYTHON_SRC), pinned by
...               sha256 in the platform file, and skips with the reason where there is none.
Library           mpbench.keywords.MicroPythonBench
Library           String


*** Test Cases ***
A Frozen Module Costs Less RAM Than Its Source From A File
    [Documentation]    "Alternatively some or all modules may be implemented as frozen bytecode: on most
    ...    platforms this saves even more RAM as the bytecode is run directly from flash rather than being
    ...    stored in RAM." The same source is copied to the board under another name; importing the
    ...    frozen module must leave less allocated on the heap (gc.mem_alloc() after a collection) than
    ...    importing the file, and both must define the same names.
    [Tags]    promise    needs:frozen_module    needs:fs_write
    ${name}    ${source} =    Frozen Module Source
    ${listed} =    Execute On Board    help("modules")
    Should Match Regexp    ${listed}    (?m)(^|\\s)${name}(\\s|$)
    ...    the platform file says ${name} is frozen but help("modules") does not list it
    Put File On Board    ${source}    mpbfz.py
    Execute Script File    ${CURDIR}/scripts/frozen_cost.py
    ${out} =    Execute On Board    print(cost("${name}"), cost("mpbfz"), public("${name}") == public("mpbfz"))
    Remove File From Board    mpbfz.py
    ${frozen}    ${from_file}    ${same} =    Split String    ${out}
    Log    importing ${name} kept ${frozen} bytes on the heap frozen, ${from_file} bytes from a file
    Should Be Equal    ${same}    True    the file defines other names than the frozen ${name}: not the same source
    Should Be True    ${frozen} < ${from_file}
    ...    importing the frozen ${name} kept ${frozen} bytes on the heap, the same source from a file ${from_file}
