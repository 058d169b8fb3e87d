"""The frozen-module test turns red where a "frozen" module is really loaded from a file.

Runs only with a MicroPython checkout holding the source the unix port froze
(``MPBENCH_MICROPYTHON_SRC``; skipped with the reason otherwise, as in CI).
Boards, all MicroPython's real unix port: the honest one; one whose sys.path
puts a folder holding the same argparse.py before ``.frozen``, so the import
that should be frozen compiles the file (the promise does not hold there);
one whose platform file names a frozen module the firmware does not have.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mpbench.frozen import frozen_source
from mpbench.platform_loader import find_platform
from suite_runs import Result, run_suites, write_variant
from support import needs

pytestmark = pytest.mark.emulator

TEST = "A Frozen Module Costs Less RAM Than Its Source From A File"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Result]:
    needs("unix")
    unix = find_platform("unix")
    source, why = frozen_source(unix)
    if source is None or unix.frozen_module is None:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("frozen")
    shadow = tmp / "shadow"
    shadow.mkdir()
    shutil.copy(source, shadow / f"{unix.frozen_module.name}.py")
    shim = tmp / "shadow_frozen.py"
    shim.write_text(f'import sys\nsys.path[0] = ""\nsys.path.insert(1, {str(shadow)!r})\ndel sys\n')
    platforms = tmp / "platforms"
    platforms.mkdir()
    write_variant(platforms, "unix", "unix")
    write_variant(platforms, "unix", "unix-frozen-shadowed", Path(shim))
    spec = {"name": "mpb_not_frozen", "source": unix.frozen_module.source, "sha256": list(unix.frozen_module.sha256)}
    write_variant(platforms, "unix", "unix-frozen-unlisted", frozen_module=spec)
    boards = ["unix", "unix-frozen-shadowed", "unix-frozen-unlisted"]
    return run_suites(platforms, boards, tmp / "results", "--suite", "frozen")


def test_the_honest_unix_port_keeps_its_promise(results: dict[tuple[str, str], Result]) -> None:
    r = results[("unix", TEST)]
    assert r.status == "PASS", r.message


def test_a_module_loaded_from_a_file_in_place_of_the_frozen_one_fails(results: dict[tuple[str, str], Result]) -> None:
    r = results[("unix-frozen-shadowed", TEST)]
    assert r.status == "FAIL", r.message
    assert "kept" in r.message and "from a file" in r.message, r.message


def test_a_platform_naming_a_module_the_firmware_lacks_fails(results: dict[tuple[str, str], Result]) -> None:
    r = results[("unix-frozen-unlisted", TEST)]
    assert r.status == "FAIL", r.message
    assert 'help("modules") does not list it' in r.message, r.message
