"""The conformance page in a real browser: Debian's Chromium, headless, on local files only.

Chromium loads a copy of the page with a probe script appended (the page itself
has no script) and prints the DOM after load (``--dump-dom``), where the probe
left its measurements: the viewport and the document's scroll width, each
cell's overflow, the notes and the links cells cite. Nothing listens on the
network: no remote-debugging port, a private profile folder, and the whole
process group is killed afterwards.

Pages: the micro:bit + unix page of a real run (CI renders it), and a
five-board table (tests/data/conformance-five-boards.json: the table of a real
run of the five boards on the local builds this project was developed with,
micro:bit, unix, pyboard and spike-prime under Renode, esp32 under Espressif's
QEMU; the folder names in its reasons replaced by ``~``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mpbench.report_render import render_html
from suite_runs import run_suites
from support import ROOT, needs

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/setup.sh does)")
FIVE = ROOT / "tests/data/conformance-five-boards.json"
WIDTH = 1400

PROBE = """<script>
addEventListener('load', () => {
  const root = document.documentElement;
  const r = {
    width: innerWidth, client: root.clientWidth, scroll: root.scrollWidth,
    overflowing: [...document.querySelectorAll('td, th')].filter(e => e.scrollWidth > e.clientWidth + 1)
      .map(e => e.textContent.slice(0, 60)),
    cited: [...document.querySelectorAll('td sup a')].map(a => a.getAttribute('href')),
    notes: [...document.querySelectorAll('#notes p[id]')].map(p => '#' + p.id),
    links: [...document.querySelectorAll('td.c > a')].map(a => a.getAttribute('href')),
    cells: document.querySelectorAll('td.c').length,
  };
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(r);
  document.body.appendChild(pre);
});
</script>"""


def chromium(tmp: Path, *args: str, timeout: float = 180.0) -> str:
    """Run headless Chromium on local files; its standard output. The process group never outlives the call."""
    assert CHROMIUM is not None
    argv = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # tests may run as root (containers); the pages are our own local files
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-dev-shm-usage",  # containers often have a small /dev/shm
        f"--user-data-dir={tmp / 'chromium-profile'}",
        f"--window-size={WIDTH},900",
        *args,
    ]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return out.decode("utf-8", "replace")


def probe(page: Path, tmp: Path) -> dict[str, Any]:
    """Load ``page`` (with the probe appended, as a sibling file so relative links stay valid) and measure it."""
    probed = page.with_name(page.stem + ".probe.html")
    probed.write_text(page.read_text().replace("</html>", PROBE + "</html>"))
    dom = chromium(tmp, "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


def pdf_pages(page: Path, tmp: Path) -> int:
    """Pages of ``page`` printed to PDF (A4 landscape, as its print style asks) without the notes after the matrix."""
    matrix_only = page.with_name(page.stem + ".print.html")
    matrix_only.write_text(page.read_text().replace("</html>", "<style>#notes,#not-run{display:none}</style></html>"))
    pdf = tmp / "page.pdf"
    chromium(tmp, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", matrix_only.as_uri())
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))


def check_layout(found: dict[str, Any]) -> None:
    assert found["width"] == WIDTH, found["width"]
    assert found["scroll"] <= found["client"], f"scrolls sideways: {found['scroll']} > {found['client']}"
    assert found["overflowing"] == [], found["overflowing"]
    assert set(found["cited"]) == set(found["notes"]), "a note no cell cites, or a citation without its note"
    assert len(set(found["notes"])) == len(found["notes"])


@pytest.mark.emulator
def test_micro_bit_and_unix_page_reads_at_1400_px_and_its_links_open_the_tests(tmp_path: Path) -> None:
    for board in ("microbit", "unix"):
        needs(board)
    out = tmp_path / "run"
    run_suites(ROOT / "platforms", ["microbit", "unix"], out)
    found = probe(out / "conformance.html", tmp_path)
    check_layout(found)
    assert len(found["links"]) == found["cells"] > 40 and found["notes"]
    assert all(link.startswith("log.html#s1-") for link in found["links"])
    # Robot's log draws a test when its id is the page's fragment; an id it does not know draws nothing.
    for link in (found["links"][0], found["links"][-1]):
        test_id = link.split("#", 1)[1]
        dom = chromium(
            tmp_path, "--virtual-time-budget=5000", "--dump-dom", (out / "log.html").as_uri() + "#" + test_id
        )
        assert f'id="{test_id}"' in dom, f"{link} does not open a test in log.html"
    assert pdf_pages(out / "conformance.html", tmp_path) == 1


def test_five_boards_fit_1400_px_and_the_matrix_prints_on_one_landscape_page(tmp_path: Path) -> None:
    table = json.loads(FIVE.read_text())
    assert len(table["boards"]) == 5
    page = tmp_path / "conformance.html"
    page.write_text(render_html(table))
    found = probe(page, tmp_path)
    check_layout(found)
    assert found["cells"] == 5 * len(table["rows"])
    assert pdf_pages(page, tmp_path) == 1


def test_the_probe_sees_a_page_that_scrolls_sideways(tmp_path: Path) -> None:
    """The layout check can fail: the same five boards with 300 px columns do not fit in 1400 px."""
    page = tmp_path / "wide.html"
    page.write_text(
        render_html(json.loads(FIVE.read_text())).replace("col.board{width:150px}", "col.board{width:300px}")
    )
    found = probe(page, tmp_path)
    assert found["scroll"] > found["client"]


def test_a_five_board_comparison_fits_1400_px(tmp_path: Path) -> None:
    """The five-board table against itself with the esp32's board errors passing and one pass failing."""
    from mpbench.report import compare_tables
    from mpbench.report_render import render_comparison_html

    old = json.loads(FIVE.read_text())
    new = json.loads(FIVE.read_text())
    for row in new["rows"]:
        cell = row["cells"]["esp32"]
        if cell["status"] == "ERROR":
            cell.update(status="PASS", message="", note=None)
    new["rows"][0]["cells"]["pyboard"].update(status="FAIL", message="'1' != '2'")
    comparison = compare_tables(old, new)
    assert comparison["regressed"] and len(comparison["changes"]) == 6
    page = tmp_path / "comparison.html"
    page.write_text(render_comparison_html(comparison))
    found = probe(page, tmp_path)
    check_layout(found)
    assert found["cells"] == 5 * len({(c["kind"], c["area"], c["behaviour"]) for c in comparison["changes"]})
