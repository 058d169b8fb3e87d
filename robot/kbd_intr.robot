*** Settings ***
Documentation     micropython.kbd_intr(chr): "Set the character that will raise a KeyboardInterrupt
...               exception. By default this is set to 3 during script execution, corresponding to
...               Ctrl-C. Passing -1 to this function will disable capture of Ctrl-C, and passing 3
...               will restore it."
Library           mpbench.keywords.MicroPythonBench
Test Tags         needs:kbd_intr


*** Test Cases ***
Ctrl-C Raises KeyboardInterrupt In Running Code
    [Documentation]    "By default this is set to 3 during script execution, corresponding to Ctrl-C."
    [Tags]    promise
    Start On Board    print('ready')\nwhile True: pass    wait_for=ready
    Send Interrupt Character
    ${result} =    Wait For Board Result
    Should Be Equal    ${result.traceback.exc_type}    KeyboardInterrupt

Kbd Intr -1 Lets Ctrl-C Through As Data
    [Documentation]    "Passing -1 to this function will disable capture of Ctrl-C" and "This function can
    ...    be used to prevent the capturing of Ctrl-C on the incoming stream of characters that is usually
    ...    used for the REPL, in case that stream is used for other purposes."
    [Tags]    promise    needs:kbd_intr_char
    ${script} =    Script Text    ${CURDIR}/scripts/kbd_intr_passthrough.py
    Start On Board    ${script}    wait_for=ready
    Write To Board    \x03
    ${result} =    Wait For Board Result
    Should Be Equal    ${result.traceback}    ${None}    Ctrl-C interrupted the script: ${result.stderr}
    Should Contain    ${result.stdout}    got 3

Another Character Can Be Chosen As The Interrupt
    [Documentation]    "Set the character that will raise a KeyboardInterrupt exception."
    [Tags]    promise    needs:kbd_intr_char
    Start On Board    import micropython\nmicropython.kbd_intr(24)\nprint('ready')\nwhile True: pass    wait_for=ready
    Write To Board    \x18
    ${result} =    Wait For Board Result
    Should Be Equal    ${result.traceback.exc_type}    KeyboardInterrupt

Kbd Intr 3 Restores Ctrl-C
    [Documentation]    "Passing -1 to this function will disable capture of Ctrl-C, and passing 3 will
    ...    restore it." First shows that Ctrl-C no longer interrupts after kbd_intr(-1), then that it
    ...    interrupts again after kbd_intr(3) in the same block (each block starts with Ctrl-C enabled,
    ...    so a later block would prove nothing). On the unix port Ctrl-C is SIGINT and kbd_intr(-1)
    ...    removes the port's handler, so the signal's default action ends the port instead of raising
    ...    KeyboardInterrupt: the test shows that, restarts the port, and then runs kbd_intr(-1) and
    ...    kbd_intr(3) in one block.
    [Tags]    promise
    ${platform} =    Get Board Platform
    IF    $platform.console.interrupt == 'signal'
        Ctrl-C Should End The Port After Kbd Intr -1
        Start On Board
        ...    import micropython\nmicropython.kbd_intr(-1)\nmicropython.kbd_intr(3)\nprint('restored')\nwhile True: pass
        ...    wait_for=restored
    ELSE
        ${script} =    Script Text    ${CURDIR}/scripts/kbd_intr_restore.py
        Start On Board    ${script}    wait_for=disabled
        Send Interrupt Character
        Write To Board    x
        ${seen} =    Wait For Output    restored
        Should Contain    ${seen}    got [3, 120]    Ctrl-C did not arrive as data after kbd_intr(-1): ${seen}
    END
    Send Interrupt Character
    ${result} =    Wait For Board Result
    Should Be Equal    ${result.traceback.exc_type}    KeyboardInterrupt
    ...    Ctrl-C did not interrupt after kbd_intr(3): ${result.stdout}${result.stderr}


*** Keywords ***
Ctrl-C Should End The Port After Kbd Intr -1
    [Documentation]    On a port whose Ctrl-C is a signal: with capture disabled, Ctrl-C must not raise
    ...    KeyboardInterrupt; nothing handles the signal, so the port ends. Restarts the port after.
    Start On Board    import micropython\nmicropython.kbd_intr(-1)\nprint('disabled')\nwhile True: pass
    ...    wait_for=disabled
    Send Interrupt Character
    TRY
        ${result} =    Wait For Board Result
    EXCEPT    *console closed*    type=GLOB
        Log    the port ended on Ctrl-C (SIGINT): no handler caught it
    ELSE
        Fail    Ctrl-C was still captured after kbd_intr(-1): the block ended with ${result.stdout}${result.stderr}
    END
    Reset Board
