*** Settings ***
Documentation     Does the ``micropython`` module do what its documentation promises?
...
...               Every test runs once per board: ``--variable PLATFORMS:microbit,unix``
...               chooses them (default: every board available here). A board that is
...               unavailable, or a behaviour a board's firmware lacks, is skipped with
...               the reason its platform file gives. The conformance table (board by
...               behaviour) is written beside the log as conformance.md/.json/.html.
...
...               The promises come from MicroPython's documentation of the module
...               (docs/library/micropython.rst); where editions differ (Pybricks numbers
...               opt_level from 1), a test follows the board's firmware and says so.
