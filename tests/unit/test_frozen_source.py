"""Where the source of a frozen module comes from, and every reason it cannot be used."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from mpbench.frozen import ENV, frozen_source
from mpbench.platform import Platform
from mpbench.platform_loader import load_platform, validate_files

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "lib/micropython-lib/python-stdlib/demo/demo.py"
TEXT = b"def f():\n    return 1\n"


def _platform(tmp: Path, **frozen: object) -> Path:
    data = yaml.safe_load((ROOT / "platforms" / "unix.yaml").read_text())
    data["frozen_module"] = {"name": "demo", "source": SOURCE, "sha256": hashlib.sha256(TEXT).hexdigest(), **frozen}
    path = tmp / "unix.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return load_platform(_platform(tmp_path))


def test_without_a_checkout_the_reason_names_the_variable(platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    path, why = frozen_source(platform)
    assert path is None
    assert ENV in why and "'demo'" in why


def test_a_checkout_that_is_not_a_folder_is_named(platform, tmp_path: Path) -> None:
    path, why = frozen_source(platform, str(tmp_path / "nowhere"))
    assert path is None and "not a folder" in why


def test_a_checkout_without_the_file_says_which_file(platform, tmp_path: Path) -> None:
    path, why = frozen_source(platform, str(tmp_path))
    assert path is None and SOURCE in why


@pytest.mark.parametrize("inner", [SOURCE, "python-stdlib/demo/demo.py"], ids=["micropython", "micropython-lib"])
def test_the_pinned_file_is_found_in_either_kind_of_checkout(platform, tmp_path: Path, inner: str) -> None:
    f = tmp_path / "co" / inner
    f.parent.mkdir(parents=True)
    f.write_bytes(TEXT)
    path, why = frozen_source(platform, str(tmp_path / "co"))
    assert path == f, why


def test_another_release_of_the_source_is_refused_with_both_digests(platform, tmp_path: Path) -> None:
    f = tmp_path / SOURCE
    f.parent.mkdir(parents=True)
    f.write_bytes(TEXT + b"# changed\n")
    path, why = frozen_source(platform, str(tmp_path))
    assert path is None
    assert hashlib.sha256(TEXT + b"# changed\n").hexdigest()[:12] in why
    assert hashlib.sha256(TEXT).hexdigest()[:12] in why


def test_a_list_of_digests_accepts_each(tmp_path: Path) -> None:
    other = hashlib.sha256(b"x").hexdigest()
    platform = load_platform(_platform(tmp_path, sha256=[other, hashlib.sha256(TEXT).hexdigest()]))
    f = tmp_path / "co" / SOURCE
    f.parent.mkdir(parents=True)
    f.write_bytes(TEXT)
    assert frozen_source(platform, str(tmp_path / "co"))[0] == f


def test_a_claimed_frozen_module_without_its_section_is_one_clear_error(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "platforms" / "unix.yaml").read_text())
    del data["frozen_module"]
    path = tmp_path / "unix.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    errors = validate_files([path])
    assert len(errors) == 1, errors
    assert "frozen_module" in str(errors[0]) and "name, source, sha256" in str(errors[0])


@pytest.mark.parametrize("source", ["../../etc/passwd.py", "/etc/x.py", "a/../b.py", "demo.txt"])
def test_a_source_path_leaving_the_checkout_is_refused(tmp_path: Path, source: str) -> None:
    errors = validate_files([_platform(tmp_path, source=source)])
    assert errors and "frozen_module.source" in str(errors[0]), errors
