"""Report catalog: scan, filter, plan and execute maintenance of operational reports.

Scanning (:func:`scan_reports`), filtering (:func:`select_reports`), planning
(:func:`plan_purge`, :func:`plan_archive`, :func:`plan_delete`) and executing
(:func:`execute_purge`, :func:`execute_archive`, :func:`execute_delete`) are separate
functions over pydantic models; :func:`overview`, :func:`purge`, :func:`archive` and
:func:`delete` chain them for the command line (``bot_core.reporting.ui_bridge``).
"""

from bot_core.reporting._api import DEFAULT_BASE_DIR, archive, delete, overview, purge, scan
from bot_core.reporting._archive import execute_archive
from bot_core.reporting._cli import filter_options, filters_from_args
from bot_core.reporting._execute import execute_delete, execute_purge, plan_delete
from bot_core.reporting._filters import Filters, parse_filters, within_age_window
from bot_core.reporting._models import (
    ArchivePlan,
    ArchivePlannedTarget,
    ArchiveResult,
    ArchiveTargetResult,
    DeletePlan,
    DeleteResult,
    Overview,
    PlannedTarget,
    PurgePlan,
    PurgeResult,
    PurgeTargetResult,
    Report,
    SignalQualityCleanup,
    SignalQualityPlan,
)
from bot_core.reporting._overview import build_overview
from bot_core.reporting._plan import (
    plan_archive,
    plan_purge,
    plan_source_removal,
    resolve_destination,
)
from bot_core.reporting._scan import Catalog, ScannedReport, scan_reports
from bot_core.reporting._select import fold_nested, select_reports
from bot_core.reporting._signal_quality import DEFAULT_RETENTION_DAYS, DEFAULT_SIGNAL_QUALITY_DIR

__all__ = [
    "DEFAULT_BASE_DIR",
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_SIGNAL_QUALITY_DIR",
    "ArchivePlan",
    "ArchivePlannedTarget",
    "ArchiveResult",
    "ArchiveTargetResult",
    "Catalog",
    "DeletePlan",
    "DeleteResult",
    "Filters",
    "Overview",
    "PlannedTarget",
    "PurgePlan",
    "PurgeResult",
    "PurgeTargetResult",
    "Report",
    "ScannedReport",
    "SignalQualityCleanup",
    "SignalQualityPlan",
    "archive",
    "build_overview",
    "delete",
    "execute_archive",
    "execute_delete",
    "execute_purge",
    "filter_options",
    "filters_from_args",
    "fold_nested",
    "overview",
    "parse_filters",
    "plan_archive",
    "plan_delete",
    "plan_purge",
    "plan_source_removal",
    "purge",
    "resolve_destination",
    "scan",
    "scan_reports",
    "select_reports",
    "within_age_window",
]
