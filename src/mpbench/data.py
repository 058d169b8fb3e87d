"""Where the files mpbench ships beside its code are: platform files and the firmware manifest.

In a checkout (and an editable install) they are the repository's own
``platforms/`` and ``firmware/`` folders. ``pip install .`` copies them as
data files to ``<prefix>/share/mpbench/`` (pyproject's ``data-files``), since
the repository keeps them outside the package; this module looks in both,
so a non-editable install finds the same files.
"""

from __future__ import annotations

import site
import sys
import sysconfig
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]


def shipped(relative: str) -> Path:
    """The shipped file or folder ``relative`` (``platforms``, ``firmware/manifest.yaml``).

    Returns the first place it exists; if none, the repository path, so the
    error that follows names where a checkout would keep it.
    """
    here = Path(__file__).resolve()
    roots = [
        _REPO,
        # <prefix>/lib/pythonX.Y/site-packages/mpbench/data.py -> <prefix>: any install prefix
        here.parents[4] / "share" / "mpbench" if len(here.parents) > 4 else _REPO,
        Path(sysconfig.get_path("data")) / "share" / "mpbench",
        Path(sys.prefix) / "share" / "mpbench",
        Path(site.getuserbase()) / "share" / "mpbench",
    ]
    for root in roots:
        if (root / relative).exists():
            return root / relative
    return _REPO / relative
