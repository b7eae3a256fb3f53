"""Contract section 5: ``purge`` and its signal-quality cleanup."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from bot_core.reporting import PurgeResult

from .helpers import cli, report, snapshot, write


@pytest.fixture
def smoke_tree(base: Path) -> Path:
    report(
        base,
        "smoke/old1",
        {"status": "passed"},
        {"logs/smoke.log": "12345"},
        mtime="2024-03-01T00:00:00Z",
    )
    report(base, "smoke/old2", {"status": "failed"}, mtime="2024-03-15T00:00:00Z")
    report(base, "smoke/new", {"status": "passed"}, mtime="2024-04-15T00:00:00Z")
    report(base, "daily/old", {"x": 1}, {"ledger.csv": "1"}, mtime="2024-03-01T00:00:00Z")
    return base


def purge(work: Path, *args: str) -> PurgeResult:
    run = cli("purge", *args, cwd=work)
    assert run.code == 0, run.stderr
    return run.model(PurgeResult)


def test_dry_run_then_real_run_removes_exactly_the_plan(work: Path, smoke_tree: Path) -> None:
    before = snapshot(work)
    preview = purge(work, "--category", "smoke", "--until", "2024-04-01", "--dry-run")
    assert snapshot(work) == before
    assert preview.status == "preview" and preview.dry_run is True
    assert [t.relative_path for t in preview.targets] == ["smoke/old1", "smoke/old2"]
    assert all(t.status == "preview" for t in preview.targets)
    assert (preview.matched_count, preview.planned_count, preview.deleted_count) == (2, 2, 0)
    summary_size = len(json.dumps({"status": "passed"})) + len(json.dumps({"status": "failed"}))
    assert (preview.removed_files, preview.removed_directories) == (3, 3)
    assert preview.removed_size == 5 + summary_size

    done = purge(work, "--category", "smoke", "--until", "2024-04-01")
    assert done.status == "completed" and done.dry_run is None
    assert done.deleted_count == 2 and done.removed_files == 3 and done.removed_directories == 3
    assert [t.status for t in done.targets] == ["deleted", "deleted"]
    assert sorted(p.name for p in (smoke_tree / "smoke").iterdir()) == ["new"]
    assert (smoke_tree / "daily/old").exists()
    after = snapshot(work)
    assert set(before) - set(after) == {
        os.fsencode(p)
        for p in [
            "var/reports/smoke/old1",
            "var/reports/smoke/old1/summary.json",
            "var/reports/smoke/old1/logs",
            "var/reports/smoke/old1/logs/smoke.log",
            "var/reports/smoke/old2",
            "var/reports/smoke/old2/summary.json",
        ]
    }


def test_output_fields(work: Path, smoke_tree: Path) -> None:
    data = cli("purge", "--category", "smoke", "--dry-run", cwd=work).json
    assert list(data)[:10] == [
        "base_directory",
        "filters",
        "matched_count",
        "planned_count",
        "deleted_count",
        "removed_files",
        "removed_directories",
        "removed_size",
        "targets",
        "status",
    ]
    assert "signal_quality_cleanup" in data and "errors" not in data
    assert set(data["targets"][0]) == {
        "relative_path",
        "absolute_path",
        "removed_files",
        "removed_directories",
        "removed_size",
        "status",
    }


def test_nothing_matches_is_empty(work: Path, smoke_tree: Path) -> None:
    assert purge(work, "--category", "nothing").status == "empty"
    assert purge(work, "--category", "nothing", "--dry-run").status == "empty"


def test_nested_match_is_folded_and_counted_once(work: Path, base: Path) -> None:
    report(base, "backtests/run", {"a": 1}, {"t.csv": "1"})
    report(base, "backtests/run/wf", {"b": 2}, {"f.csv": "22"})
    result = purge(work, "--category", "backtests")
    assert result.matched_count == 1 and [t.relative_path for t in result.targets] == [
        "backtests/run"
    ]
    assert result.removed_files == 4 and result.removed_directories == 2
    assert not (base / "backtests/run").exists()


def test_unmatched_nested_report_survives_its_parent(work: Path, base: Path) -> None:
    report(
        base,
        "backtests/run",
        {"a": 1},
        {"t.csv": "1", "exports/e.csv": "2"},
        mtime="2024-01-01T00:00:00Z",
    )
    report(base, "backtests/run/wf", {"b": 2}, {"f.csv": "22"}, mtime="2024-06-01T00:00:00Z")
    result = purge(work, "--until", "2024-02-01")
    assert [t.relative_path for t in result.targets] == ["backtests/run"]
    assert result.removed_files == 3 and result.removed_directories == 1  # exports/ only
    assert sorted(os.listdir(base / "backtests/run")) == ["wf"]
    assert sorted(os.listdir(base / "backtests/run/wf")) == ["f.csv", "summary.json"]


def test_orphan_purge_keeps_subdirectories(work: Path, base: Path) -> None:
    report(base, "diag/h", None, {"a.txt": "1", "sub/b.txt": "2"}, mtime="2024-01-01T00:00:00Z")
    os.utime(base / "diag/h/sub/b.txt", (time.time(), time.time()))
    result = purge(work, "--category", "diag", "--until", "2024-02-01")
    assert [t.relative_path for t in result.targets] == ["diag/h"]
    assert result.removed_files == 1 and result.removed_directories == 0
    assert (base / "diag/h/sub/b.txt").exists() and not (base / "diag/h/a.txt").exists()


def test_symlinks_inside_targets_are_removed_as_links(
    work: Path, base: Path, tmp_path: Path
) -> None:
    keep = write(tmp_path / "outside" / "keep.txt", "keep")
    directory = report(base, "daily/a", {"x": 1})
    os.symlink(keep.parent, directory / "dir_link")
    os.symlink(keep, directory / "file_link")
    result = purge(work, "--category", "daily")
    assert result.status == "completed" and result.removed_files == 3
    assert keep.read_text() == "keep" and not directory.exists()


def test_limit_purges_only_the_page(work: Path, smoke_tree: Path) -> None:
    result = purge(
        work,
        "--sort",
        "updated_at",
        "--sort-direction",
        "asc",
        "--limit",
        "1",
        "--category",
        "smoke",
    )
    assert [t.relative_path for t in result.targets] == ["smoke/old1"]


# --- signal quality ----------------------------------------------------------------------


def sq_file(directory: Path, name: str, age_days: float, data: str = '{"exchange": "x"}') -> Path:
    path = write(directory / name, data)
    moment = time.time() - age_days * 86400
    os.utime(path, (moment, moment))
    return path


@pytest.fixture
def sq(work: Path) -> Path:
    directory = work / "reports/exchanges/signal_quality"
    sq_file(directory, "binance.json", 45)
    sq_file(directory, "kraken.json", 10)
    sq_file(directory, "okx.json", 400)
    sq_file(directory, "notes.txt", 400)
    os.symlink(directory / "okx.json", directory / "link.json")
    os.utime(directory / "link.json", (0, 0), follow_symlinks=False)
    (directory / "old_dir.json").mkdir()
    return directory


def test_signal_quality_retention_default_30_days(work: Path, base: Path, sq: Path) -> None:
    preview = purge(work, "--dry-run").signal_quality_cleanup
    assert preview.status == "preview" and preview.retention_days == 30
    assert preview.directory == str(sq)
    assert [Path(t.path).name for t in preview.targets] == ["binance.json", "okx.json"]
    assert preview.matched == 2 and preview.removed == 2 and preview.removed_size == 34
    assert (sq / "binance.json").exists()
    done = purge(work).signal_quality_cleanup
    assert done.status == "completed" and done.removed == 2
    assert [t.status for t in done.targets] == ["deleted", "deleted"]
    assert sorted(os.listdir(sq)) == ["kraken.json", "link.json", "notes.txt", "old_dir.json"]


def test_signal_quality_custom_dir_and_retention(work: Path, base: Path, sq: Path) -> None:
    other = work / "elsewhere"
    sq_file(other, "a.json", 5)
    cleanup = purge(
        work,
        "--signal-quality-dir",
        "elsewhere",
        "--signal-quality-retention-days",
        "3",
        "--dry-run",
    ).signal_quality_cleanup
    assert cleanup.directory == str(other) and cleanup.matched == 1


def test_signal_quality_cutoff_is_the_older_of_until_and_retention(
    work: Path, base: Path, sq: Path
) -> None:
    cleanup = purge(work, "--until", "2000-01-01", "--dry-run").signal_quality_cleanup
    assert cleanup.cutoff.isoformat() == "2000-01-01T00:00:00+00:00" and cleanup.matched == 0
    assert cleanup.status == "empty"


def test_retention_disabled_without_until_is_skipped(work: Path, base: Path, sq: Path) -> None:
    cleanup = purge(work, "--signal-quality-retention-days", "0").signal_quality_cleanup
    assert cleanup.status == "skipped" and cleanup.reason == "retention_disabled"
    assert cleanup.cutoff is None and (sq / "okx.json").exists()


def test_retention_disabled_with_until_uses_until(work: Path, base: Path, sq: Path) -> None:
    until = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 100 * 86400))
    cleanup = purge(
        work, "--signal-quality-retention-days", "-1", "--until", until, "--dry-run"
    ).signal_quality_cleanup
    assert [Path(t.path).name for t in cleanup.targets] == ["okx.json"]


def test_missing_signal_quality_directory(work: Path, base: Path) -> None:
    cleanup = purge(work).signal_quality_cleanup
    assert cleanup.status == "missing" and cleanup.matched == 0


def test_invalid_retention_exits_2(work: Path, base: Path) -> None:
    cli("purge", "--signal-quality-retention-days", "ten", cwd=work).assert_clean_error(2)
