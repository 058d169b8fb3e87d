"""Every Robot test says whether it checks a documented promise or a port/version fact.

The conformance table shows the two apart, keyed on the tags ``promise`` and
``fact``, so a test with neither or both would land in the wrong place. A
``promise`` test's [Documentation] quotes the sentence it checks, and the
quote must be word for word in MicroPython's documentation of the module
(tests/data/micropython-module-docs.txt): a paraphrase could promise more
than the docs do. A ``fact`` test's [Documentation] names where the fact
comes from (``Source: ...``), since the docs do not back it.

The suites are read with Robot's parser API, which keeps file and line, so a
failure points at the test to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# The module, not its classes: pytest would try to collect classes named Test*.
from robot.api import parsing

ROOT = Path(__file__).resolve().parents[2]
SUITES = sorted((ROOT / "robot").glob("*.robot"))
DOCS = ROOT / "tests" / "data" / "micropython-module-docs.txt"
#: The other documentation the suites check: "MicroPython on microcontrollers" (the memory suites).
MORE_DOCS = (ROOT / "tests" / "data" / "micropython-constrained-docs.txt",)
KINDS = ("promise", "fact")


@dataclass(frozen=True)
class RobotTest:
    """What the checks need of one test case: where it is, its tags (with the suite's) and documentation."""

    where: str
    name: str
    tags: tuple[str, ...]
    doc: str


def read_tests(path: Path) -> list[RobotTest]:
    """The test cases of one suite file, with the suite's ``Test Tags`` added to each."""
    model = parsing.get_model(str(path))
    suite_tags: list[str] = []
    cases: list[parsing.TestCase] = []
    for section in model.sections:
        for item in section.body:
            if isinstance(item, parsing.TestTags):
                suite_tags += item.values
            elif isinstance(item, parsing.TestCase):
                cases.append(item)
    tests = []
    for case in cases:
        tags, doc = list(suite_tags), ""
        for statement in case.body:
            if isinstance(statement, parsing.Tags):
                tags += statement.values
            elif isinstance(statement, parsing.Documentation):
                doc = statement.value
        tests.append(RobotTest(f"{path.name}:{case.lineno}", case.name, tuple(tags), doc))
    return tests


def _normalise(text: str) -> str:
    """One space for any run of whitespace, one kind of quote mark: Robot wraps lines, the docs use curly quotes."""
    text = re.sub(r"[“”‘’']", '"', text)
    return re.sub(r"\s+", " ", text).strip()


def quotes(doc: str) -> list[str]:
    """The passages between straight double quotes in a [Documentation] (inner quotes are single)."""
    return [q for q in re.findall(r'"([^"]+)"', doc) if q.strip()]


def docs_text(path: Path = DOCS) -> str:
    """The documentation the quotes are checked against, without its # header lines, normalised."""
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    return _normalise("\n".join(lines))


def all_docs_text() -> str:
    """Every documentation file the suites quote, one per paragraph break (a quote never spans two)."""
    return "\n\n".join(docs_text(p) for p in (DOCS, *MORE_DOCS))


def problems(tests: list[RobotTest], docs: str) -> list[tuple[RobotTest, str]]:
    """Everything wrong with the tests' kind tags and documentation: (test, what is wrong) pairs."""
    found = []
    for t in tests:
        kinds = [k for k in KINDS if k in t.tags]
        if len(kinds) != 1:
            found.append((t, f"has {' and '.join(kinds) or 'neither'} of the tags promise and fact; needs exactly one"))
            continue
        if kinds == ["promise"]:
            said = quotes(t.doc)
            if not said:
                found.append((t, "a promise test must quote the sentence it checks in its [Documentation]"))
            for q in said:
                if _normalise(q) not in docs:
                    found.append((t, f"quotes what MicroPython's docs do not say word for word: {q!r}"))
        elif not re.search(r"\bSource: \S", t.doc):
            found.append((t, "a fact test must name its source in its [Documentation] ('Source: ...')"))
    return found


def _report(found: list[tuple[RobotTest, str]]) -> str:
    return "\n".join(f"{t.where} {t.name}: {why}" for t, why in found)


def test_there_are_suites_to_check() -> None:
    assert SUITES, "no robot/*.robot found"
    assert sum(len(read_tests(p)) for p in SUITES) > 30


def test_every_test_is_a_promise_or_a_fact_and_says_why() -> None:
    docs = all_docs_text()
    tests = [t for p in SUITES for t in read_tests(p)]
    found = problems(tests, docs)
    assert not found, _report(found)


def test_the_check_catches_tests_that_break_the_rules(tmp_path: Path) -> None:
    """Run the same check on a suite written to break each rule once: each one is reported."""
    bad = tmp_path / "bad.robot"
    bad.write_text(
        """*** Settings ***
Test Tags         needs:schedule


*** Test Cases ***
Untagged
    [Documentation]    "The function is passed the value arg as its single argument."
    No Operation

Both
    [Documentation]    "The function is passed the value arg as its single argument."
    [Tags]    promise    fact
    No Operation

Paraphrased Promise
    [Documentation]    "The function is always passed exactly one argument."
    [Tags]    promise
    No Operation

Promise Without A Quote
    [Documentation]    Checks the argument.
    [Tags]    promise
    No Operation

Fact Without A Source
    [Documentation]    The queue is first in, first out.
    [Tags]    fact
    No Operation

Good Promise
    [Documentation]    "Schedule the function func to be executed 'very soon'." and "The function
    ...    is passed the value arg as its single argument."
    [Tags]    promise
    No Operation

Good Fact
    [Documentation]    Version fact. Source: py/scheduler.c.
    [Tags]    fact
    No Operation
"""
    )
    tests = read_tests(bad)
    assert all("needs:schedule" in t.tags for t in tests)
    found = problems(tests, docs_text())
    assert [t.name for t, _ in found] == [
        "Untagged",
        "Both",
        "Paraphrased Promise",
        "Promise Without A Quote",
        "Fact Without A Source",
    ], _report(found)
    assert found[0][0].where == "bad.robot:6"
