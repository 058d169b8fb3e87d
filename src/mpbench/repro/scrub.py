"""Keep the sender's machine out of a bundle: no absolute local paths.

A bundle is shared, and paths such as ``/home/alice/fw/pybv11.elf``, the
checkout's location or the engine's private ``/tmp/mpbench-…`` folder say
things about the sender's machine that the reader does not need (and the
private folder's name differs on every run, so it would make replays look
different). Two levels:

- ``known``: the paths a board knows it used (its engine's private folder,
  its firmware file, the platform folder and the checkout above it, the home
  folder) become placeholders such as ``$WORKDIR``. This is applied to the
  console transcript too, and a replay applies it to its own transcript
  (with its own paths) before fingerprinting, so both sides compare alike.
- ``text``: ``known`` plus any other absolute path reduced to ``…/basename``.
  For text no replay compares: the engine's command line and version, the
  firmware's source, the failure message, the boot output, the platform
  file's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: An absolute path not inside a word, a URL or another path: ``/a/b`` after a space, ``=``, ``:`` or a quote.
_ABSOLUTE = re.compile(r"(?<![\w.~$/\\])/(?:[\w.+@-]+/)*([\w.+@-]+)")


def known_paths(
    platform_file: str | Path, workdir: str | Path | None = None, firmware: str | Path | None = None
) -> list[tuple[str, str]]:
    """``(path, placeholder)`` for the paths a board used, longest first (so a folder inside another wins).

    ``platform_file`` is its platform file (its folder and the checkout above
    it), ``workdir`` its engine's private folder, ``firmware`` its image (or
    the unix port's command).
    """
    pairs: list[tuple[str, str]] = []
    if workdir:
        pairs.append((str(workdir), "$WORKDIR"))
    if firmware:
        path = Path(firmware)
        pairs.append((str(path), "$FIRMWARE"))
        pairs.append((str(path.parent), "$FIRMWARE_DIR"))
    folder = Path(platform_file).resolve().parent
    pairs += [(str(folder), "$PLATFORMS"), (str(folder.parent), "$CHECKOUT")]
    pairs.append((str(Path.home()), "~"))
    pairs = [(p, h) for p, h in pairs if len(p) > 1 and p.startswith("/")]  # never "/" itself
    return sorted(set(pairs), key=lambda ph: -len(ph[0]))


def board_paths(board: Any) -> list[tuple[str, str]]:
    """``known_paths`` of a started (or stopped) ``Board``."""
    engine, fw = board.engine, board.firmware
    return known_paths(
        board.platform.path, getattr(engine, "workdir", None), getattr(fw, "path", None) if fw is not None else None
    )


def known(text: str, paths: Sequence[tuple[str, str]]) -> str:
    """``text`` with each known path replaced by its placeholder."""
    for path, placeholder in paths:
        if path in text:  # only whole path components: /root must not turn /rootfs into ~fs
            text = re.sub(re.escape(path) + r"(?![\w.+@-])", lambda _m, h=placeholder: h, text)
    return text


def scrub_text(text: str, paths: Sequence[tuple[str, str]]) -> str:
    """``known``, then every other absolute path as ``…/basename``."""
    return _ABSOLUTE.sub(lambda m: f"…/{m.group(1)}", known(text, paths))


def scrub_records(records: Iterable[Mapping[str, Any]], paths: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Transcript records with known paths replaced (latin-1 text in, latin-1 text out).

    Console bytes are only changed where a known path occurs, so the
    fingerprint stays that of the bytes the board sent, with the machine's
    paths as placeholders on both sides of a comparison. Events (notes such as
    the Renode monitor commands sent) are not console bytes and are scrubbed
    fully.
    """
    latin = [(p.encode("utf-8").decode("latin-1"), h) for p, h in paths]
    out = []
    for r in records:
        data = str(r["data"])
        data = scrub_text(data, latin) if r["dir"] == "event" else known(data, latin)
        out.append({**r, "data": data})
    return out


__all__ = ["board_paths", "known", "known_paths", "scrub_records", "scrub_text"]
