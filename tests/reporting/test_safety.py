"""Safety: plans are executed exactly, symlinks are never followed, archives are atomic."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot_core.errors import InvalidInputError
from bot_core.reporting import (
    Filters,
    PurgePlan,
    execute_archive,
    execute_purge,
    parse_filters,
    plan_archive,
    plan_purge,
    scan_reports,
)
from bot_core.reporting._execute import delete_tree, open_base, recheck_target

from .helpers import UI_BRIDGE, report, snapshot, write

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def make_plan(base: Path, work: Path, filters: Filters | None = None) -> PurgePlan:
    return plan_purge(
        scan_reports(str(base)),
        filters or Filters(),
        now=NOW,
        signal_quality_dir=str(work / "sq"),
        signal_quality_retention_days=30,
    )


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    directory = tmp_path / "outside"
    write(directory / "summary.json", '{"precious": true}')
    write(directory / "ledger.csv", "precious")
    write(directory / "exports" / "e.csv", "precious")
    return directory


def test_plan_is_sealed_and_round_trips(base: Path, work: Path) -> None:
    report(base, "daily/a", {"x": 1}, {"l.csv": "1"})
    plan = make_plan(base, work)
    again = PurgePlan.model_validate_json(plan.model_dump_json())
    assert again.verify_digest() and again.sha256 == plan.sha256
    assert make_plan(base, work).sha256 == plan.sha256  # same tree, same moment: same digest


def test_tampered_plan_is_refused(base: Path, work: Path) -> None:
    report(base, "daily/a", {"x": 1})
    plan = make_plan(base, work)
    forged = plan.model_copy(update={"total_size": 0})
    with pytest.raises(InvalidInputError, match="sha256"):
        execute_purge(forged, dry_run=False)
    assert (base / "daily/a/summary.json").exists()


def test_target_changed_after_planning_is_left_alone(base: Path, work: Path) -> None:
    report(base, "daily/a", {"x": 1}, {"l.csv": "1"})
    report(base, "daily/b", {"x": 2}, {"l.csv": "2"})
    plan = make_plan(base, work)
    write(base / "daily/a/l.csv", "12")  # grew after approval
    write(base / "daily/b/new.csv", "n")  # a new file appeared
    result = execute_purge(plan, dry_run=False)
    assert [t.status for t in result.targets] == ["error", "error"]
    assert "changed since the plan" in (result.targets[0].error or "")
    assert result.status == "error"
    assert (base / "daily/a/l.csv").read_text() == "12" and (base / "daily/b/new.csv").exists()


def test_new_nested_report_after_planning_is_detected(base: Path, work: Path) -> None:
    report(base, "bt/run", {"x": 1}, {"sub/f.csv": "1"})
    plan = make_plan(base, work)
    write(base / "bt/run/sub/summary.json", "{}")  # sub/ became a report of its own
    result = execute_purge(plan, dry_run=False)
    assert result.targets[0].status == "error"
    assert (base / "bt/run/sub/f.csv").exists()


def test_target_swapped_for_symlink_is_not_followed(base: Path, work: Path, outside: Path) -> None:
    report(
        base, "daily/a", {"precious": True}, {"ledger.csv": "precious", "exports/e.csv": "precious"}
    )
    plan = make_plan(base, work)
    os.rename(base / "daily/a", work / "moved")
    os.symlink(outside, base / "daily/a")
    before = snapshot(outside)
    result = execute_purge(plan, dry_run=False)
    assert result.targets[0].status == "error"
    assert snapshot(outside) == before


def test_parent_swapped_for_symlink_is_not_followed(base: Path, work: Path, tmp_path: Path) -> None:
    report(base, "daily/a", {"x": 1}, {"l.csv": "1"})
    plan = make_plan(base, work)
    copy = tmp_path / "elsewhere"
    os.rename(base / "daily", copy)
    os.symlink(copy, base / "daily")
    result = execute_purge(plan, dry_run=False)
    assert result.targets[0].status == "error" and "symlink" in (result.targets[0].error or "")
    assert (copy / "a/l.csv").exists()


def test_subdirectory_swapped_during_deletion_stops_that_target(
    base: Path, work: Path, outside: Path
) -> None:
    report(base, "daily/a", {"x": 1}, {"exports/e.csv": "precious"})
    plan = make_plan(base, work)
    base_fd = open_base(str(base))
    assert base_fd is not None
    try:
        tree = recheck_target(base_fd, plan.targets[0])  # checked ...
        os.rename(base / "daily/a/exports", work / "exports_moved")
        os.symlink(outside / "exports", base / "daily/a/exports")  # ... then swapped
        before = snapshot(outside)
        removal = delete_tree(base_fd, tree)
    finally:
        os.close(base_fd)
    assert removal.errors and "replaced" in removal.errors[-1]
    assert snapshot(outside) == before


def test_concurrent_removal_is_not_an_error(base: Path, work: Path) -> None:
    report(base, "daily/a", {"x": 1})
    plan = make_plan(base, work)
    execute_purge(plan, dry_run=False)
    second = execute_purge(plan, dry_run=False)  # another run already removed it
    assert second.targets[0].status == "not_found" and second.status == "completed"


def test_archive_failure_leaves_no_partial_or_final_file(
    base: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report(base, "daily/a", {"x": 1}, {"a.csv": "1", "b.csv": "2"})
    destination = work / "arch"
    plan = plan_archive(
        scan_reports(str(base)),
        Filters(),
        now=NOW,
        destination=str(destination),
        archive_format="zip",
        overwrite=False,
    )
    import bot_core.reporting._archive as archive_module

    real_open = archive_module._open_source
    calls = {"n": 0}

    def failing_open(dir_fd: int, item: object) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real_open(dir_fd, item)  # type: ignore[arg-type]

    monkeypatch.setattr(archive_module, "_open_source", failing_open)
    result = execute_archive(plan, dry_run=False)
    assert result.status == "error" and "No space left" in (result.targets[0].error or "")
    assert os.listdir(destination / "daily") == []


def test_archive_killed_mid_write_leaves_nothing_under_the_final_name(
    work: Path, base: Path
) -> None:
    directory = base / "daily" / "big"
    directory.mkdir(parents=True)
    block = os.urandom(1 << 20)
    with open(directory / "blob.bin", "wb") as handle:
        for _ in range(96):
            handle.write(block)
    process = subprocess.Popen(
        [*UI_BRIDGE, "archive", "--format", "zip", "--destination", "arch"],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        partial = []
        while time.monotonic() < deadline and not partial:
            if (work / "arch/daily").is_dir():
                partial = [n for n in os.listdir(work / "arch/daily") if n.endswith(".partial")]
            time.sleep(0.005)
        assert partial, "the archive never started"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    names = os.listdir(work / "arch/daily")
    assert "big.zip" not in names
    assert all(name.startswith(".big.zip.") and name.endswith(".partial") for name in names)


def test_files_outside_base_untouched_by_a_full_purge(
    base: Path, work: Path, outside: Path
) -> None:
    report(base, "daily/a", {"x": 1}, {"l.csv": "1"})
    os.symlink(outside, base / "daily/a/link_dir")
    os.symlink(outside / "ledger.csv", base / "root_link.csv")
    os.symlink(base, base / "daily/a/loop")
    before = snapshot(outside)
    result = execute_purge(make_plan(base, work, parse_filters()), dry_run=False)
    assert result.status == "completed"
    assert snapshot(outside) == before
    assert sorted(os.listdir(base)) == ["daily", "root_link.csv"]  # parents stay
