"""The conformance table: board by behaviour, pass, fail, error or skipped with the reason.

Built from the run's results either live (the board matrix listener feeds
it) or afterwards from Robot's ``output.xml`` (``mpbench report RESULTS``),
through the same functions, so both give the same table. ``error`` is a
test that failed because the board or the bench failed (tag
``board-error``), never counted as a MicroPython failure. Tests tagged
``fact`` check a port or version fact, not a documented promise, and are
listed apart.
"""

from __future__ import annotations

import argparse
import html
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The tag the board matrix gives a test that failed because the board or the bench failed.
BOARD_ERROR_TAG = "board-error"
#: A cell's status for such a test (Robot itself only knows FAIL).
ERROR = "ERROR"
STATUSES = ("PASS", "FAIL", ERROR, "SKIP")
#: Suite metadata naming a board that was not run, one item per board: ``Not run: NAME``.
NOT_RUN_PREFIX = "Not run: "


@dataclass(frozen=True)
class Outcome:
    area: str  # the suite: const, opt_level, schedule, ...
    behaviour: str  # the test name without the board suffix
    board: str
    status: str  # PASS, FAIL, ERROR, SKIP
    message: str = ""
    kind: str = "promise"  # promise (the documentation says so) or fact (a port or version fact)


def outcome_of(test: Any, area: str) -> Outcome:
    """A test result (live from the listener, or read back from output.xml) as an outcome."""
    board = next((t.split(":", 1)[1] for t in test.tags if t.startswith("board:")), "")
    suffix = f" [{board}]"
    name = test.name[: -len(suffix)] if board and test.name.endswith(suffix) else test.name
    status = ERROR if test.status == "FAIL" and BOARD_ERROR_TAG in test.tags else test.status
    kind = "fact" if "fact" in test.tags else "promise"
    return Outcome(area, name, board, status, test.message, kind)


def build_table(outcomes: Iterable[Outcome], left_out: dict[str, str] | None = None) -> dict[str, object]:
    """A JSON-ready table: boards, rows of (area, behaviour, cells per board), totals."""
    outcomes = list(outcomes)
    boards = list(dict.fromkeys(o.board for o in outcomes))
    rows: dict[tuple[str, str, str], dict[str, dict[str, str]]] = {}
    for o in outcomes:
        rows.setdefault((o.kind, o.area, o.behaviour), {})[o.board] = {"status": o.status, "message": o.message}
    totals = {b: {s: sum(1 for o in outcomes if o.board == b and o.status == s) for s in STATUSES} for b in boards}
    ordered = sorted(rows.items(), key=lambda item: item[0][0] == "fact")  # promises first, stable otherwise
    return {
        "boards": boards,
        "rows": [{"kind": k, "area": a, "behaviour": b, "cells": cells} for (k, a, b), cells in ordered],
        "totals": totals,
        "boards_not_run": left_out or {},
    }


def _cell_text(cell: dict[str, str] | None) -> str:
    if cell is None:
        return "-"
    status = cell["status"]
    if status == "PASS":
        return "pass"
    if status == "SKIP":
        return "skip: " + cell["message"].splitlines()[0] if cell["message"] else "skip"
    first = cell["message"].splitlines()[0] if cell["message"] else ""
    if status == ERROR:
        return "error: " + first
    return "**FAIL**: " + first


def render_markdown(table: dict[str, object]) -> str:
    boards: list[str] = table["boards"]  # type: ignore[assignment]
    lines = ["# MicroPython conformance"]
    for kind, title in (("promise", "Documented promises"), ("fact", "Port and version facts")):
        rows = [r for r in table["rows"] if r["kind"] == kind]  # type: ignore[union-attr,index]
        if not rows:
            continue
        lines += ["", f"## {title}", "", "| area | behaviour | " + " | ".join(boards) + " |"]
        lines.append("|---|---|" + "---|" * len(boards))
        for row in rows:
            cells = [_cell_text(row["cells"].get(b)).replace("|", "\\|") for b in boards]
            lines.append(f"| {row['area']} | {row['behaviour']} | " + " | ".join(cells) + " |")
    totals: dict[str, dict[str, int]] = table["totals"]  # type: ignore[assignment]
    lines += ["", "| board | pass | fail | error | skip |", "|---|---|---|---|---|"]
    lines += [f"| {b} | {t['PASS']} | {t['FAIL']} | {t[ERROR]} | {t['SKIP']} |" for b, t in totals.items()]
    lines += ["", "`error`: the board or the bench failed (tag `board-error`); not a verdict on MicroPython."]
    not_run: dict[str, str] = table["boards_not_run"]  # type: ignore[assignment]
    if not_run:
        lines += ["", "Boards not run (choose them with `--variable PLATFORMS:...` to see each test skip):", ""]
        lines += [f"- {b}: {why}" for b, why in not_run.items()]
    return "\n".join(lines) + "\n"


def render_html(table: dict[str, object]) -> str:
    boards: list[str] = table["boards"]  # type: ignore[assignment]
    colour = {"PASS": "#c8f7c5", "FAIL": "#f7c5c5", ERROR: "#f7e3a8", "SKIP": "#eeeeee"}
    out = [
        "<!doctype html><meta charset=utf-8><title>MicroPython conformance</title>",
        "<style>td,th{border:1px solid #999;padding:2px 6px;font:13px sans-serif}table{border-collapse:collapse}"
        "</style><h1>MicroPython conformance</h1><table><tr><th>area<th>behaviour",
    ]
    out += [f"<th>{html.escape(b)}" for b in boards]
    kind = ""
    for row in table["rows"]:  # type: ignore[union-attr]
        if row["kind"] != kind:
            kind = row["kind"]
            title = "Documented promises" if kind == "promise" else "Port and version facts"
            out.append(f"<tr><th colspan={2 + len(boards)}>{title}")
        out.append(f"<tr><td>{html.escape(row['area'])}<td>{html.escape(row['behaviour'])}")
        for b in boards:
            cell = row["cells"].get(b)
            status = cell["status"] if cell else ""
            title = html.escape(cell["message"]) if cell else ""
            out.append(
                f"<td style='background:{colour.get(status, '#fff')}' title='{title}'>"
                f"{html.escape(_cell_text(cell).replace('**', ''))}"
            )
    out.append("</table>")
    return "".join(out) + "\n"


def write_reports(outcomes: Iterable[Outcome], outdir: Path, left_out: dict[str, str] | None = None) -> dict[str, Path]:
    """Write conformance.md, .json and .html into ``outdir``; return their paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    table = build_table(outcomes, left_out)
    paths = {"md": outdir / "conformance.md", "json": outdir / "conformance.json", "html": outdir / "conformance.html"}
    paths["md"].write_text(render_markdown(table))
    paths["json"].write_text(json.dumps(table, indent=2) + "\n")
    paths["html"].write_text(render_html(table))
    return paths


def output_xml(arg: str | Path) -> Path:
    """The ``output.xml`` a command-line argument names: the file itself, or the one in that folder."""
    from mpbench.errors import MpbenchError

    src = Path(arg)
    xml = src / "output.xml" if src.is_dir() else src
    if not xml.is_file():
        raise MpbenchError(f"{xml}: no Robot output.xml there (run `robot --outputdir DIR robot/` first)")
    return xml


def read_result(xml: Path) -> Any:
    """Robot's result model of ``xml``; a file that is not a Robot output is bad input, named in one line."""
    from robot.api import ExecutionResult
    from robot.errors import DataError

    from mpbench.errors import MpbenchError

    try:
        return ExecutionResult(str(xml))
    except DataError as e:
        first = str(e).splitlines()[0] if str(e) else "unreadable"
        raise MpbenchError(f"{xml}: not a Robot output.xml: {first}") from e


def merge_outputs(xmls: list[Path], outdir: Path) -> Path:
    """Combine several runs (CI shards, boards run apart) with Robot's ``rebot`` into ``outdir``.

    Writes ``output.xml``, ``log.html`` and ``report.html`` there, each run a
    child suite of one top suite, and returns the combined ``output.xml``: the
    table is read from it, so its cells and the combined log describe the same
    tests. Inputs are checked first, so a bad one is named in one line rather
    than in rebot's own words; an input that rebot would overwrite is refused.
    """
    import robot

    from mpbench.errors import MpbenchError

    target = (outdir / "output.xml").resolve()
    names = []
    for xml in xmls:
        if xml.resolve() == target:
            raise MpbenchError(f"{xml}: an input of the merge; choose another folder with -o (it would be overwritten)")
        names.append(read_result(xml).suite.name)
    outdir.mkdir(parents=True, exist_ok=True)
    out, err = io.StringIO(), io.StringIO()
    options: dict[str, Any] = {"outputdir": str(outdir), "output": "output.xml", "log": "log.html"}
    options["report"] = "report.html"
    if len(set(names)) == 1:
        options["name"] = names[0]  # "Robot" rather than rebot's "Robot & Robot"
    rc = robot.rebot(*(str(x) for x in xmls), stdout=out, stderr=err, **options)
    if rc >= 250 or not target.is_file():  # 251 help, 252 data error, 253 stopped, 255 internal error
        first = (err.getvalue().strip().splitlines() or ["no output"])[0]
        raise MpbenchError(f"rebot could not merge {', '.join(map(str, xmls))}: {first}")
    return target


def outcomes_from_output(path: Path) -> tuple[list[Outcome], dict[str, str]]:
    """Read a Robot ``output.xml`` back into outcomes (and the boards not run).

    Metadata is read from every suite, not only the top one: in a merged
    output (``rebot``) each run's top suite, with its ``Not run: NAME``
    items, is a child. A board one run left out and another ran is not
    listed as not run.
    """
    result = read_result(path)
    outcomes: list[Outcome] = []
    left_out: dict[str, str] = {}

    def walk(suite: Any) -> None:
        for key, value in suite.metadata.items():
            if key.startswith(NOT_RUN_PREFIX):
                left_out.setdefault(key[len(NOT_RUN_PREFIX) :], value)
        outcomes.extend(
            outcome_of(test, suite.name) for test in suite.tests if any(t.startswith("board:") for t in test.tags)
        )
        for child in suite.suites:
            walk(child)

    walk(result.suite)
    ran = {o.board for o in outcomes}
    return outcomes, {board: why for board, why in left_out.items() if board not in ran}


def do_report(args: argparse.Namespace) -> int:
    xmls = [output_xml(arg) for arg in args.results]
    if len(xmls) == 1:
        xml = xmls[0]
        outdir = Path(args.out) if args.out else xml.parent
    else:
        if not args.out:
            from mpbench.errors import MpbenchError

            raise MpbenchError("several runs to merge: name the folder for the merged table and log with -o DIR")
        outdir = Path(args.out)
        xml = merge_outputs(xmls, outdir)
    outcomes, left_out = outcomes_from_output(xml)
    paths = write_reports(outcomes, outdir, left_out)
    print(paths["md"].read_text(), end="")
    # A board error is not a MicroPython failure, but the run did not give a verdict either.
    if any(o.status == "FAIL" for o in outcomes):
        return 1
    return 3 if any(o.status == ERROR for o in outcomes) else 0


def report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "results",
        nargs="+",
        help="Robot's output.xml, or the folder holding it; several (CI shards) are merged with rebot",
    )
    p.add_argument(
        "-o",
        "--out",
        help="folder for conformance.md/.json/.html (default: beside output.xml; required to merge several runs, "
        "which also get the merged output.xml, log.html and report.html there)",
    )
