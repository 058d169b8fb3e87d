"""No absolute path of the sender's machine reaches a bundle, and placeholders keep replays comparable.

The functions here are what ``describe`` applies to every part of bundle.json
(and what a replay applies to its own transcript before fingerprinting);
the integration tests check whole bundles from real micro:bit, unix and
Robot runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from test_repro_bundle import STEPS, stand_in_board

from mpbench.platform_loader import default_directory
from mpbench.repro.bundle import fingerprint
from mpbench.repro.capture import describe
from mpbench.repro.scrub import known_paths, scrub_records, scrub_text
from mpbench.session.recorder import Step

WORK = "/tmp/mpbench-pyboard-k2j4x9"
PATHS = known_paths("/home/alice/mpbench/platforms/pyboard.yaml", WORK, "/home/alice/fw/pybv11.elf")


def test_known_paths_become_placeholders_the_longest_first() -> None:
    assert scrub_text(f"sysbus LoadELF @{WORK}/segment0.elf", PATHS) == "sysbus LoadELF @$WORKDIR/segment0.elf"
    assert scrub_text("loader,file=/home/alice/fw/pybv11.elf", PATHS) == "loader,file=$FIRMWARE"
    assert scrub_text("/home/alice/fw/boot.py", PATHS) == "$FIRMWARE_DIR/boot.py"
    assert scrub_text("using /home/alice/mpbench/platforms/renode/x.repl", PATHS) == "using $PLATFORMS/renode/x.repl"
    assert scrub_text("/home/alice/mpbench/firmware/manifest.yaml", PATHS) == "$CHECKOUT/firmware/manifest.yaml"


def test_other_absolute_paths_keep_only_their_name_and_urls_and_relative_paths_stay() -> None:
    assert scrub_text("/usr/bin/qemu-system-arm -M microbit", []) == "…/qemu-system-arm -M microbit"
    assert scrub_text("unix:/var/run/x/qmp.sock,server=on", []) == "unix:…/qmp.sock,server=on"
    assert scrub_text('File "/root/lib/x.py", line 3', []) == 'File "…/x.py", line 3'
    kept = "https://dl.antmicro.com/projects/renode/x.svd platforms/cpus/stm32f4.repl 3/4 and/or a / b"
    assert scrub_text(kept, []) == kept


def test_a_known_path_is_replaced_only_as_a_whole_component() -> None:
    paths = known_paths("/srv/co/platforms/x.yaml", "/tmp/mpbench-x")
    assert scrub_text("/tmp/mpbench-x/a /tmp/mpbench-xy/b", paths) == "$WORKDIR/a …/b"


def test_console_bytes_change_only_where_a_known_path_is_and_events_are_scrubbed_fully() -> None:
    records = [
        {"t": 0.1, "dir": "event", "data": f"renode: sysbus LoadBinary @{WORK}/fs.img 0x08004000"},
        {"t": 0.2, "dir": "event", "data": "renode: include @/opt/renode/scripts/x.resc"},
        {"t": 0.3, "dir": "rx", "data": f"{WORK}\r\n/etc/hosts\r\n\xff\x04"},
        {"t": 0.4, "dir": "tx", "data": "print('/etc/passwd')\x04"},
    ]
    out = scrub_records(records, PATHS)
    assert [r["data"] for r in out] == [
        "renode: sysbus LoadBinary @$WORKDIR/fs.img 0x08004000",
        "renode: include @…/x.resc",
        "$WORKDIR\r\n/etc/hosts\r\n\xff\x04",  # what the board printed is kept, but for the known folder
        "print('/etc/passwd')\x04",
    ]
    other = known_paths("/home/alice/mpbench/platforms/pyboard.yaml", "/tmp/mpbench-pyboard-zzzzzz")
    replayed = [{**records[2], "data": "/tmp/mpbench-pyboard-zzzzzz\r\n/etc/hosts\r\n\xff\x04"}]
    assert fingerprint(scrub_records(replayed, other)) == fingerprint(out[2:3])  # another run, the same print


def test_describe_leaves_no_local_path_in_any_field_but_keeps_the_steps_exact() -> None:
    board = stand_in_board()
    board.engine.workdir = Path(WORK)
    board.engine.argv = ["/usr/bin/qemu-system-arm", f"loader,file={board.firmware.path}", f"unix:{WORK}/qmp.sock"]
    board.engine.version = lambda: "QEMU 7.2 at /opt/qemu/bin"
    board.boot_output = f"booted from {WORK}\n>>> "
    code = "open('/flash/data.txt', 'w')\n"
    steps = [*STEPS, Step("exec", {"code": code, "timeout": 1.0}, 2.0, 2.1, f"EngineError: {WORK}/qemu.log")]
    records = [{"t": 0.1, "dir": "event", "data": f"renode: sysbus LoadELF @{WORK}/fw.elf"}]
    failure = {"summary": "timed out", "detail": f"see {Path.home()}/results/log.html and {default_directory()}"}
    doc, _ = describe(board, steps, records, "raw", {"kind": "cli", "script": "s.py"}, failure)
    text = json.dumps(doc, ensure_ascii=False)
    for path in ("/tmp/", "/home", "/root", "/usr/", "/opt/", str(default_directory().parent), str(Path.home())):
        assert path not in text, path
    assert doc["engine"]["argv"] == ["…/qemu-system-arm", "loader,file=$FIRMWARE", "unix:$WORKDIR/qmp.sock"]
    assert doc["steps"][-1]["args"]["code"] == code  # what a replay sends is never rewritten
    assert doc["steps"][-1]["error"] == "EngineError: $WORKDIR/qemu.log"
