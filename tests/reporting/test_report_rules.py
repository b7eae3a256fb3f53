"""Contract section 1: what a report is, what it owns, how it is described."""

from __future__ import annotations

import os
from pathlib import Path

from bot_core.reporting import Overview

from .helpers import cli, report, write


def overview(work: Path, *args: str) -> Overview:
    run = cli("overview", *args, cwd=work)
    assert run.code == 0, run.stderr
    return run.model(Overview)


def by_path(result: Overview) -> dict[str, object]:
    return {item.relative_path: item for item in result.reports}


def test_directory_with_summary_is_a_report_owning_its_subtree(work: Path, base: Path) -> None:
    report(
        base,
        "daily/2024-05-01",
        {"report_date": "2024-05-01"},
        {"ledger.csv": "a,b\n", "exports/trades.csv": "t\n", "logs/run/x.log": "l\n"},
    )
    result = overview(work)
    assert [r.relative_path for r in result.reports] == ["daily/2024-05-01"]
    item = result.reports[0]
    assert item.category == "daily"
    assert item.has_summary and item.summary_status == "valid"
    assert [e.relative_path for e in item.exports] == [
        "daily/2024-05-01/exports/trades.csv",
        "daily/2024-05-01/ledger.csv",
        "daily/2024-05-01/logs/run/x.log",
    ]
    assert item.export_count == 3
    assert item.total_size == 4 + 2 + 2  # the summary is not counted
    assert item.has_exports


def test_exports_folder_is_never_a_second_report(work: Path, base: Path) -> None:
    report(base, "daily/2024-05-01", {"a": 1}, {"exports/ledger.csv": "x"})
    assert [r.relative_path for r in overview(work).reports] == ["daily/2024-05-01"]


def test_orphan_directory_owns_direct_files_only(work: Path, base: Path) -> None:
    report(base, "diagnostics/host", None, {"cpu.prof": "cc", "sub/inner.txt": "iii"})
    result = by_path(overview(work))
    assert set(result) == {"diagnostics/host", "diagnostics/host/sub"}
    orphan = result["diagnostics/host"]
    assert [e.relative_path for e in orphan.exports] == ["diagnostics/host/cpu.prof"]
    assert orphan.summary_status == "missing" and not orphan.has_summary
    assert orphan.summary_path is None and orphan.summary is None and orphan.summary_error is None


def test_root_level_file_is_its_own_report_and_base_never_is(work: Path, base: Path) -> None:
    write(base / "standalone.json", "{}", mtime="2024-01-01T00:00:00Z")
    write(base / "summary.json", '{"x": 1}', mtime="2024-01-02T00:00:00Z")
    result = by_path(overview(work))
    assert set(result) == {"standalone.json", "summary.json"}
    item = result["standalone.json"]
    assert item.category == "standalone.json"
    assert item.absolute_path == str(base / "standalone.json")
    assert item.export_count == 1 and item.total_size == 2


def test_nested_report_is_separate_and_not_owned_by_parent(work: Path, base: Path) -> None:
    report(base, "backtests/run1", {"a": 1}, {"trades.csv": "tt"})
    report(base, "backtests/run1/walk_forward", {"b": 2}, {"folds.csv": "fff"})
    result = by_path(overview(work))
    assert set(result) == {"backtests/run1", "backtests/run1/walk_forward"}
    parent = result["backtests/run1"]
    assert [e.relative_path for e in parent.exports] == ["backtests/run1/trades.csv"]


def test_timestamps_sizes_and_absolute_path(work: Path, base: Path) -> None:
    directory = report(base, "daily/d", {"report_date": "2024-05-03"}, mtime="2024-05-03T10:00:00Z")
    write(directory / "a.csv", "aaaa", mtime="2024-05-01T00:00:00Z")
    write(directory / "b.csv", "bb", mtime="2024-05-05T00:00:00Z")
    item = overview(work).reports[0]
    assert item.updated_at.isoformat() == "2024-05-03T10:00:00+00:00"  # the summary's mtime
    assert item.created_at.isoformat() == "2024-05-01T00:00:00+00:00"  # the oldest of all
    assert item.absolute_path == str(directory / "a.csv")  # the first export
    assert item.summary_path == str(directory / "summary.json")
    assert item.display_name == "2024-05-03"  # the summary's report_date
    run = cli("overview", cwd=work)
    assert '"updated_at":"2024-05-03T10:00:00+00:00"' in run.stdout  # offset, never "Z"


def test_orphan_updated_at_is_newest_export(work: Path, base: Path) -> None:
    write(base / "diag/x/a.txt", "a", mtime="2024-01-01T00:00:00Z")
    write(base / "diag/x/b.txt", "b", mtime="2024-03-01T00:00:00Z")
    item = overview(work).reports[0]
    assert item.updated_at.isoformat() == "2024-03-01T00:00:00+00:00"
    assert item.created_at.isoformat() == "2024-01-01T00:00:00+00:00"
    assert item.display_name == "diag/x"
    assert item.absolute_path == str(base / "diag/x/a.txt")


def test_summary_report_without_exports_points_at_its_summary(work: Path, base: Path) -> None:
    directory = report(base, "smoke/s1", {"status": "passed"})
    item = overview(work).reports[0]
    assert item.absolute_path == str(directory / "summary.json")
    assert item.exports == [] and not item.has_exports and item.total_size == 0


def test_invalid_summaries_say_why(work: Path, base: Path) -> None:
    report(base, "smoke/bad_json", b'{"a": 1,\n  "b": }')
    report(base, "smoke/not_object", b"[1, 2]")
    report(base, "smoke/binary", bytes(range(256)))
    report(base, "smoke/nan", b'{"x": NaN}')
    result = by_path(overview(work))
    bad = result["smoke/bad_json"]
    assert bad.summary_status == "invalid" and bad.summary is None and bad.has_summary
    assert "line 2, column" in bad.summary_error
    assert "not a JSON object" in result["smoke/not_object"].summary_error
    assert "not UTF-8" in result["smoke/binary"].summary_error
    assert "NaN" in result["smoke/nan"].summary_error


def test_unreadable_summary_is_invalid(work: Path, base: Path) -> None:
    directory = report(base, "smoke/locked", {"a": 1})
    os.chmod(directory / "summary.json", 0)
    from .helpers import DROP_DAC

    run = cli("overview", cwd=work, prefix=DROP_DAC)
    assert run.code == 0, run.stderr
    item = run.model(Overview).reports[0]
    assert item.summary_status == "invalid"
    assert "Permission denied" in item.summary_error


def test_symlinks_are_never_followed_or_counted_as_reports(
    work: Path, base: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    report(outside, "secret", {"x": 1}, {"data.csv": "secret"})
    directory = report(base, "daily/d", {"a": 1}, {"ledger.csv": "abc"})
    os.symlink(outside / "secret", base / "linked_report")  # symlink to a report directory
    os.symlink(outside / "secret/data.csv", base / "linked_file")  # root-level symlink
    os.symlink(outside, directory / "escape")  # symlink to a directory, inside a report
    os.symlink("ledger.csv", directory / "latest.csv")  # symlink to a file, inside a report
    os.symlink("loop", directory / "loop")  # a symlink loop
    result = overview(work)
    assert [r.relative_path for r in result.reports] == ["daily/d"]
    exports = {e.relative_path: e.size for e in result.reports[0].exports}
    assert exports == {
        "daily/d/escape": 0,
        "daily/d/latest.csv": 0,
        "daily/d/ledger.csv": 3,
        "daily/d/loop": 0,
    }


def test_non_utf8_names_are_escaped_and_still_listed(work: Path, base: Path) -> None:
    raw = os.fsencode(base) + b"/diag/host\xff"
    os.makedirs(raw)
    with open(raw + b"/dump\xfe.bin", "wb") as handle:
        handle.write(b"12345")
    result = overview(work)
    item = result.reports[0]
    assert item.relative_path == "diag/host\\xff"
    assert item.exports[0].relative_path == "diag/host\\xff/dump\\xfe.bin"
    assert item.total_size == 5


def test_absent_base_is_an_empty_result(work: Path) -> None:
    result = overview(work, "--base-dir", "does/not/exist")
    assert result.reports == [] and result.summary.report_count == 0
    assert result.pagination.total_count == 0


def test_empty_directories_are_not_reports(work: Path, base: Path) -> None:
    (base / "empty/deeper").mkdir(parents=True)
    assert overview(work).reports == []
