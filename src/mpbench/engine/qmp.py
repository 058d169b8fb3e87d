"""A minimal QMP client: enough to continue, stop, reset and quit QEMU.

QEMU is started paused (``-S``) so the console is connected before the board
prints anything; QMP then lets it run. A blocking unix socket with a timeout
and line-delimited JSON is all this needs, so no extra dependency. Connecting
retries until QEMU has created the socket, but checks on every try that QEMU
still runs: a refused command line is reported at once, not after the timeout.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpbench.errors import EngineError


class Qmp:
    """A QMP connection; ``alive`` tells whether the QEMU process behind ``path`` still runs."""

    def __init__(self, path: Path, timeout: float = 10.0, alive: Callable[[], bool] | None = None):
        end = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.settimeout(timeout)
                self.sock.connect(str(path))
                break
            except OSError as e:
                self.sock.close()
                if alive is not None and not alive():
                    raise EngineError("QEMU exited before its QMP socket opened", engine="qemu") from e
                if time.monotonic() >= end:
                    raise EngineError(f"QEMU's QMP socket {path} did not open: {e}", engine="qemu") from e
                time.sleep(0.01)
        self._buf = b""
        self._read_message()  # greeting
        self.execute("qmp_capabilities")

    def _read_message(self) -> dict[str, Any]:
        while b"\n" not in self._buf:
            data = self.sock.recv(65536)
            if not data:
                raise EngineError("QEMU closed its QMP socket", engine="qemu")
            self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, command: str, **arguments: Any) -> Any:
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read_message()
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise EngineError(f"QMP {command} failed: {reply['error'].get('desc', reply['error'])}", engine="qemu")
            # anything else is an asynchronous event: skip it

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
