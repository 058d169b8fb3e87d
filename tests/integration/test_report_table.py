"""The conformance table of a real micro:bit + unix run: headers, cells, notes, links, schema, formats.

One run of the project's suites on both default boards (QEMU and the unix
port), read back independently with Robot's own API, the platform files and
the firmware manifest; the table must agree with them.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from robot.api import ExecutionResult

from suite_runs import run_suites
from support import ROOT, mpbench, needs

BOARDS = ["microbit", "unix"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for board in BOARDS:
        needs(board)
    out = tmp_path_factory.mktemp("mu")
    run_suites(ROOT / "platforms", BOARDS, out)
    return out


def _tests(xml: Path) -> dict[str, Any]:
    """Every test of the run by its Robot id."""
    found: dict[str, Any] = {}

    def walk(suite: Any) -> None:
        for test in suite.tests:
            found[test.id] = test
        for child in suite.suites:
            walk(child)

    walk(ExecutionResult(str(xml)).suite)
    return found


def _schema(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "src/mpbench" / name).read_text())


@pytest.mark.emulator
def test_the_table_agrees_with_the_run_and_validates(run: Path) -> None:
    live = json.loads((run / "conformance.json").read_text())
    again = mpbench("report", str(run), "-o", str(run / "again"))
    assert again.returncode in (0, 1), again.stderr
    table = json.loads((run / "again/conformance.json").read_text())
    assert table["log"] == "../log.html" and live["log"] == "log.html"
    assert {**table, "log": None} == {**live, "log": None}  # written live and rebuilt afterwards: the same
    jsonschema.validate(table, _schema("conformance_schema.json"))

    manifest = yaml.safe_load((ROOT / "firmware/manifest.yaml").read_text())["images"]
    assert table["boards"] == BOARDS
    for board in BOARDS:
        platform = yaml.safe_load((ROOT / f"platforms/{board}.yaml").read_text())
        col = table["columns"][board]
        assert (col["board"], col["firmware"], col["engine"]) == (board, platform["firmware"], platform["engine"])
        assert col["firmware_version"] == manifest[platform["firmware"]]["version"]
        assert col["firmware_sha256"] == manifest[platform["firmware"]]["sha256"]
        assert col["banner"].startswith("MicroPython "), col
    assert table["columns"]["microbit"]["version"] == "v" + manifest["microbit-debian"]["version"]
    assert table["columns"]["microbit"]["engine_version"].startswith("QEMU emulator version")

    tests = _tests(run / "output.xml")
    statuses = {board: {"PASS": 0, "FAIL": 0, "ERROR": 0, "SKIP": 0} for board in BOARDS}
    for row in table["rows"]:
        assert set(row["cells"]) == set(BOARDS), row  # every behaviour ran on both boards
        for board, cell in row["cells"].items():
            test = tests[cell["test_id"]]  # the link target is this very test
            assert test.name == f"{row['behaviour']} [{board}]" and f"board:{board}" in test.tags
            assert (cell["status"], cell["message"]) == (test.status, test.message)  # no board errors here
            assert row["doc"] == " ".join(test.doc.split()) and row["doc"], row
            assert row["kind"] == ("fact" if "fact" in test.tags else "promise")
            statuses[board][test.status] += 1
    assert table["totals"] == statuses
    assert sum(statuses["unix"].values()) == len({t.name for t in tests.values() if "board:unix" in t.tags})
    kinds = [row["kind"] for row in table["rows"]]
    assert kinds == sorted(kinds, key=lambda k: k == "fact") and "fact" in kinds  # promises, then facts apart


@pytest.mark.emulator
def test_each_reason_of_a_board_is_one_note_that_cells_cite(run: Path) -> None:
    table = json.loads((run / "conformance.json").read_text())
    notes = {n["number"]: n for n in table["notes"]}
    assert sorted(notes) == list(range(1, len(notes) + 1))
    assert len({(n["board"], n["text"]) for n in notes.values()}) == len(notes)  # each reason once per board
    cited: dict[int, int] = {}
    for row in table["rows"]:
        for board, cell in row["cells"].items():
            if cell["status"] == "PASS":
                assert cell["note"] is None
                continue
            note = notes[cell["note"]]
            assert (note["board"], note["text"]) == (board, cell["message"])
            cited[cell["note"]] = cited.get(cell["note"], 0) + 1
    assert set(cited) == set(notes)  # no note without a cell citing it
    assert max(cited.values()) > 1  # a reason shared by several tests of a board is written once


@pytest.mark.emulator
def test_markdown_and_html_carry_what_the_json_carries(run: Path) -> None:
    table = json.loads((run / "conformance.json").read_text())
    md = (run / "conformance.md").read_text()
    page = (run / "conformance.html").read_text()
    plain = re.sub(r"\\(.)", r"\1", md).replace("<br>", "\n")  # Markdown escapes undone
    for board in BOARDS:
        col = table["columns"][board]
        for fact in (f"{col['firmware']} {col['version']}", str(table["totals"][board]["PASS"])):
            assert fact in plain and html.escape(fact) in page, fact
    for row in table["rows"]:
        for text in (row["area"], row["behaviour"], row["doc"]):
            assert text in plain and html.escape(text) in page, text
        for cell in row["cells"].values():
            link = f"log.html#{cell['test_id']}"
            assert f"({link})" in md and f"href='{link}'" in page
    for note in table["notes"]:
        assert f"[{note['number']}] {note['text']}" in plain
        assert f"<p id=note-{note['number']}><b>[{note['number']}]</b>{html.escape(note['text'])}</p>" in page
        assert f"href='#note-{note['number']}'" in page


@pytest.mark.emulator
def test_a_board_with_two_builds_gets_two_columns(run: Path, tmp_path: Path) -> None:
    """The run's output with another banner for unix stands for a second build of the port (a derived fixture)."""
    text = (run / "output.xml").read_text()
    other = re.sub(r'(name="Board: unix">[^<]*?"banner": "MicroPython )\S+', r"\1v1.24.0", text)
    assert other != text
    (tmp_path / "other.xml").write_text(other)
    merged = mpbench("report", str(run), str(tmp_path / "other.xml"), "-o", str(tmp_path / "m"))
    assert merged.returncode in (0, 1), merged.stderr
    table = json.loads((tmp_path / "m/conformance.json").read_text())
    banner = json.loads(ExecutionResult(str(run / "output.xml")).suite.metadata["Board: unix"])["banner"]
    build = banner.split()[1]
    assert table["boards"] == ["microbit", f"unix {build}", "unix v1.24.0"], table["boards"]
    assert table["columns"]["unix v1.24.0"]["version"] == "v1.24.0"
    assert all(len(row["cells"]) == 3 for row in table["rows"])


@pytest.mark.emulator
def test_firmware_variable_names_the_image_a_board_boots(tmp_path: Path) -> None:
    """``--variable FIRMWARE_unix:PATH``: a missing image skips with its path; the real one boots."""
    needs("unix")
    missing = tmp_path / "no-such-micropython"
    results = run_suites(
        ROOT / "platforms", ["unix"], tmp_path / "a", "--suite", "Const", "--variable", f"FIRMWARE_unix:{missing}"
    )
    assert results and all(r.status == "SKIP" and f"{missing} does not exist" in r.message for r in results.values())
    port = ROOT / ".venv/bin/micropython"
    if not port.is_file():
        pytest.skip(f"{port}: no unix port in the virtualenv to name")
    results = run_suites(
        ROOT / "platforms", ["unix"], tmp_path / "b", "--suite", "Const", "--variable", f"FIRMWARE_unix:{port}"
    )
    assert {r.status for r in results.values()} == {"PASS"}
    info = json.loads(ExecutionResult(str(tmp_path / "b/output.xml")).suite.metadata["Board: unix"])
    assert info["firmware"] == "unix-pypi" and info["banner"].startswith("MicroPython ")
