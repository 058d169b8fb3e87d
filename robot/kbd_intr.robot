*** Settings ***
Documentation     micropython.kbd_intr(chr): "Set the character that will raise a KeyboardInterrupt
...               exception. By default this is set to 3 during script execution, corresponding to
...               Ctrl-C. Passing -1 to this function will disable capture of Ctrl-C, and passing 3
...               will restore it."
Library           mpbench.keywords.MicroPythonBench
Test Tags         needs:kbd_intr


*** Test Cases ***
Ctrl-C Raises KeyboardInterrupt In Running Code
    Start On Board    print('ready')\nwhile True: pass    wait_for=ready
    Send Interrupt Character
    ${result} =    Wait For Board Result
    Should Be Equal    ${result.traceback.exc_type}    KeyboardInterrupt

Kbd Intr -1 Lets Ctrl-C Through As Data
    [Tags]    needs:kbd_intr_char
    ${script} =    Script Text    ${CURDIR}/scripts/kbd_intr_passthrough.py
    Start On Board    ${script}    wait_for=ready
    Write To Board    \x03
    ${result} =    Wait For Board Result
    Should Be Equal    ${result.traceback}    ${None}    Ctrl-C interrupted the script: ${result.stderr}
    Should Contain    ${result.stdout}    got 3

Another Character Can Be Chosen As The Interrupt
    [Tags]    needs:kbd_intr_char
    Start On Board    import micropython\nmicropython.kbd_intr(24)\nprint('ready')\nwhile True: pass    wait_for=ready
    Write To Board    \x18
    ${result} =    Wait For Board Result
    Should Be Equal    ${result.traceback.exc_type}    KeyboardInterrupt

Kbd Intr 3 Restores Ctrl-C
    Start On Board
    ...    import micropython\nmicropython.kbd_intr(-1)\nmicropython.kbd_intr(3)\nprint('ready')\nwhile True: pass
    ...    wait_for=ready
    Send Interrupt Character
    ${result} =    Wait For Board Result
    Should Be Equal    ${result.traceback.exc_type}    KeyboardInterrupt
