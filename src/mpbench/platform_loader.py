"""Read platform files into ``Platform`` objects, or say exactly what is wrong.

A platform file is written by hand, so every error names the file, the dotted
key and its line: PyYAML's node tree is composed first to learn the line of
every key, then the data is checked against ``platform_schema.json`` (shape,
types, misspelt keys) and against the rules a schema cannot state (the name
matches the file, every feature is stated once). All problems in a file are
reported together, so one run shows everything to fix.

A platform file is also code (it chooses the emulator's arguments and
Renode's monitor lines), and may come from someone else, so the reader is
defensive: YAML anchors and aliases are refused (an alias "bomb" of nine
nested lists of nine aliases stands for 9^9 items, which walking the tree or
validating it would expand), as are files over ``MAX_BYTES``, nesting deeper
than ``MAX_DEPTH`` and anything that is not UTF-8 text. Each such file gets
one line naming it and what was expected, never its contents or a traceback.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from mpbench.errors import PlatformError, PlatformErrors
from mpbench.platform import FEATURES, Console, Feature, FrozenModule, IrqSource, Mcu, Memory, Platform, Repl

KeyPath = tuple[Any, ...]

#: Largest platform file read (the real ones are 3-6 KB).
MAX_BYTES = 1024 * 1024
#: Deepest nesting of mappings and lists accepted (the real files nest 4 deep).
MAX_DEPTH = 32
_EXPECTED = "expected a YAML platform file"
_NO_ANCHORS = "YAML anchors and aliases are not allowed in a platform file ({} here): write each value out"


class _Refused(Exception):
    """The YAML uses something a platform file may not (an anchor, an alias, deep nesting)."""

    def __init__(self, message: str, mark: yaml.Mark | None):
        super().__init__(message)
        self.message, self.mark = message, mark


class _PlatformYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses anchors and aliases and deep nesting while composing.

    Refusing at composition means an alias bomb is never expanded: the
    composer sees each ``&anchor`` and ``*alias`` event once, in file order.
    """

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(_NO_ANCHORS.format(f"*{event.anchor}"), event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused(_NO_ANCHORS.format(f"&{anchor}"), event.start_mark)
        depth = getattr(self, "_mpbench_depth", 0)
        if depth >= MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep; {_EXPECTED}", event.start_mark)
        self._mpbench_depth = depth + 1
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._mpbench_depth = depth


__all__ = ["default_directory", "find_platform", "load_all", "load_platform", "validate_files"]


@cache
def _validator() -> Draft202012Validator:
    """The schema ships inside the package, so an installed mpbench validates the same way."""
    text = resources.files("mpbench").joinpath("platform_schema.json").read_text(encoding="utf-8")
    return Draft202012Validator(json.loads(text))


def default_directory() -> Path:
    """``$MPBENCH_PLATFORMS``, else the shipped ``platforms/`` folder (see ``mpbench.data``)."""
    from mpbench.data import shipped

    env = os.environ.get("MPBENCH_PLATFORMS")
    return Path(env) if env else shipped("platforms")


def _dotted(path: Iterable[Any]) -> str:
    """``('features', 'present', 3)`` -> ``features.present[3]``: the way a person names a spot."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _parse(path: str, text: str) -> tuple[Any, dict[KeyPath, int], list[PlatformError]]:
    """Parse YAML, recording the 1-based line of every mapping key and sequence item by key path.

    Duplicate keys are reported: PyYAML would silently keep the last one.
    Anchors, aliases and deep nesting are refused (see the module's docstring).
    """
    try:
        loader = _PlatformYamlLoader(text)
    except yaml.YAMLError as e:  # the reader rejects control characters as it starts
        return None, {}, [PlatformError(path, f"not a YAML text file ({_short(e)}); {_EXPECTED}")]
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except _Refused as e:
        return None, {}, [PlatformError(path, e.message, line=e.mark.line + 1 if e.mark else None)]
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        detail = e.problem or e.context or "cannot parse"
        if e.context and e.context_mark and e.problem:
            detail += f" ({e.context} that starts on line {e.context_mark.line + 1})"
        if Path(path).suffix not in (".yaml", ".yml"):  # most likely not meant as YAML at all
            detail = f"not YAML (a syntax error: {detail}); {_EXPECTED}"
        else:
            detail = f"YAML syntax error: {detail}"
        return None, {}, [PlatformError(path, detail, line=mark.line + 1 if mark else None)]
    except yaml.YAMLError as e:
        return None, {}, [PlatformError(path, f"YAML error: {_short(e)}; {_EXPECTED}")]
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    errors: list[PlatformError] = []

    def walk(n: yaml.Node, at: KeyPath) -> None:
        if isinstance(n, yaml.MappingNode):
            for key_node, value_node in n.value:
                key = loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else "?"
                here = (*at, key)
                if here in lines:
                    errors.append(PlatformError(path, "duplicate key", _dotted(here), key_node.start_mark.line + 1))
                lines[here] = key_node.start_mark.line + 1
                walk(value_node, here)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*at, i)] = item.start_mark.line + 1
                walk(item, (*at, i))

    if node is not None:
        lines[()] = node.start_mark.line + 1
        walk(node, ())
    return data, lines, errors


def _short(value: object, limit: int = 60) -> str:
    """``value`` on one line, cut to ``limit`` characters: error messages never echo a whole file."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(value: object) -> str:
    """A short ``repr`` of a value from the file, for messages."""
    return _short(repr(value))


def _line(lines: dict[KeyPath, int], at: KeyPath) -> int | None:
    """The line of the deepest recorded key on ``at``: a bad value points at its key."""
    at = tuple(at)
    while at not in lines and at:
        at = at[:-1]
    return lines.get(at)


def _schema_errors(path: str, data: Any, lines: dict[KeyPath, int]) -> list[PlatformError]:
    """jsonschema's errors, reworded where the default text would not tell a person what to do."""
    out: list[PlatformError] = []
    for err in sorted(_validator().iter_errors(data), key=lambda e: (_line(lines, e.absolute_path) or 0, str(e.path))):
        at = tuple(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = list(err.schema.get("properties", {}))
            for extra in [k for k in err.instance if k not in known]:
                here = (*at, extra)
                msg = f"unknown key (expected one of: {', '.join(known)})"
                out.append(PlatformError(path, msg, _dotted(here), _line(lines, here)))
            continue
        if "propertyNames" in err.schema_path:  # the bad thing is the key itself, not a value
            at = (*at, err.instance)
        if err.validator == "required" and (m := re.match(r"'(.+)' is a required property$", err.message)):
            out.append(PlatformError(path, "missing (required)", _dotted((*at, m.group(1))), _line(lines, at)))
            continue
        if err.validator == "enum":
            msg = f"{_shown(err.instance)} is not one of: {', '.join(map(str, err.validator_value))}"
        elif err.validator == "type":
            msg = f"expected {err.validator_value}, got {type(err.instance).__name__} {_shown(err.instance)}"
        elif isinstance(err.instance, (dict, list, str)) and len(str(err.instance)) > 60:
            msg = f"{_shown(err.instance)}: fails the schema's {err.validator!r} rule ({_short(err.validator_value)})"
        else:
            msg = err.message
        out.append(PlatformError(path, msg, _dotted(at) or None, _line(lines, at)))
    return out


def _rule_errors(path: str, data: dict[str, Any], lines: dict[KeyPath, int]) -> list[PlatformError]:
    """The rules a JSON Schema cannot express; each check tolerates shapes the schema already rejected."""
    out: list[PlatformError] = []

    def err(at: KeyPath, msg: str) -> None:
        out.append(PlatformError(path, msg, _dotted(at), _line(lines, at)))

    stem = Path(path).stem
    if isinstance(data.get("name"), str) and data["name"] != stem:
        err(("name",), f"{data['name']!r} does not match the file name (expected {stem!r})")
    engines = data.get("engines") if isinstance(data.get("engines"), dict) else {}
    if isinstance(data.get("engine"), str) and data["engine"] not in engines:
        have = ", ".join(engines) or "none"
        err(("engine",), f"{data['engine']!r} has no section under engines (have: {have})")
    features = data.get("features") if isinstance(data.get("features"), dict) else {}
    present = features.get("present") if isinstance(features.get("present"), list) else []
    absent = features.get("absent") if isinstance(features.get("absent"), dict) else {}
    for name in absent:
        if name in present:
            err(("features", "absent", name), f"{name!r} is listed both as present and as absent")
    missing = [f for f in FEATURES if f not in present and f not in absent]
    if missing and "features" in data:
        err(("features",), f"does not state: {', '.join(missing)} (list every feature under present or absent)")
    if "frozen_module" in present and "frozen_module" not in data:
        err(
            ("features", "present"),
            "lists 'frozen_module' but the file has no frozen_module: section (expected name, source, sha256)",
        )
    irqs = data.get("irq_sources") if isinstance(data.get("irq_sources"), dict) else {}
    for name, spec in irqs.items():
        if isinstance(spec, dict) and isinstance(spec.get("start"), str) and "{cb}" not in spec["start"]:
            err(("irq_sources", name, "start"), "must contain {cb}, where the callback's name goes")
    return out


def _check(path: Path) -> tuple[Any, list[PlatformError]]:
    """Read, parse and validate one file: its data and every problem found."""
    where = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return None, [PlatformError(where, f"{size} bytes is too large (at most {MAX_BYTES}); {_EXPECTED}")]
        raw = path.read_bytes()
    except OSError as e:
        return None, [PlatformError(where, f"cannot read: {e.strerror or e}")]
    try:
        if b"\x00" in raw:
            raise ValueError("it holds NUL bytes")
        text = raw.decode("utf-8")
    except (UnicodeDecodeError, ValueError) as e:
        why = e.reason if isinstance(e, UnicodeDecodeError) else str(e)
        return None, [PlatformError(where, f"not a text file ({why}); {_EXPECTED} in UTF-8")]
    data, lines, errors = _parse(where, text)
    if errors and not lines:
        return None, errors
    if data is None:
        return None, [*errors, PlatformError(where, "the file is empty", line=1)]
    if not isinstance(data, dict):
        what = "a text" if isinstance(data, str) else f"a {type(data).__name__}"
        return None, [
            *errors,
            PlatformError(
                where,
                f"{_EXPECTED}: a mapping of keys (name, title, mcu, ...) at the top level, but it is {what}",
                line=lines.get(()),
            ),
        ]
    errors += _schema_errors(where, data, lines)
    errors += _rule_errors(where, data, lines)
    return data, sorted(errors, key=lambda e: e.line or 0)


def _build(path: Path, d: dict[str, Any]) -> Platform:
    """Turn validated data into the frozen dataclasses."""
    feats = d["features"]
    features = {n: Feature(n, True, "") for n in feats.get("present", [])}
    features |= {n: Feature(n, False, reason) for n, reason in feats.get("absent", {}).items()}
    return Platform(
        name=d["name"],
        title=d["title"],
        path=path,
        mcu=Mcu(**d["mcu"]),
        console=Console(**d["console"]),
        repl=Repl(**d["repl"]),
        firmware=d["firmware"],
        engine=d["engine"],
        engines=d["engines"],
        features={n: features[n] for n in FEATURES},
        memory=Memory(**d.get("memory", {})),
        irq_sources={
            n: IrqSource(name=n, **{**s, "external": tuple(s.get("external", ()))})
            for n, s in (d.get("irq_sources") or {}).items()
        },
        boot_timeout=float(d.get("boot_timeout", 30.0)),
        notes=d.get("notes", ""),
        frozen_module=_frozen(d.get("frozen_module")),
    )


def _frozen(spec: dict[str, Any] | None) -> FrozenModule | None:
    if spec is None:
        return None
    sha = spec["sha256"]
    return FrozenModule(
        name=spec["name"],
        source=spec["source"],
        sha256=(sha,) if isinstance(sha, str) else tuple(sha),
        note=spec.get("note", ""),
    )


def load_platform(path: str | os.PathLike[str]) -> Platform:
    """Load one platform file; raise ``PlatformErrors`` listing every problem in it."""
    p = Path(path)
    data, errors = _check(p)
    if errors:
        raise PlatformErrors(errors)
    return _build(p, data)


def validate_files(paths: Iterable[str | os.PathLike[str]]) -> list[PlatformError]:
    """Every problem in the given files, without raising: for ``mpbench validate`` and CI."""
    return [e for p in paths for e in _check(Path(p))[1]]


def load_all(directory: str | os.PathLike[str] | None = None) -> dict[str, Platform]:
    """Every ``*.yaml`` in ``directory`` by name; one bad file fails the lot, with all errors listed."""
    files = sorted(Path(directory or default_directory()).glob("*.yaml"))
    errors = validate_files(files)
    if errors:
        raise PlatformErrors(errors)
    return {p.stem: load_platform(p) for p in files}


def find_platform(name_or_path: str | os.PathLike[str], directory: str | os.PathLike[str] | None = None) -> Platform:
    """A platform by name (looked up in ``directory``) or by the path of its file."""
    text = os.fspath(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text or "/" in text:
        return load_platform(text)
    folder = Path(directory or default_directory())
    candidate = folder / f"{text}.yaml"
    if not candidate.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none"
        raise PlatformError(str(folder), f"unknown platform {text!r}; known platforms: {known}")
    return load_platform(candidate)
