"""One call per command: scan, plan and execute in the order the CLI needs.

The Prefect flows call the steps separately (scan, plan, approval, execute the approved
plan); the command line and scripts call these, which chain the same steps at once.  Each
keyword argument has the name of the CLI option it mirrors (``--dry-run`` -> ``dry_run``).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from bot_core._progress import ProgressCallback
from bot_core.reporting._archive import execute_archive
from bot_core.reporting._execute import execute_delete, execute_purge, plan_delete
from bot_core.reporting._filters import Filters
from bot_core.reporting._models import (
    ArchiveFormat,
    ArchiveResult,
    DeleteResult,
    Overview,
    PurgeResult,
)
from bot_core.reporting._overview import OverviewParts, build_overview, overview_parts
from bot_core.reporting._plan import plan_archive, plan_purge, resolve_destination
from bot_core.reporting._scan import Catalog, scan_reports
from bot_core.reporting._signal_quality import DEFAULT_RETENTION_DAYS, DEFAULT_SIGNAL_QUALITY_DIR

__all__ = [
    "DEFAULT_BASE_DIR",
    "archive",
    "delete",
    "overview",
    "overview_stream",
    "purge",
    "scan",
]

DEFAULT_BASE_DIR = "var/reports"
MAX_WARNINGS_SHOWN = 20


def _warn(catalog: Catalog) -> None:
    """Scan warnings (unreadable directories...) go to stderr, never into the JSON."""
    for message in catalog.warnings[:MAX_WARNINGS_SHOWN]:
        sys.stderr.write(f"warning: {message}\n")
    hidden = len(catalog.warnings) - MAX_WARNINGS_SHOWN
    if hidden > 0:
        sys.stderr.write(f"warning: {hidden} more directories could not be scanned\n")


def scan(base_dir: str, *, progress: ProgressCallback | None = None) -> Catalog:
    """Scan the base directory, reporting unreadable parts on stderr."""
    catalog = scan_reports(base_dir, progress=progress)
    _warn(catalog)
    return catalog


def overview(
    base_dir: str = DEFAULT_BASE_DIR,
    filters: Filters | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Overview:
    """List the reports the filters select, with totals (contract 3)."""
    return build_overview(scan(base_dir, progress=progress), filters or Filters())


def overview_stream(
    base_dir: str = DEFAULT_BASE_DIR,
    filters: Filters | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> OverviewParts:
    """Like :func:`overview`, but the reports are produced lazily for :func:`write_overview`."""
    return overview_parts(scan(base_dir, progress=progress), filters or Filters())


def delete(
    path: str,
    *,
    base_dir: str = DEFAULT_BASE_DIR,
    dry_run: bool = False,
    now: datetime | None = None,
) -> DeleteResult:
    """Delete one path inside the base directory (contract 4)."""
    plan = plan_delete(base_dir, path, now=now or datetime.now(UTC))
    return execute_delete(plan, dry_run=dry_run)


def purge(
    base_dir: str = DEFAULT_BASE_DIR,
    filters: Filters | None = None,
    *,
    dry_run: bool = False,
    signal_quality_dir: str = DEFAULT_SIGNAL_QUALITY_DIR,
    signal_quality_retention_days: int = DEFAULT_RETENTION_DAYS,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> PurgeResult:
    """Delete what every selected report owns, plus old signal-quality files (contract 5)."""
    plan = plan_purge(
        scan(base_dir, progress=progress),
        filters or Filters(),
        now=now or datetime.now(UTC),
        signal_quality_dir=signal_quality_dir,
        signal_quality_retention_days=signal_quality_retention_days,
    )
    return execute_purge(plan, dry_run=dry_run, progress=progress)


def archive(
    base_dir: str = DEFAULT_BASE_DIR,
    filters: Filters | None = None,
    *,
    destination: str | None = None,
    format: ArchiveFormat = "directory",
    overwrite: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> ArchiveResult:
    """Copy every selected report to the destination (contract 6)."""
    resolved = resolve_destination(base_dir, destination)
    plan = plan_archive(
        scan(base_dir, progress=progress),
        filters or Filters(),
        now=now or datetime.now(UTC),
        destination=resolved,
        archive_format=format,
        overwrite=overwrite,
    )
    return execute_archive(plan, dry_run=dry_run, progress=progress)
