"""The Renode pool's bookkeeping without Renode: its size setting, keys, and dead processes."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from mpbench.engine import renode_pool
from mpbench.engine.renode_pool import RenodeProcess


@pytest.fixture(autouse=True)
def empty_pool() -> Iterator[None]:
    renode_pool.drain()
    yield
    renode_pool.drain()


@pytest.mark.parametrize(("value", "size"), [(None, 2), ("", 2), ("0", 0), ("1", 1), (" 3 ", 3), ("-1", 0)])
def test_pool_size_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str | None, size: int) -> None:
    if value is None:
        monkeypatch.delenv("MPBENCH_RENODE_POOL", raising=False)
    else:
        monkeypatch.setenv("MPBENCH_RENODE_POOL", value)
    assert renode_pool.pool_size() == size


def test_a_pool_size_that_is_no_number_turns_reuse_off_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MPBENCH_RENODE_POOL", "two")
    with caplog.at_level(logging.WARNING):
        assert renode_pool.pool_size() == 0
    assert "MPBENCH_RENODE_POOL='two' is not a whole number" in caplog.text


def test_nothing_is_parked_when_the_pool_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPBENCH_RENODE_POOL", "0")
    rp = RenodeProcess("/nonexistent/renode", ("renode", "monitor", "stepped"))
    try:
        assert not renode_pool.park(rp)
        assert renode_pool.parked() == []
    finally:
        rp.kill()
    assert not rp.dir.exists()


def test_a_parked_process_that_is_not_alive_is_never_lent_and_its_folder_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPBENCH_RENODE_POOL", raising=False)
    key = ("renode", "monitor", "stepped")
    rp = RenodeProcess("/nonexistent/renode", key)  # never spawned: as dead as a crashed one
    assert renode_pool.park(rp)
    assert renode_pool.take(("renode", "monitor", "free")) is None  # another key: not lent
    assert renode_pool.parked() == [rp]
    assert renode_pool.take(key) is None
    assert renode_pool.parked() == [] and not rp.dir.exists()
