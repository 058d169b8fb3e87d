"""The firmware layer: which images exist, getting their bytes, and reading their formats.

``manifest`` says what an image is (pinned by version and sha256), ``cache``
turns an entry into a checked file on disk (fetching only when asked), and
``formats`` reads any image into address segments for an engine to load.
Engines import from here; nothing here knows about engines or sessions.
"""

from mpbench.firmware.cache import Firmware, available, cache_dir, resolve, sha256_file, verify
from mpbench.firmware.formats import Segment, detect_format, read_segments, write_flat
from mpbench.firmware.manifest import FirmwareEntry, FirmwareSource, entry_for, load_manifest

__all__ = [
    "Firmware",
    "FirmwareEntry",
    "FirmwareSource",
    "Segment",
    "available",
    "cache_dir",
    "detect_format",
    "entry_for",
    "load_manifest",
    "read_segments",
    "resolve",
    "sha256_file",
    "verify",
    "write_flat",
]
