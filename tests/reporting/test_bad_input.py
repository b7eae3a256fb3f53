"""Bad input: one clear line on stderr, the contract's exit code, nothing on stdout, no change.

The filter values are covered in ``test_filters.py`` and unsafe delete paths and archive
destinations in their own modules; this is the rest of the corpus.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot_core.reporting import Overview, PurgeResult

from .helpers import DROP_DAC, cli, report, snapshot, write


@pytest.fixture
def tree(base: Path) -> Path:
    report(base, "daily/a", {"x": 1}, {"l.csv": "1"}, mtime="2024-01-01T00:00:00Z")
    report(base, "smoke/b", {"x": 2}, mtime="2024-01-01T00:00:00Z")
    return base


@pytest.mark.parametrize(
    "args",
    [
        ["overview", "--base-dir", "afile"],
        ["purge", "--base-dir", "afile"],
        ["archive", "--base-dir", "afile", "--destination", "out"],
        ["delete", "x", "--base-dir", "afile"],
    ],
)
def test_base_that_is_a_file(work: Path, args: list[str]) -> None:
    write(work / "afile", "not a directory")
    before = snapshot(work)
    assert "not a directory" in cli(*args, cwd=work).assert_clean_error(2)
    assert snapshot(work) == before


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["overview", "--no-such-option"],
        ["purge", "--dry-run", "extra-argument"],
        ["archive", "--format", "rar"],
        ["delete"],
        ["overview", "--limit"],
    ],
)
def test_malformed_command_lines(work: Path, tree: Path, args: list[str]) -> None:
    before = snapshot(work)
    cli(*args, cwd=work).assert_clean_error(2)
    assert snapshot(work) == before


def test_unreadable_base_is_a_clean_error(work: Path, tree: Path) -> None:
    os.chmod(tree, 0)
    try:
        line = cli("overview", cwd=work, prefix=DROP_DAC).assert_clean_error(1)
        assert "Permission denied" in line
    finally:
        os.chmod(tree, 0o755)


def test_unreadable_directory_is_skipped_with_a_warning(work: Path, tree: Path) -> None:
    os.chmod(tree / "smoke", 0)
    try:
        run = cli("overview", cwd=work, prefix=DROP_DAC)
        assert run.code == 0
        assert [r.relative_path for r in run.model(Overview).reports] == ["daily/a"]
        assert run.stderr.startswith("warning: smoke: cannot ") and "Traceback" not in run.stderr
    finally:
        os.chmod(tree / "smoke", 0o755)


def test_unreadable_directory_inside_a_purge_target_is_reported_untouched(
    work: Path, tree: Path
) -> None:
    write(tree / "daily/a/locked/inner.csv", "keep")
    os.chmod(tree / "daily/a/locked", 0)
    try:
        before = snapshot(work)
        run = cli("purge", "--category", "daily", cwd=work, prefix=DROP_DAC)
        assert run.code == 0
        result = run.model(PurgeResult)
        assert result.status == "error" and result.targets[0].status == "error"
        assert "warning:" in run.stderr
        os.chmod(tree / "daily/a/locked", 0o755)
        assert snapshot(work) == before
    finally:
        os.chmod(tree / "daily/a/locked", 0o755)


def test_read_only_target_is_a_per_target_error_and_others_proceed(work: Path, base: Path) -> None:
    report(base, "daily/a", {"x": 1}, {"l.csv": "1"})
    report(base, "daily/b", {"x": 2}, {"l.csv": "2"})
    os.chmod(base / "daily/a", 0o555)
    try:
        run = cli("purge", cwd=work, prefix=DROP_DAC)
        result = run.model(PurgeResult)
        assert result.status == "partial_failure"
        statuses = {t.relative_path: t.status for t in result.targets}
        assert statuses == {"daily/a": "error", "daily/b": "deleted"}
        assert result.errors and "Permission denied" in result.errors[0]
    finally:
        os.chmod(base / "daily/a", 0o755)


def test_signal_quality_dir_that_is_a_file_is_skipped(work: Path, tree: Path) -> None:
    write(work / "sqfile", "x")
    cleanup = cli("purge", "--dry-run", "--signal-quality-dir", "sqfile", cwd=work).model(
        PurgeResult
    )
    assert cleanup.signal_quality_cleanup.status == "skipped"
    assert cleanup.signal_quality_cleanup.reason == "not_a_directory"


def test_broken_pipe_gives_no_traceback(work: Path, tree: Path) -> None:
    import subprocess

    from .helpers import UI_BRIDGE

    for index in range(300):
        report(tree, f"bulk/r{index:04d}", {"n": index, "pad": "x" * 400})
    command = " ".join(UI_BRIDGE) + " overview | head -c 10 > /dev/null"
    done = subprocess.run(command, shell=True, cwd=work, capture_output=True, timeout=60)
    assert b"Traceback" not in done.stderr
