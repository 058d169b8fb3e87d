"""Repro bundles: one file that replays a failure the same way every time.

``session.recorder`` keeps the session calls a run made, ``capture`` turns a
failed run into ``bundle.json`` and a README, ``bundle`` writes and (warily)
reads the archive, ``replay`` boots the same board and firmware and replays
the calls, and ``cli`` is ``mpbench repro create | run | show``, registered
here so that importing the package adds the command.
"""


def _register() -> None:
    from mpbench.cli import register
    from mpbench.repro.cli import do_repro, repro_args

    register("repro", do_repro, repro_args, "create, replay and show bug-report bundles")


_register()
