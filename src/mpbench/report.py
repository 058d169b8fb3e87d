"""The conformance table: board by behaviour, pass, fail or skipped with the reason.

Built from the run's results either live (the board matrix listener feeds
it) or afterwards from Robot's ``output.xml`` (``mpbench report RESULTS``),
through the same functions, so both give the same table.
"""

from __future__ import annotations

import argparse
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Outcome:
    area: str  # the suite: const, opt_level, schedule, ...
    behaviour: str  # the test name without the board suffix
    board: str
    status: str  # PASS, FAIL, SKIP
    message: str = ""


def build_table(outcomes: Iterable[Outcome], left_out: dict[str, str] | None = None) -> dict[str, object]:
    """A JSON-ready table: boards, rows of (area, behaviour, cells per board), totals."""
    outcomes = list(outcomes)
    boards = list(dict.fromkeys(o.board for o in outcomes))
    rows: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
    for o in outcomes:
        rows.setdefault((o.area, o.behaviour), {})[o.board] = {"status": o.status, "message": o.message}
    totals = {
        b: {s: sum(1 for o in outcomes if o.board == b and o.status == s) for s in ("PASS", "FAIL", "SKIP")}
        for b in boards
    }
    return {
        "boards": boards,
        "rows": [{"area": a, "behaviour": b, "cells": cells} for (a, b), cells in rows.items()],
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
    return "**FAIL**: " + (cell["message"].splitlines()[0] if cell["message"] else "")


def render_markdown(table: dict[str, object]) -> str:
    boards: list[str] = table["boards"]  # type: ignore[assignment]
    lines = [
        "# MicroPython conformance",
        "",
        "| area | behaviour | " + " | ".join(boards) + " |",
        "|---|---|" + "---|" * len(boards),
    ]
    for row in table["rows"]:  # type: ignore[union-attr]
        cells = [_cell_text(row["cells"].get(b)).replace("|", "\\|") for b in boards]
        lines.append(f"| {row['area']} | {row['behaviour']} | " + " | ".join(cells) + " |")
    totals: dict[str, dict[str, int]] = table["totals"]  # type: ignore[assignment]
    lines += ["", "| board | pass | fail | skip |", "|---|---|---|---|"]
    lines += [f"| {b} | {t['PASS']} | {t['FAIL']} | {t['SKIP']} |" for b, t in totals.items()]
    not_run: dict[str, str] = table["boards_not_run"]  # type: ignore[assignment]
    if not_run:
        lines += ["", "Boards not run (choose them with `--variable PLATFORMS:...` to see each test skip):", ""]
        lines += [f"- {b}: {why}" for b, why in not_run.items()]
    return "\n".join(lines) + "\n"


def render_html(table: dict[str, object]) -> str:
    boards: list[str] = table["boards"]  # type: ignore[assignment]
    colour = {"PASS": "#c8f7c5", "FAIL": "#f7c5c5", "SKIP": "#eeeeee"}
    out = [
        "<!doctype html><meta charset=utf-8><title>MicroPython conformance</title>",
        "<style>td,th{border:1px solid #999;padding:2px 6px;font:13px sans-serif}table{border-collapse:collapse}"
        "</style><h1>MicroPython conformance</h1><table><tr><th>area<th>behaviour",
    ]
    out += [f"<th>{html.escape(b)}" for b in boards]
    for row in table["rows"]:  # type: ignore[union-attr]
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


def outcomes_from_output(path: Path) -> tuple[list[Outcome], dict[str, str]]:
    """Read a Robot ``output.xml`` back into outcomes (and the boards not run)."""
    from robot.api import ExecutionResult

    result = ExecutionResult(str(path))
    outcomes: list[Outcome] = []

    def walk(suite: object) -> None:
        for test in suite.tests:  # type: ignore[attr-defined]
            board = next((t.split(":", 1)[1] for t in test.tags if t.startswith("board:")), "")
            if not board:
                continue
            suffix = f" [{board}]"
            name = test.name[: -len(suffix)] if test.name.endswith(suffix) else test.name
            outcomes.append(Outcome(suite.name, name, board, test.status, test.message))  # type: ignore[attr-defined]
        for child in suite.suites:  # type: ignore[attr-defined]
            walk(child)

    walk(result.suite)
    left_out = {}
    meta = result.suite.metadata.get("Boards not run", "")
    for part in filter(None, (p.strip() for p in meta.split("; "))):
        name, _, why = part.partition(": ")
        left_out[name] = why
    return outcomes, left_out


def do_report(args: argparse.Namespace) -> int:
    from mpbench.errors import MpbenchError

    src = Path(args.results)
    xml = src / "output.xml" if src.is_dir() else src
    if not xml.is_file():
        raise MpbenchError(f"{xml}: no Robot output.xml there (run `robot --outputdir DIR robot/` first)")
    outcomes, left_out = outcomes_from_output(xml)
    paths = write_reports(outcomes, Path(args.out) if args.out else xml.parent, left_out)
    print(paths["md"].read_text(), end="")
    return 1 if any(o.status == "FAIL" for o in outcomes) else 0


def report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", help="Robot's output.xml, or the folder holding it")
    p.add_argument("--out", help="folder for conformance.md/.json/.html (default: beside output.xml)")
