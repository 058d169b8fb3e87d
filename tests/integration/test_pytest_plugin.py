"""The pytest face on real boards: the examples pass (serially and under xdist), a wrong one fails with its transcript.

pytest runs in a subprocess, as a user runs it, with the plugin loaded from
mpbench's ``pytest11`` entry point. The platform folder holds micro:bit, unix
and "ghost", a board that cannot run here, whose tests must skip with its reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mpbench.platform_loader import find_platform
from support import ROOT, mpbench, needs

pytestmark = pytest.mark.emulator

EXAMPLES = ROOT / "examples" / "pytest"


@pytest.fixture(scope="module")
def platforms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs("microbit")
    needs("unix")
    folder = tmp_path_factory.mktemp("platforms")
    for board in ("microbit", "unix"):
        (folder / f"{board}.yaml").write_text((ROOT / "platforms" / f"{board}.yaml").read_text())
    ghost = (ROOT / "platforms/microbit.yaml").read_text().replace("name: microbit", "name: ghost", 1)
    (folder / "ghost.yaml").write_text(ghost.replace("binary: qemu-system-arm", "binary: no-such-qemu", 1))
    return folder


def _pytest(platforms: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPBENCH_PLATFORMS": str(platforms)}
    env.pop("PYTEST_XDIST_WORKER", None)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(cwd), "-c", os.devnull, *args]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)


def _outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """Each test case of a JUnit file: (passed/failed/error/skipped, message)."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        key = f"{case.get('classname')}::{case.get('name')}"
        status, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            el = case.find(kind)
            if el is not None:
                status, message = kind, el.get("message", "")
        found[key] = (status, message)
    return found


def test_the_examples_pass_serially_and_under_xdist(platforms: Path, tmp_path: Path) -> None:
    runs = {}
    for name, extra in (("serial", []), ("xdist", ["-n", "2", "--dist", "loadgroup"])):
        junit = tmp_path / f"{name}.xml"
        run = _pytest(
            platforms, str(EXAMPLES), "--mpbench-platform", "microbit,unix,ghost", f"--junitxml={junit}", *extra,
            cwd=tmp_path,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        runs[name] = _outcomes(junit)
    serial = runs["serial"]
    assert runs["xdist"] == serial
    by_board = {b: {k: v for k, v in serial.items() if k.endswith(f"[{b}]")} for b in ("microbit", "unix", "ghost")}
    assert sum(v[0] == "passed" for v in by_board["microbit"].values()) >= 6, by_board["microbit"]
    assert sum(v[0] == "passed" for v in by_board["unix"].values()) >= 8, by_board["unix"]
    # A board that cannot run here: every test skipped, with its platform's reason.
    assert by_board["ghost"] and all(v[0] == "skipped" for v in by_board["ghost"].values())
    assert all("ghost is not available here: engine qemu" in v[1] for v in by_board["ghost"].values())
    # A feature the firmware lacks: skipped with the platform file's words, before the board is touched.
    why = find_platform("microbit").why_not("schedule")
    (status, message) = next(v for k, v in by_board["microbit"].items() if "scheduled_function" in k)
    assert status == "skipped" and why in message, (status, message)


def test_a_wrong_example_fails_showing_the_transcript_and_leaves_a_bundle(platforms: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    run = _pytest(
        platforms, str(EXAMPLES / "wrong_on_purpose.py"), "--mpbench-platform", "microbit",
        "--mpbench-outdir", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout[-4000:] + run.stderr[-2000:]
    text = run.stdout
    assert "assert '42' == '41'" in text
    section = text.split("mpbench console transcript of microbit", 1)
    assert len(section) == 2, text[-4000:]
    transcript = section[1].split("\n", 1)[1].split("-----", 1)[0]
    assert "«print(6 * 7)" in transcript and "42" in transcript, transcript  # what was sent, what the board said
    bundles = list((out / "bundles").glob("*.mpbundle"))
    assert len(bundles) == 1, bundles
    assert str(bundles[0]) in text
    show = mpbench("repro", "show", str(bundles[0]))
    assert show.returncode == 0, show.stderr
    assert "pytest test 'test_the_answer_is_wrong_on_purpose[microbit]'" in show.stdout, show.stdout[:2000]
    replay = mpbench("repro", "run", str(bundles[0]), timeout=300)
    assert replay.returncode == 0 and "same" in replay.stdout, replay.stdout[-2000:] + replay.stderr[-2000:]


def test_an_unknown_board_is_one_usage_line_before_anything_runs(platforms: Path, tmp_path: Path) -> None:
    run = _pytest(platforms, str(EXAMPLES), "--mpbench-platform", "unix,no-such-board", cwd=tmp_path)
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]  # pytest's usage error
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert lines == [lines[0]] and "--mpbench-platform" in lines[0] and "'no-such-board'" in lines[0], lines
    assert "passed" not in run.stdout
