*** Settings ***
Documentation     Work done by the compiler instead of at run time ("MicroPython on microcontrollers",
...               Execution phase): adjacent string literals, tuples of constants, list literals, and the
...               allocation that operations on immutable objects imply. "Allocates nothing" is checked
...               with the heap locked (micropython.heap_lock()): there, any allocation raises MemoryError.
Library           mpbench.keywords.MicroPythonBench


*** Test Cases ***
Adjacent String Literals Are Joined At Compile Time
    [Documentation]    "The others perform the concatenation at compile time which is more efficient,
    ...    reducing fragmentation." With the heap locked, 'foo' 'bar' still gives 'foobar'; 'foo' + 'bar'
    ...    needs memory at run time and raises MemoryError.
    [Tags]    promise    needs:heap_lock
    ${out} =    Execute Script File    ${CURDIR}/scripts/compile_time_concat.py
    ${adjacent}    ${plus_raised}    ${value} =    Evaluate    $out.split()
    Should Be Equal    ${adjacent}    True    "foo" "bar" needed the heap: it was not joined at compile time
    Should Be Equal    ${plus_raised}    True    "foo" + "bar" ran with the heap locked: the lock did not hold
    Should Be Equal    ${value}    True    "foo" "bar" did not give "foobar"

A Tuple Of Constants Is One Object
    [Documentation]    "This entire tuple will exist as a single object (potentially in flash if the code is
    ...    frozen) and referenced each time it is needed." The docs' own tuple, returned by a function:
    ...    two calls give the very same object.
    [Tags]    promise    needs:const_tuple
    ${out} =    Execute Script File    ${CURDIR}/scripts/const_tuple.py
    Should Be Equal    ${out}    True True    the constant tuple was built again on a second call

A List Literal Is Built On Each Call
    [Documentation]    "In the first call a list of integers is created in RAM each time the code is
    ...    executed." Two calls give two lists; with the heap locked the call raises MemoryError.
    [Tags]    promise    needs:heap_lock
    ${out} =    Execute Script File    ${CURDIR}/scripts/list_literal.py
    Should Be Equal    ${out}    True True True    the list literal was not built anew on each call

Making New Bytes From Bytes Allocates
    [Documentation]    "Any operation which takes as input such an object and produces another implies at
    ...    least one RAM allocation to produce the result." and "foo = foo.lstrip()" With the heap locked,
    ...    b'   empty whitespace'.lstrip() raises MemoryError.
    [Tags]    promise    needs:heap_lock
    ${out} =    Execute Script File    ${CURDIR}/scripts/immutable_ops.py
    Should Be Equal    ${out}    True True    lstrip() made its result without allocating

Str Encode Allocates
    [Documentation]    "Where it is necessary to convert between strings and bytes the str.encode() and the
    ...    bytes.decode() methods can be used." and "Any operation which takes as input such an object and
    ...    produces another implies at least one RAM allocation to produce the result." With the heap
    ...    locked, str.encode() raises MemoryError.
    [Tags]    promise    needs:heap_lock    needs:str_encode
    ${out} =    Execute Script File    ${CURDIR}/scripts/str_encode.py
    Should Be Equal    ${out}    True True    str.encode() made its result without allocating
