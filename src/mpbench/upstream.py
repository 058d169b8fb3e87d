"""``mpbench upstream``: MicroPython's own tests from the user's checkout, on any board.

This follows ``tests/run-tests.py`` (v1.26.1) where it decides what a test's
verdict is, so a result here means what it means there:

* the board's features are probed with the checkout's ``tests/feature_check``
  scripts, and a test is skipped by the same name rules (``native_``,
  ``int_big``, ``async_`` ...), by ``platform_tests_to_skip`` for the
  platform the board reports (read from the checkout's run-tests.py as data,
  never executed), and by the remote-target list;
* a test is run as run-tests.py runs it on a remote board: its source with
  ``print('START TEST')`` in front, through the raw REPL; output ``SKIP`` is a
  skip, a MemoryError before anything printed is "too large";
* the expected output is the ``.exp`` file beside the test, or what CPython
  prints for it (``MICROPY_CPYTHON3``, default ``python3``, run ``-BS`` in the
  test's folder); the special tests get run-tests.py's regex matching.

What mpbench adds: one boot per run and a soft reset before every test; a
test that does not finish is interrupted and, if the board does not answer,
the recovery ladder (``Board.recover``) brings it back, so one hung test
costs only itself. A board or bench failure is an ``error``, never a ``FAIL``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mpbench.board import RUNG_TIMEOUT, Board, BoardBroken
from mpbench.deadline import Deadline
from mpbench.errors import BlockTimeout, MpbenchError, SessionError, SourceTooLarge
from mpbench.session.repl import ReplMode

#: run-tests.py's ``PC_PLATFORMS``: values of ``sys.platform`` of the unix port.
PC_PLATFORMS = ("darwin", "linux", "win32")
#: run-tests.py's ``special_tests``: outputs matched line by line as regexes.
SPECIAL_TESTS = (
    "micropython/meminfo.py",
    "basics/bytes_compare3.py",
    "basics/builtin_help.py",
    "misc/sys_settrace_cov.py",
    "thread/thread_exc2.py",
    "ports/esp32/partition_ota.py",
)
#: run-tests.py's ``misc_slice_tests``: tests that use slices without saying so in their name.
MISC_SLICE_TESTS = (
    "builtin_range",
    "bytearray1",
    "class_super",
    "containment",
    "errno1",
    "fun_str",
    "generator1",
    "globals_del",
    "memoryview1",
    "memoryview_gc",
    "object1",
    "python34",
    "string_format_modulo",
    "struct_endian",
)
DEFAULT_DIRS = ("micropython", "basics")
START = "print('START TEST')"


@dataclass
class Outcome:
    """One test's verdict: ``pass``, ``fail``, ``skip`` or ``error`` (the board or bench failed)."""

    test: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    output: str | None = None
    expected: str | None = None
    cases: int = 0  # lines of expected output (run-tests.py's "individual testcases")


@dataclass
class Features:
    """What the board answered to the checkout's feature checks (run-tests.py's skip flags)."""

    platform: str = ""
    arch: str | None = None
    thread: str | None = None
    skips: dict[str, bool] = field(default_factory=dict)


def find_tests(checkout: Path, names: list[str]) -> tuple[Path, list[tuple[str, Path]]]:
    """The tests folder of ``checkout`` and ``(name, path)`` of every test to run, in order.

    A name is a file or folder, as given or inside ``checkout/tests``; a test's
    name is its path relative to the tests folder (``basics/int1.py``), which
    the skip rules look at.
    """
    root = checkout / "tests"
    if not root.is_dir():
        raise MpbenchError(f"--micropython {checkout}: no tests/ folder (expected a MicroPython checkout)")
    found: list[tuple[str, Path]] = []
    for name in names or list(DEFAULT_DIRS):
        path = Path(name)
        if not path.exists():
            path = root / name
        if not path.exists():
            raise MpbenchError(f"{name}: no such test or folder (looked here and in {root})")
        files = sorted(path.glob("*.py")) if path.is_dir() else [path]
        for f in files:
            f = f.resolve()
            try:
                rel = f.relative_to(root.resolve()).as_posix()
            except ValueError:
                rel = f"{f.parent.name}/{f.name}"
            found.append((rel, f))
    return root, found


def platform_skips(run_tests: Path) -> dict[str, tuple[str, ...]]:
    """``platform_tests_to_skip`` from the checkout's run-tests.py, read as a literal (never run)."""
    try:
        tree = ast.parse(run_tests.read_text())
    except (OSError, SyntaxError):
        return {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "platform_tests_to_skip" for t in node.targets
        ):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return {}
            return {k: tuple(v) for k, v in value.items()}
    return {}


def convert_regex_escapes(line: bytes) -> bytes:
    """run-tests.py's: unescape wanted regex characters and escape the others."""
    cs: list[str] = []
    escape = False
    for c in str(line, "utf8"):
        if escape:
            escape = False
            cs.append(c)
        elif c == "\\":
            escape = True
        elif c in ("(", ")", "[", "]", "{", "}", ".", "*", "+", "^", "$"):
            cs.append("\\" + c)
        else:
            cs.append(c)
    if cs and cs[-1] == "\n":
        cs[-1] = "\r*\n"
    return bytes("".join(cs), "utf8")


def match_special(output: bytes, exp_file: Path) -> bytes:
    """run-tests.py's matching of a special test's output against its ``.exp`` of regexes."""
    lines_exp: list[tuple] = []
    for line in exp_file.read_bytes().splitlines(keepends=True):
        lines_exp.append((line,) if line == b"########\n" else (line, re.compile(convert_regex_escapes(line))))
    lines = [line + b"\n" for line in output.split(b"\n")]
    if output.endswith(b"\n"):
        lines = lines[:-1]
    i = 0
    for k in range(len(lines_exp)):
        if lines_exp[k][0] == b"########\n":
            nxt = lines_exp[k + 1]
            skip = 0
            while i + skip < len(lines) and not nxt[1].match(lines[i + skip]):
                skip += 1
            if i + skip >= len(lines):
                lines[i] = b"######## FAIL\n"
                break
            del lines[i : i + skip]
            lines.insert(i, b"########\n")
            i += 1
        else:
            if lines_exp[k][1].match(lines[i]):
                lines[i] = lines_exp[k][0]
            i += 1
        if i >= len(lines):
            break
    return b"".join(lines)


class UpstreamRun:
    """Run a list of upstream tests on one started board."""

    def __init__(
        self,
        board: Board,
        tests_root: Path,
        timeout: float = 30.0,
        cpython: str | None = None,
        say: Callable[[str], None] = print,
    ):
        self.board = board
        self.root = tests_root
        self.timeout = timeout
        self.cpython = cpython or os.getenv("MICROPY_CPYTHON3", "python3")
        self.say = say
        self.features = Features()
        self.skip_list: set[str] = set()

    # -- running code on the board ------------------------------------------------------
    def _run(self, source: str, timeout: float | None = None) -> tuple[bytes, bool, str]:
        """Run ``source`` after a soft reset; (output, crashed, note) as run-tests.py sees them.

        A crash appends the traceback and ``CRASH``, a block that did not finish
        ``TIMEOUT`` (the board is then brought back with the recovery ladder).
        """
        session = self.board.session
        assert session is not None
        try:
            # A test may leave the board unable to answer (1.9.2 never unlocks a heap a test left
            # locked): a quick look first, and the recovery ladder rather than a long wait.
            if self.board.platform.repl.soft_reset != "restart":  # a restart needs no answer first
                session.goto(ReplMode.FRIENDLY, Deadline(RUNG_TIMEOUT, session.clock))
            self.board.reset()
        except MpbenchError as e:
            self.board.recover(f"the soft reset before a test failed: {str(e).splitlines()[0]}")
            self.board.reset()
        session = self.board.session  # a new one if the ladder had to restart the emulator
        assert session is not None
        session.exit_completes_block = True  # a test's SKIP is print + SystemExit, which ends the unix port
        try:
            r = session.exec(source, timeout or self.timeout)
        except SourceTooLarge:
            session.board_restarted()  # where staging stopped is unknown; the next reset finds out
            return b"", True, "too large"
        except BlockTimeout:
            partial = bytes(session.reader.buf).replace(b"\r\n", b"\n")  # what it printed before the deadline
            self.board.recover(f"a test did not finish within {timeout or self.timeout:g} s")
            return partial + b"TIMEOUT", True, "timeout"
        out = r.stdout.encode()
        if r.stderr:
            return out + r.stderr.encode(), True, ""
        return out, False, ""

    def probe_features(self) -> Features:
        """Ask the board what run-tests.py asks it, with the checkout's feature_check scripts."""
        f = self.features
        fc = self.root / "feature_check"

        def check(name: str) -> bytes | None:
            path = fc / name
            if not path.is_file():
                return None
            try:
                out, crashed, _ = self._run(path.read_text(), 10.0)
            except SessionError:
                raise
            return out + (b"CRASH" if crashed else b"")

        info = check("target_info.py")
        if info is not None and not info.endswith(b"CRASH") and len(info.split()) == 3:
            platform, arch, thread = info.decode().split()
            f.platform, f.arch = platform, None if arch == "None" else arch
            f.thread = None if thread == "None" else thread
        else:  # an older checkout or firmware: sys.platform alone
            out, _, _ = self._run("import sys\nprint(getattr(sys, 'platform', 'minimal'))")
            f.platform = out.decode().strip() or "minimal"
        wanted = {
            "native": ("native_check.py", b"native\n"),
            "int_big": ("int_big.py", b"1000000000000000000000000000000000000000000000\n"),
            "int_64": ("int_64.py", b"4611686018427387904\n"),
            "bytearray": ("bytearray.py", b"bytearray\n"),
            "set_type": ("set_check.py", b"{1}\n"),
            "slice": ("slice.py", b"slice\n"),
            "async": ("async_check.py", b"async\n"),
            "const": ("const.py", b"1\n"),
            "io_module": ("io_module.py", b"io\n"),
            "fstring": ("fstring.py", b"a=1\n"),
        }
        for key, (name, answer) in wanted.items():
            out = check(name)
            f.skips[key] = out is not None and out != answer
        out = check("reverse_ops.py")
        f.skips["revops"] = out == b"TypeError\n"
        byteorder = check("byteorder.py")
        if byteorder is not None:
            f.skips["endian"] = byteorder != f"{sys.byteorder}\n".encode()
        inlineasm = None
        if f.arch:
            kind = "thumb" if f.arch.startswith("armv") else "xtensa" if f.arch.startswith("xtensa") else ""
            if kind and check(f"inlineasm_{kind}.py") == f"{kind}\n".encode():
                inlineasm = kind
        f.skips["inlineasm"] = inlineasm is None
        return f

    def build_skip_list(self, names: list[str]) -> None:
        f = self.features
        if f.thread == "unsafe":
            self.skip_list.update(n for n in names if n.startswith("thread/mutate_"))
        if f.platform not in PC_PLATFORMS:
            self.skip_list.update({"basics/exception_chain.py", "micropython/meminfo.py"})
        self.skip_list.update(platform_skips(self.root / "run-tests.py").get(f.platform, ()))

    def skip_reason(self, name: str) -> str | None:
        """Why run-tests.py would skip ``name`` on this board, or None."""
        if name in self.skip_list:
            return "skip list"
        t = Path(name).stem
        s = self.features.skips
        rules = (
            ("native", t.startswith(("native_", "viper_"))),
            ("endian", t.endswith("_endian")),
            ("int_big", t.startswith(("int_big", "ffi_int")) or t.endswith("_intbig")),
            ("int_64", t.startswith("int_64") or t.endswith("_int64")),
            ("bytearray", t.startswith("bytearray") or t.endswith("_bytearray")),
            ("set_type", t.startswith(("set_", "frozenset")) or t.endswith("_set")),
            ("slice", "slice" in t or t in MISC_SLICE_TESTS),
            ("async", t.startswith(("async_", "asyncio_")) or t.endswith("_async")),
            ("const", t.startswith("const")),
            ("revops", "reverse_op" in t),
            ("io_module", t.startswith("io_")),
            ("fstring", t.startswith("string_fstring")),
            ("inlineasm", t.startswith("asm")),
        )
        for feature, applies in rules:
            if applies and s.get(feature):
                return f"no {feature}"
        return None

    # -- expectations -------------------------------------------------------------------
    def expected(self, path: Path) -> bytes:
        exp = path.with_name(path.name + ".exp")
        if exp.is_file():
            return exp.read_bytes().replace(b"\r\n", b"\n")
        try:
            out = subprocess.run(
                [self.cpython, "-BS", str(path)],
                cwd=path.parent,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=max(self.timeout, 10.0),
                env={**os.environ, "PYTHONIOENCODING": "utf-8"},
            )
        except FileNotFoundError:
            raise MpbenchError(
                f"{path.name} has no .exp file and CPython ({self.cpython}) is not installed to make its "
                "expected output; set MICROPY_CPYTHON3"
            ) from None
        except subprocess.TimeoutExpired:
            return b"CPYTHON3 TIMEOUT\n"
        data = out.stdout if out.returncode == 0 else b"CPYTHON3 CRASH:\n" + out.stdout
        return data.replace(b"\r\n", b"\n")

    # -- one test ------------------------------------------------------------------------
    def run_test(self, name: str, path: Path) -> Outcome:
        reason = self.skip_reason(name)
        if reason:
            return Outcome(name, "skip", reason)
        started = time.monotonic()
        source = path.read_text(encoding="utf-8", errors="surrogateescape")
        special = name in SPECIAL_TESTS
        if not special:
            source = START + source if source.startswith("#") else START + "\n" + source
        try:
            out, crashed, note = self._run(source)
        except BoardBroken:
            raise
        except MpbenchError as e:
            try:
                self.board.recover(f"{name}: {str(e).splitlines()[0]}")
            except BoardBroken:
                raise
            first = str(e).splitlines()[0]
            return Outcome(name, "error", f"board error: {first}", time.monotonic() - started)
        elapsed = time.monotonic() - started
        if note == "too large":
            return Outcome(name, "skip", "too large", elapsed)
        if not special:
            if out.startswith(b"START TEST\n"):
                out = out[len(b"START TEST\n") :]
            elif crashed and b"MemoryError" in out:
                return Outcome(name, "skip", "too large", elapsed)
            else:
                crashed = True
        if crashed and not note:
            out += b"CRASH"
        if out == b"SKIP\n":
            return Outcome(name, "skip", "the test asked (SKIP)", elapsed)
        if note == "timeout":  # no expected output to compare with (CPython would loop as well)
            return Outcome(name, "fail", "timeout", elapsed, out.decode("utf-8", "replace"), None)
        if special and not crashed:
            exp_file = path.with_name(path.name + ".exp")
            if exp_file.is_file():
                out = match_special(out, exp_file)
        expected = self.expected(path)
        status = "pass" if out == expected else "fail"
        text = out.decode("utf-8", "replace")
        return Outcome(
            name,
            status,
            note,
            elapsed,
            None if status == "pass" else text,
            None if status == "pass" else expected.decode("utf-8", "replace"),
            len(expected.splitlines()),
        )


def _label(o: Outcome) -> str:
    if o.status == "skip":
        return "lrge " if o.reason == "too large" else "skip "
    return {"pass": "pass ", "fail": "FAIL ", "error": "ERROR"}[o.status]


def run_upstream(
    board: Board,
    checkout: Path,
    names: list[str],
    result_dir: Path,
    timeout: float = 30.0,
    say: Callable[[str], None] = print,
) -> list[Outcome]:
    """Boot ``board`` once, run the tests, print run-tests.py-like lines and summary, write results."""
    root, tests = find_tests(checkout, names)
    t0 = time.monotonic()
    board.start()
    boot = time.monotonic() - t0
    keep_spare = getattr(board.engine, "keep_spare", None)
    if keep_spare is not None:
        keep_spare(True)  # the unix port restarts for every test: have the next one ready
    run = UpstreamRun(board, root, timeout, say=say)
    features = run.probe_features()
    run.build_skip_list([n for n, _ in tests])
    say(
        f"platform={features.platform}"
        + (f" arch={features.arch}" if features.arch else "")
        + (f" thread={features.thread}" if features.thread else "")
    )
    outcomes: list[Outcome] = []
    result_dir.mkdir(parents=True, exist_ok=True)
    broken = ""
    for name, path in tests:
        if broken:
            outcomes.append(Outcome(name, "error", f"board error: {broken}"))
            continue
        try:
            o = run.run_test(name, path)
        except BoardBroken as e:
            broken = str(e).splitlines()[0]
            o = Outcome(name, "error", f"board error: {broken}")
        outcomes.append(o)
        say(f"{_label(o)} {name}" + (f" ({o.reason})" if o.reason and o.status != "pass" else ""))
        base = name.replace("/", "_")
        for suffix in (".out", ".exp"):
            (result_dir / (base + suffix)).unlink(missing_ok=True)
        if o.status == "fail":
            (result_dir / (base + ".out")).write_text(o.output or "")
            (result_dir / (base + ".exp")).write_text(o.expected or "")
    total = time.monotonic() - t0
    _summary(outcomes, say, boot, total)
    report = {
        "board": board.name,
        "banner": board.session.banner if board.session else "",
        "checkout": str(checkout),
        "features": asdict(features),
        "seconds": {"boot": round(boot, 3), "total": round(total, 3)},
        "counts": {s: sum(o.status == s for o in outcomes) for s in ("pass", "fail", "skip", "error")},
        "results": [asdict(o) for o in outcomes],
    }
    (result_dir / "upstream.json").write_text(json.dumps(report, indent=1) + "\n")
    # run-tests.py's own results file, so its --print-failures and --run-failures work on it too.
    (result_dir / "_results.json").write_text(
        json.dumps({"args": {"board": board.name}, "results": [[o.test, o.status, o.reason] for o in outcomes]}) + "\n"
    )
    return outcomes


def _summary(outcomes: list[Outcome], say: Callable[[str], None], boot: float, total: float) -> None:
    ran = [o for o in outcomes if o.status in ("pass", "fail")]
    cases = sum(o.cases for o in ran)
    by = {s: [o.test for o in outcomes if o.status == s] for s in ("pass", "fail", "skip", "error")}
    say(f"{len(ran)} tests performed ({cases} individual testcases)")
    say(f"{len(by['pass'])} tests passed")
    if by["skip"]:
        say(f"{len(by['skip'])} tests skipped: {' '.join(by['skip'])}")
    if by["fail"]:
        say(f"{len(by['fail'])} tests failed: {' '.join(by['fail'])}")
    if by["error"]:
        say(f"{len(by['error'])} tests not run to a verdict (board errors): {' '.join(by['error'])}")
    say(f"boot {boot:.2f} s, total {total:.2f} s")
