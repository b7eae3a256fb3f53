"""Prefect tasks over ``bot_core.reporting``: scan, overview, plan, execute.

Each task makes one library call.  Reads retry (a scan can meet a directory being rotated by
the bot); the purge never retries: a second attempt would act on a tree the first attempt
already changed, and the plan's fingerprints are the only judge of what may still go.
"""

from __future__ import annotations

from datetime import datetime

from bot_core import reporting
from bot_core.audit import VerifiedBackup
from bot_core.reporting import Catalog, Filters, Overview, PurgePlan, PurgeResult
from tasks._task import maintenance_task

__all__ = ["build_overview", "execute_purge", "plan_purge", "scan_reports"]


@maintenance_task(retries=2, retry_delay_seconds=[1, 5])
def scan_reports(base_dir: str) -> Catalog:
    """Scan the report tree once; every later step of the run works from this scan."""
    return reporting.scan_reports(base_dir)


@maintenance_task()
def build_overview(catalog: Catalog, filters: Filters) -> Overview:
    """List the reports the filters select, with totals."""
    return reporting.build_overview(catalog, filters)


@maintenance_task()
def plan_purge(
    catalog: Catalog,
    filters: Filters,
    *,
    now: datetime,
    signal_quality_dir: str,
    signal_quality_retention_days: int,
    include_reports: bool = True,
) -> PurgePlan:
    """Seal the purge plan (targets, reasons, fingerprints, sha256) from the scan."""
    return reporting.plan_purge(
        catalog,
        filters,
        now=now,
        signal_quality_dir=signal_quality_dir,
        signal_quality_retention_days=signal_quality_retention_days,
        include_reports=include_reports,
    )


@maintenance_task()
def execute_purge(plan: PurgePlan, backups: list[VerifiedBackup]) -> PurgeResult:
    """Delete exactly the approved plan; the verified backups are the permission to do so.

    ``backups`` is not read by the executor: requiring it in the signature means nothing can
    call this task without first holding a :class:`VerifiedBackup` (only ``verify_backup``
    makes one).  No retries: a failed target is reported, never attempted twice.
    """
    if not backups:
        raise TypeError("execute_purge needs the verified backups of its targets")
    return reporting.execute_purge(plan, dry_run=False)
