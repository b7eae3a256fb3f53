"""Apply filters to a scan: filter, then sort, then offset/limit (contract section 2).

Also folds nested matches into their parent (contract sections 1 and 5): the planners act on
*targets*, and a report nested inside another matching report belongs to that target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot_core._fs import display_path, iso_from_ns, ns_from_datetime
from bot_core.reporting._filters import Filters
from bot_core.reporting._scan import ScannedReport

__all__ = ["Selection", "Target", "fold_nested", "select_reports", "selection_reason"]


def _timestamp_ns(value: datetime | None) -> int | None:
    """A filter bound in nanoseconds since the epoch, comparable with ``st_mtime_ns``."""
    return None if value is None else ns_from_datetime(value)


def _matches_query(report: ScannedReport, needle: str) -> bool:
    """Identifier (which starts with the category) or a top-level scalar of the summary."""
    return needle in display_path(report.identifier).casefold() or needle in report.query_text


def _build_predicate(filters: Filters) -> Callable[[ScannedReport], bool]:
    since = _timestamp_ns(filters.since)
    until = _timestamp_ns(filters.until)
    categories = set(filters.categories)
    status = filters.summary_status
    exports = filters.has_exports
    needle = filters.query.casefold() if filters.query else None

    def matches(report: ScannedReport) -> bool:
        if since is not None and report.updated_ns < since:
            return False
        if until is not None and report.updated_ns > until:
            return False
        if categories and report.category.casefold() not in categories:
            return False
        if status != "any" and report.summary_status != status:
            return False
        if exports == "yes" and report.export_count == 0:
            return False
        if exports == "no" and report.export_count > 0:
            return False
        return needle is None or _matches_query(report, needle)

    return matches


_SORT_KEYS: dict[str, Callable[[ScannedReport], Any]] = {
    "updated_at": lambda report: report.updated_ns,
    "created_at": lambda report: report.created_ns,
    "name": lambda report: report.display_name.casefold(),
    "size": lambda report: report.total_size,
}


@dataclass(slots=True)
class Selection:
    """The filtered, sorted reports and the page of them that offset/limit keep."""

    matched: list[ScannedReport]
    page: list[ScannedReport]


def select_reports(reports: Iterable[ScannedReport], filters: Filters) -> Selection:
    """Filter, sort (ties by identifier, in both directions), then cut the page."""
    matches = _build_predicate(filters)
    matched = [report for report in reports if matches(report)]
    matched.sort(key=lambda report: report.identifier)
    matched.sort(key=_SORT_KEYS[filters.sort_key], reverse=filters.sort_direction == "desc")
    start = filters.offset or 0
    stop = start + filters.limit if filters.limit is not None else None
    return Selection(matched, matched[start:stop])


@dataclass(slots=True)
class Target:
    """A selected report plus the selected reports nested inside it."""

    report: ScannedReport
    folded: list[ScannedReport] = field(default_factory=list)

    @property
    def reports(self) -> list[ScannedReport]:
        return [self.report, *self.folded]


def fold_nested(selected: Iterable[ScannedReport]) -> list[Target]:
    """Group selected reports into targets; a report nested in a selected one is folded in.

    Targets come back in path order, so execution order is stable whatever the sort was.
    """
    ordered = sorted(selected, key=lambda report: report.identifier.split("/"))
    targets: list[Target] = []
    for report in ordered:
        if targets:
            parent = targets[-1].report
            if parent.kind != "file" and report.identifier.startswith(parent.identifier + "/"):
                targets[-1].folded.append(report)
                continue
        targets.append(Target(report))
    return targets


def selection_reason(filters: Filters, target: Target) -> str:
    """Say, in words an approver reads, why this target was selected."""
    report = target.report
    parts: list[str] = []
    if filters.categories:
        parts.append(f"category {report.category.casefold()}")
    if filters.since is not None or filters.until is not None:
        parts.append(f"updated {iso_from_ns(report.updated_ns)}")
        if filters.since is not None:
            parts.append(f">= since {filters.since.isoformat()}")
        if filters.until is not None:
            parts.append(f"<= until {filters.until.isoformat()}")
    if filters.summary_status != "any":
        parts.append(f"summary {report.summary_status}")
    if filters.has_exports != "any":
        parts.append(f"exports {'yes' if report.export_count else 'no'}")
    if filters.query:
        parts.append(f"matches query {filters.query!r}")
    if filters.limit is not None or filters.offset:
        parts.append(f"within the page sorted by {filters.sort_key} {filters.sort_direction}")
    reason = "; ".join(parts) if parts else "every report matches (no filter given)"
    if target.folded:
        reason += f"; includes {len(target.folded)} matching nested report(s)"
    return reason
