*** Settings ***
Documentation     micropython.mem_info([verbose]) and qstr_info([verbose]): "Print information about
...               currently used memory. If the verbose argument is given then extra information is
...               printed." / "... the number of interned strings and the amount of RAM they use. In
...               verbose mode it prints out the names of all RAM-interned strings."
Library           mpbench.keywords.MicroPythonBench
Library           String


*** Test Cases ***
Mem Info Prints Stack And Heap Figures
    [Documentation]    "The information that is printed is implementation dependent, but currently includes
    ...    the amount of stack and heap used." Printed twice, the second time one call deeper and with
    ...    1 KB more of the heap held: both figures must grow.
    [Tags]    promise    needs:mem_info
    ${out} =    Execute Script File    ${CURDIR}/scripts/mem_info_figures.py
    ${stack} =    Get Regexp Matches    ${out}    (?m)^stack: (\\d+)    1
    ${used} =    Get Regexp Matches    ${out}    \\bused: (\\d+)    1
    Length Should Be    ${stack}    2    expected a 'stack: N' figure from each of the two calls:\n${out}
    Length Should Be    ${used}    2    expected a 'used: N' heap figure from each of the two calls:\n${out}
    Should Be True    ${stack}[1] > ${stack}[0]    the stack figure did not grow with call depth:\n${out}
    Should Be True    ${used}[1] > ${used}[0]    the heap figure did not grow with 1 KB more held:\n${out}

Mem Info Prints MicroPython's Lines
    [Documentation]    Version fact: the docs call the output "implementation dependent". Every version
    ...    checked prints "stack: N" (or "stack: N out of M"), "GC: total: N, used: N, free: N" with used +
    ...    free = total, and the block counts line. Source: micropython-facts.md §6, py/modmicropython.c
    ...    mem_info and py/gc.c gc_dump_info, the same in v1.9.4, v1.16, v1.24 and HEAD.
    [Tags]    fact    needs:mem_info
    ${out} =    Execute On Board    import micropython\nmicropython.mem_info()
    Should Match Regexp    ${out}    (?m)^stack: \\d+( out of \\d+)?$
    ${heap} =    Get Regexp Matches    ${out}    (?m)^GC: total: (\\d+), used: (\\d+), free: (\\d+)    1    2    3
    Should Not Be Empty    ${heap}    no 'GC: total: N, used: N, free: N' line in:\n${out}
    ${total}    ${used}    ${free} =    Set Variable    ${heap}[0]
    Should Be Equal As Integers    ${total}    ${${used} + ${free}}    used + free should be the heap's total
    Should Match Regexp    ${out}    (?m)^ No\\. of 1-blocks: \\d+, 2-blocks: \\d+, max blk sz: \\d+, max free sz: \\d+$

The Heap Total Is The Board's Heap Size
    [Documentation]    Port fact: the docs give no heap size. The platform file's memory.heap is what
    ...    mem_info() measured on that board's firmware (GC: total). Source: platforms/<board>.yaml
    ...    memory.heap, e.g. 10048 on the micro:bit 1.9.2, 2072832 on the unix port.
    [Tags]    fact    needs:mem_info
    ${platform} =    Get Board Platform
    Skip If    $platform.memory.heap is None    ${platform.name}: the platform file gives no heap size
    ${out} =    Execute On Board    import micropython\nmicropython.mem_info()
    Should Match Regexp    ${out}    (?m)^GC: total: ${platform.memory.heap},

Verbose Mem Info Prints The Heap Map
    [Documentation]    "In verbose mode it prints out the entire heap indicating which blocks are used and
    ...    which are free." The map shows used and free blocks.
    [Tags]    promise    needs:mem_info
    ${out} =    Execute On Board    import micropython\nmicropython.mem_info(1)
    Should Match Regexp    ${out}    (?m)^[0-9a-f]{5,8}: [.=hTLDSAFBMmQ]*[=hTLDSAFBMmQ]    no map line shows a used block
    Should Match Regexp    ${out}    (?m)^([0-9a-f]{5,8}: [.=hTLDSAFBMmQ]*\\.|\\s+\\(\\d+ lines all free\\))
    ...    no map line shows a free block

Qstr Info Prints Counts
    [Documentation]    "The information that is printed is implementation dependent, but currently includes
    ...    the number of interned strings and the amount of RAM they use."
    [Tags]    promise    needs:qstr_info
    ${out} =    Execute On Board    import micropython\nmicropython.qstr_info()
    Should Match Regexp    ${out}    \\bn_qstr=\\d+\\b    no count of interned strings (n_qstr=N)
    Should Match Regexp    ${out}    \\bn_total_bytes=\\d+\\b    no count of the RAM they use (n_total_bytes=N)

Verbose Qstr Info Lists A Name Just Interned
    [Documentation]    "In verbose mode it prints out the names of all RAM-interned strings." A name made at
    ...    run time is listed, and the count of interned strings grew.
    [Tags]    promise    needs:qstr_info
    ${out} =    Execute Script File    ${CURDIR}/scripts/qstr_new_name.py
    Should Contain    ${out}    Q(mpbuniq4242)
    ${counts} =    Get Regexp Matches    ${out}    n_qstr=(\\d+)    1
    Length Should Be    ${counts}    2
    Should Be True    ${counts}[1] > ${counts}[0]    interning a name should raise n_qstr
