*** Settings ***
Documentation     The heap map of micropython.mem_info(1) ("MicroPython on microcontrollers", The heap):
...               "Each letter represents a single block of memory, a block being 16 bytes. So each line of
...               the heap dump represents 0x400 bytes or 1KiB of RAM."
Library           mpbench.keywords.MicroPythonBench


*** Test Cases ***
Each Line Of The Heap Map Covers 0x400 Bytes
    [Documentation]    "Each letter represents a single block of memory, a block being 16 bytes. So each line
    ...    of the heap dump represents 0x400 bytes or 1KiB of RAM." Measured from the map's own offsets:
    ...    every line, runs of free lines included, covers 0x400 bytes, and every line but the last shows
    ...    64 letters. (64-bit ports have 32-byte blocks: platform feature gc_block_16.)
    [Tags]    promise    needs:mem_info    needs:gc_block_16
    ${out} =    Execute On Board    import micropython\nmicropython.mem_info(1)
    ${map} =    Heap Map Of    ${out}
    Should Be Equal    ${map}[bytes_per_line]    ${{ [0x400] }}    the lines cover ${map}[bytes_per_line] bytes each
    Should Be Equal    ${map}[full_line_lengths]    ${{ [64] }}    full lines show ${map}[full_line_lengths] letters

The Heap Map Shows Free, Head And Tail Blocks In The Legend's Letters
    [Documentation]    Version fact: the rendered docs lost the legend's table, so its letters are taken from
    ...    the code that prints them: "." free, "h" head, "=" tail, "m" marked head, and for heads of
    ...    known types T tuple, L list, D dict, S str/bytes, A array, F float, B bytecode, M module, Q
    ...    qstr pool (v1.9-v1.29 print a subset by build). A map of a heap in use shows ".", "=" and a
    ...    head, and no other letter. Source: py/gc.c gc_dump_alloc_table (v1.9.4, v1.16, v1.24, HEAD).
    [Tags]    fact    needs:mem_info
    ${out} =    Execute On Board    import micropython\nkeep = [bytearray(100) for i in range(4)]\nmicropython.mem_info(1)
    ${map} =    Heap Map Of    ${out}
    Should Match Regexp    ${map}[letters]    ^[.=hmTLDSAFBMQ]+$    the map shows letters outside the legend: ${map}[letters]
    Should Contain    ${map}[letters]    .    no free block in the map
    Should Contain    ${map}[letters]    =    no tail block in the map
    Should Match Regexp    ${map}[letters]    [hTLDSAFBMQ]    no head block in the map
