"""The conformance table and the comparison of two runs as Markdown and as one HTML page.

Both formats carry what the JSON carries (``report.build_table``,
``report.compare_tables``): board headers with firmware, engine and counts;
rows grouped by kind (promise or fact) and area, each with the sentence its
test checks; a compact cell per board and behaviour, a mark and a word for its
status (never colour alone), linked to the test in Robot's log.html; each
distinct reason of a board written once, as a numbered note the cells cite.

The HTML page is self-contained (inline CSS, no script) and laid out for a
laptop screen: at 1400 px five board columns fit without sideways scrolling,
and the matrix prints on one landscape page (the notes follow on the next).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from mpbench.report import CHANGES, ERROR, KIND_TITLES, REGRESSIONS, STATUSES, engine_label

#: Mark and word per status: the cell reads without colour.
MARKS = {"PASS": ("✓", "pass"), "FAIL": ("✗", "FAIL"), ERROR: ("⚠", "error"), "SKIP": ("–", "skip")}
LEGEND = (
    "✓ pass · ✗ FAIL: MicroPython did not do what the test checks · ⚠ error: the board or the bench failed "
    "(tag `board-error`), not a verdict on MicroPython · – skip · a number: the note below with the reason · "
    "a dot: not run on that board."
)


def _md(text: str) -> str:
    """``text`` as literal Markdown inside a table cell or list item (one line)."""
    for ch in "\\`*_[]<>|":
        text = text.replace(ch, "\\" + ch)
    return "<br>".join(text.splitlines())


def _link(log: str | None, test_id: str) -> str | None:
    return f"{log}#{test_id}" if log and test_id else None


def _grouped(rows: list[dict[str, Any]]) -> list[tuple[str, list[tuple[str, list[dict[str, Any]]]]]]:
    """Rows as [(kind, [(area, rows)])], in the order given (build_table sorts them)."""
    out: list[tuple[str, list[tuple[str, list[dict[str, Any]]]]]] = []
    for row in rows:
        if not out or out[-1][0] != row["kind"]:
            out.append((row["kind"], []))
        areas = out[-1][1]
        if not areas or areas[-1][0] != row["area"]:
            areas.append((row["area"], []))
        areas[-1][1].append(row)
    return out


def _firmware(col: Mapping[str, Any] | None) -> str:
    if not col:
        return "-"
    return " ".join(x for x in (col.get("firmware"), col.get("version")) if x) or "-"


def _counts(totals: Mapping[str, int]) -> str:
    return " ".join(f"{MARKS[s][0]} {totals[s]}" for s in STATUSES)


# -- the conformance table -----------------------------------------------------------------------
def _md_cell(cell: Mapping[str, Any] | None, log: str | None) -> str:
    if cell is None:
        return "·"
    mark, word = MARKS[cell["status"]]
    text = f"{mark} {word}"
    link = _link(log, cell["test_id"])
    text = f"[{text}]({link})" if link else text
    return text + (f" [{cell['note']}]" if cell["note"] else "")


def render_markdown(table: dict[str, Any]) -> str:
    boards: list[str] = table["boards"]
    cols, log = table["columns"], table["log"]
    lines = [f"# {table['title']}", ""]
    if boards:
        lines += ["| | " + " | ".join(_md(b) for b in boards) + " |", "|---|" + "---|" * len(boards)]
        lines.append("| firmware | " + " | ".join(_md(_firmware(cols[b])) for b in boards) + " |")
        lines.append("| engine | " + " | ".join(_md(engine_label(cols[b]) or "-") for b in boards) + " |")
        lines.append("| banner | " + " | ".join(_md(cols[b]["banner"] or "-") for b in boards) + " |")
        lines.append("| sha256 | " + " | ".join(_md((cols[b]["firmware_sha256"] or "-")[:16]) for b in boards) + " |")
        lines.append("| ✓ ✗ ⚠ – | " + " | ".join(_counts(table["totals"][b]) for b in boards) + " |")
        lines += ["", LEGEND + (f" Each mark links to its test in `{log}`." if log else "")]
    for kind, areas in _grouped(table["rows"]):
        lines += ["", f"## {KIND_TITLES.get(kind, kind)}", "", "| behaviour | " + " | ".join(map(_md, boards)) + " |"]
        lines.append("|---|" + "---|" * len(boards))
        for area, rows in areas:
            lines.append(f"| **{_md(area)}** |" + " |" * len(boards))
            for row in rows:
                what = _md(row["behaviour"]) + (f"<br>*{_md(row['doc'])}*" if row["doc"] else "")
                cells = [_md_cell(row["cells"].get(b), log) for b in boards]
                lines.append(f"| {what} | " + " | ".join(cells) + " |")
    if table["notes"]:
        lines += ["", "## Notes"]
        for board in boards:
            notes = [n for n in table["notes"] if n["board"] == board]
            if notes:
                lines += ["", f"**{_md(board)}**", ""]
                lines += [f"- [{n['number']}] {_md(n['text'])}" for n in notes]
    not_run = table["boards_not_run"]
    if not_run:
        lines += ["", "## Boards not run", "", "Choose them with `--variable PLATFORMS:...` to see each test skip.", ""]
        lines += [f"- {_md(b)}: {_md(why)}" for b, why in not_run.items()]
    return "\n".join(lines) + "\n"


CSS = """
:root{--line:#d0d7de;--muted:#57606a}
*{box-sizing:border-box}
body{font:14px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px;color:#1f2328}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:20px 0 6px}h3{font-size:14px;margin:10px 0 4px}
.legend{color:var(--muted);font-size:12px;margin:0 0 10px}
table{border-collapse:collapse;width:100%;table-layout:fixed}
col.board{width:150px}
th,td{border:1px solid var(--line);padding:3px 6px;vertical-align:top;text-align:left}
thead th{position:sticky;top:0;background:#fff;font-weight:normal;font-size:12px;overflow-wrap:anywhere;z-index:1}
thead th b{font-size:14px;display:block}
thead th span{display:block;color:var(--muted)}
tr.kind th{background:#d0d7de;font-size:15px;padding:5px 6px}
tr.area th{background:#eaeef2}
td.beh b{font-weight:600}
td.beh span{display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden;
 color:var(--muted);font-size:12px}
td.c{white-space:nowrap;font-weight:600}
td.c a{color:inherit;text-decoration:none}td.c a:hover{text-decoration:underline}
td.c sup a{font-weight:normal;color:var(--muted)}
.PASS{background:#dafbe1;color:#116329}.FAIL{background:#ffebe9;color:#a40e26}
.ERROR{background:#fff1c2;color:#7d4e00}.SKIP{background:#f6f8fa;color:#57606a}.NONE{color:#8c959f}
.counts i{font-style:normal;padding:0 3px;border-radius:3px;margin-right:2px;display:inline-block}
td.c.wrap{white-space:normal}
#details p{margin:4px 0;white-space:pre-wrap;font-size:12px;overflow-wrap:anywhere}
#notes .board{break-inside:avoid}
#notes p{margin:2px 0 2px 3em;text-indent:-3em;white-space:pre-wrap;font-size:12px;overflow-wrap:anywhere}
#notes p b{display:inline-block;width:3em;text-indent:0}
:target{outline:2px solid #0969da}
@media print{
 @page{size:A4 landscape;margin:6mm}
 body{margin:0;font-size:5pt;line-height:1}
 h1{font-size:9pt;margin:0}h2{font-size:8pt;margin:4px 0 2px}.legend{font-size:5.5pt;margin:0 0 2px}
 th,td{padding:0 2px}thead th{position:static;font-size:5.5pt}thead th b{font-size:7pt}
 thead th span{display:inline;margin-right:3px}
 tr.kind th,tr.area th{font-size:5pt;padding:0 2px}
 td.beh span{display:none}
 sup{line-height:0;vertical-align:baseline;position:relative;top:-0.4em}
 #notes{break-before:page}
 a{color:inherit;text-decoration:none}
}
"""


def _page(title: str, body: list[str]) -> str:
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style>" + "".join(body) + "</html>\n"
    )


def _board_header(key: str, col: Mapping[str, Any] | None, totals: Mapping[str, int] | None, extra: str = "") -> str:
    col = col or {}
    facts = [f"{k}: {col[k]}" for k in ("title", "banner", "firmware_sha256", "engine_version") if col.get(k)]
    out = f"<th title='{html.escape(chr(10).join(facts))}'><b>{html.escape(key)}</b>"
    out += f"<span>{html.escape(_firmware(col))}</span><span>{html.escape(engine_label(col) or '-')}</span>"
    if totals is not None:
        out += "<span class=counts>" + "".join(
            f"<i class={s} title='{MARKS[s][1]}'>{MARKS[s][0]}&#8239;{totals[s]}</i>" for s in STATUSES
        )
        out += "</span>"
    return out + extra


def _html_cell(cell: Mapping[str, Any] | None, log: str | None) -> str:
    if cell is None:
        return "<td class='c NONE' title='not run on this board'>·"
    mark, word = MARKS[cell["status"]]
    title = html.escape(cell["message"] or word, quote=True)
    link = _link(log, cell["test_id"])
    text = f"{mark} {word}"
    text = f"<a href='{html.escape(link)}'>{text}</a>" if link else text
    note = f"<sup><a href='#note-{cell['note']}'>{cell['note']}</a></sup>" if cell["note"] else ""
    return f"<td class='c {cell['status']}' title='{title}'>{text}{note}"


def render_html(table: dict[str, Any]) -> str:
    boards: list[str] = table["boards"]
    cols, log = table["columns"], table["log"]
    n = len(table["rows"])
    body = [
        f"<h1>{html.escape(table['title'])}</h1>",
        f"<p class=legend>{len(boards)} boards, {n} behaviours. " + html.escape(LEGEND).replace("`", ""),
        " Hover a cell for its reason; click it for its test in Robot's log." if log else "",
        "<table class=matrix><colgroup><col>" + "<col class=board>" * len(boards) + "</colgroup>",
        "<thead><tr><th>behaviour",
    ]
    body += [_board_header(b, cols[b], table["totals"][b]) for b in boards]
    body.append("</thead>")
    for kind, areas in _grouped(table["rows"]):
        body.append(f"<tbody><tr class=kind><th colspan={1 + len(boards)}>{html.escape(KIND_TITLES.get(kind, kind))}")
        for area, rows in areas:
            body.append(f"<tr class=area><th colspan={1 + len(boards)}>{html.escape(area)}")
            for row in rows:
                doc = html.escape(row["doc"])
                body.append(f"<tr><td class=beh title='{doc}'><b>{html.escape(row['behaviour'])}</b><span>{doc}</span>")
                body += [_html_cell(row["cells"].get(b), log) for b in boards]
        body.append("</tbody>")
    body.append("</table>")
    if table["notes"]:
        body.append("<section id=notes><h2>Notes</h2>")
        for board in boards:
            notes = [n for n in table["notes"] if n["board"] == board]
            if notes:
                body.append(f"<div class=board><h3>{html.escape(board)}</h3>")
                body += [f"<p id=note-{n['number']}><b>[{n['number']}]</b>{html.escape(n['text'])}</p>" for n in notes]
                body.append("</div>")
        body.append("</section>")
    if table["boards_not_run"]:
        body.append("<section id=not-run><h2>Boards not run</h2><ul>")
        body += [f"<li><b>{html.escape(b)}</b>: {html.escape(w)}" for b, w in table["boards_not_run"].items()]
        body.append("</ul></section>")
    return _page(table["title"], body)


# -- the comparison ----------------------------------------------------------------------------------
def _status_mark(cell: Mapping[str, Any] | None) -> str:
    return "·" if cell is None else MARKS[cell["status"]][0]


def _change_text(ch: Mapping[str, Any]) -> str:
    return f"{_status_mark(ch['old'])}→{_status_mark(ch['new'])} {ch['change']}"


def _summary(comparison: Mapping[str, Any]) -> str:
    total = {name: sum(c[name] for c in comparison["counts"].values()) for name in CHANGES}
    parts = [f"{v} {k}" for k, v in total.items() if v]
    verdict = "REGRESSED" if comparison["regressed"] else "no regression"
    return f"{verdict}: " + (", ".join(parts) if parts else "nothing changed")


def _versions(col: Mapping[str, Any]) -> str:
    old, new = col["old"] or {}, col["new"] or {}
    if old.get("firmware") and old.get("firmware") == new.get("firmware"):
        if old.get("version") == new.get("version"):
            return _firmware(new)
        return f"{new['firmware']} {old.get('version') or '?'} → {new.get('version') or '?'}"
    return f"{_firmware(col['old'])} → {_firmware(col['new'])}"


def _engines(col: Mapping[str, Any]) -> str:
    old, new = engine_label(col["old"] or {}) or "-", engine_label(col["new"] or {}) or "-"
    return old if old == new else f"{old} → {new}"


def _by_cell(comparison: Mapping[str, Any]) -> tuple[list[tuple[str, str, str]], dict[tuple[str, str, str, str], Any]]:
    """The changed rows (kind, area, behaviour) in order, and each change by (row..., board)."""
    rows = list(dict.fromkeys((c["kind"], c["area"], c["behaviour"]) for c in comparison["changes"]))
    rows.sort(key=lambda r: (r[0] == "fact", r[1]))
    return rows, {(c["kind"], c["area"], c["behaviour"], c["board"]): c for c in comparison["changes"]}


def _reason(cell: Mapping[str, Any] | None) -> str:
    if cell is None:
        return "not run"
    word = MARKS[cell["status"]][1]
    return f"{word}: {cell['message']}" if cell["message"] else word


def render_comparison_markdown(comparison: dict[str, Any]) -> str:
    cols = comparison["columns"]
    keys = [c["key"] for c in cols]
    lines = [f"# {comparison['title']}", "", _summary(comparison), ""]
    lines += ["| | " + " | ".join(map(_md, keys)) + " |", "|---|" + "---|" * len(keys)]
    lines.append("| firmware | " + " | ".join(_md(_versions(c)) for c in cols) + " |")
    lines.append("| engine | " + " | ".join(_md(_engines(c)) for c in cols) + " |")
    rows, changes = _by_cell(comparison)
    if rows:
        lines += ["", "## Changes", "", "| behaviour | " + " | ".join(map(_md, keys)) + " |"]
        lines.append("|---|" + "---|" * len(keys))
        for kind, area, behaviour in rows:
            cells = [changes.get((kind, area, behaviour, k)) for k in keys]
            shown = [_md(_change_text(c)) if c else "·" for c in cells]
            lines.append(f"| {_md(area)}: {_md(behaviour)} | " + " | ".join(shown) + " |")
        lines += ["", "## Details"]
        for ch in comparison["changes"]:
            lines += ["", f"- **{_md(ch['board'])}**, {_md(ch['area'])}: {_md(ch['behaviour'])}: **{ch['change']}**"]
            lines.append(f"  - was {_md(_reason(ch['old']))}")
            lines.append(f"  - now {_md(_reason(ch['new']))}")
    only = [c for c in cols if c["old"] is None or c["new"] is None]
    if only:
        lines += ["", "## Boards in one run only", ""]
        lines += [f"- {_md(c['key'])}: only in the {'new' if c['old'] is None else 'old'} run" for c in only]
    return "\n".join(lines) + "\n"


def render_comparison_html(comparison: dict[str, Any]) -> str:
    cols = comparison["columns"]
    keys = [c["key"] for c in cols]
    rows, changes = _by_cell(comparison)
    log = comparison["log_new"]
    body = [
        f"<h1>{html.escape(comparison['title'])}</h1>",
        f"<p class=legend><b>{html.escape(_summary(comparison))}</b>. Each cell: old → new status "
        "(✓ pass, ✗ FAIL, ⚠ error, – skip, · not run) and the change; hover it for both reasons, click it for "
        "the test in the new run's log.",
        "<table class=matrix><colgroup><col>" + "<col class=board>" * len(keys) + "</colgroup>",
        "<thead><tr><th>behaviour",
    ]
    for c in cols:
        body.append(
            f"<th><b>{html.escape(c['key'])}</b><span>{html.escape(_versions(c))}</span>"
            f"<span>{html.escape(_engines(c))}</span>"
        )
    body.append("</thead><tbody>")
    last: tuple[str, str] | None = None
    for kind, area, behaviour in rows:
        if last != (kind, area):
            label = f"{KIND_TITLES.get(kind, kind)}: {area}"
            body.append(f"<tr class=area><th colspan={1 + len(keys)}>{html.escape(label)}")
            last = (kind, area)
        body.append(f"<tr><td class=beh><b>{html.escape(behaviour)}</b>")
        for k in keys:
            ch = changes.get((kind, area, behaviour, k))
            if ch is None:
                body.append("<td class='c NONE' title='unchanged'>·")
                continue
            status = "FAIL" if ch["change"] in REGRESSIONS else (ch["new"] or ch["old"])["status"]
            title = html.escape(f"was {_reason(ch['old'])}\nnow {_reason(ch['new'])}", quote=True)
            text = html.escape(_change_text(ch))
            link = _link(log, (ch["new"] or {}).get("test_id", ""))
            text = f"<a href='{html.escape(link)}'>{text}</a>" if link else text
            body.append(f"<td class='c wrap {status}' title='{title}'>{text}")
    body.append("</tbody></table>")
    if not rows:
        body.append("<p>Nothing changed.")
    else:
        body.append("<section id=details><h2>Details</h2>")
        for ch in comparison["changes"]:
            body.append(
                f"<p><b>{html.escape(ch['board'])}</b> {html.escape(ch['area'])}: {html.escape(ch['behaviour'])}: "
                f"<b>{ch['change']}</b>\n  was {html.escape(_reason(ch['old']))}"
                f"\n  now {html.escape(_reason(ch['new']))}</p>"
            )
        body.append("</section>")
    only = [c for c in cols if c["old"] is None or c["new"] is None]
    if only:
        body.append("<section id=not-run><h2>Boards in one run only</h2><ul>")
        body += [f"<li>{html.escape(c['key'])}: only in the {'new' if c['old'] is None else 'old'} run" for c in only]
        body.append("</ul></section>")
    return _page(comparison["title"], body)
