"""The JSON documents of the report catalog: contract sections 3-6, and the plans.

Field names and status words are the contract's (the desktop Report Center parses them), in
the contract's order.  Documents are frozen and reject unknown fields.  A few fields are
*optional in the output* ("+ error", "+ dry_run" in the contract): those are left out of the
JSON when they are ``None`` rather than written as ``null`` (:class:`SparseDocument`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, Self

from pydantic import Field

from bot_core._fs import decode_raw_path
from bot_core._types import Document, SparseDocument, UtcDateTime
from bot_core.reporting._filters import Filters

__all__ = [
    "ArchiveFormat",
    "ArchivePlan",
    "ArchivePlannedTarget",
    "ArchiveResult",
    "ArchiveTargetResult",
    "ArchiveTargetStatus",
    "BatchStatus",
    "CategorySummary",
    "Dashboards",
    "DeletePlan",
    "DeleteResult",
    "EquityPoint",
    "ExportFile",
    "FoldedReport",
    "HeatmapCell",
    "Overview",
    "OverviewSummary",
    "Pagination",
    "PlannedTarget",
    "PurgePlan",
    "PurgeResult",
    "PurgeTargetResult",
    "Report",
    "ReportKind",
    "SignalQualityCleanup",
    "SignalQualityFile",
    "SignalQualityPlan",
    "SignalQualityStatus",
    "SummaryStatus",
    "TargetStatus",
]

ReportKind = Literal["summary", "orphan", "file"]
"""What makes a report (contract 1): a directory with ``summary.json``, a directory of loose
files without one, or a regular file directly in the base directory."""

SummaryStatus = Literal["valid", "missing", "invalid"]
TargetStatus = Literal["preview", "deleted", "not_found", "error"]
ArchiveTargetStatus = Literal["preview", "copied", "skipped_existing", "not_found", "error"]
BatchStatus = Literal["empty", "preview", "completed", "partial_failure", "error"]
SignalQualityStatus = Literal[
    "skipped", "missing", "empty", "preview", "completed", "partial_failure", "error"
]
ArchiveFormat = Literal["directory", "zip", "tar"]


# --- overview (contract 3) -------------------------------------------------------------------


class ExportFile(Document):
    """One file a report owns, other than its own ``summary.json``."""

    relative_path: str
    absolute_path: str
    size: int
    modified_at: UtcDateTime


class Report(Document):
    """One report as the overview lists it."""

    relative_path: str
    category: str
    display_name: str
    summary_path: str | None
    summary: dict[str, Any] | None
    summary_error: str | None
    summary_status: SummaryStatus
    absolute_path: str
    exports: list[ExportFile]
    export_count: int
    total_size: int
    updated_at: UtcDateTime
    created_at: UtcDateTime
    has_summary: bool
    has_exports: bool


class OverviewSummary(Document):
    """Totals over every filtered report (not only the returned page).

    ``has_summary`` and ``has_exports`` count the reports that have one.
    """

    report_count: int
    category_count: int
    total_size: int
    export_count: int
    has_summary: int
    has_exports: int
    invalid_summary_count: int
    missing_summary_count: int
    latest_updated_at: UtcDateTime | None
    earliest_updated_at: UtcDateTime | None


class CategorySummary(Document):
    """Totals of one category over the filtered reports."""

    id: str
    label: str
    count: int
    total_size: int
    export_count: int
    latest_updated_at: UtcDateTime | None
    earliest_updated_at: UtcDateTime | None
    has_summary: int
    has_exports: int
    invalid_summary_count: int
    missing_summary_count: int


class Pagination(Document):
    """Where the returned page sits in the filtered list."""

    total_count: int
    returned_count: int
    limit: int | None
    offset: int | None
    has_more: bool
    has_previous: bool


class EquityPoint(Document):
    """One point of the combined equity curve."""

    timestamp: UtcDateTime
    value: float
    source: str
    category: str
    label: str


class HeatmapCell(Document):
    """One asset of the heatmap, summed over the reports that mention it."""

    asset: str
    label: str
    value: float
    sources: list[str]


class Dashboards(Document):
    """Data for the Report Center's charts."""

    equity_curve: list[EquityPoint]
    asset_heatmap: list[HeatmapCell]


class Overview(Document):
    """The output of ``overview``."""

    reports: list[Report]
    base_directory: str
    filters: Filters
    summary: OverviewSummary
    categories: list[CategorySummary]
    pagination: Pagination
    dashboards: Dashboards


# --- plans -----------------------------------------------------------------------------------


class _DigestedDocument(Document):
    """A document sealed with the sha256 of its own canonical JSON (``sha256`` excluded).

    Canonical JSON: keys sorted, no whitespace, UTF-8.  The digest is what an approver
    approves; :meth:`verify_digest` refuses a document edited after it was sealed.
    """

    sha256: str = ""

    def compute_digest(self) -> str:
        payload = self.model_dump(mode="json", exclude={"sha256"})
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def sealed(self) -> Self:
        """Return a copy whose ``sha256`` is the digest of its content."""
        return self.model_copy(update={"sha256": self.compute_digest()})

    def verify_digest(self) -> bool:
        return bool(self.sha256) and self.sha256 == self.compute_digest()


def _fs_base_directory(plan: PurgePlan | ArchivePlan | DeletePlan) -> str:
    """The plan's base directory, as the filesystem spells it."""
    return decode_raw_path(plan.base_directory, plan.raw_base_directory)


class FoldedReport(Document):
    """A matching report nested inside a target, deleted or archived as part of it."""

    relative_path: str
    raw_path: str | None = Field(
        default=None, description="base64 of the raw name when it is not valid UTF-8"
    )
    kind: ReportKind

    @property
    def fs_path(self) -> str:
        """The report's path relative to the base, as the filesystem spells it."""
        return decode_raw_path(self.relative_path, self.raw_path)


class PlannedTarget(Document):
    """One target of a plan, with the fingerprint the executor re-checks before acting."""

    relative_path: str
    raw_path: str | None = Field(
        default=None, description="base64 of the raw name when it is not valid UTF-8"
    )
    absolute_path: str
    kind: ReportKind
    category: str
    reason: str = Field(description="why this target was selected")
    folded: list[FoldedReport]
    file_count: int
    directory_count: int = Field(description="directories the operation removes or creates")
    size: int
    oldest_modified_at: UtcDateTime
    newest_modified_at: UtcDateTime
    fingerprint: str = Field(
        description="sha256 over every owned file's path, size and mtime and every directory"
    )

    @property
    def fs_path(self) -> str:
        """The target's path relative to the base, as the filesystem spells it."""
        return decode_raw_path(self.relative_path, self.raw_path)


class ArchivePlannedTarget(PlannedTarget):
    """An archive target and where it will be written."""

    destination_path: str
    raw_destination_path: str | None = None
    destination_exists: bool

    @property
    def fs_destination_path(self) -> str:
        """Where the archive goes, as the filesystem spells it."""
        return decode_raw_path(self.destination_path, self.raw_destination_path)


class SignalQualityFile(Document):
    """A signal-quality file old enough to be removed."""

    path: str
    raw_path: str | None = None
    size: int
    modified_at: UtcDateTime
    mtime_ns: int

    @property
    def fs_path(self) -> str:
        """The file's absolute path, as the filesystem spells it."""
        return decode_raw_path(self.path, self.raw_path)


class SignalQualityPlan(Document):
    """The signal-quality retention part of a purge plan (contract 5)."""

    directory: str
    raw_directory: str | None = None
    retention_days: int
    cutoff: UtcDateTime | None
    outcome: Literal["skipped", "missing", "planned"]
    reason: str | None = None
    files: list[SignalQualityFile]

    @property
    def fs_directory(self) -> str:
        """The directory's absolute path, as the filesystem spells it."""
        return decode_raw_path(self.directory, self.raw_directory)


class PurgePlan(_DigestedDocument):
    """Everything a purge will delete, decided once and executed exactly."""

    operation: Literal["purge"] = "purge"
    created_at: UtcDateTime
    base_directory: str
    raw_base_directory: str | None = None
    filters: Filters
    matched_report_count: int = Field(description="reports that matched before nesting was folded")
    targets: list[PlannedTarget]
    signal_quality: SignalQualityPlan
    total_files: int
    total_size: int

    fs_base_directory = property(_fs_base_directory)


class ArchivePlan(_DigestedDocument):
    """Everything an archive run will copy, and where."""

    operation: Literal["archive"] = "archive"
    created_at: UtcDateTime
    base_directory: str
    raw_base_directory: str | None = None
    destination_directory: str
    raw_destination_directory: str | None = None
    format: ArchiveFormat
    overwrite: bool
    filters: Filters
    matched_report_count: int
    targets: list[ArchivePlannedTarget]
    total_files: int
    total_size: int

    fs_base_directory = property(_fs_base_directory)

    @property
    def fs_destination_directory(self) -> str:
        """The destination directory, as the filesystem spells it."""
        return decode_raw_path(self.destination_directory, self.raw_destination_directory)


class DeletePlan(_DigestedDocument):
    """One path an operator named for deletion (contract 4)."""

    operation: Literal["delete"] = "delete"
    created_at: UtcDateTime
    base_directory: str
    raw_base_directory: str | None = None
    relative_path: str
    raw_path: str | None = None
    absolute_path: str
    exists: bool
    is_directory: bool
    file_count: int
    directory_count: int
    size: int
    fingerprint: str

    # --- results ---------------------------------------------------------------------------------

    fs_base_directory = property(_fs_base_directory)

    @property
    def fs_path(self) -> str:
        """The path to delete, relative to the base, as the filesystem spells it."""
        return decode_raw_path(self.relative_path, self.raw_path)


class DeleteResult(SparseDocument):
    """The output of ``delete``."""

    _omit_when_none = frozenset({"dry_run", "error"})

    base_directory: str
    relative_path: str
    absolute_path: str
    removed_files: int
    removed_directories: int
    removed_size: int
    status: TargetStatus
    dry_run: bool | None = None
    error: str | None = None


class PurgeTargetResult(SparseDocument):
    """What happened to one purge target."""

    _omit_when_none = frozenset({"error"})

    relative_path: str
    absolute_path: str
    removed_files: int
    removed_directories: int
    removed_size: int
    status: TargetStatus
    error: str | None = None


class SignalQualityFileResult(SparseDocument):
    """What happened to one signal-quality file."""

    _omit_when_none = frozenset({"error"})

    path: str
    size: int
    modified_at: UtcDateTime
    status: TargetStatus
    error: str | None = None


class SignalQualityCleanup(SparseDocument):
    """The ``signal_quality_cleanup`` section of a purge result."""

    _omit_when_none = frozenset({"reason", "errors"})

    directory: str
    retention_days: int
    cutoff: UtcDateTime | None
    matched: int
    removed: int
    removed_size: int
    targets: list[SignalQualityFileResult]
    status: SignalQualityStatus
    reason: str | None = None
    errors: list[str] | None = None


class PurgeResult(SparseDocument):
    """The output of ``purge``."""

    _omit_when_none = frozenset({"errors", "dry_run"})

    base_directory: str
    filters: Filters
    matched_count: int
    planned_count: int
    deleted_count: int
    removed_files: int
    removed_directories: int
    removed_size: int
    targets: list[PurgeTargetResult]
    status: BatchStatus
    errors: list[str] | None = None
    dry_run: bool | None = None
    signal_quality_cleanup: SignalQualityCleanup
    plan_sha256: str


class ArchiveTargetResult(SparseDocument):
    """What happened to one archive target; ``sha256`` is the written archive's digest."""

    _omit_when_none = frozenset({"error"})

    relative_path: str
    absolute_path: str
    destination_path: str
    copied_files: int
    copied_directories: int
    copied_size: int
    status: ArchiveTargetStatus
    sha256: str | None = None
    error: str | None = None


class ArchiveResult(SparseDocument):
    """The output of ``archive``."""

    _omit_when_none = frozenset({"errors", "dry_run"})

    base_directory: str
    destination_directory: str
    format: ArchiveFormat
    filters: Filters
    matched_count: int
    planned_count: int
    copied_count: int
    copied_files: int
    copied_directories: int
    copied_size: int
    targets: list[ArchiveTargetResult]
    status: BatchStatus
    errors: list[str] | None = None
    dry_run: bool | None = None
    plan_sha256: str
