"""Finding a program the user installed: a variable that names it, else PATH.

Emulators and the unix port are found the same way everywhere, and when one
is missing the reason names the variable to set or the name looked for, so
``mpbench platforms`` and skip messages tell the user what to do.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path


def find_executable(name: str, envs: Sequence[str] = (), also_in: Sequence[Path] = ()) -> tuple[str | None, str]:
    """``(path, "")`` when found, else ``(None, why)``.

    The first of ``envs`` that is set wins (and must name an executable file);
    then PATH; then the folders ``also_in`` (an unactivated virtualenv's bin).
    """
    envs = [e for e in dict.fromkeys(envs) if e]
    for env in envs:
        value = os.environ.get(env)
        if value:
            if os.path.isfile(value) and os.access(value, os.X_OK):
                return value, ""
            return None, f"{env}={value} is not an executable file"
    found = shutil.which(name)
    if found:
        return found, ""
    for folder in also_in:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate), ""
    where = f" (or set {' or '.join(envs)})" if envs else ""
    return None, f"{name} not found on PATH{where}"
