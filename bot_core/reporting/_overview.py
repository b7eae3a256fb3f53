"""Build the ``overview`` document (contract section 3) from a scan and filters."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot_core._fs import display_path, utc_from_ns
from bot_core.reporting._filters import Filters, parse_timestamp
from bot_core.reporting._models import (
    CategorySummary,
    Dashboards,
    EquityPoint,
    ExportFile,
    HeatmapCell,
    Overview,
    OverviewSummary,
    Pagination,
    Report,
)
from bot_core.reporting._scan import Catalog, ScannedReport
from bot_core.reporting._select import select_reports

__all__ = ["MAX_EQUITY_POINTS", "build_overview", "report_document"]

MAX_EQUITY_POINTS = 600


def _absolute(catalog: Catalog, relative: str) -> str:
    return display_path(os.path.join(catalog.base_directory, relative))


def report_document(catalog: Catalog, report: ScannedReport) -> Report:
    """The overview's view of one scanned report."""
    exports = [
        ExportFile.model_construct(
            relative_path=display_path(entry.path),
            absolute_path=_absolute(catalog, entry.path),
            size=entry.size,
            modified_at=utc_from_ns(entry.mtime_ns),
        )
        for entry in report.exports()
    ]
    summary_path = report.summary_path
    if exports:
        absolute_path = exports[0].absolute_path
    else:
        absolute_path = _absolute(catalog, summary_path or report.identifier)
    return Report.model_construct(
        relative_path=display_path(report.identifier),
        category=display_path(report.category),
        display_name=display_path(report.display_name),
        summary_path=_absolute(catalog, summary_path) if summary_path else None,
        summary=report.summary,
        summary_error=report.summary_error,
        summary_status=report.summary_status,
        absolute_path=absolute_path,
        exports=exports,
        export_count=report.export_count,
        total_size=report.total_size,
        updated_at=utc_from_ns(report.updated_ns),
        created_at=utc_from_ns(report.created_ns),
        has_summary=report.kind == "summary",
        has_exports=report.export_count > 0,
    )


class _Totals:
    """Running totals shared by the overall summary and each category."""

    __slots__ = (
        "count",
        "earliest",
        "export_count",
        "has_exports",
        "has_summary",
        "invalid",
        "latest",
        "missing",
        "total_size",
    )

    def __init__(self) -> None:
        self.count = 0
        self.total_size = 0
        self.export_count = 0
        self.has_summary = 0
        self.has_exports = 0
        self.invalid = 0
        self.missing = 0
        self.latest: int | None = None
        self.earliest: int | None = None

    def add(self, report: ScannedReport) -> None:
        self.count += 1
        self.total_size += report.total_size
        self.export_count += report.export_count
        status = report.summary_status
        self.has_summary += report.kind == "summary"
        self.has_exports += report.export_count > 0
        self.invalid += status == "invalid"
        self.missing += status == "missing"
        if self.latest is None or report.updated_ns > self.latest:
            self.latest = report.updated_ns
        if self.earliest is None or report.created_ns < self.earliest:
            self.earliest = report.created_ns

    def latest_at(self) -> datetime | None:
        return utc_from_ns(self.latest) if self.latest is not None else None

    def earliest_at(self) -> datetime | None:
        return utc_from_ns(self.earliest) if self.earliest is not None else None


def _summaries(matched: Iterable[ScannedReport]) -> tuple[OverviewSummary, list[CategorySummary]]:
    overall = _Totals()
    per_category: dict[str, _Totals] = {}
    for report in matched:
        overall.add(report)
        per_category.setdefault(report.category, _Totals()).add(report)
    summary = OverviewSummary(
        report_count=overall.count,
        category_count=len(per_category),
        total_size=overall.total_size,
        export_count=overall.export_count,
        has_summary=overall.has_summary,
        has_exports=overall.has_exports,
        invalid_summary_count=overall.invalid,
        missing_summary_count=overall.missing,
        latest_updated_at=overall.latest_at(),
        earliest_updated_at=overall.earliest_at(),
    )
    categories = [
        CategorySummary(
            id=display_path(name),
            label=display_path(name),
            count=totals.count,
            total_size=totals.total_size,
            export_count=totals.export_count,
            latest_updated_at=totals.latest_at(),
            earliest_updated_at=totals.earliest_at(),
            has_summary=totals.has_summary,
            has_exports=totals.has_exports,
            invalid_summary_count=totals.invalid,
            missing_summary_count=totals.missing,
        )
        for name, totals in sorted(per_category.items())
    ]
    return summary, categories


# --- dashboards ------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _point_time(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None
        seconds = value / 1000 if abs(value) > 1e11 else value  # epoch milliseconds
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = parse_timestamp(value)
        except ValueError:
            return None
        if isinstance(parsed, datetime):
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return None


def _equity_points(report: ScannedReport) -> list[EquityPoint]:
    assert report.summary is not None
    raw = report.summary.get("equity_curve")
    if not isinstance(raw, list):
        return []
    source = display_path(report.identifier)
    category = display_path(report.category)
    label = display_path(report.display_name)
    points: list[EquityPoint] = []
    for item in raw:
        if isinstance(item, dict):
            stamp, value = item.get("timestamp"), item.get("value")
        elif isinstance(item, list) and len(item) == 2:
            stamp, value = item
        else:
            continue
        when, number = _point_time(stamp), _number(value)
        if when is None or number is None:
            continue
        points.append(
            EquityPoint.model_construct(
                timestamp=when, value=number, source=source, category=category, label=label
            )
        )
    return points


def _downsample(points: list[EquityPoint], limit: int) -> list[EquityPoint]:
    """Keep at most ``limit`` evenly spread points; the first and the last are always kept."""
    if len(points) <= limit:
        return points
    last = len(points) - 1
    indices = sorted({round(step * last / (limit - 1)) for step in range(limit)})
    return [points[index] for index in indices]


def _heatmap_entries(summary: dict[str, Any]) -> list[tuple[str, float]]:
    raw = summary.get("asset_heatmap")
    entries: list[tuple[str, float]] = []
    if isinstance(raw, dict):
        for asset, value in raw.items():
            number = _number(value.get("value")) if isinstance(value, dict) else _number(value)
            if number is not None and str(asset).strip():
                entries.append((str(asset), number))
    elif isinstance(raw, list):
        for item in raw:
            if not isinstance(item, dict):
                continue
            asset = item.get("asset", item.get("symbol"))
            number = _number(item.get("value"))
            if isinstance(asset, str) and asset.strip() and number is not None:
                entries.append((asset, number))
    return entries


def _dashboards(matched: Iterable[ScannedReport]) -> Dashboards:
    points: list[EquityPoint] = []
    heat: dict[str, tuple[float, list[str]]] = {}
    for report in matched:
        if report.summary is None:
            continue
        points.extend(_equity_points(report))
        source = display_path(report.identifier)
        for asset, value in _heatmap_entries(report.summary):
            total, sources = heat.get(asset, (0.0, []))
            if source not in sources:
                sources.append(source)
            heat[asset] = (total + value, sources)
    points.sort(key=lambda point: (point.timestamp, point.source))
    cells = [
        HeatmapCell(asset=asset, label=asset, value=total, sources=sources)
        for asset, (total, sources) in sorted(heat.items())
    ]
    return Dashboards(equity_curve=_downsample(points, MAX_EQUITY_POINTS), asset_heatmap=cells)


def build_overview(catalog: Catalog, filters: Filters) -> Overview:
    """Filter, sort and page the catalog; summarise every filtered report."""
    selection = select_reports(catalog.reports, filters)
    summary, categories = _summaries(selection.matched)
    offset = filters.offset or 0
    page = [report_document(catalog, report) for report in selection.page]
    pagination = Pagination(
        total_count=len(selection.matched),
        returned_count=len(page),
        limit=filters.limit,
        offset=filters.offset,
        has_more=offset + len(page) < len(selection.matched),
        has_previous=offset > 0,
    )
    return Overview(
        reports=page,
        base_directory=display_path(catalog.base_directory),
        filters=filters,
        summary=summary,
        categories=categories,
        pagination=pagination,
        dashboards=_dashboards(selection.matched),
    )
