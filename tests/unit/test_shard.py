"""Shards: ``--variable SHARD:K/N`` parsing and the share of (suite, board) pairs each shard runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpbench.matrix import ShardError, in_shard, parse_shard, suite_index

ROBOT = Path(__file__).resolve().parents[2] / "robot"


@pytest.mark.parametrize(("text", "want"), [("1/2", (1, 2)), (" 2/2 ", (2, 2)), ("1/1", (1, 1)), ("3/7", (3, 7))])
def test_a_shard_is_k_of_n(text: str, want: tuple[int, int]) -> None:
    assert parse_shard(text) == want


@pytest.mark.parametrize("text", [None, "", "  "])
def test_no_shard_runs_everything(text: str | None) -> None:
    assert parse_shard(text) is None
    assert in_shard(None, 5, 3)


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "1/0", "a/b", "1/2/3", "-1/2", "1.0/2", "${x}/2"])
def test_a_bad_shard_is_one_line_naming_the_value(text: str) -> None:
    with pytest.raises(ShardError) as e:
        parse_shard(text)
    assert f"SHARD:{text}" in str(e.value) and "expected K/N" in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_every_pair_is_in_exactly_one_shard_and_shares_are_even(n: int) -> None:
    suites, boards = 9, 5
    owners = {
        (s, b): [k for k in range(1, n + 1) if in_shard((k, n), s, b)] for s in range(suites) for b in range(boards)
    }
    assert all(len(k) == 1 for k in owners.values()), owners
    sizes = [sum(1 for k in owners.values() if k == [shard]) for shard in range(1, n + 1)]
    assert max(sizes) - min(sizes) <= boards, sizes  # diagonals: at most one board's worth apart
    # each board's suites are spread over the shards, not all in one (when there are enough suites)
    for b in range(boards):
        per_shard = {k[0] for (s, bb), k in owners.items() if bb == b}
        assert len(per_shard) == min(n, suites)


def test_a_suite_has_the_same_number_whichever_suites_a_run_was_given() -> None:
    files = sorted(p for p in ROBOT.glob("*.robot") if p.name != "__init__.robot")
    numbers = [suite_index(p, p.stem) for p in files]
    assert numbers == list(range(len(files)))  # the folder decides, so pabot's --suite X gives the same number
    assert suite_index(None, "Made Up") == suite_index(None, "Made Up") != suite_index(None, "Other")
