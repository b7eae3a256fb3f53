"""Signal-quality retention: the ``signal_quality_cleanup`` part of a purge (contract 5).

Only ``*.json`` regular files directly in the directory are candidates; a symlink, a
sub-directory or any other name is never touched.  The cutoff is the older of ``--until``
and "now minus the retention days"; a file qualifies when its mtime is at or before it.
"""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta
from typing import Literal

from bot_core._fs import (
    display_path,
    encode_raw_path,
    ns_from_datetime,
    utc_from_ns,
)
from bot_core.reporting._models import (
    SignalQualityCleanup,
    SignalQualityFile,
    SignalQualityFileResult,
    SignalQualityPlan,
    SignalQualityStatus,
    TargetStatus,
)

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_SIGNAL_QUALITY_DIR",
    "execute_signal_quality_cleanup",
    "plan_signal_quality_cleanup",
]

DEFAULT_SIGNAL_QUALITY_DIR = "reports/exchanges/signal_quality"
DEFAULT_RETENTION_DAYS = 30


def _cutoff(retention_days: int, until: datetime | None, now: datetime) -> datetime | None:
    candidates: list[datetime] = []
    if retention_days > 0:
        candidates.append(now - timedelta(days=retention_days))
    if until is not None:
        candidates.append(until)
    return min(candidates) if candidates else None


def plan_signal_quality_cleanup(
    directory: str, *, retention_days: int, until: datetime | None, now: datetime
) -> SignalQualityPlan:
    """List the signal-quality files the purge would remove; reads the disk, changes nothing."""
    absolute = os.path.abspath(directory)
    shown = display_path(absolute)
    raw = encode_raw_path(absolute)
    cutoff = _cutoff(retention_days, until, now)

    def plan(
        outcome: Literal["skipped", "missing", "planned"],
        reason: str | None = None,
        files: list[SignalQualityFile] | None = None,
    ) -> SignalQualityPlan:
        return SignalQualityPlan(
            directory=shown,
            raw_directory=raw,
            retention_days=retention_days,
            cutoff=cutoff,
            outcome=outcome,
            reason=reason,
            files=files or [],
        )

    if cutoff is None:
        return plan("skipped", "retention_disabled")
    try:
        listing = os.scandir(absolute)
    except FileNotFoundError:
        return plan("missing", "directory_missing")
    except NotADirectoryError:
        return plan("skipped", "not_a_directory")
    except OSError as exc:
        return plan("skipped", f"unreadable: {exc.strerror}")
    limit_ns = ns_from_datetime(cutoff)
    files: list[SignalQualityFile] = []
    with listing:
        for entry in listing:
            if not entry.name.endswith(".json"):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_mtime_ns > limit_ns:
                continue
            path = os.path.join(absolute, entry.name)
            files.append(
                SignalQualityFile(
                    path=display_path(path),
                    raw_path=encode_raw_path(path),
                    size=info.st_size,
                    modified_at=utc_from_ns(info.st_mtime_ns),
                    mtime_ns=info.st_mtime_ns,
                )
            )
    files.sort(key=lambda item: item.path)
    return plan("planned", None, files)


def execute_signal_quality_cleanup(
    plan: SignalQualityPlan, *, dry_run: bool
) -> SignalQualityCleanup:
    """Remove exactly the planned files that are still as planned; report each one."""
    results: list[SignalQualityFileResult] = []
    errors: list[str] = []
    removed = 0
    removed_size = 0
    directory = plan.fs_directory
    dir_fd: int | None = None
    if plan.files:
        try:
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            errors.append(f"{plan.directory}: {exc.strerror}")
    for planned in plan.files:
        name = os.path.basename(planned.fs_path)
        status: TargetStatus = "preview"
        error: str | None = None
        if dir_fd is None:
            status, error = "error", "directory could not be opened"
        else:
            try:
                info = os.lstat(name, dir_fd=dir_fd)
                if not stat.S_ISREG(info.st_mode) or (info.st_size, info.st_mtime_ns) != (
                    planned.size,
                    planned.mtime_ns,
                ):
                    status, error = "error", "changed since the plan; left untouched"
                elif not dry_run:
                    os.unlink(name, dir_fd=dir_fd)
                    status = "deleted"
            except FileNotFoundError:
                status = "not_found"
            except OSError as exc:
                status, error = "error", exc.strerror or str(exc)
        if status in ("preview", "deleted"):
            removed += 1
            removed_size += planned.size
        if error is not None:
            errors.append(f"{planned.path}: {error}")
        results.append(
            SignalQualityFileResult(
                path=planned.path,
                size=planned.size,
                modified_at=planned.modified_at,
                status=status,
                error=error,
            )
        )
    if dir_fd is not None:
        os.close(dir_fd)
    return SignalQualityCleanup(
        directory=plan.directory,
        retention_days=plan.retention_days,
        cutoff=plan.cutoff,
        matched=len(plan.files),
        removed=removed,
        removed_size=removed_size,
        targets=results,
        status=_status(plan, results, dry_run),
        reason=plan.reason if plan.outcome != "planned" else None,
        errors=errors or None,
    )


def _status(
    plan: SignalQualityPlan, results: list[SignalQualityFileResult], dry_run: bool
) -> SignalQualityStatus:
    if plan.outcome == "skipped":
        return "skipped"
    if plan.outcome == "missing":
        return "missing"
    if not results:
        return "empty"
    failed = sum(1 for result in results if result.status == "error")
    if dry_run:
        return (
            "preview" if failed == 0 else ("error" if failed == len(results) else "partial_failure")
        )
    if failed == 0:
        return "completed"
    return "error" if failed == len(results) else "partial_failure"
