"""The board matrix: every test of a suite runs once per chosen board.

A Robot listener (API v3) attached to the keyword library. When a suite
starts, each test is copied per board (``Name [board]``, tag ``board:NAME``)
with a setup that boots or resets that board and a teardown that attaches
the console transcript to the log. When the run ends, it writes the
conformance table. Boards come from ``--variable PLATFORMS:a,b`` or, by
default, every board available here; boards left out are named in the
table and in the top suite's metadata, never dropped silently.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from robot.libraries.BuiltIn import BuiltIn

from mpbench.report import BOARD_ERROR_TAG, NOT_RUN_PREFIX, Outcome, outcome_of, write_reports

SETUP_KEYWORD = "Use Board"
TEARDOWN_KEYWORD = "Log Board Transcript"


def choose_boards(variable: str | None) -> tuple[list[str], dict[str, str]]:
    """The boards to run on, and the boards left out with why.

    An explicit list is taken as given (unavailable boards then skip with
    their reason in every test); by default only available boards run.
    """
    from mpbench.board import unavailable_reason
    from mpbench.platform_loader import load_all

    if variable:
        return [b.strip() for b in variable.split(",") if b.strip()], {}
    chosen, left_out = [], {}
    for name, platform in load_all().items():
        reason = unavailable_reason(platform)
        if reason is None:
            chosen.append(name)
        else:
            left_out[name] = reason
    return chosen, left_out


class BoardMatrix:
    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self) -> None:
        self.boards: list[str] | None = None
        self.left_out: dict[str, str] = {}
        self.outcomes: list[Outcome] = []
        self.library: Any = None
        self.outdir: Path | None = None

    def _ensure_boards(self) -> list[str]:
        if self.boards is None:
            variable = BuiltIn().get_variable_value("${PLATFORMS}", os.environ.get("MPBENCH_PLATFORMS_RUN"))
            self.boards, self.left_out = choose_boards(variable)
            # One metadata item per board, so a reason can say anything ("; " included)
            # and `mpbench report` reads each back whole.
            for board, why in self.left_out.items():
                BuiltIn().set_suite_metadata(NOT_RUN_PREFIX + board, why, top=True)
            BuiltIn().set_suite_metadata("Boards", ", ".join(self.boards) or "(none)", top=True)
        return self.boards

    def start_suite(self, data: Any, result: Any) -> None:
        if not data.tests or any("board:" in str(t) for t in data.tests[0].tags):
            return
        boards = self._ensure_boards()
        copies = []
        for test in data.tests:
            if test.setup or test.teardown:
                raise RuntimeError(
                    f"{data.source}: test {test.name!r} has its own setup or teardown; the board "
                    "matrix needs both (use keywords inside the test instead)"
                )
            for board in boards:
                copy = test.deepcopy(name=f"{test.name} [{board}]")
                copy.tags.add(f"board:{board}")
                copy.setup.config(name=SETUP_KEYWORD, args=(board,))
                copy.teardown.config(name=TEARDOWN_KEYWORD, args=())
                copies.append(copy)
        data.tests = copies

    def start_test(self, data: Any, result: Any) -> None:
        if self.library is not None:
            self.library.board_error_seen = False

    def end_test(self, data: Any, result: Any) -> None:
        if self.library is not None and self.library.board_error_seen and result.status == "FAIL":
            result.tags.add(BOARD_ERROR_TAG)
        self.outcomes.append(outcome_of(result, result.parent.name))

    def end_suite(self, data: Any, result: Any) -> None:
        # Library listeners never see the top suite end, so the table is
        # rewritten after every suite: the last write holds the whole run.
        if self.outcomes:
            builtin = BuiltIn()
            self.outdir = Path(builtin.get_variable_value("${OUTPUT DIR}", "."))
            log = str(builtin.get_variable_value("${LOG FILE}", "NONE"))
            link = None if log.upper() == "NONE" else Path(os.path.relpath(log, self.outdir)).as_posix()
            columns = getattr(self.library, "board_info", None)
            write_reports(self.outcomes, self.outdir, self.left_out, columns, link)

    def close(self) -> None:
        if self.library is not None:
            self.library.stop_all_boards()
        if self.outdir is not None:
            print(f"Conformance: {self.outdir / 'conformance.md'}")
