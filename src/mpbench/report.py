"""The conformance table: board by behaviour, pass, fail, error or skipped with the reason.

Built from the run's results either live (the board matrix listener feeds
it) or afterwards from Robot's ``output.xml`` (``mpbench report RESULTS``),
through the same functions, so both give the same table. ``error`` is a
test that failed because the board or the bench failed (tag
``board-error``), never counted as a MicroPython failure. Tests tagged
``fact`` check a port or version fact, not a documented promise, and are
listed apart.

The table is a JSON-ready dict (``build_table``; its shape is
``conformance_schema.json``, kept stable: fields are only ever added) that
``report_render`` turns into Markdown and HTML with the same content. Each
column is a board with one firmware: the keyword library records the
firmware and engine of every board as top-suite metadata ``Board: NAME``
(a JSON object), and when merged runs hold one board with two firmware
builds, each build gets its own column (``pyboard v1.25.0``). ``compare``
holds two tables side by side: what changed per board and behaviour.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The tag the board matrix gives a test that failed because the board or the bench failed.
BOARD_ERROR_TAG = "board-error"
#: A cell's status for such a test (Robot itself only knows FAIL).
ERROR = "ERROR"
STATUSES = ("PASS", "FAIL", ERROR, "SKIP")
#: Suite metadata naming a board that was not run, one item per board: ``Not run: NAME``.
NOT_RUN_PREFIX = "Not run: "
#: Top-suite metadata the board matrix sets: the boards a run chose, comma-separated, in order.
BOARDS_KEY = "Boards"
#: Suite metadata describing a board's firmware and engine, one JSON object per board: ``Board: NAME``.
BOARD_PREFIX = "Board: "
#: Version of the shapes in conformance_schema.json and comparison_schema.json.
SCHEMA_VERSION = 2
KIND_TITLES = {"promise": "Documented promises", "fact": "Port and version facts"}
#: The fields of a column's description, all present in the JSON (None when unknown).
COLUMN_FIELDS = (
    "board",
    "title",
    "firmware",
    "version",
    "firmware_version",
    "firmware_sha256",
    "banner",
    "engine",
    "engine_version",
)


@dataclass(frozen=True)
class Outcome:
    area: str  # the suite: const, opt_level, schedule, ...
    behaviour: str  # the test name without the board suffix
    board: str  # the column: the board's name, or name and firmware version when one board has two
    status: str  # PASS, FAIL, ERROR, SKIP
    message: str = ""
    kind: str = "promise"  # promise (the documentation says so) or fact (a port or version fact)
    test_id: str = ""  # Robot's id (s1-s2-t3): log.html#ID shows the test
    doc: str = ""  # the test's documentation: the sentence the behaviour checks


def outcome_of(test: Any, area: str, column: str | None = None) -> Outcome:
    """A test result (live from the listener, or read back from output.xml) as an outcome."""
    board = next((t.split(":", 1)[1] for t in test.tags if t.startswith("board:")), "")
    suffix = f" [{board}]"
    name = test.name[: -len(suffix)] if board and test.name.endswith(suffix) else test.name
    status = ERROR if test.status == "FAIL" and BOARD_ERROR_TAG in test.tags else test.status
    kind = "fact" if "fact" in test.tags else "promise"
    doc = " ".join(str(test.doc or "").split())
    return Outcome(area, name, column or board, status, test.message, kind, str(test.id), doc)


def column_info(board: str, info: Mapping[str, Any] | None) -> dict[str, Any]:
    """A column's header facts from what the library recorded about the board (possibly nothing).

    ``version`` is what the board said in its banner (``MicroPython v1.26.1``)
    when it says a version there, else the firmware manifest's: a user's own
    build named by ``FIRMWARE_<board>`` keeps the manifest id but not its version.
    """
    info = info or {}
    out: dict[str, Any] = {k: (str(info[k]) if info.get(k) is not None else None) for k in COLUMN_FIELDS}
    out["board"] = board
    banner = re.search(r"MicroPython (v\d+\.\d+[\w.+-]*)", out["banner"] or "")
    out["version"] = banner.group(1) if banner else out["firmware_version"]
    return out


def build_label(info: Mapping[str, Any]) -> str:
    """What tells one build of a board from another in a column's name: the word after
    ``MicroPython`` in its banner (``v1.25.0``, or a git hash on the unix port), else the
    manifest's version, else the start of the image's hash."""
    word = re.search(r"MicroPython (\S+?)[;,]?(?:\s|$)", str(info.get("banner") or ""))
    if word:
        return word.group(1)
    return str(info.get("firmware_version") or (info.get("firmware_sha256") or "")[:8] or "?")


def engine_label(column: Mapping[str, Any]) -> str:
    """``renode 1.15.1``: the engine and the first version number its ``--version`` printed."""
    engine = column.get("engine") or ""
    number = re.search(r"\d+\.\d+(?:\.\d+)?", column.get("engine_version") or "") if engine != "host" else None
    return f"{engine} {number.group(0)}" if number else engine


def _totals(outcomes: list[Outcome], board: str) -> dict[str, int]:
    return {s: sum(1 for o in outcomes if o.board == board and o.status == s) for s in STATUSES}


def build_table(
    outcomes: Iterable[Outcome],
    left_out: Mapping[str, str] | None = None,
    columns: Mapping[str, Mapping[str, Any]] | None = None,
    log: str | None = None,
) -> dict[str, Any]:
    """A JSON-ready table (conformance_schema.json): columns, rows grouped by kind and area, notes.

    Rows are sorted by kind (promises first), then area name, then their
    first appearance: the same for one run and for shards of it merged in any
    grouping. Each distinct reason (a skip's, a failure's message) of a board
    is one numbered note, cited by every cell of that board that has it.
    ``columns`` maps a column to what the library recorded about its board
    (columns are in its order, then in order of appearance);
    ``log`` is the link to Robot's log.html, relative to the table's folder.
    """
    outcomes = list(outcomes)
    cols = dict(columns or {})
    boards = list(dict.fromkeys(o.board for o in outcomes))
    boards.sort(key=lambda b: list(cols).index(b) if b in cols else len(cols))  # stable: the columns' order first
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for o in outcomes:
        row = rows.setdefault((o.kind, o.area, o.behaviour), {"doc": o.doc, "cells": {}})
        row["cells"][o.board] = {"status": o.status, "message": o.message, "note": None, "test_id": o.test_id}
    ordered = sorted(rows.items(), key=lambda item: (item[0][0] == "fact", item[0][1]))
    notes: list[dict[str, Any]] = []
    numbers: dict[tuple[str, str], int] = {}
    for _key, row in ordered:
        for board in boards:
            cell = row["cells"].get(board)
            if cell is None or cell["status"] == "PASS" or not cell["message"]:
                continue
            number = numbers.get((board, cell["message"]))
            if number is None:
                number = numbers[(board, cell["message"])] = len(notes) + 1
                notes.append({"number": number, "board": board, "text": cell["message"]})
            cell["note"] = number
    info = {b: column_info(str(cols.get(b, {}).get("board") or b), cols.get(b)) for b in boards}
    ran = {c["board"] for c in info.values()}
    return {
        "format": "mpbench-conformance",
        "schema_version": SCHEMA_VERSION,
        "title": "MicroPython conformance",
        "log": log,
        "boards": boards,
        "columns": info,
        "rows": [
            {"kind": k, "area": a, "behaviour": b, "doc": row["doc"], "cells": row["cells"]}
            for (k, a, b), row in ordered
        ],
        "totals": {b: _totals(outcomes, b) for b in boards},
        "notes": notes,
        "boards_not_run": {b: why for b, why in (left_out or {}).items() if b not in ran},
    }


def write_reports(
    outcomes: Iterable[Outcome],
    outdir: Path,
    left_out: Mapping[str, str] | None = None,
    columns: Mapping[str, Mapping[str, Any]] | None = None,
    log: str | None = None,
) -> dict[str, Path]:
    """Write conformance.md, .json and .html into ``outdir``; return their paths."""
    from mpbench.report_render import render_html, render_markdown

    outdir.mkdir(parents=True, exist_ok=True)
    table = build_table(outcomes, left_out, columns, log)
    paths = {"md": outdir / "conformance.md", "json": outdir / "conformance.json", "html": outdir / "conformance.html"}
    paths["md"].write_text(render_markdown(table))
    paths["json"].write_text(json.dumps(table, indent=2) + "\n")
    paths["html"].write_text(render_html(table))
    return paths


# -- reading Robot's output ------------------------------------------------------------------------
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


@dataclass
class RunResults:
    """What a run's output.xml holds for the table: outcomes by column, boards not run, columns' facts."""

    outcomes: list[Outcome] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    #: column -> what the library recorded about its board, plus ``board`` (the board's name).
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)


def _board_info(value: str) -> dict[str, Any]:
    """A ``Board: NAME`` metadata value; anything but a JSON object (an older or edited output) is no facts."""
    try:
        info = json.loads(value)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def read_output(path: Path) -> RunResults:
    """Read a Robot ``output.xml`` (one run, or several merged by rebot) into outcomes and column facts.

    Metadata is read from every suite, not only the top one: in a merged
    output each run's top suite, with its ``Not run: NAME`` and
    ``Board: NAME`` items, is a child, and a test takes the facts of its
    nearest ancestor. A board one run left out and another ran is not listed
    as not run. A board seen with two firmware builds (by hash, else
    banner) gets one column per build, named with the version the build reports.
    """
    result = read_result(path)
    left_out: dict[str, str] = {}
    chosen: list[list[str]] = []  # each run's `Boards` metadata: the boards it chose, in their order
    seen: list[tuple[Any, str, str, dict[str, Any]]] = []

    def walk(suite: Any, infos: dict[str, dict[str, Any]]) -> None:
        infos = dict(infos)
        for key, value in suite.metadata.items():
            if key.startswith(NOT_RUN_PREFIX):
                left_out.setdefault(key[len(NOT_RUN_PREFIX) :], value)
            elif key.startswith(BOARD_PREFIX):
                infos[key[len(BOARD_PREFIX) :]] = _board_info(value)
            elif key == BOARDS_KEY:
                chosen.append([b.strip() for b in str(value).split(",") if b.strip()])
        for test in suite.tests:
            board = next((t.split(":", 1)[1] for t in test.tags if t.startswith("board:")), None)
            if board is not None:
                seen.append((test, suite.name, board, infos.get(board, {})))
        for child in suite.suites:
            walk(child, infos)

    walk(result.suite, {})

    def identity(info: Mapping[str, Any]) -> tuple[str, str]:
        return (str(info.get("firmware") or ""), str(info.get("firmware_sha256") or info.get("banner") or ""))

    builds: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for _test, _area, board, info in seen:
        builds.setdefault(board, {}).setdefault(identity(info), info)
    keys: dict[tuple[str, tuple[str, str]], str] = {}
    run = RunResults()
    for board, found in builds.items():
        for ident, info in found.items():
            key = board
            if len(found) > 1:
                key = f"{board} {build_label(info)}"
                n = 2
                while key in keys.values():
                    key, n = f"{board} {build_label(info)} #{n}", n + 1
            keys[(board, ident)] = key
            run.columns[key] = {**info, "board": board}
    # Columns in the order a run chose its boards (PLATFORMS), when one run's choice covers them all:
    # shards that each list every board then merge in the full run's order whichever shard comes first.
    order = next((names for names in chosen if set(builds) <= set(names)), list(builds))
    ranked = sorted(run.columns.items(), key=lambda item: order.index(item[1]["board"]))
    run.columns = dict(ranked)
    run.outcomes = [outcome_of(t, area, keys[(b, identity(info))]) for t, area, b, info in seen]
    run.left_out = {board: why for board, why in left_out.items() if board not in builds}
    return run


def outcomes_from_output(path: Path) -> tuple[list[Outcome], dict[str, str]]:
    """Read a Robot ``output.xml`` back into outcomes (and the boards not run)."""
    run = read_output(path)
    return run.outcomes, run.left_out


def log_link(log: Path, outdir: Path) -> str | None:
    """The link from a table in ``outdir`` to Robot's ``log`` (None when there is no log to link)."""
    if not log.is_file():
        return None
    return Path(os.path.relpath(log.resolve(), outdir.resolve())).as_posix()


def table_of(arg: str | Path, outdir: Path | None = None) -> tuple[dict[str, Any], Path]:
    """The table of one run (an output.xml or its folder), links relative to ``outdir``; and the output.xml."""
    xml = output_xml(arg)
    run = read_output(xml)
    link = log_link(xml.parent / "log.html", outdir or xml.parent)
    return build_table(run.outcomes, run.left_out, run.columns, link), xml


# -- comparing two runs ----------------------------------------------------------------------------
#: What a cell's change is called, by its new status (same status: the reason changed).
CHANGE_BY_STATUS = {"FAIL": "newly failing", ERROR: "newly error", "PASS": "newly passing", "SKIP": "newly skipped"}
CHANGES = ("newly failing", "newly error", "newly passing", "newly skipped", "reason changed", "added", "removed")
#: Changes that make ``mpbench report --compare`` exit 1: a behaviour that did not fail before and does now.
REGRESSIONS = ("newly failing", "newly error")


def _pair_columns(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    """Old and new columns side by side: the same column key, else the same board name when it is unique."""
    pairs: list[tuple[str | None, str | None]] = []
    old_left = [b for b in old["boards"] if b not in new["boards"]]
    for key in new["boards"]:
        if key in old["boards"]:
            pairs.append((key, key))
            continue
        name = new["columns"][key]["board"]
        same = [b for b in old_left if old["columns"][b]["board"] == name]
        new_same = [b for b in new["boards"] if new["columns"][b]["board"] == name and b not in old["boards"]]
        if len(same) == 1 and len(new_same) == 1:
            old_left.remove(same[0])
            pairs.append((same[0], key))
        else:
            pairs.append((None, key))
    return pairs + [(b, None) for b in old_left]


def _cell(cell: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if cell is None else {k: cell[k] for k in ("status", "message", "test_id")}


def compare_tables(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed from ``old`` to ``new`` per board and behaviour (comparison_schema.json)."""
    rows_old = {(r["kind"], r["area"], r["behaviour"]): r for r in old["rows"]}
    rows_new = {(r["kind"], r["area"], r["behaviour"]): r for r in new["rows"]}
    order = list(rows_new) + [k for k in rows_old if k not in rows_new]
    order.sort(key=lambda k: (k[0] == "fact", k[1]))
    columns, changes = [], []
    for okey, nkey in _pair_columns(old, new):
        key = nkey or okey
        assert key is not None
        columns.append(
            {
                "key": key,
                "old": old["columns"][okey] if okey else None,
                "new": new["columns"][nkey] if nkey else None,
            }
        )
        if okey is None or nkey is None:
            continue  # a board only one run has: listed as a column, no cells to compare
        for row_key in order:
            was = _cell(rows_old[row_key]["cells"].get(okey)) if row_key in rows_old else None
            now = _cell(rows_new[row_key]["cells"].get(nkey)) if row_key in rows_new else None
            if was is None and now is None:
                continue
            if was is None:
                change = "added"
            elif now is None:
                change = "removed"
            elif was["status"] != now["status"]:
                change = CHANGE_BY_STATUS[now["status"]]
            elif now["status"] != "PASS" and was["message"] != now["message"]:
                change = "reason changed"
            else:
                continue
            row = rows_new.get(row_key) or rows_old[row_key]
            kind, area, behaviour = row_key
            changes.append(
                {"board": key, "kind": kind, "area": area, "behaviour": behaviour, "doc": row["doc"]}
                | {"change": change, "old": was, "new": now}
            )
    counts = {c["key"]: {name: 0 for name in CHANGES} for c in columns}
    for ch in changes:
        counts[ch["board"]][ch["change"]] += 1
    return {
        "format": "mpbench-comparison",
        "schema_version": SCHEMA_VERSION,
        "title": "MicroPython conformance: what changed",
        "log_old": old["log"],
        "log_new": new["log"],
        "columns": columns,
        "changes": changes,
        "counts": counts,
        "regressed": any(ch["change"] in REGRESSIONS for ch in changes),
    }


def write_comparison(comparison: dict[str, Any], outdir: Path) -> dict[str, Path]:
    """Write comparison.md, .json and .html into ``outdir``; return their paths."""
    from mpbench.report_render import render_comparison_html, render_comparison_markdown

    outdir.mkdir(parents=True, exist_ok=True)
    paths = {"md": outdir / "comparison.md", "json": outdir / "comparison.json", "html": outdir / "comparison.html"}
    paths["md"].write_text(render_comparison_markdown(comparison))
    paths["json"].write_text(json.dumps(comparison, indent=2) + "\n")
    paths["html"].write_text(render_comparison_html(comparison))
    return paths


# -- the command -----------------------------------------------------------------------------------
def do_compare(old_arg: str, new_arg: str, out: str | None) -> int:
    from mpbench.report_render import render_comparison_markdown

    outdir = Path(out) if out else None
    old, _ = table_of(old_arg, outdir)
    new, _ = table_of(new_arg, outdir)
    comparison = compare_tables(old, new)
    if outdir is not None:
        write_comparison(comparison, outdir)
    print(render_comparison_markdown(comparison), end="")
    return 1 if comparison["regressed"] else 0


def do_report(args: argparse.Namespace) -> int:
    from mpbench.errors import MpbenchError

    if args.compare:
        if len(args.results) != 2:
            raise MpbenchError(f"--compare takes two runs, OLD and NEW; got {len(args.results)}")
        return do_compare(args.results[0], args.results[1], args.out)
    xmls = [output_xml(arg) for arg in args.results]
    if len(xmls) == 1:
        xml = xmls[0]
        outdir = Path(args.out) if args.out else xml.parent
    else:
        if not args.out:
            raise MpbenchError("several runs to merge: name the folder for the merged table and log with -o DIR")
        outdir = Path(args.out)
        xml = merge_outputs(xmls, outdir)
    run = read_output(xml)
    paths = write_reports(run.outcomes, outdir, run.left_out, run.columns, log_link(xml.parent / "log.html", outdir))
    print(paths["md"].read_text(), end="")
    # A board error is not a MicroPython failure, but the run did not give a verdict either.
    if any(o.status == "FAIL" for o in run.outcomes):
        return 1
    return 3 if any(o.status == ERROR for o in run.outcomes) else 0


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
        "which also get the merged output.xml, log.html and report.html there); with --compare, the folder "
        "for comparison.md/.json/.html (default: print only)",
    )
    p.add_argument(
        "--compare",
        action="store_true",
        help="RESULTS are OLD NEW: list what changed per board and behaviour; exit 1 if anything newly fails",
    )
