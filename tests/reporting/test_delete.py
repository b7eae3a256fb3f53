"""Contract section 4: ``delete PATH``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot_core.reporting import DeleteResult

from .helpers import DROP_DAC, cli, report, snapshot, write


@pytest.fixture
def emergency(base: Path) -> Path:
    return report(
        base,
        "emergency/2024-06-12",
        {"type": "incident"},
        {"timeline.md": "12345", "exports/orders.csv": "123"},
    )


def test_dry_run_previews_and_changes_nothing(work: Path, base: Path, emergency: Path) -> None:
    before = snapshot(work)
    run = cli("delete", "emergency/2024-06-12", "--dry-run", cwd=work)
    assert run.code == 0
    result = run.model(DeleteResult)
    assert result.status == "preview" and result.dry_run is True
    assert (result.removed_files, result.removed_directories) == (3, 2)
    assert result.removed_size == 5 + 3 + len('{"type": "incident"}')
    assert result.relative_path == "emergency/2024-06-12"
    assert result.absolute_path == str(emergency)
    assert result.base_directory == str(base)
    assert snapshot(work) == before


def test_delete_removes_everything_under_the_path(work: Path, base: Path, emergency: Path) -> None:
    run = cli("delete", "emergency/2024-06-12", cwd=work)
    assert run.code == 0
    data = run.json
    assert "dry_run" not in data and "error" not in data
    assert data["status"] == "deleted"
    assert (data["removed_files"], data["removed_directories"]) == (3, 2)
    assert not emergency.exists() and (base / "emergency").is_dir()  # parents stay


def test_absolute_path_inside_base_and_single_files(
    work: Path, base: Path, emergency: Path
) -> None:
    run = cli("delete", str(emergency / "timeline.md"), cwd=work)
    result = run.model(DeleteResult)
    assert (result.status, result.removed_files, result.removed_directories) == ("deleted", 1, 0)
    assert result.relative_path == "emergency/2024-06-12/timeline.md"


def test_missing_path_is_not_found_exit_0(work: Path, base: Path) -> None:
    run = cli("delete", "daily/nope", cwd=work)
    assert run.code == 0 and run.json["status"] == "not_found"
    assert run.json["removed_files"] == 0


def test_symlink_path_deletes_the_link_only(work: Path, base: Path, tmp_path: Path) -> None:
    target = write(tmp_path / "keep" / "precious.txt", "keep me")
    os.symlink(target.parent, base / "link_to_dir")
    run = cli("delete", "link_to_dir", cwd=work)
    assert run.json["status"] == "deleted" and run.json["removed_files"] == 1
    assert not os.path.lexists(base / "link_to_dir")
    assert target.read_text() == "keep me"


def test_path_through_a_symlinked_directory_is_refused(
    work: Path, base: Path, tmp_path: Path
) -> None:
    write(tmp_path / "outside" / "victim.txt", "v")
    os.symlink(tmp_path / "outside", base / "sneaky")
    before = snapshot(tmp_path)
    line = cli("delete", "sneaky/victim.txt", cwd=work).assert_clean_error(2)
    assert "symlink" in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("", "blank"),
        ("   ", "blank"),
        ("..", "outside"),
        ("../var", "outside"),
        ("daily/../../x", "outside"),
        ("/etc/passwd", "outside"),
        (".", "base directory itself"),
        ("daily/..", "base directory itself"),
    ],
)
def test_unsafe_paths_exit_2(
    work: Path, base: Path, emergency: Path, path: str, fragment: str
) -> None:
    before = snapshot(work)
    assert fragment in cli("delete", path, cwd=work).assert_clean_error(2)
    assert snapshot(work) == before


def test_absolute_base_itself_is_refused(work: Path, base: Path, emergency: Path) -> None:
    assert "base directory itself" in cli("delete", str(base), cwd=work).assert_clean_error(2)
    assert emergency.exists()


def test_escaped_non_utf8_path_from_json_can_be_deleted(work: Path, base: Path) -> None:
    raw = os.fsencode(base) + b"/diag/h\xff"
    os.makedirs(raw)
    with open(raw + b"/f.bin", "wb") as handle:
        handle.write(b"1")
    run = cli("delete", "diag/h\\xff", cwd=work)
    assert run.json["status"] == "deleted" and run.json["relative_path"] == "diag/h\\xff"
    assert not os.path.exists(raw)


def test_unreadable_directory_is_an_error_and_nothing_is_deleted(work: Path, base: Path) -> None:
    directory = report(base, "daily/a", {"x": 1}, {"ok.csv": "1", "locked/inner.csv": "2"})
    os.chmod(directory / "locked", 0)
    try:
        before = snapshot(work)
        line = cli("delete", "daily/a", cwd=work, prefix=DROP_DAC).assert_clean_error(1)
        assert "Permission denied" in line
        os.chmod(directory / "locked", 0o755)
        assert snapshot(work) == before
    finally:
        os.chmod(directory / "locked", 0o755)


def test_base_that_is_a_file_is_refused(work: Path) -> None:
    write(work / "notadir", "x")
    cli("delete", "x", "--base-dir", "notadir", cwd=work).assert_clean_error(2)
