*** Settings ***
Documentation     micropython.mem_info([verbose]) and qstr_info([verbose]): "Print information about
...               currently used memory. If the verbose argument is given then extra information is
...               printed." / "... the number of interned strings and the amount of RAM they use. In
...               verbose mode it prints out the names of all RAM-interned strings."
Library           mpbench.keywords.MicroPythonBench
Library           String


*** Test Cases ***
Mem Info Prints Stack And Heap Figures
    [Tags]    needs:mem_info
    ${out} =    Execute On Board    import micropython\nmicropython.mem_info()
    Should Match Regexp    ${out}    (?m)^stack: \\d+( out of \\d+)?$
    ${heap} =    Get Regexp Matches    ${out}    (?m)^GC: total: (\\d+), used: (\\d+), free: (\\d+)    1    2    3
    Should Not Be Empty    ${heap}    no 'GC: total: N, used: N, free: N' line in:\n${out}
    ${total}    ${used}    ${free} =    Set Variable    ${heap}[0]
    Should Be Equal As Integers    ${total}    ${${used} + ${free}}    used + free should be the heap's total
    Should Match Regexp    ${out}    (?m)^ No\\. of 1-blocks: \\d+, 2-blocks: \\d+, max blk sz: \\d+, max free sz: \\d+$

The Heap Total Is The Board's Heap Size
    [Tags]    needs:mem_info
    ${platform} =    Get Board Platform
    Skip If    $platform.memory.heap is None    ${platform.name}: the platform file gives no heap size
    ${out} =    Execute On Board    import micropython\nmicropython.mem_info()
    Should Match Regexp    ${out}    (?m)^GC: total: ${platform.memory.heap},

Verbose Mem Info Prints The Heap Map
    [Tags]    needs:mem_info
    ${out} =    Execute On Board    import micropython\nmicropython.mem_info(1)
    Should Contain    ${out}    GC memory layout; from
    Should Match Regexp    ${out}    (?m)^[0-9a-f]{5,8}: [.=hTLDSAFBMmQ]+

Qstr Info Prints Counts
    [Tags]    needs:qstr_info
    ${out} =    Execute On Board    import micropython\nmicropython.qstr_info()
    Should Match Regexp    ${out}    ^qstr pool: n_pool=\\d+, n_qstr=\\d+, n_str_data_bytes=\\d+, n_total_bytes=\\d+$

Verbose Qstr Info Lists A Name Just Interned
    [Tags]    needs:qstr_info
    ${out} =    Execute Script File    ${CURDIR}/scripts/qstr_new_name.py
    Should Contain    ${out}    Q(mpbuniq4242)
    ${counts} =    Get Regexp Matches    ${out}    n_qstr=(\\d+)    1
    Length Should Be    ${counts}    2
    Should Be True    ${counts}[1] > ${counts}[0]    interning a name should raise n_qstr
