"""The board matrix: every test of a suite runs once per chosen board.

A Robot listener (API v3) attached to the keyword library. When a suite
starts, each test is copied per board (``Name [board]``, tag ``board:NAME``)
with a setup that boots or resets that board and a teardown that attaches
the console transcript to the log. When the run ends, it writes the
conformance table. Boards come from ``--variable PLATFORMS:a,b`` or, by
default, every board available here; boards left out are named in the
table and in the top suite's metadata, never dropped silently.

``--variable SHARD:K/N`` keeps only this shard's (board, suite) pairs, so N
CI jobs together run each pair exactly once and ``mpbench report`` merges
their ``output.xml`` files into the full table. Under pabot each process
holds half a run, so the table is left to ``mpbench report`` on pabot's
merged ``output.xml``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from robot.libraries.BuiltIn import BuiltIn
from robot.utils import escape

from mpbench.report import BOARD_ERROR_TAG, NOT_RUN_PREFIX, Outcome, outcome_of, write_reports

SETUP_KEYWORD = "Use Board"
TEARDOWN_KEYWORD = "Log Board Transcript"


class ShardError(ValueError):
    """``${SHARD}`` is not ``K/N`` with 1 <= K <= N."""


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """``"K/N"`` as ``(K, N)``; None for no sharding (unset or empty)."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    k, sep, n = text.partition("/")
    if not (sep and k.strip().isdigit() and n.strip().isdigit() and 1 <= int(k) <= int(n)):
        raise ShardError(f"--variable SHARD:{text} is not a shard: expected K/N with 1 <= K <= N (e.g. SHARD:1/2)")
    return int(k), int(n)


def suite_index(source: str | os.PathLike[str] | None, name: str) -> int:
    """A suite's place among its siblings: the index of its file among the sorted ``*.robot`` files beside it.

    Taken from the folder, not from the suites this run was given, so the
    share does not move when pabot hands each process one suite (``--suite``)
    or a user runs one file. Without a file, a stable hash of the name.
    """
    if source:
        path = Path(source)
        if path.is_file():
            siblings = sorted(p.name for p in path.parent.glob("*.robot") if p.name != "__init__.robot")
            if path.name in siblings:
                return siblings.index(path.name)
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def in_shard(shard: tuple[int, int] | None, suite: int, board: int) -> bool:
    """Whether the pair (suite number ``suite``, board number ``board``) belongs to ``shard``.

    Diagonals of the suite-by-board grid: ``(suite + board) mod N``. Each
    board's suites, and each suite's boards, are spread evenly over the
    shards, and every pair is in exactly one shard.
    """
    if shard is None:
        return True
    k, n = shard
    return (suite + board) % n == k - 1


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
        self.shard: tuple[int, int] | None = None
        self.shard_error: str | None = None
        self.under_pabot = False

    def _ensure_boards(self) -> list[str]:
        if self.boards is None:
            variable = BuiltIn().get_variable_value("${PLATFORMS}", os.environ.get("MPBENCH_PLATFORMS_RUN"))
            self.boards, self.left_out = choose_boards(variable)
            # One metadata item per board, so a reason can say anything ("; " included)
            # and `mpbench report` reads each back whole.
            for board, why in self.left_out.items():
                BuiltIn().set_suite_metadata(NOT_RUN_PREFIX + board, why, top=True)
            BuiltIn().set_suite_metadata("Boards", ", ".join(self.boards) or "(none)", top=True)
            try:
                self.shard = parse_shard(BuiltIn().get_variable_value("${SHARD}", None))
            except ShardError as e:
                self.shard_error = str(e)
            if self.shard is not None:
                k, n = self.shard
                BuiltIn().set_suite_metadata(
                    "Shard", f"{k}/{n}: the (board, suite) pairs with (suite + board) mod {n} = {k - 1}", top=True
                )
            self.under_pabot = BuiltIn().get_variable_value("${PABOTQUEUEINDEX}", None) is not None
        return self.boards

    def start_suite(self, data: Any, result: Any) -> None:
        if not data.tests or any("board:" in str(t) for t in data.tests[0].tags):
            return
        boards = self._ensure_boards()
        if self.shard_error:
            # Bad input: one failing test per suite says why, rather than running the whole matrix.
            bad = data.tests[0].deepcopy(name="Bad SHARD Variable", tags=["bad-input"])
            bad.setup.config(name="Fail", args=(escape(self.shard_error),))
            data.tests = [bad]
            return
        index = suite_index(data.source, data.name)
        copies = []
        for test in data.tests:
            if test.setup or test.teardown:
                raise RuntimeError(
                    f"{data.source}: test {test.name!r} has its own setup or teardown; the board "
                    "matrix needs both (use keywords inside the test instead)"
                )
            for number, board in enumerate(boards):
                if not in_shard(self.shard, index, number):
                    continue
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
        if any(t.startswith("board:") for t in result.tags):
            self.outcomes.append(outcome_of(result, result.parent.name))

    def end_suite(self, data: Any, result: Any) -> None:
        # Library listeners never see the top suite end, so the table is
        # rewritten after every suite: the last write holds the whole run.
        # A pabot process holds part of a run: its table would mislead, so
        # `mpbench report` builds it from pabot's merged output.xml instead.
        if self.outcomes and not self.under_pabot:
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
