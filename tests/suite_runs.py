"""Run the Robot suites on made-up boards and read back what each test did.

The negative controls (tests/integration/test_suites_on_broken_firmware.py and
test_suites_without_feature.py) describe boards that exist only for them: a
copy of a real platform file with another name, a shim the unix port runs
before its REPL, or features it claims. They are written to a private
platform folder (``MPBENCH_PLATFORMS``), and Robot runs in a subprocess, as a
user would run it, so nothing here reaches into the keyword library.

Results are read from Robot's ``output.xml`` with Robot's own API rather than
``mpbench.report``, so these checks do not move when the conformance report does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHIMS = ROOT / "tests" / "shims"


@dataclass(frozen=True)
class Result:
    """One test on one board: Robot's status (PASS, FAIL, SKIP) and message."""

    status: str
    message: str


def write_variant(folder: Path, source: str, name: str, shim: str | Path | None = None, **changes: Any) -> Path:
    """Write platform file ``name`` into ``folder``: a copy of ``platforms/<source>.yaml``.

    ``shim`` (a file in tests/shims, or any path) is run by the unix port with
    ``-i`` before its REPL starts. ``changes`` replace top-level keys.
    """
    data = yaml.safe_load((ROOT / "platforms" / f"{source}.yaml").read_text())
    data["name"] = name
    if shim is not None:
        path = shim if isinstance(shim, Path) else SHIMS / shim
        host = dict(data["engines"]["host"])
        host["args"] = ["-i", str(path)]
        data["engines"] = {**data["engines"], "host": host}
    data.update(changes)
    out = folder / f"{name}.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def with_features(source: str, *present: str) -> dict[str, Any]:
    """The ``features`` of ``platforms/<source>.yaml`` with ``present`` moved from absent to present."""
    features = yaml.safe_load((ROOT / "platforms" / f"{source}.yaml").read_text())["features"]
    absent = {k: v for k, v in features.get("absent", {}).items() if k not in present}
    return {"present": [*features["present"], *(p for p in present if p not in features["present"])], "absent": absent}


def run_suites(
    platforms: Path, boards: list[str], outdir: Path, *options: str, timeout: float = 900.0
) -> dict[tuple[str, str], Result]:
    """Run ``robot/`` on ``boards`` (files in ``platforms``); results by (board, test name without suffix).

    ``options`` go to Robot before the suite folder (e.g. ``--test NAME``).
    The timeout is generous: on 2 shared cores a run can wait for builds.
    """
    env = {**os.environ, "MPBENCH_PLATFORMS": str(platforms)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "robot",
            "--outputdir",
            str(outdir),
            "--console",
            "dotted",
            "--variable",
            "PLATFORMS:" + ",".join(boards),
            "--variable",
            "MPBENCH_BUNDLES:off",
            *options,
            str(ROOT / "robot"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    xml = outdir / "output.xml"
    assert xml.is_file(), f"robot wrote no output.xml (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return read_results(xml)


def read_results(xml: Path) -> dict[tuple[str, str], Result]:
    """Each test of a Robot run, by (board, test name without the `` [board]`` suffix)."""
    from robot.api import ExecutionResult

    found: dict[tuple[str, str], Result] = {}

    def walk(suite: Any) -> None:
        for test in suite.tests:
            board = next((t.split(":", 1)[1] for t in test.tags if t.startswith("board:")), "")
            suffix = f" [{board}]"
            name = test.name[: -len(suffix)] if board and test.name.endswith(suffix) else test.name
            found[(board, name)] = Result(test.status, test.message)
        for child in suite.suites:
            walk(child)

    walk(ExecutionResult(str(xml)).suite)
    return found
