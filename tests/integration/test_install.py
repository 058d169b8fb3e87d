"""A non-editable install finds the platform files and the manifest, which live outside the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import ROOT


def test_pip_install_dot_finds_platforms_and_manifest(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip would first uninstall the editable mpbench the tests run from.
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--ignore-installed",
         "--prefix", str(prefix), str(ROOT)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    site = next(prefix.glob("lib/python*/site-packages"))
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("MPBENCH_PLATFORMS", None)
    env.pop("MPBENCH_MANIFEST", None)
    probe = (
        "import mpbench, mpbench.platform_loader as pl, mpbench.firmware.manifest as m;"
        "print(mpbench.__file__); print(pl.find_platform('microbit').path); print(m.default_manifest_path());"
        "print(sorted(m.load_manifest()))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    package, platform, manifest, ids = run.stdout.splitlines()
    assert package.startswith(str(site)), "the installed copy, not the checkout, was imported"
    assert platform.startswith(str(prefix)) and platform.endswith("share/mpbench/platforms/microbit.yaml")
    assert manifest.startswith(str(prefix)) and "microbit-debian" in ids
    assert (prefix / "share/mpbench/platforms/renode/pyboard.repl").is_file()
