"""A Renode machine state in a bundle: carried only when asked, loaded only when trusted.

A Renode board on the stepped clock starts from its boot snapshot (``Save`` of
the machine at its first prompt, see ``mpbench.engine.snapshot``). With
``MPBENCH_BUNDLE_STATE=1`` in the environment, a bundle written of such a
board (a failing Robot or pytest test, ``repro create``, ``race``) carries that
state as the member ``renode-state.xz``, its sizes, sha256, the Renode version
and the snapshot key in bundle.json. One environment variable because it
reaches every face that writes bundles through the one function they share,
``capture.describe``, without a flag per runner.

The state is a serialized .NET object graph, and Renode's ``Load``
deserializes it inside the emulator process: loading one from somebody else's
bundle runs their serialized objects through Renode's deserializer with your
rights. So a replay ignores a carried state (and says so once) unless it is
given ``--trust-state``; then the state is checked before Renode sees it:
its unpacked size against ``MAX_STATE_BYTES`` while it is unpacked (a small
member cannot inflate to gigabytes), its sha256 against bundle.json, the
Renode version against the local one, and its snapshot key against the key
this machine computes for the bundle's board (your platform file, its .repl
and .resc, the recorded firmware sha256, your Renode version). Those checks
catch damage and mismatches, not a hostile sender, who can recompute every
hash: trusting means trusting the sender.

xz, measured on the two pyboard boot states (3.13 and 3.15 MB, 2-core machine
under load 1.2): xz -6 0.83-0.86 MB (26-27 %) in 1.2 s, unpacked in 0.08 s;
gzip -6 1.16-1.20 MB (37-38 %) in 0.16 s; gzip -9 1.15-1.19 MB in 0.7 s;
bz2 1.15-1.19 MB in 0.3 s. zstd is not in Python 3.11's standard library.
The bundle itself is a gzip'd tar, so a raw state member would end up about
as large as gzip -6: xz saves a further 0.33 MB per bundle, for about a second
spent only when a failing test writes its bundle with the switch on.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mpbench.engine.snapshot import SnapshotStore, TrustedState, platform_key_parts, snapshot_key
from mpbench.errors import BundleError, EngineUnavailable, MpbenchError
from mpbench.firmware.cache import Firmware
from mpbench.platform import Platform
from mpbench.repro.bundle import STATE_MEMBER, Bundle

ENV = "MPBENCH_BUNDLE_STATE"
COMPRESSION = "xz"
XZ_PRESET = 6
#: The largest state a replay unpacks (a pyboard's is 3.15 MB); bundle.json may not claim more.
MAX_STATE_BYTES = 64 * 1024 * 1024
#: The longest boot output kept with a state (the pyboard's is about 110 bytes).
MAX_BOOT_OUTPUT = 64 * 1024


def requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether bundles should carry the board's Renode state (``MPBENCH_BUNDLE_STATE=1``); unset or 0: no."""
    value = environ.get(ENV, "").strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    raise MpbenchError(
        f"{ENV}={value!r}: expected 1 (bundles of Renode boards carry their boot state) or 0 (they do not)"
    )


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def carry(board: Any) -> tuple[dict[str, Any], tuple[str, bytes]] | str:
    """bundle.json's ``renode_state`` and the member holding it, or one line saying why ``board`` has none."""
    engine, name = board.engine, board.name
    none = f"{name}: no Renode state added to the bundle:"
    if engine is None:
        return f"{none} the board never started"
    if engine.name != "renode":
        if engine.name == "host":
            return f"{none} the unix port runs on this host, there is no emulated machine to save"
        return f"{none} it runs on {engine.name}; only Renode boards start from a saved machine state"
    if not getattr(engine, "stepped", False):
        return (
            f"{none} it ran on Renode's free clock (MPBENCH_RENODE_CLOCK=free or clock: free), "
            "which takes no boot snapshot"
        )
    store = getattr(engine, "snapshot", None)
    if store is None:
        return (
            f"{none} it took no boot snapshot (MPBENCH_RENODE_SNAPSHOTS=0, a firmware not pinned by a hash, "
            "or files baked into its filesystem image)"
        )
    try:
        raw = store.state_path.read_bytes()
        meta = json.loads(store.meta_path.read_text())
        boot = store.boot_output()
    except (OSError, ValueError) as e:
        return f"{none} its boot snapshot {store.state_path.name} cannot be read ({e})"
    digest = hashlib.sha256(raw).hexdigest()
    if digest != meta.get("sha256"):
        return f"{none} its boot snapshot {store.state_path.name} no longer matches its recorded sha256"
    if len(raw) > MAX_STATE_BYTES or len(boot) > MAX_BOOT_OUTPUT:
        return f"{none} its boot snapshot is {len(raw)} bytes, more than a replay accepts ({MAX_STATE_BYTES})"
    packed = lzma.compress(raw, format=lzma.FORMAT_XZ, preset=XZ_PRESET)
    doc = {
        "member": STATE_MEMBER,
        "compression": COMPRESSION,
        "size": len(raw),
        "compressed_size": len(packed),
        "sha256": digest,
        "renode": engine.version(),
        "snapshot_key": store.key,
        "board": name,
        "firmware_sha256": getattr(board.firmware, "sha256", None),
        "boot_output": boot.decode("latin-1"),
        "vt_us": meta.get("vt_us"),
    }
    return doc, (STATE_MEMBER, packed)


def describe_carried(doc: Mapping[str, Any]) -> str | None:
    """``carries a Renode state, 0.83 MB compressed / 3.15 MB, ...`` for ``repro show``; None without one."""
    state = doc.get("renode_state")
    if not state:
        return None
    if state.get("member") is None:
        return f"none: {state.get('reason', 'not carried')}"
    return (
        f"carries a Renode state, {_mb(state['compressed_size'])} compressed / {_mb(state['size'])} "
        f"({state['compressed_size']} / {state['size']} bytes, {state['compression']}), sha256 {state['sha256']}, "
        f"saved by {state['renode']}, snapshot key {state['snapshot_key'][:12]}…; a replay ignores it unless "
        "given --trust-state (loading it deserializes a .NET object graph the sender wrote)"
    )


def ignored_note(bundle: Bundle) -> str | None:
    """The one line a replay without ``--trust-state`` prints about a carried state; None when it has none."""
    state = bundle.doc.get("renode_state")
    if not state or state.get("member") is None:
        return None
    return (
        f"the bundle carries a Renode state ({STATE_MEMBER}, {_mb(state['compressed_size'])} compressed / "
        f"{_mb(state['size'])}); ignored: this replay boots your own firmware. Pass --trust-state to load it "
        "instead (Renode then deserializes the sender's .NET objects: only for a sender you trust)"
    )


def unpack(bundle: Bundle, data: bytes | None, platform: Platform, folder: Path) -> TrustedState:
    """Check the carried state against bundle.json and this machine, unpack it into ``folder``.

    ``data`` is the member as read (``Bundle.state``). Every refusal is a
    ``BundleError`` naming the member and what was expected (exit 2); Renode
    missing here is ``EngineUnavailable`` (exit 2, like any missing engine).
    """
    from mpbench.engine.renode import find_renode, renode_version, stepped_mode

    where, doc = bundle.path, bundle.doc
    state = doc.get("renode_state")
    if not state or state.get("member") is None or data is None:
        why = f" ({state['reason']})" if state and state.get("reason") else ""
        raise BundleError(
            where,
            f"--trust-state: the bundle carries no Renode state{why}; expected one recorded with "
            f"{ENV}=1 on a Renode board",
        )
    at = f"{STATE_MEMBER}:"
    name = doc["platform"]["name"]
    if state["board"] != name or platform.name != name:
        raise BundleError(where, f"{at} saved for board {state['board']!r}, expected the bundle's board {name!r}")
    if platform.engine != "renode":
        raise BundleError(where, f"{at} a Renode state, but your {platform.path} runs on {platform.engine!r}")
    if not stepped_mode(platform):
        raise BundleError(
            where,
            f"{at} a state starts a board on the stepped clock, but {platform.name} is set to Renode's free clock "
            "here (MPBENCH_RENODE_CLOCK or clock: free); unset it to load the state",
        )
    if state["firmware_sha256"] != doc["firmware"]["sha256"]:
        raise BundleError(
            where,
            f"{at} saved with firmware sha256 {state['firmware_sha256']}, expected the bundle's "
            f"{doc['firmware']['sha256']}",
        )
    size = int(state["size"])
    if not 0 < size <= MAX_STATE_BYTES:
        raise BundleError(where, f"{at} bundle.json says it unpacks to {size} bytes; expected 1 to {MAX_STATE_BYTES}")
    binary, why = find_renode(platform)
    if binary is None:
        raise EngineUnavailable(f"--trust-state: {why}", engine="renode")
    local = renode_version(binary)
    if local != state["renode"]:
        raise BundleError(
            where, f"{at} saved by {state['renode']!r}, but this machine runs {local or 'an unknown Renode'!r}"
        )
    raw = _unxz(where, data, size)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != state["sha256"]:
        raise BundleError(
            where, f"{at} unpacks to sha256 {digest}, but bundle.json records {state['sha256']}: altered or damaged"
        )
    key = snapshot_key(platform_key_parts(platform, state["firmware_sha256"], local))
    if key != state["snapshot_key"]:
        raise BundleError(
            where,
            f"{at} saved for snapshot key {state['snapshot_key']}, but this machine's {platform.name} gives {key} "
            f"(your {platform.path.name}, its .repl/.resc, firmware sha256 and Renode version): expected the "
            "same board description as the sender's",
        )
    store = SnapshotStore(folder, key)
    folder.mkdir(parents=True, exist_ok=True)
    store.state_path.write_bytes(raw)
    store.boot_path.write_bytes(str(state["boot_output"]).encode("latin-1"))
    store.meta_path.write_text(json.dumps({"sha256": digest, "size": size, "vt_us": state.get("vt_us")}))
    fw = doc["firmware"]
    firmware = Firmware(
        fw["id"],
        store.state_path,
        fw["sha256"],
        fw["format"],
        None,
        fw["version"],
        f"the Renode state carried in {Path(where).name} (trusted with --trust-state)",
    )
    return TrustedState(store, firmware)


def _unxz(where: str, data: bytes, size: int) -> bytes:
    """Unpack at most ``size`` + 1 bytes: a member that inflates past its recorded size is refused there."""
    at = f"{STATE_MEMBER}:"
    d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    try:
        out = d.decompress(data, max_length=size + 1)
    except lzma.LZMAError as e:
        raise BundleError(where, f"{at} not xz data ({e}); expected the state compressed with xz") from e
    if len(out) > size:
        raise BundleError(where, f"{at} unpacks to more than the {size} bytes bundle.json records; refusing it")
    if not d.eof:
        raise BundleError(where, f"{at} the xz stream ends early ({len(out)} of {size} bytes); ask for it again")
    if d.unused_data:
        raise BundleError(where, f"{at} has data after the end of its xz stream")
    if len(out) != size:
        raise BundleError(where, f"{at} unpacks to {len(out)} bytes, but bundle.json records {size}")
    return out


__all__ = ["ENV", "MAX_STATE_BYTES", "carry", "describe_carried", "ignored_note", "requested", "unpack"]
