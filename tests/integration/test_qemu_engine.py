"""The QEMU engine on the real micro:bit: where its console listens, paths QEMU parses, failing fast, pausing.

Every board here is a real ``qemu-system-arm -M microbit`` running Debian's
MicroPython; platform variants are copies of ``platforms/microbit.yaml`` with
one key changed, so what is tested is what users run.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mpbench.board import Board, resolve_firmware
from mpbench.engine.qemu import QemuEngine
from mpbench.errors import EngineError
from mpbench.platform import Platform
from mpbench.platform_loader import find_platform, load_platform
from proc_stats import cpu_share, inet_listeners, open_files
from support import needs

pytestmark = pytest.mark.emulator

MICROBIT_YAML = Path(__file__).resolve().parents[2] / "platforms" / "microbit.yaml"


@pytest.fixture(autouse=True)
def _microbit_here() -> None:
    needs("microbit")


def variant(tmp_path: Path, name: str, **qemu: Any) -> Platform:
    """microbit.yaml under another name with keys of its ``engines.qemu`` section set."""
    data = yaml.safe_load(MICROBIT_YAML.read_text(encoding="utf-8"))
    data["name"] = name
    data["engines"]["qemu"].update(qemu)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_platform(path)


def qemu_pids_with(text: str) -> list[int]:
    """QEMU processes whose command line contains ``text`` (pgrep, as a person would check)."""
    r = subprocess.run(["pgrep", "-f", f"qemu-system.*{text}"], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()]


# -- the console: nothing reachable by others ---------------------------------------
def test_the_console_is_a_unix_socket_in_the_private_folder_and_qemu_listens_on_no_port() -> None:
    with Board(find_platform("microbit")) as board:
        engine = board.engine
        assert isinstance(engine, QemuEngine) and engine.process is not None
        sock = engine.workdir / "console.sock"
        assert engine.console_url == f"unix://{sock}"
        assert stat.S_ISSOCK(sock.stat().st_mode)
        assert stat.S_IMODE(engine.workdir.stat().st_mode) & 0o077 == 0  # the folder is the owner's alone
        assert inet_listeners(engine.process.pid) == []
        assert board.exec("print(6 * 7)").check() == "42\n"


def test_a_platform_can_ask_for_tcp_and_gets_it_on_loopback_only(tmp_path: Path) -> None:
    with Board(variant(tmp_path, "microbit-tcp", console="tcp")) as board:
        engine = board.engine
        assert isinstance(engine, QemuEngine) and engine.process is not None
        assert engine.console_url == f"socket://127.0.0.1:{engine.port}"
        listening = inet_listeners(engine.process.pid)
        assert listening == [("tcp", f"0100007F:{engine.port:04X}")]  # 127.0.0.1, not 0.0.0.0
        assert not (engine.workdir / "console.sock").exists()
        assert board.exec("print(6 * 7)").check() == "42\n"


def test_an_unknown_console_kind_is_refused_by_the_schema(tmp_path: Path) -> None:
    from mpbench.errors import PlatformErrors

    with pytest.raises(PlatformErrors, match=r"engines\.qemu\.console: 'telnet' is not one of: unix, tcp"):
        variant(tmp_path, "microbit-telnet", console="telnet")


# -- paths QEMU parses as key=value,... ----------------------------------------------
def test_a_firmware_and_a_private_folder_with_commas_in_their_paths_boot(monkeypatch: pytest.MonkeyPatch) -> None:
    platform = find_platform("microbit")
    base = Path(tempfile.mkdtemp(prefix="mpbench,comma-"))  # short: unix socket paths are at most 107 bytes
    try:
        firmware = base / "micro,bit.hex"
        shutil.copyfile(resolve_firmware(platform).path, firmware)
        monkeypatch.setattr(tempfile, "tempdir", str(base))  # Engine.workdir is made under it
        with Board(platform, firmware=firmware) as board:
            engine = board.engine
            assert engine is not None and "," in str(engine.workdir) and engine.workdir.parent == base
            assert f"loader,file={str(firmware).replace(',', ',,')}" in engine.argv
            assert board.exec("print(6 * 7)").check() == "42\n"
    finally:
        shutil.rmtree(base, ignore_errors=True)


# -- a refused command line fails at once --------------------------------------------
@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"extra_args": ["-bogus-option"]}, "-bogus-option: invalid option"),
        ({"machine": "no-such-machine"}, "unsupported machine type"),
    ],
    ids=["bad-extra-arg", "unknown-machine"],
)
def test_a_refused_command_line_fails_at_once_with_what_qemu_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: dict[str, Any], complaint: str
) -> None:
    # With a connect timeout of 3 minutes, only noticing that QEMU exited can end this quickly.
    monkeypatch.setattr(QemuEngine, "connect_timeout", 180.0)
    board = Board(variant(tmp_path, "microbit-refused", **change))
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        board.start()
    took = time.monotonic() - started
    assert took < 90.0, f"took {took:.1f} s: the connect loop waited instead of noticing QEMU exited"
    error = info.value
    assert error.exit_status == 3
    assert complaint in str(error) and complaint in error.stderr_tail
    assert error.returncode not in (None, 0)
    engine = board.engine
    assert isinstance(engine, QemuEngine)
    assert engine.process is None and not engine.workdir.exists()  # log file and folder gone
    assert qemu_pids_with(str(engine.workdir)) == []
    assert not [p for p in open_files() if p.startswith(str(engine.workdir))]  # qemu.log was closed


# -- pause and resume ------------------------------------------------------------------
def test_a_paused_board_uses_no_cpu_and_answers_after_resume() -> None:
    with Board(find_platform("microbit")) as board:
        engine, s = board.engine, board.session
        assert isinstance(engine, QemuEngine) and engine.process is not None and s is not None
        pid = engine.process.pid
        s.exec_start("print('spinning')\nwhile True:\n    pass\n")  # a running board now costs a core
        s.read_until(b"spinning", timeout=10.0)
        engine.pause()
        engine.pause()  # idempotent
        paused = cpu_share(pid, 3.0)
        assert paused < 0.05, f"a paused board used {paused:.0%} of a core"
        engine.resume()
        engine.resume()  # idempotent
        s.interrupt()
        r = s.exec_follow(timeout=10.0)
        assert r.traceback is not None and r.traceback.exc_type == "KeyboardInterrupt"
        assert board.exec("print(6 * 7)").check() == "42\n"


def test_input_sent_while_paused_arrives_after_resume() -> None:
    with Board(find_platform("microbit")) as board:
        engine, s = board.engine, board.session
        assert isinstance(engine, QemuEngine) and s is not None
        engine.pause()
        s.console.write(b"print(40 + 2)\x04")  # the raw REPL runs it once the board runs again
        assert s.console.read(1.0) == b""  # a paused board answers nothing (a running one takes <1 ms)
        engine.resume()
        assert b"42" in s.read_until(b"\x04>", timeout=10.0)


def test_a_hard_reset_of_a_paused_board_boots_it_again() -> None:
    with Board(find_platform("microbit")) as board:
        assert isinstance(board.engine, QemuEngine)
        board.exec("marker = 1").check()
        board.engine.pause()
        board.reset(hard=True)
        assert not board.engine.paused
        assert board.exec("print('marker' in globals())").check() == "False\n"


def test_pause_and_resume_of_a_stopped_engine_do_nothing() -> None:
    board = Board(find_platform("microbit")).start()
    engine = board.engine
    assert isinstance(engine, QemuEngine)
    board.stop()
    engine.pause()
    engine.resume()
    assert engine.qmp is None and engine.process is None
