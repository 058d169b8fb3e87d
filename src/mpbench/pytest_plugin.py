"""pytest face of mpbench: a ``board`` fixture that runs a test once per emulated board.

Registered through the ``pytest11`` entry point, so installing mpbench is
enough. ``--mpbench-platform microbit,unix`` chooses the boards (default:
every board available here); each test that asks for ``board`` runs once per
board (``test_x[microbit]``), like the Robot board matrix. A board that
cannot run here, or whose firmware lacks a feature the test names with
``@pytest.mark.mpbench_needs("heap_lock")``, is skipped with the platform
file's reason before it is touched.

Boards boot on first use and stay up for the session (idle ones paused);
between tests a board is soft-reset, climbing the recovery ladder first when
the last test left it hung. When a test fails, its console transcript is a
section of pytest's failure report and a repro bundle of it is written to
``<--mpbench-outdir>/bundles/``, as the Robot library does. Under
pytest-xdist every worker owns its own emulators; ``--dist loadgroup`` keeps
each board in one worker (its tests are grouped by board).

This module is a face: nothing in mpbench's core imports it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Fixture that carries the board name; parametrized by ``pytest_generate_tests``.
NAME_FIXTURE = "mpbench_board_name"
#: Where the pool of running boards is kept on the pytest config.
_POOL_KEY = pytest.StashKey["BoardPool"]()
#: Where the board handle of a test is kept on its item, for the failure report.
_HANDLE_KEY = pytest.StashKey["BoardHandle"]()
#: Bundle names this process has written (a second failure of one name gets ``fail2``).
_TAKEN_KEY = pytest.StashKey[set[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mpbench", "MicroPython boards (mpbench)")
    group.addoption(
        "--mpbench-platform",
        default=None,
        help="boards for tests that use the `board` fixture, comma-separated (default: every board available here)",
    )
    group.addoption(
        "--mpbench-outdir",
        default="mpbench-results",
        help="folder for repro bundles of failed board tests (in its bundles/); `off` writes none",
    )
    group.addoption(
        "--mpbench-timeout", type=float, default=10.0, help="default wait of board calls, in seconds (default 10)"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mpbench_needs(*features): skip on boards whose firmware lacks a feature "
        "(names from the platform files; irq:NAME asks for an IRQ source)",
    )
    # Given to every board test (see below); registered here too, so --strict-markers passes without xdist.
    config.addinivalue_line("markers", "xdist_group(name): pytest-xdist's --dist loadgroup keeps a group together")
    value = config.getoption("mpbench_platform")
    if value:
        # Bad input is one line before anything runs: a board name that has no platform file.
        from mpbench.errors import MpbenchError
        from mpbench.platform_loader import find_platform

        for name in (b.strip() for b in value.split(",") if b.strip()):
            try:
                find_platform(name)
            except MpbenchError as e:
                raise pytest.UsageError(f"--mpbench-platform: {str(e).splitlines()[0]}") from e


def _chosen_boards(config: pytest.Config) -> list[str]:
    value = config.getoption("mpbench_platform")
    if value:
        return [b.strip() for b in value.split(",") if b.strip()]
    from mpbench.board import unavailable_reason
    from mpbench.platform_loader import load_all

    return [name for name, platform in load_all().items() if unavailable_reason(platform) is None]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if NAME_FIXTURE in metafunc.fixturenames:
        names = _chosen_boards(metafunc.config)
        if not names:
            raise pytest.UsageError("mpbench: no board is available here; name some with --mpbench-platform")
        metafunc.parametrize(NAME_FIXTURE, names, ids=names)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # For xdist's --dist loadgroup: one board's tests go to one worker, which boots it once.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and NAME_FIXTURE in callspec.params:
            item.add_marker(pytest.mark.xdist_group(f"mpbench-{callspec.params[NAME_FIXTURE]}"))


def pytest_unconfigure(config: pytest.Config) -> None:
    pool = config.stash.get(_POOL_KEY, None)
    if pool is not None:
        pool.stop_all()


class BoardPool:
    """The boards this pytest process started, by name; each booted once and paused while idle."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.boards: dict[str, Any] = {}
        self.broken: dict[str, str] = {}
        self._known: dict[str, tuple[Any, str | None]] = {}

    def platform(self, name: str) -> tuple[Any, str | None]:
        """The board's platform and why it cannot run here (None if it can); worked out once."""
        if name not in self._known:
            from mpbench.board import unavailable_reason
            from mpbench.platform_loader import find_platform

            platform = find_platform(name)
            self._known[name] = (platform, unavailable_reason(platform))
        return self._known[name]

    def take(self, name: str) -> Any:
        """The running board ``name``, booted now or reset since its last test; the others paused."""
        from mpbench.board import Board
        from mpbench.errors import MpbenchError

        platform, _ = self.platform(name)
        if name in self.broken:
            raise BoardLost(f"{name} is lost for this session: {self.broken[name]}")
        for other, idle in self.boards.items():
            if other != name:
                idle.pause()
        board = self.boards.get(name)
        try:
            if board is None:
                board = Board(platform, timeout=self.timeout, record=True)
                self.boards[name] = board
                board.start()
            else:
                board.resume()
                board.reset_for_next_test()
        except MpbenchError as e:
            if e.board_error:
                self.broken[name] = str(e).splitlines()[0]
                self.boards.pop(name, None)
                board.stop()
            raise
        return board

    def stop_all(self) -> None:
        for board in self.boards.values():
            board.stop()
        self.boards.clear()


class BoardLost(Exception):
    """A board no rung of the recovery ladder brought back earlier in this session."""


class BoardHandle:
    """What a test gets as ``board``: a running MicroPython board and the calls a test needs.

    Calls wait at most ``timeout`` seconds (default ``--mpbench-timeout``; on
    Renode boards, virtual seconds). A MicroPython exception in the code run
    raises ``mpbench.errors.DeviceError`` with the board's traceback; a board
    or emulator failure raises another ``MpbenchError`` whose ``board_error``
    is true.
    """

    def __init__(self, board: Any) -> None:
        self.board = board
        transcript, recorder, session = board.transcript, board.recorder, board.session
        from mpbench.session.repl import ReplMode

        mode = "friendly" if session is not None and session.mode is ReplMode.FRIENDLY else "raw"
        #: Where this test starts: transcript mark, recorded-step mark, REPL mode (for its bundle).
        self.since = (transcript.mark() if transcript else 0, recorder.mark() if recorder else 0, mode)

    @property
    def name(self) -> str:
        return self.board.name

    @property
    def platform(self) -> Any:
        return self.board.platform

    def has(self, feature: str) -> bool:
        """True when the board's firmware has ``feature`` (as its platform file says)."""
        return self.board.platform.has(feature)

    def exec(self, code: str, timeout: float | None = None) -> str:
        """Run ``code`` on the board through the raw REPL; return what it printed.

        Raises ``DeviceError`` (with the board's traceback) when the code raised.
        """
        return self.board.exec(code, timeout).check()

    def try_exec(self, code: str, timeout: float | None = None) -> Any:
        """Run ``code``; return its ``ExecResult`` (stdout, stderr, traceback) whether it raised or not."""
        return self.board.exec(code, timeout)

    def run(self, script: str | os.PathLike[str], timeout: float | None = None) -> str:
        """Run a script file from the host on the board; return what it printed (raises as `exec`)."""
        return self.exec(Path(script).read_text(encoding="utf-8"), timeout)

    def start(self, code: str, timeout: float | None = None) -> None:
        """Send a block and return once it runs, for `expect`, `write`, `interrupt` and `result`."""
        self._session().exec_start(code, timeout)

    def expect(self, text: str, timeout: float | None = None) -> str:
        """Wait until the running block prints ``text``; return its output through it.

        Fails at once, not after the timeout, when the block ends first.
        """
        seen = self._session().wait_for_text(text.encode(), timeout)
        if seen is None:
            ended = self._session().exec_follow(timeout)
            raise AssertionError(
                f"{self.name}: the block ended without printing {text!r}; it printed {ended.stdout!r}"
                + (f" and raised:\n{ended.stderr}" if ended.stderr else "")
            )
        return seen.decode("utf-8", "replace")

    wait_for = expect

    def write(self, data: str | bytes) -> None:
        """Send bytes (or UTF-8 text) to the running block's standard input."""
        self._session().write(data.encode() if isinstance(data, str) else data)

    def interrupt(self) -> None:
        """Send the keyboard interrupt (Ctrl-C; SIGINT on the unix port) to the running block."""
        self._session().interrupt()

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the running block to end; return its ``ExecResult``."""
        return self._session().exec_follow(timeout)

    def reset(self, hard: bool = False) -> None:
        """Soft reset (Ctrl-D), or with ``hard`` a reset of the machine; back at the raw prompt after."""
        self.board.reset(hard=hard)

    def put(self, local: str | os.PathLike[str], remote: str | None = None) -> None:
        """Write the host file ``local`` into the board's filesystem as ``remote`` (default: its name).

        Checked on the board afterwards (size and checksum), as ``mpbench run --put`` does.
        """
        from mpbench.session.files import BoardFile

        self.board.put_file(BoardFile.from_path(Path(local), remote))

    def transcript(self) -> str:
        """What crossed the console during this test (sent bytes shown as «…»)."""
        t = self.board.transcript
        return t.render(self.since[0]) if t is not None else ""

    def _session(self) -> Any:
        s = self.board.session
        if s is None:
            from mpbench.errors import SessionError

            raise SessionError(f"{self.name} is not running")
        return s


@pytest.fixture(scope="session")
def mpbench_pool(request: pytest.FixtureRequest) -> Iterator[BoardPool]:
    """Every board this pytest process started; stopped at the end of the session."""
    pool = BoardPool(request.config.getoption("mpbench_timeout"))
    request.config.stash[_POOL_KEY] = pool
    yield pool
    pool.stop_all()


@pytest.fixture
def board(request: pytest.FixtureRequest, mpbench_pool: BoardPool, mpbench_board_name: str) -> BoardHandle:
    """The board this copy of the test runs on, at its raw prompt (see ``BoardHandle``)."""
    from mpbench.errors import MpbenchError

    try:
        platform, reason = mpbench_pool.platform(mpbench_board_name)
    except MpbenchError as e:
        raise pytest.UsageError(str(e)) from e
    if reason:
        pytest.skip(f"{mpbench_board_name} is not available here: {reason}")
    for marker in request.node.iter_markers("mpbench_needs"):
        for feature in marker.args:
            why = _missing(platform, feature)
            if why:
                pytest.skip(why)
    handle = BoardHandle(mpbench_pool.take(mpbench_board_name))
    request.node.stash[_HANDLE_KEY] = handle
    return handle


def _missing(platform: Any, feature: str) -> str | None:
    """Why ``platform`` cannot run a test that needs ``feature`` (its platform file's words), or None."""
    try:
        return platform.missing(feature)
    except KeyError as e:
        raise pytest.UsageError(f"mpbench_needs({feature!r}): {e}") from e


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    handle = item.stash.get(_HANDLE_KEY, None)
    if handle is None or not report.failed or report.when not in ("call", "setup"):
        return report
    report.sections.append(
        (f"mpbench console transcript of {handle.name} (sent bytes shown as «…»)", handle.transcript())
    )
    notes: list[str] = []  # why no Renode state went in, with MPBENCH_BUNDLE_STATE=1
    bundle = _write_bundle(item, handle, str(report.longrepr), notes)
    if bundle:
        text = "\n".join([bundle, f"replay it with: mpbench repro run {bundle}", *notes])
        report.sections.append(("mpbench repro bundle", text))
    return report


def _write_bundle(item: pytest.Item, handle: BoardHandle, message: str, notes: list[str]) -> str | None:
    """Write the failed test's repro bundle; return its path, or None when switched off or impossible."""
    outdir = item.config.getoption("mpbench_outdir")
    if str(outdir).strip().lower() == "off":
        return None
    from mpbench.errors import MpbenchError
    from mpbench.repro.capture import write_test_bundle

    taken: set[str] = item.config.stash.setdefault(_TAKEN_KEY, set())
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # each xdist worker names its bundles apart
    suite = item.nodeid.split("::", 1)[0]
    test = item.name + (f".{worker}" if worker else "")
    root = Path(item.config.invocation_params.dir, outdir)
    try:
        path, _ = write_test_bundle(
            handle.board,
            handle.since,
            suite=suite,
            test=test,
            message=message,
            outdir=root,
            taken=taken,
            kind="pytest",
            notes=notes,
        )
    except (MpbenchError, OSError) as e:
        return f"(no bundle written: {e})"
    return str(path)
