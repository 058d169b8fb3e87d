"""A failing pyboard test's bundle carrying its Renode boot state, replayed without the firmware.

Real Renode, real PYBV11 firmware; skipped with the platform's reason where
either is missing, as in CI. The failing test runs under pytest in a
subprocess, as a user runs it, with ``MPBENCH_BUNDLE_STATE=1`` and a fresh
cache (so its boot is a cold one that saves the snapshot). The replays run
with ``MPBENCH_FIRMWARE_PYBV11`` unset: the firmware is then absent here, and
only the carried state can bring the board up.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mpbench.engine.renode import RenodeEngine
from mpbench.errors import MpbenchError
from mpbench.repro.bundle import STATE_MEMBER, read_bundle
from mpbench.repro.replay import prepare, replay_once
from support import ROOT, needs

pytestmark = pytest.mark.emulator

FAILING = """
def test_the_answer_is_wrong_on_purpose(board) -> None:
    assert board.exec("print(6 * 7)").strip() == "41"
"""


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "MPBENCH_CACHE": str(cache), **extra}
    for name in ("PYTEST_XDIST_WORKER", "MPBENCH_RENODE_CLOCK", "MPBENCH_RENODE_SNAPSHOTS"):
        env.pop(name, None)
    return env


def _pytest_with_state(folder: Path, test_file: Path, board: str, timeout: float) -> subprocess.CompletedProcess:
    """pytest on ``test_file`` with ``MPBENCH_BUNDLE_STATE=1``, bundles into ``folder/out``, its own cache."""
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(folder), "-c", os.devnull]
    cmd += [str(test_file), "--mpbench-platform", board, "--mpbench-outdir", str(folder / "out")]
    return subprocess.run(
        cmd,
        env=_env(folder / "cache", MPBENCH_BUNDLE_STATE="1"),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle a failing pyboard pytest test leaves with ``MPBENCH_BUNDLE_STATE=1``."""
    needs("pyboard")
    tmp = tmp_path_factory.mktemp("state")
    (tmp / "wrong_on_pyboard.py").write_text(FAILING)
    run = _pytest_with_state(tmp, tmp / "wrong_on_pyboard.py", "pyboard", timeout=600)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    found = list((tmp / "out" / "bundles").glob("*.mpbundle"))
    assert len(found) == 1, run.stdout[-3000:]
    return found[0]


def test_a_qemu_board_under_pytest_says_in_one_line_why_its_bundle_has_no_state(tmp_path: Path) -> None:
    """The switch on a board without a state (micro:bit, so this runs in CI): the report and the bundle say why."""
    needs("microbit")
    run = _pytest_with_state(tmp_path, ROOT / "examples/pytest/wrong_on_purpose.py", "microbit", timeout=300)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    why = "microbit: no Renode state added to the bundle: it runs on qemu; only Renode boards start from"
    assert run.stdout.count(why) == 1, run.stdout[-3000:]
    (found,) = (tmp_path / "out" / "bundles").glob("*.mpbundle")
    b = read_bundle(found)
    assert b.state is None and b.doc["renode_state"]["reason"].startswith(why)


def _cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpbench.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )


@pytest.fixture
def no_firmware(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process and its children without the PYBV11 image and with an empty cache (no local snapshot)."""
    monkeypatch.delenv("MPBENCH_FIRMWARE_PYBV11", raising=False)
    monkeypatch.setenv("MPBENCH_CACHE", str(tmp_path / "empty-cache"))
    env = _env(tmp_path / "empty-cache")
    env.pop("MPBENCH_FIRMWARE_PYBV11", None)
    return env


def test_the_state_member_is_the_size_repro_show_states(bundle: Path, no_firmware: dict[str, str]) -> None:
    b = read_bundle(bundle)
    state = b.doc["renode_state"]
    assert b.state is not None and len(b.state) == b.member_sizes[STATE_MEMBER]
    show = _cli("repro", "show", str(bundle), env=no_firmware)
    assert show.returncode == 0, show.stderr
    line = next(ln for ln in show.stdout.splitlines() if ln.startswith("state"))
    stated = re.search(r"carries a Renode state, ([\d.]+) MB compressed / ([\d.]+) MB \((\d+) / (\d+) bytes", line)
    assert stated is not None, line
    assert int(stated[3]) == len(b.state) and int(stated[4]) == state["size"], line
    assert float(stated[1]) == round(len(b.state) / 1e6, 2), line
    # The state itself: Renode's Save of a pyboard is megabytes, and xz made it smaller.
    assert state["size"] > 1_000_000 and len(b.state) < state["size"], state
    assert f"{STATE_MEMBER} ({len(b.state)} bytes)" in show.stdout


def test_without_trust_state_the_state_is_ignored_and_the_missing_firmware_refused(
    bundle: Path, no_firmware: dict[str, str]
) -> None:
    run = _cli("repro", "run", str(bundle), env=no_firmware)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert "is not available here" in run.stderr and "pass --trust-state" in run.stderr, run.stderr


def test_with_trust_state_it_replays_same_without_the_firmware(bundle: Path, no_firmware: dict[str, str]) -> None:
    run = _cli("repro", "run", "--trust-state", str(bundle), env=no_firmware)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stdout.rstrip().endswith("same"), run.stdout
    assert "loading the bundle's Renode state" in run.stderr, run.stderr


def test_the_replay_really_starts_from_the_carried_state(
    bundle: Path, no_firmware: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine loads the unpacked state; an engine that never gets it cannot start the board here."""
    b = read_bundle(bundle)
    setup = prepare(b, trust_state=True)
    try:
        assert setup.trusted is not None
        run = replay_once(b, setup)
        assert run.fingerprint == b.fingerprint, run.errors
        assert run.argv[-1].endswith("load.resc"), run.argv  # the machine was loaded, not built and booted
        assert not (Path(os.environ["MPBENCH_CACHE"]) / "renode-snapshots").exists()  # and not from this cache
        # The same replay with the hook cut (the engine drops the state it is given): it must boot the
        # firmware, which is absent here (the state file stands in for its path), and fails.
        monkeypatch.setattr(RenodeEngine, "trusted_state", property(lambda self: None, lambda self, value: None))
        with pytest.raises(MpbenchError) as failed:
            replay_once(b, setup)
        assert "pyboard" in str(failed.value), failed.value
    finally:
        setup.close()
