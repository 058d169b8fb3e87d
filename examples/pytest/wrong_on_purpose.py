"""A test that is wrong on purpose: it expects 41 where every board prints 42.

Not collected by a plain ``pytest examples/pytest`` (its name does not start
with ``test_``); ``tests/integration/test_pytest_plugin.py`` runs it and checks
that it fails with the board's console transcript in the report.
"""

from __future__ import annotations


def test_the_answer_is_wrong_on_purpose(board) -> None:
    assert board.exec("print(6 * 7)").strip() == "41"
