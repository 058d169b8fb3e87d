"""Platform files load, and a broken one is reported with its file, key and line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mpbench.errors import PlatformError, PlatformErrors
from mpbench.platform import ENGINES, FEATURES
from mpbench.platform_loader import default_directory, find_platform, load_all, load_platform, validate_files
from support import mpbench

PLATFORMS = Path(__file__).resolve().parents[2] / "platforms"
SCHEMA = Path(__file__).resolve().parents[2] / "src" / "mpbench" / "platform_schema.json"
MICROBIT = (PLATFORMS / "microbit.yaml").read_text(encoding="utf-8")


def edited(tmp_path: Path, old: str, new: str, name: str = "microbit.yaml") -> Path:
    """A copy of microbit.yaml with one small text edit, written under tmp_path."""
    assert old in MICROBIT, f"microbit.yaml no longer contains {old!r}"
    path = tmp_path / name
    path.write_text(MICROBIT.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(path: Path, text: str) -> int:
    """The 1-based line where ``text`` first appears: the line the error must point at."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def errors_of(path: Path) -> list[PlatformError]:
    with pytest.raises(PlatformErrors) as info:
        load_platform(path)
    assert validate_files([path]) and len(validate_files([path])) == len(info.value.errors)
    return info.value.errors


def only_error(path: Path) -> PlatformError:
    errors = errors_of(path)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


@pytest.mark.parametrize("path", sorted(PLATFORMS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_platform_file_loads_and_validates(path: Path) -> None:
    assert validate_files([path]) == []
    platform = load_platform(path)
    assert platform.name == path.stem
    assert set(platform.features) == set(FEATURES)
    assert platform.engine in platform.engines
    for source in platform.irq_sources.values():
        assert "{cb}" in source.start


def test_load_all_and_find_platform_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPBENCH_PLATFORMS", raising=False)
    assert default_directory() == PLATFORMS
    platforms = load_all()
    assert {"microbit", "unix", "pyboard", "spike-prime", "spike-prime-pybricks", "esp32"} <= set(platforms)
    assert find_platform("microbit", PLATFORMS).path == platforms["microbit"].path
    assert find_platform(str(PLATFORMS / "unix.yaml")).name == "unix"


def test_dataclasses_are_built_from_the_file() -> None:
    microbit = load_platform(PLATFORMS / "microbit.yaml")
    assert microbit.console.rx_buffer == 63
    assert microbit.has("kbd_intr") and not microbit.has("schedule")
    assert "scheduler" in microbit.why_not("schedule")
    pyboard = load_platform(PLATFORMS / "pyboard.yaml")
    assert pyboard.engine_config["filesystem"]["address"] == 0x08004000
    assert pyboard.irq_sources["timer"].kind == "hard"
    assert pyboard.irq_sources["timer"].rate_hz == 100


def test_misspelt_key_names_file_dotted_key_and_line(tmp_path: Path) -> None:
    path = edited(tmp_path, "  baud: 115200", "  baudd: 115200")
    error = only_error(path)
    assert error.path == str(path)
    assert error.key == "console.baudd"
    assert error.line == line_of(path, "baudd:")
    assert str(error) == (
        f"{path}:{error.line}: console.baudd: unknown key (expected one of: uart, baud, rx_buffer, interrupt)"
    )


def test_misspelt_key_in_an_engine_section(tmp_path: Path) -> None:
    path = edited(tmp_path, "    machine: microbit", "    machine: microbit\n    machien: microbit")
    error = only_error(path)
    assert (error.key, error.line) == ("engines.qemu.machien", line_of(path, "machien:"))


def test_wrong_type_names_key_and_line(tmp_path: Path) -> None:
    path = edited(tmp_path, "  baud: 115200", '  baud: "fast"')
    error = only_error(path)
    assert (error.key, error.line) == ("console.baud", line_of(path, "baud:"))
    assert "integer" in error.detail and "'fast'" in error.detail


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = edited(tmp_path, "  arch: cortex-m0", "  arch: [cortex-m0")
    error = only_error(path)
    assert error.path == str(path)
    assert "YAML syntax error" in error.detail
    # PyYAML notices the unclosed list at the next key and says where the list began.
    assert error.line == line_of(path, "clock_hz:")
    assert f"starts on line {line_of(path, 'arch: [')}" in error.detail


def test_bad_indentation_points_at_the_line(tmp_path: Path) -> None:
    path = edited(tmp_path, "  part: nRF51822", "  part: nRF51822\n bad: 1")
    error = only_error(path)
    assert error.line == line_of(path, " bad: 1")


def test_name_must_match_the_file_stem(tmp_path: Path) -> None:
    path = edited(tmp_path, "title:", "title:", name="other.yaml")
    error = only_error(path)
    assert (error.key, error.line) == ("name", line_of(path, "name: microbit"))
    assert "'other'" in error.detail


def test_feature_both_present_and_absent(tmp_path: Path) -> None:
    path = edited(tmp_path, "present: [const,", "present: [schedule, const,")
    error = only_error(path)
    assert (error.key, error.line) == ("features.absent.schedule", line_of(path, "    schedule:"))
    assert "both" in error.detail


def test_every_feature_must_be_stated(tmp_path: Path) -> None:
    path = edited(tmp_path, ", kbd_intr_char]", "]")
    error = only_error(path)
    assert (error.key, error.line) == ("features", line_of(path, "features:"))
    assert "kbd_intr_char" in error.detail


def test_misspelt_feature_name(tmp_path: Path) -> None:
    path = edited(tmp_path, "    heap_locked:", "    heap_lockd:")
    errors = errors_of(path)
    assert [e.key for e in errors] == ["features", "features.absent.heap_lockd"]
    assert "heap_locked" in errors[0].detail
    assert errors[1].line == line_of(path, "heap_lockd:")


def test_unknown_engine(tmp_path: Path) -> None:
    path = edited(tmp_path, "engine: qemu", "engine: bochs")
    errors = errors_of(path)
    line = line_of(path, "engine: bochs")
    assert [(e.key, e.line) for e in errors] == [("engine", line), ("engine", line)]
    assert "qemu, renode, host" in errors[0].detail
    assert "no section under engines" in errors[1].detail


def test_engine_without_a_section(tmp_path: Path) -> None:
    path = edited(tmp_path, "engine: qemu", "engine: renode")
    error = only_error(path)
    assert (error.key, error.line) == ("engine", line_of(path, "engine: renode"))
    assert "have: qemu" in error.detail


def test_missing_required_key(tmp_path: Path) -> None:
    path = edited(tmp_path, "  uart: uart0\n", "")
    error = only_error(path)
    assert (error.key, error.line) == ("console.uart", line_of(path, "console:"))


def test_irq_start_needs_the_callback_placeholder(tmp_path: Path) -> None:
    irq = "irq_sources:\n  tick:\n    kind: soft\n    start: t = Timer(callback=f)\n    stop: t.deinit()\n"
    path = edited(tmp_path, "irq_sources: {}\n", irq)
    error = only_error(path)
    assert (error.key, error.line) == ("irq_sources.tick.start", line_of(path, "start:"))


def test_duplicate_key_is_reported(tmp_path: Path) -> None:
    path = edited(tmp_path, "  baud: 115200", "  baud: 115200\n  baud: 9600")
    error = only_error(path)
    assert (error.key, error.line) == ("console.baud", line_of(path, "baud: 9600"))


def test_all_errors_in_a_file_are_reported_together(tmp_path: Path) -> None:
    path = edited(tmp_path, "  baud: 115200", '  baud: "fast"\n  speed: 1')
    with pytest.raises(PlatformErrors) as info:
        load_platform(path)
    assert [e.key for e in info.value.errors] == ["console.baud", "console.speed"]
    assert "console.baud" in str(info.value) and "console.speed" in str(info.value)


def test_find_platform_unknown_name_lists_known_ones(tmp_path: Path) -> None:
    (tmp_path / "microbit.yaml").write_text(MICROBIT, encoding="utf-8")
    with pytest.raises(PlatformError) as info:
        find_platform("microbat", tmp_path)
    assert "'microbat'" in str(info.value) and "microbit" in str(info.value)
    with pytest.raises(PlatformError, match="unix"):
        find_platform("no-such-board", PLATFORMS)


def test_find_platform_uses_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "microbit.yaml").write_text(MICROBIT, encoding="utf-8")
    monkeypatch.setenv("MPBENCH_PLATFORMS", str(tmp_path))
    assert find_platform("microbit").path == tmp_path / "microbit.yaml"


def test_missing_and_empty_files(tmp_path: Path) -> None:
    assert "cannot read" in validate_files([tmp_path / "gone.yaml"])[0].detail
    (tmp_path / "empty.yaml").write_text("# nothing\n", encoding="utf-8")
    assert "empty" in validate_files([tmp_path / "empty.yaml"])[0].detail


def test_schema_feature_enum_equals_features() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert tuple(schema["$defs"]["feature"]["enum"]) == FEATURES
    assert tuple(schema["properties"]["engine"]["enum"]) == ENGINES
    assert tuple(schema["properties"]["engines"]["properties"]) == ENGINES


# -- input that is not a platform file, or that would cost too much to read ------------
def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs" in YAML: each list holds nine aliases of the one before (9^9 items)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def validate_cli(*paths: Path) -> subprocess.CompletedProcess[str]:
    """``mpbench platforms validate`` as a user runs it; a reader that expands a bomb times out here."""
    return mpbench("platforms", "validate", *map(str, paths), timeout=120.0)


def test_an_alias_bomb_is_refused_in_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("# a comment first\n" + alias_bomb(), encoding="utf-8")
    r = validate_cli(path)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"mpbench: {path}:2: YAML anchors and aliases are not allowed in a platform file (&a0 here): "
        "write each value out"
    ]


def test_any_anchor_or_alias_is_refused_even_a_harmless_one(tmp_path: Path) -> None:
    path = edited(tmp_path, "console:\n", "console: &console\n")
    error = only_error(path)
    assert error.line == line_of(path, "console: &console") and "&console here" in error.detail
    merge = tmp_path / "merge.yaml"
    merge.write_text("base: {a: 1}\nother:\n  <<: *base\n", encoding="utf-8")
    error = only_error(merge)
    assert error.line == 3 and "*base here" in error.detail  # an alias to an anchor that was never defined


def test_nesting_too_deep_is_one_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("name: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    r = validate_cli(path)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"mpbench: {path}:1: nested more than 32 levels deep; expected a YAML platform file"
    ]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("mpbench-binary.yaml", bytes(range(256)) * 64, "not a text file (it holds NUL bytes)"),
        ("latin1.yaml", "name: caf\xe9\n".encode("latin-1"), "not a text file (invalid continuation byte)"),
        ("tool.py", b"import os\n\ndef main():\n    print(os.getcwd())\n\nmain()\n", "not YAML (a syntax error"),
        ("notes.txt", b"just some words " * 500, "a mapping of keys (name, title, mcu, ...) at the top level"),
        ("list.yaml", b"- " + b"item\n- " * 1000 + b"last\n", "at the top level, but it is a list"),
    ],
    ids=["binary", "not-utf8", "python", "plain-text", "list"],
)
def test_a_file_that_is_not_a_platform_file_gets_one_line_saying_what_was_expected(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    r = validate_cli(path)
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr[:2000]
    assert lines[0].startswith(f"mpbench: {path}") and expected in lines[0]
    assert "expected a YAML platform file" in lines[0]
    assert len(lines[0]) < 300  # the file's contents are not echoed


def test_a_file_over_a_megabyte_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(MICROBIT + "#" * (1024 * 1024) + "\n", encoding="utf-8")
    error = only_error(path)
    assert "is too large (at most 1048576)" in error.detail


def test_a_long_value_of_the_wrong_type_is_shown_shortened(tmp_path: Path) -> None:
    path = edited(tmp_path, "  baud: 115200", "  baud: " + "x" * 5000)
    error = only_error(path)
    assert error.key == "console.baud" and "expected integer, got str 'xxx" in error.detail
    assert len(str(error)) < 300
