"""The Robot suites turn red on firmware that breaks a promise, and only where it breaks it.

Each misbehaving board is MicroPython's real unix port with one function of
its ``micropython`` module replaced by a shim (tests/shims/, run with ``-i``
before the REPL starts): ``kbd_intr`` that does nothing, ``heap_lock`` that
does nothing, ``schedule`` that calls the function at once, ``heap_unlock``
that returns None. The suites run on each of them and on the honest port in
one Robot run. For every shim the set of failing tests must be exactly the
one named here, each of them must pass on the honest port, and every other
test must end as it does on the honest port. A suite that passed against a
shim would not be checking the promise it names.

The emergency-buffer tests need a hard IRQ, which the unix port lacks. There
the board is the unix port with tests/shims/irq_sim.py, a stand-in for the
stm32 timer ISR's dispatch (real heap lock, real traceback printing), in an
honest form and in three broken ones: its "hard" handler runs with the heap
unlocked, the platform file names no header, or the board prints an empty
header. Each broken form must fail every emergency-buffer test, for that
reason (checked on Robot's message).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from suite_runs import Result, run_suites, with_features, write_variant
from support import needs

pytestmark = pytest.mark.emulator

#: Board name -> (shim file in tests/shims, the tests that must fail on it and pass on the honest port).
SHIMS: dict[str, tuple[str, set[str]]] = {
    "unix-kbd-intr-noop": (
        "kbd_intr_noop.py",
        {"Kbd Intr 3 Restores Ctrl-C"},
    ),
    "unix-heap-lock-noop": (
        "heap_lock_noop.py",
        {
            "Allocation Raises MemoryError While The Heap Is Locked",
            "Allocation Works Again After Heap Unlock",
            "Heap Locks Nest",
            "Heap Unlock Returns The Remaining Depth",
            "The REPL Unlocks A Heap Left Locked",
            "Adjacent String Literals Are Joined At Compile Time",
            "A List Literal Is Built On Each Call",
            "Making New Bytes From Bytes Allocates",
            "Str Encode Allocates",
            "Exec And Eval Need The Heap",
            "Importing A Module Needs RAM For The Compiler",
        },
    ),
    "unix-schedule-at-once": (
        "schedule_at_once.py",
        {
            "A Scheduled Function Does Not Preempt Another",
            "A Full Queue Raises RuntimeError",
            "The Full-Queue Error Says The Queue Is Full",
        },
    ),
    "unix-heap-unlock-none": (
        "heap_unlock_none.py",
        {"Heap Unlock Returns The Remaining Depth"},
    ),
}

#: The memory suites (issue 14) and the shims that break them: run on those suites only, to keep CI short.
MEMORY_SUITES = ("gc_collect", "gc_automatic", "fragmentation", "heap_map", "interning", "mem_info")
MEMORY_SHIMS: dict[str, tuple[str, set[str]]] = {
    "unix-gc-collect-none": ("gc_collect_none.py", {"Gc Collect Returns The Count On Unix And None On Bare Metal"}),
    "unix-gc-auto-off": (
        "gc_auto_off.py",
        {"A Failed Allocation Runs A GC And Is Retried", "A Threshold Provokes A GC Before The Heap Is Full"},
    ),
    "unix-gc-threshold-noop": (
        "gc_threshold_noop.py",
        {"A Threshold Provokes A GC Before The Heap Is Full", "Gc Threshold Returns The Value Set In Whole Blocks"},
    ),
    "unix-heap-grows": ("heap_grows.py", {"A Fragmented Heap Refuses A Buffer That Fits Early"}),
    "unix-mem-info-no-map": (
        "mem_info_no_map.py",
        {
            "Verbose Mem Info Prints The Heap Map",
            "The Heap Map Shows Free, Head And Tail Blocks In The Legend's Letters",
        },
    ),
    "unix-no-interning": ("no_interning.py", {"A Name Used Many Times Is Interned Once"}),
}

HEADER = "uncaught exception in simulated Timer interrupt handler"
EMERGENCY_TESTS = (
    "With The Buffer An Exception In An IRQ Handler Prints A Traceback",
    "Without The Buffer The Traceback Is Lost",
    "A Timer Handler That Raised Is Not Called Again",
)

#: Board name -> (Timer(hard=...), header the board prints, header the platform file names,
#: start of Robot's message on every emergency-buffer test, or None if the board is honest).
IRQ_BOARDS: dict[str, tuple[bool, str, str | None, str | None]] = {
    "unix-irq": (True, HEADER, HEADER, None),
    "unix-irq-soft": (False, HEADER, HEADER, "the handler could allocate, so it did not run in a hard IRQ"),
    "unix-irq-no-header": (True, "", None, "the platform file names no header for its timer IRQ"),
    "unix-irq-silent": (True, "", HEADER, f"the board did not print the header line {HEADER}"),
}


def _on_shims(
    factory: pytest.TempPathFactory, folder: str, shims: dict[str, tuple[str, set[str]]], *options: str
) -> dict[tuple[str, str], Result]:
    """The suites on the honest unix port and on each of ``shims``, in one Robot run."""
    needs("unix")
    tmp = factory.mktemp(folder)
    platforms = tmp / "platforms"
    platforms.mkdir()
    write_variant(platforms, "unix", "unix")
    for board, (shim, _) in shims.items():
        write_variant(platforms, "unix", board, shim)
    return run_suites(platforms, ["unix", *shims], tmp / "results", *options)


@pytest.fixture(scope="module")
def shim_results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Result]:
    """Every suite on the honest unix port and on each shimmed one, in one Robot run."""
    return _on_shims(tmp_path_factory, "broken-firmware", SHIMS)


@pytest.fixture(scope="module")
def memory_results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Result]:
    """The memory suites on the honest unix port and on each memory shim, in one Robot run."""
    selection = [arg for suite in MEMORY_SUITES for arg in ("--suite", suite)]
    return _on_shims(tmp_path_factory, "broken-memory", MEMORY_SHIMS, *selection)


@pytest.fixture(scope="module")
def irq_results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Result]:
    """The emergency-buffer tests on the simulated hard IRQ, honest and broken."""
    needs("unix")
    tmp = tmp_path_factory.mktemp("broken-irq")
    platforms = tmp / "platforms"
    platforms.mkdir()
    features = with_features("unix", "alloc_emergency_exception_buf", "hard_irq")
    for board, (hard, printed, named, _) in IRQ_BOARDS.items():
        timer: dict[str, object] = {
            "kind": "hard",
            "start": f"import mpb_irq_sim; _mpb_irq_timer = mpb_irq_sim.Timer({{cb}}, hard={hard}, header={printed!r})",
            "fire": "_mpb_irq_timer.fire()",
            "stop": "_mpb_irq_timer.deinit()",
        }
        if named is not None:
            timer["header"] = named
        write_variant(platforms, "unix", board, "irq_sim.py", features=features, irq_sources={"timer": timer})
    selection = [arg for name in EMERGENCY_TESTS for arg in ("--test", name)]
    return run_suites(platforms, list(IRQ_BOARDS), tmp / "results", *selection)


def _tests_on(results: dict[tuple[str, str], Result], board: str) -> dict[str, Result]:
    return {test: r for (b, test), r in results.items() if b == board}


@pytest.fixture
def results_for(request: pytest.FixtureRequest) -> Callable[[str], tuple[dict[tuple[str, str], Result], set[str]]]:
    """The Robot results a shimmed board ran in, and the tests that must fail on it."""

    def pick(board: str) -> tuple[dict[tuple[str, str], Result], set[str]]:
        if board in MEMORY_SHIMS:
            return request.getfixturevalue("memory_results"), MEMORY_SHIMS[board][1]
        return request.getfixturevalue("shim_results"), SHIMS[board][1]

    return pick


@pytest.mark.parametrize("board", [*SHIMS, *MEMORY_SHIMS])
def test_a_shim_fails_exactly_the_tests_named_for_it(results_for: Callable, board: str) -> None:
    """The tests named for the shim fail; every other test ends as on the honest port."""
    shim_results, expected = results_for(board)
    on_shim, on_unix = _tests_on(shim_results, board), _tests_on(shim_results, "unix")
    assert on_shim, f"no results for {board}"
    assert on_shim.keys() == on_unix.keys()
    failed = {test for test, r in on_shim.items() if r.status == "FAIL"}
    assert failed == expected, (
        f"{board}: failed but not expected: {sorted(failed - expected)}; expected but did not fail: "
        f"{sorted(expected - failed)}"
    )
    changed = {
        test: (on_unix[test].status, r.status)
        for test, r in on_shim.items()
        if test not in expected and r.status != on_unix[test].status
    }
    assert not changed, f"{board}: tests that ended differently from the honest port: {changed}"


@pytest.mark.parametrize("board", [*SHIMS, *MEMORY_SHIMS])
def test_the_honest_port_passes_what_a_shim_fails(results_for: Callable, board: str) -> None:
    """A test that failed on a shim but not on honest firmware is the shim's doing, not the suite's."""
    shim_results, expected = results_for(board)
    for test in expected:
        r = shim_results.get(("unix", test))
        assert r is not None, f"no result for {test} on unix"
        assert r.status == "PASS", f"{test} on the honest unix port: {r.status} {r.message}"


def test_kbd_intr_noop_fails_because_ctrl_c_stayed_captured(shim_results: dict[tuple[str, str], Result]) -> None:
    """The restore test fails at its first half: Ctrl-C still raised KeyboardInterrupt after kbd_intr(-1)."""
    r = shim_results[("unix-kbd-intr-noop", "Kbd Intr 3 Restores Ctrl-C")]
    assert r.message.startswith("Ctrl-C was still captured after kbd_intr(-1)"), r.message


@pytest.mark.parametrize("board", list(IRQ_BOARDS))
@pytest.mark.parametrize("test", EMERGENCY_TESTS)
def test_emergency_buffer_tests_prove_a_hard_irq_and_its_header(
    irq_results: dict[tuple[str, str], Result], board: str, test: str
) -> None:
    """On a broken IRQ each emergency-buffer test fails for that breakage; on the honest one they pass.

    Except "Without The Buffer The Traceback Is Lost" on the honest simulated
    IRQ: the unix port's emergency buffer is static and always there, so the
    traceback is printed; that it fails there shows the test looks.
    """
    r = irq_results.get((board, test))
    assert r is not None, f"no result for {test} on {board}"
    reason = IRQ_BOARDS[board][3]
    if reason is not None:
        assert r.status == "FAIL" and r.message.startswith(reason), f"{r.status}: {r.message}"
    elif test == "Without The Buffer The Traceback Is Lost":
        assert r.status == "FAIL" and r.message.startswith("the traceback was printed"), f"{r.status}: {r.message}"
    else:
        assert r.status == "PASS", r.message
