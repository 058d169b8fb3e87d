#!/usr/bin/env python3
"""Compare the two Renode drivers on one board: the monitor driver and pyrenode3.

For each driver (``MPBENCH_RENODE_DRIVER=monitor`` and ``=pyrenode3``) it
starts the board N times and measures:

* start: ``Board.start()`` from nothing to the raw prompt (process start included);
* round trip: ``exec("print(1)")`` on the started board, 10 times, median;
* timing precision: the board prints ``<A>``, runs ``for i in range(N): pass``
  and prints ``<B>``: the same instructions every time, so the same virtual
  time every time. Measured: that interval as each driver can tell it. Both
  can ask for the virtual time when the host sees a marker (``query``);
  pyrenode3 also stamps each byte with the virtual time of the instruction
  that wrote it (``stamp``). The spread (max - min) over the runs is the
  precision. (A ``time.sleep_us`` is no reference: the firmware's own clock,
  SysTick under Renode, ends it a little early or late from run to run.);
* pause: the board prints ``<P>`` then lines ``0``, ``1``, ... for ever; the
  driver pauses when it sees ``<P>`` (monitor: ``pause`` sent when the host
  reads it; pyrenode3: Renode's precise pause at the instruction that wrote
  it). Counted: bytes the board printed after the marker
  (and with pyrenode3 the virtual µs from the marker to the stop).

A benchmark, not a test: nothing is asserted.

    .venv/bin/python scripts/renode_drivers.py [-n 3] [--board pyboard] [--drivers monitor,pyrenode3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mpbench.board import Board, unavailable_reason  # noqa: E402
from mpbench.deadline import Deadline  # noqa: E402
from mpbench.platform_loader import find_platform  # noqa: E402

LOOPS = (20, 200, 2000)
REPEAT = 5


def _us(t: float | None) -> float:
    return float("nan") if t is None else t * 1e6


def precision(board: Board, loops: int) -> dict[str, float]:
    """Virtual µs between ``<A>`` and ``<B>`` around a fixed loop, by host query and (pyrenode3) byte stamps."""
    session, engine = board.session, board.engine
    assert session is not None and engine is not None
    mark = len(getattr(engine, "rx_data", b""))
    session.exec_start(f"print('<A>')\nfor i in range({loops}):\n    pass\nprint('<B>')\n", 10)
    deadline = Deadline(10, session.clock)
    session.reader.read_until(b"<A>", deadline)
    qa = engine.virtual_time()  # type: ignore[attr-defined]
    session.reader.read_until(b"<B>", deadline)
    qb = engine.virtual_time()  # type: ignore[attr-defined]
    session.exec_follow(10)
    out = {"query": _us(qb) - _us(qa)}
    data = getattr(engine, "rx_data", None)
    if data is not None:
        times = engine.rx_times  # type: ignore[attr-defined]
        a = data.index(b"<A>", mark)
        b = data.index(b"<B>", a)
        out["stamp"] = times[b] - times[a]
    return out


def pause_overshoot(board: Board) -> dict[str, float]:
    """Bytes printed after ``<P>`` before the emulation stopped (and, with pyrenode3, µs)."""
    session, engine = board.session, board.engine
    assert session is not None and engine is not None
    exact = hasattr(engine, "pause_on")
    if exact:
        engine.pause_on(b"<P>")  # type: ignore[attr-defined]
    mark = len(session.console.transcript.received())
    session.exec_start("print('<P>')\ni = 0\nwhile True:\n    print(i)\n    i += 1\n", 10)
    out: dict[str, float] = {}
    if exact:
        hit, stopped = engine.wait_paused(20)  # type: ignore[attr-defined]
        out["us"] = stopped - hit
    else:
        session.reader.read_until(b"<P>", Deadline(10, session.clock))
        engine.pause()
    time.sleep(1.0)  # let whatever the board printed before it stopped arrive
    session.reader.fill(0.2)
    got = session.console.transcript.received()[mark:]
    after = got[got.index(b"<P>") + 3 :]
    out["bytes"] = len(after)
    return out  # the board is left paused mid-loop: the caller stops it


def empty() -> dict[str, Any]:
    return {"start": [], "rtt": [], "prec": {d: [] for d in LOOPS}, "pause": []}


def run_once(driver: str, board_name: str, res: dict[str, Any]) -> None:
    """One start of the board on ``driver``, with every measurement, added to ``res``."""
    os.environ["MPBENCH_RENODE_DRIVER"] = driver
    platform = find_platform(board_name)
    reason = unavailable_reason(platform)
    if reason:
        res["skipped"] = reason
        return
    t0 = time.monotonic()
    board = Board(platform)
    try:
        board.start()
        res["start"].append(time.monotonic() - t0)
        rtts = []
        for _ in range(10):
            t = time.monotonic()
            board.exec("print(1)")
            rtts.append(time.monotonic() - t)
        res["rtt"].append(statistics.median(rtts))
        for d in LOOPS:
            res["prec"][d] += [precision(board, d) for _ in range(REPEAT)]
        res["pause"].append(pause_overshoot(board))
    finally:
        board.stop()


def _span(values: list[float]) -> str:
    return f"{min(values):.0f}..{max(values):.0f}" if values else "-"


def report(driver: str, res: dict[str, Any]) -> None:
    if "skipped" in res:
        print(f"{driver}: skipped: {res['skipped']}")
        return
    print(f"{driver}:")
    print(f"  start to raw prompt  median {statistics.median(res['start']):.2f} s  ({_span(res['start'])} s)")
    rtt_ms = [r * 1000 for r in res["rtt"]]
    print(f"  print(1) round trip  median {statistics.median(rtt_ms):.1f} ms")
    for d, runs in res["prec"].items():
        for method in ("query", "stamp"):
            vals = [r[method] for r in runs if method in r]
            if vals:
                spread = max(vals) - min(vals)
                print(f"  range({d}) loop by {method:5}: {_span(vals)} µs, spread {spread:.0f} µs")
    extra = [p["bytes"] for p in res["pause"]]
    us = [p["us"] for p in res["pause"] if "us" in p]
    print(f"  bytes printed after <P> before the pause: {_span(extra)}" + (f"; {_span(us)} µs" if us else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("--board", default="pyboard")
    ap.add_argument("--drivers", default="monitor,pyrenode3")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    drivers = args.drivers.split(",")
    results = {d: empty() for d in drivers}
    for _ in range(args.n):  # the drivers take turns, so both see the same host load
        for driver in drivers:
            if "skipped" not in results[driver]:
                run_once(driver, args.board, results[driver])
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    for driver in drivers:
        report(driver, results[driver])
    return 0


if __name__ == "__main__":
    sys.exit(main())
