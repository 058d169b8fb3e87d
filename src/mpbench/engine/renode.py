"""Renode: finding it, and saying plainly what is not there yet.

Renode is in no package registry this project can install from; users put a
``renode`` binary on PATH or name it with ``RENODE_BIN`` (or the platform's
``binary_env``). Driving it (monitor, UART terminal, virtual time) is the
Renode engine's work, which this version of mpbench does not have yet: a
board on Renode is reported unavailable with that reason instead of failing.
"""

from __future__ import annotations

import os
import shutil

from mpbench.console import Console
from mpbench.engine.base import Engine, register_engine
from mpbench.errors import EngineUnavailable
from mpbench.platform import Platform

NOT_YET = "mpbench cannot drive Renode yet (the Renode engine is planned, not built)"


def find_renode(platform: Platform) -> tuple[str | None, str]:
    """The renode binary and where it was looked for (for the reason text)."""
    envs = [e for e in (platform.engine_config.get("binary_env"), "RENODE_BIN") if e]
    for env in dict.fromkeys(envs):
        value = os.environ.get(env)
        if value:
            return (value if os.access(value, os.X_OK) else None), f"{env}={value}"
    return shutil.which("renode"), f"{' or '.join(dict.fromkeys(envs))} unset, renode not on PATH"


@register_engine("renode")
class RenodeEngine(Engine):
    @classmethod
    def unavailable_reason(cls, platform: Platform) -> str | None:
        binary, looked = find_renode(platform)
        if binary is None:
            hint = platform.engine_config.get("install_hint", "")
            return f"renode not found ({looked})" + (f"; {hint}" if hint else "")
        return f"found {binary}, but {NOT_YET}"

    def start(self) -> None:
        raise EngineUnavailable(self.unavailable_reason(self.platform) or NOT_YET, engine="renode")

    def open_console(self) -> Console:
        raise EngineUnavailable(NOT_YET, engine="renode")

    def reset(self) -> None:
        raise EngineUnavailable(NOT_YET, engine="renode")

    def _stop(self) -> None:
        pass

    def log_tail(self, lines: int = 15) -> str:
        return ""
