"""Contract section 6: ``archive`` to a directory, zip or tar.gz."""

from __future__ import annotations

import hashlib
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from bot_core.reporting import ArchiveResult

from .helpers import cli, report, snapshot, write


@pytest.fixture
def daily(base: Path) -> Path:
    report(
        base,
        "daily/2024-05-01",
        {"report_date": "2024-05-01"},
        {"ledger.csv": "a,b\n1,2\n", "exports/trades.csv": "t\n"},
        mtime="2024-05-01T18:00:00Z",
    )
    report(
        base,
        "daily/2024-05-02",
        {"report_date": "2024-05-02"},
        {"ledger.csv": "c\n"},
        mtime="2024-05-02T18:00:00Z",
    )
    write(base / "standalone.json", '{"a": 1}', mtime="2024-05-03T00:00:00Z")
    report(base, "smoke/s", {"x": 1}, mtime="2024-05-01T00:00:00Z")
    return base


def archive(work: Path, *args: str) -> ArchiveResult:
    run = cli("archive", *args, cwd=work)
    assert run.code == 0, run.stderr
    return run.model(ArchiveResult)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_dry_run_copies_nothing(work: Path, daily: Path) -> None:
    before = snapshot(work)
    result = archive(
        work,
        "--category",
        "daily",
        "--format",
        "zip",
        "--destination",
        "audit/daily_archives",
        "--dry-run",
    )
    assert snapshot(work) == before
    assert result.status == "preview" and result.dry_run is True and result.copied_count == 0
    assert [t.status for t in result.targets] == ["preview", "preview"]
    assert [t.sha256 for t in result.targets] == [None, None]
    assert result.copied_files == 5 and result.copied_directories == 3


def test_zip_runbook_scenario(work: Path, daily: Path) -> None:
    (work / "audit/daily_archives").mkdir(parents=True)
    before = snapshot(daily)
    result = archive(
        work,
        "--category",
        "daily",
        "--since",
        "2024-05-01",
        "--format",
        "zip",
        "--destination",
        "audit/daily_archives",
    )
    assert snapshot(daily) == before  # sources are never modified
    assert result.status == "completed" and result.copied_count == 2
    assert result.destination_directory == str(work / "audit/daily_archives")
    first = result.targets[0]
    zip_path = work / "audit/daily_archives/daily/2024-05-01.zip"
    assert first.destination_path == str(zip_path)
    assert first.sha256 == sha256(zip_path)
    assert (first.copied_files, first.copied_directories) == (3, 2)
    with zipfile.ZipFile(zip_path) as archive_file:
        names = archive_file.namelist()
        assert set(names) == {
            "2024-05-01/",
            "2024-05-01/summary.json",
            "2024-05-01/ledger.csv",
            "2024-05-01/exports/",
            "2024-05-01/exports/trades.csv",
        }
        assert archive_file.read("2024-05-01/ledger.csv") == b"a,b\n1,2\n"
        info = archive_file.getinfo("2024-05-01/ledger.csv")
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert archive_file.testzip() is None


def test_tar_is_gnu_gzip_and_rooted_at_the_name(work: Path, daily: Path) -> None:
    result = archive(work, "--category", "daily", "--format", "tar", "--destination", "arch")
    path = work / "arch/daily/2024-05-02.tar.gz"
    target = {t.relative_path: t for t in result.targets}["daily/2024-05-02"]
    assert target.destination_path == str(path) and target.sha256 == sha256(path)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    with tarfile.open(path) as archive_file:
        members = {m.name: m for m in archive_file.getmembers()}
        assert set(members) == {"2024-05-02", "2024-05-02/summary.json", "2024-05-02/ledger.csv"}
        assert members["2024-05-02/ledger.csv"].mtime == int(
            (daily / "daily/2024-05-02/ledger.csv").stat().st_mtime
        )
        assert archive_file.extractfile("2024-05-02/ledger.csv").read() == b"c\n"


def test_directory_format_and_root_level_file(work: Path, daily: Path) -> None:
    result = archive(work, "--destination", "arch")
    assert result.format == "directory" and result.status == "completed"
    assert (work / "arch/standalone.json").read_text() == '{"a": 1}'
    copied = work / "arch/daily/2024-05-01/exports/trades.csv"
    assert copied.read_text() == "t\n"
    original = daily / "daily/2024-05-01/exports/trades.csv"
    assert copied.stat().st_mtime_ns == original.stat().st_mtime_ns
    assert all(t.sha256 is None for t in result.targets)


def test_root_level_file_is_stored_as_itself(work: Path, daily: Path) -> None:
    archive(work, "--format", "zip", "--destination", "arch", "--query", "standalone")
    with zipfile.ZipFile(work / "arch/standalone.json.zip") as archive_file:
        assert archive_file.namelist() == ["standalone.json"]
    archive(work, "--format", "tar", "--destination", "arch", "--query", "standalone")
    with tarfile.open(work / "arch/standalone.json.tar.gz") as archive_file:
        assert archive_file.getnames() == ["standalone.json"]


def test_default_destination_is_beside_the_base(work: Path, daily: Path) -> None:
    result = archive(work, "--category", "smoke", "--format", "zip")
    assert result.destination_directory == str(work / "var/reports_archives")
    assert (work / "var/reports_archives/smoke/s.zip").is_file()


def test_existing_target_is_skipped_unless_overwrite(work: Path, daily: Path) -> None:
    archive(work, "--category", "daily", "--format", "zip", "--destination", "arch")
    again = archive(work, "--category", "daily", "--format", "zip", "--destination", "arch")
    assert again.status == "error" and again.copied_count == 0
    assert [t.status for t in again.targets] == ["skipped_existing", "skipped_existing"]
    assert again.errors and len(again.errors) == 2
    os.remove(work / "arch/daily/2024-05-02.zip")
    partial = archive(work, "--category", "daily", "--format", "zip", "--destination", "arch")
    assert partial.status == "partial_failure" and partial.copied_count == 1
    stale = work / "arch/daily/2024-05-01.zip"
    stale.write_bytes(b"old")
    replaced = archive(
        work, "--category", "daily", "--format", "zip", "--destination", "arch", "--overwrite"
    )
    assert replaced.status == "completed" and zipfile.is_zipfile(stale)


def test_directory_overwrite_replaces_the_copy(work: Path, daily: Path) -> None:
    archive(work, "--category", "smoke", "--destination", "arch")
    write(work / "arch/smoke/s/stale.txt", "stale")
    result = archive(work, "--category", "smoke", "--destination", "arch", "--overwrite")
    assert result.status == "completed"
    assert sorted(os.listdir(work / "arch/smoke/s")) == ["summary.json"]
    assert not [name for name in os.listdir(work / "arch/smoke") if name.startswith(".")]


def test_nested_reports_fold_and_unmatched_nested_stay_out(work: Path, base: Path) -> None:
    report(base, "bt/run", {"a": 1}, {"t.csv": "1"}, mtime="2024-01-01T00:00:00Z")
    report(base, "bt/run/wf", {"b": 1}, {"f.csv": "2"}, mtime="2024-06-01T00:00:00Z")
    only_parent = archive(work, "--until", "2024-02-01", "--format", "zip", "--destination", "a1")
    with zipfile.ZipFile(work / "a1/bt/run.zip") as archive_file:
        assert sorted(archive_file.namelist()) == ["run/", "run/summary.json", "run/t.csv"]
    both = archive(work, "--format", "zip", "--destination", "a2")
    assert both.matched_count == 1
    with zipfile.ZipFile(work / "a2/bt/run.zip") as archive_file:
        assert "run/wf/f.csv" in archive_file.namelist()
    assert only_parent.copied_files == 2


def test_symlinks_and_non_utf8_names_are_archived_as_they_are(work: Path, base: Path) -> None:
    directory = report(base, "daily/a", {"x": 1}, {"ledger.csv": "L"})
    os.symlink("ledger.csv", directory / "latest.csv")
    with open(os.fsencode(directory) + b"/odd\xff.txt", "wb") as handle:
        handle.write(b"odd")
    result = archive(work, "--format", "tar", "--destination", "arch")
    assert result.status == "completed" and result.copied_files == 4
    with tarfile.open(work / "arch/daily/a.tar.gz") as archive_file:
        members = {m.name: m for m in archive_file.getmembers()}
    assert members["a/latest.csv"].issym() and members["a/latest.csv"].linkname == "ledger.csv"
    assert os.fsdecode(b"a/odd\xff.txt") in members
    result = archive(work, "--format", "zip", "--destination", "arch")
    assert result.status == "completed"
    archive(work, "--destination", "copy")
    assert os.readlink(work / "copy/daily/a/latest.csv") == "ledger.csv"
    assert os.path.exists(os.fsencode(work / "copy/daily/a") + b"/odd\xff.txt")


@pytest.mark.parametrize(
    "destination", ["var/reports", "var/reports/inner", "var/reports/../reports/x"]
)
def test_destination_inside_base_exits_2(work: Path, daily: Path, destination: str) -> None:
    before = snapshot(work)
    assert "inside the base" in cli(
        "archive", "--destination", destination, cwd=work
    ).assert_clean_error(2)
    assert snapshot(work) == before


def test_destination_through_symlink_into_base_exits_2(work: Path, daily: Path) -> None:
    os.symlink(daily / "daily", work / "sneaky")
    cli("archive", "--destination", "sneaky", cwd=work).assert_clean_error(2)


def test_destination_that_is_a_file_exits_2(work: Path, daily: Path) -> None:
    write(work / "afile", "x")
    assert "not a directory" in cli(
        "archive", "--destination", "afile", cwd=work
    ).assert_clean_error(2)


def test_no_temporary_files_are_left(work: Path, daily: Path) -> None:
    for archive_format in ("zip", "tar", "directory"):
        archive(work, "--format", archive_format, "--destination", "arch")
    leftovers = [
        name
        for _, _, files in os.walk(work / "arch")
        for name in files
        if name.endswith(".partial")
    ]
    assert leftovers == []


def test_symlink_inside_destination_into_base_creates_nothing_there(work: Path, base: Path) -> None:
    report(base, "bt/strat/run", {"x": 1}, {"t.csv": "1"})
    (work / "arch").mkdir()
    (base / "empty").mkdir()
    os.symlink(base / "empty", work / "arch/bt")  # planted: arch/bt -> a directory in the base
    before = snapshot(base)
    result = archive(work, "--format", "zip", "--destination", "arch")
    assert result.status == "error"
    assert "inside the base" in (result.targets[0].error or "")
    assert snapshot(base) == before
