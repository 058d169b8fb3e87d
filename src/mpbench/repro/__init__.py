"""Repro bundles: one file that replays a failure the same way every time.

``session.recorder`` keeps the session calls a run made, ``capture`` turns a
failed run into ``bundle.json`` and a README, ``bundle`` writes and (warily)
reads the archive, ``replay`` boots the same board and firmware and replays
the calls, and ``cli`` is ``mpbench repro create | run | show`` (listed in
``mpbench.cli``'s command table).
"""
