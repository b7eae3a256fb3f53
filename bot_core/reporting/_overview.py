"""Build the ``overview`` document (contract section 3) from a scan and filters."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from pydantic_core import to_json

from bot_core._fs import display_path, iso_from_ns, open_relative_dir, split_relative, utc_from_ns
from bot_core.reporting._execute import open_base
from bot_core.reporting._filters import Filters
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
from bot_core.reporting._summary import read_summary

__all__ = [
    "MAX_EQUITY_POINTS",
    "OverviewParts",
    "build_overview",
    "overview_parts",
    "report_document",
    "report_json_fields",
    "write_overview",
]

MAX_EQUITY_POINTS = 600


def _absolute(catalog: Catalog, relative: str) -> str:
    return display_path(os.path.join(catalog.base_directory, relative))


def _current_summary(
    base_fd: int | None, report: ScannedReport
) -> tuple[dict[str, Any] | None, str | None]:
    """Re-read a summary the scan found valid, through descriptors that never follow links."""
    if report.summary_status != "valid":
        return None, report.summary_error
    if base_fd is None:
        return None, "summary could not be re-read: base directory is gone"
    try:
        dir_fd = open_relative_dir(base_fd, split_relative(report.identifier))
    except OSError as exc:
        return None, f"summary changed during the overview: {exc.strerror}"
    try:
        summary, error = read_summary(dir_fd)
    finally:
        os.close(dir_fd)
    if error is not None:
        return None, f"summary changed during the overview: {error}"
    return summary, None


def report_document(catalog: Catalog, report: ScannedReport, base_fd: int | None) -> Report:
    """The overview's view of one scanned report (its summary read again from disk)."""
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
    summary, summary_error = _current_summary(base_fd, report)
    return Report.model_construct(
        relative_path=display_path(report.identifier),
        category=display_path(report.category),
        display_name=display_path(report.display_name),
        summary_path=_absolute(catalog, summary_path) if summary_path else None,
        summary=summary,
        summary_error=summary_error,
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


def _dashboards(catalog: Catalog, matched: list[ScannedReport]) -> Dashboards:
    """Equity curve and heatmap over the matched reports, from the scan's compact columns."""
    columns = catalog.dashboards
    by_index: dict[int, ScannedReport] = {report.index: report for report in matched}
    rank = {report.index: position for position, report in enumerate(catalog.reports)}
    chosen = [i for i, owner in enumerate(columns.equity_report) if owner in by_index]
    # By time, ties by report identifier: two stable sorts on int keys (no tuple per point).
    chosen.sort(key=lambda i: rank[columns.equity_report[i]])
    chosen.sort(key=columns.equity_time.__getitem__)
    points: list[EquityPoint] = []
    for i in _downsample(chosen, MAX_EQUITY_POINTS):
        report = by_index[columns.equity_report[i]]
        points.append(
            EquityPoint(
                timestamp=utc_from_ns(columns.equity_time[i]),
                value=columns.equity_value[i],
                source=display_path(report.identifier),
                category=display_path(report.category),
                label=display_path(report.display_name),
            )
        )
    totals: dict[int, float] = {}
    sources: dict[int, dict[int, None]] = {}
    for i, owner in enumerate(columns.heat_report):
        if owner in by_index:
            asset = columns.heat_asset[i]
            totals[asset] = totals.get(asset, 0.0) + columns.heat_value[i]
            sources.setdefault(asset, {})[owner] = None
    cells = [
        HeatmapCell(
            asset=columns.assets[asset],
            label=columns.assets[asset],
            value=total,
            sources=[
                display_path(by_index[owner].identifier)
                for owner in sorted(sources[asset], key=rank.__getitem__)
            ],
        )
        for asset, total in sorted(totals.items(), key=lambda item: columns.assets[item[0]])
    ]
    return Dashboards(equity_curve=points, asset_heatmap=cells)


def _downsample(indices: list[int], limit: int) -> list[int]:
    """Keep at most ``limit`` evenly spread items; the first and the last are always kept."""
    if len(indices) <= limit:
        return indices
    last = len(indices) - 1
    keep = sorted({round(step * last / (limit - 1)) for step in range(limit)})
    return [indices[position] for position in keep]


@dataclass(slots=True)
class OverviewParts:
    """An overview whose report page is produced lazily (see :func:`write_overview`)."""

    catalog: Catalog
    head: Overview
    """The overview with an empty ``reports`` list: every total, category and chart."""
    page: list[ScannedReport]

    def iter_reports(self) -> Iterator[Report]:
        """The page's report documents, one at a time."""
        base_fd = open_base(self.catalog.base_directory) if self.catalog.exists else None
        try:
            for report in self.page:
                yield report_document(self.catalog, report, base_fd)
        finally:
            if base_fd is not None:
                os.close(base_fd)


def overview_parts(catalog: Catalog, filters: Filters) -> OverviewParts:
    """Filter, sort and page the catalog; summarise every filtered report."""
    selection = select_reports(catalog.reports, filters)
    summary, categories = _summaries(selection.matched)
    offset = filters.offset or 0
    pagination = Pagination(
        total_count=len(selection.matched),
        returned_count=len(selection.page),
        limit=filters.limit,
        offset=filters.offset,
        has_more=offset + len(selection.page) < len(selection.matched),
        has_previous=offset > 0,
    )
    head = Overview(
        reports=[],
        base_directory=display_path(catalog.base_directory),
        filters=filters,
        summary=summary,
        categories=categories,
        pagination=pagination,
        dashboards=_dashboards(catalog, selection.matched),
    )
    return OverviewParts(catalog, head, selection.page)


def build_overview(catalog: Catalog, filters: Filters) -> Overview:
    """The whole overview document in memory (fine for pages; see :func:`write_overview`)."""
    parts = overview_parts(catalog, filters)
    return parts.head.model_copy(update={"reports": list(parts.iter_reports())})


def report_json_fields(
    catalog: Catalog, report: ScannedReport, base_fd: int | None
) -> dict[str, Any]:
    """:func:`report_document` as the plain values its JSON holds, for :func:`write_overview`.

    Why not the model: building a frozen ``Report`` (and an ``ExportFile`` per export) for
    each of 100k reports, then serialising it through a Python-level timestamp serializer,
    cost about a third of the overview.  These are the same values, in the model's field
    order, with timestamps already in the contract's ISO form; ``pydantic_core.to_json``
    (the serializer ``model_dump_json`` itself uses) writes them byte for byte the same.
    """
    prefix = catalog.base_directory
    exports = [
        {
            "relative_path": display_path(entry.path),
            "absolute_path": display_path(os.path.join(prefix, entry.path)),
            "size": entry.size,
            "modified_at": iso_from_ns(entry.mtime_ns),
        }
        for entry in report.exports()
    ]
    summary_path = report.summary_path
    if exports:
        absolute_path = exports[0]["absolute_path"]
    else:
        absolute_path = _absolute(catalog, summary_path or report.identifier)
    summary, summary_error = _current_summary(base_fd, report)
    return {
        "relative_path": display_path(report.identifier),
        "category": display_path(report.category),
        "display_name": display_path(report.display_name),
        "summary_path": _absolute(catalog, summary_path) if summary_path else None,
        "summary": summary,
        "summary_error": summary_error,
        "summary_status": report.summary_status,
        "absolute_path": absolute_path,
        "exports": exports,
        "export_count": report.export_count,
        "total_size": report.total_size,
        "updated_at": iso_from_ns(report.updated_ns),
        "created_at": iso_from_ns(report.created_ns),
        "has_summary": report.kind == "summary",
        "has_exports": report.export_count > 0,
    }


_EMPTY_REPORTS = b'{"reports":[]'


def write_overview(parts: OverviewParts, out: BinaryIO, *, chunk: int = 512) -> None:
    """Write the overview as JSON without holding every report document in memory.

    The bytes are exactly ``Overview.model_dump_json()`` of the full document: the head is
    serialised by the model, the reports in chunks from :func:`report_json_fields` by the
    same serializer with the model's settings (``ser_json_inf_nan="null"``).
    """
    head = parts.head.model_dump_json().encode("utf-8")
    assert head.startswith(_EMPTY_REPORTS)
    out.write(b'{"reports":[')
    written = False
    batch: list[dict[str, Any]] = []
    catalog = parts.catalog
    base_fd = open_base(catalog.base_directory) if catalog.exists else None
    try:
        for report in parts.page:
            batch.append(report_json_fields(catalog, report, base_fd))
            if len(batch) == chunk:
                written = _write_batch(out, batch, written)
                batch = []
    finally:
        if base_fd is not None:
            os.close(base_fd)
    if batch:
        _write_batch(out, batch, written)
    out.write(b"]")
    out.write(head[len(_EMPTY_REPORTS) :])


def _write_batch(out: BinaryIO, batch: list[dict[str, Any]], written: bool) -> bool:
    if written:
        out.write(b",")
    out.write(to_json(batch, inf_nan_mode="null")[1:-1])
    return True
