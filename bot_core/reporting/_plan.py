"""Turn a scan, filters and ``now`` into a sealed plan (pure: no disk writes, no clock).

A plan lists every target with the facts an approver needs (size, file count, mtimes, why it
was selected) and the fingerprint the executor re-checks.  Its sha256 covers all of it, so
an approval given for one plan cannot be applied to another.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection
from datetime import datetime

from bot_core._fs import display_path, encode_raw_path, utc_from_ns
from bot_core.errors import InvalidDestinationError, InvalidInputError
from bot_core.reporting._filters import Filters
from bot_core.reporting._models import (
    ArchiveFormat,
    ArchivePlan,
    ArchivePlannedTarget,
    FoldedReport,
    PlannedTarget,
    PurgePlan,
    SignalQualityPlan,
)
from bot_core.reporting._scan import Catalog
from bot_core.reporting._select import Target, fold_nested, select_reports, selection_reason
from bot_core.reporting._signal_quality import plan_signal_quality_cleanup
from bot_core.reporting._walk import fingerprint

__all__ = [
    "archive_destination",
    "default_archive_destination",
    "plan_archive",
    "plan_purge",
    "plan_source_removal",
    "resolve_destination",
]


def _walked_directories(target: Target) -> set[str]:
    """The directories an executor enters: owned ones plus those leading to folded reports."""
    walked = {directory for report in target.reports for directory in report.directories}
    root_depth = target.report.identifier.count("/") + 1
    for nested in target.folded:
        parts = nested.identifier.split("/")
        for end in range(root_depth + 1, len(parts)):
            walked.add("/".join(parts[:end]))
    return walked


def _target_facts(catalog: Catalog, target: Target, filters: Filters) -> PlannedTarget:
    files = [entry for report in target.reports for entry in report.files]
    walked = _walked_directories(target)
    in_directory = Counter(entry.path.rpartition("/")[0] for entry in files)
    removable: dict[str, bool] = {}
    for directory in sorted(walked, key=lambda path: path.count("/"), reverse=True):
        node = catalog.directories.get(directory)
        removable[directory] = (
            node is not None
            and in_directory[directory] == node.entries
            and all(removable.get(child, False) for child in node.children)
        )
    mtimes = [entry.mtime_ns for entry in files] or [target.report.updated_ns]
    identifier = target.report.identifier
    return PlannedTarget(
        relative_path=display_path(identifier),
        raw_path=encode_raw_path(identifier),
        absolute_path=display_path(os.path.join(catalog.base_directory, identifier)),
        kind=target.report.kind,
        category=display_path(target.report.category),
        reason=selection_reason(filters, target),
        folded=[
            FoldedReport(
                relative_path=display_path(nested.identifier),
                raw_path=encode_raw_path(nested.identifier),
                kind=nested.kind,
            )
            for nested in target.folded
        ],
        file_count=len(files),
        directory_count=sum(removable.values()),
        size=sum(entry.size for entry in files),
        oldest_modified_at=utc_from_ns(min(mtimes)),
        newest_modified_at=utc_from_ns(max(mtimes)),
        fingerprint=fingerprint(files, walked),
    )


def _targets(catalog: Catalog, filters: Filters) -> tuple[int, list[Target]]:
    selection = select_reports(catalog.reports, filters)
    return len(selection.page), fold_nested(selection.page)


def plan_purge(
    catalog: Catalog,
    filters: Filters,
    *,
    now: datetime,
    signal_quality_dir: str,
    signal_quality_retention_days: int,
    include_reports: bool = True,
) -> PurgePlan:
    """Plan a purge of every report the filters select, plus signal-quality retention.

    ``include_reports=False`` plans the signal-quality retention alone (no report is a
    target, whatever the filters select): the nightly retention deployment runs it so.
    """
    matched, targets = _targets(catalog, filters) if include_reports else (0, [])
    planned = [_target_facts(catalog, target, filters) for target in targets]
    return PurgePlan(
        created_at=now,
        base_directory=display_path(catalog.base_directory),
        raw_base_directory=encode_raw_path(catalog.base_directory),
        filters=filters,
        matched_report_count=matched,
        targets=planned,
        signal_quality=plan_signal_quality_cleanup(
            signal_quality_dir,
            retention_days=signal_quality_retention_days,
            until=filters.until,
            now=now,
        ),
        total_files=sum(target.file_count for target in planned),
        total_size=sum(target.size for target in planned),
    ).sealed()


def default_archive_destination(base_directory: str) -> str:
    """``<base>_archives`` beside the base directory (contract 6)."""
    return os.path.abspath(base_directory).rstrip("/") + "_archives"


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def resolve_destination(base_directory: str, destination: str | None) -> str:
    """Absolute destination; refuse one equal to or inside the base (symlinks resolved)."""
    base = os.path.abspath(base_directory)
    if destination is not None and not destination.strip():
        raise InvalidDestinationError("--destination is blank")
    chosen = os.path.abspath(destination) if destination else default_archive_destination(base)
    for candidate in {chosen, os.path.realpath(chosen)}:
        for root in {base, os.path.realpath(base)}:
            if _inside(candidate, root):
                raise InvalidDestinationError(
                    f"destination {display_path(chosen)} is inside the base directory "
                    f"{display_path(base)}; choose a directory outside it"
                )
    if os.path.lexists(chosen) and not os.path.isdir(chosen):
        raise InvalidDestinationError(f"destination {display_path(chosen)} is not a directory")
    return chosen


_SUFFIXES: dict[str, str] = {"directory": "", "zip": ".zip", "tar": ".tar.gz"}


def archive_destination(destination: str, identifier: str, archive_format: ArchiveFormat) -> str:
    """Where one target goes: ``<dest>/<identifier>`` or ``<dest>/<parent>/<name>.zip``."""
    return os.path.join(destination, identifier + _SUFFIXES[archive_format])


def plan_archive(
    catalog: Catalog,
    filters: Filters,
    *,
    now: datetime,
    destination: str,
    archive_format: ArchiveFormat,
    overwrite: bool,
) -> ArchivePlan:
    """Plan copying every selected report to ``destination`` (already resolved)."""
    matched, targets = _targets(catalog, filters)
    planned: list[ArchivePlannedTarget] = []
    for target in targets:
        facts = _target_facts(catalog, target, filters)
        where = archive_destination(destination, target.report.identifier, archive_format)
        copied_directories = len(_walked_directories(target))
        planned.append(
            ArchivePlannedTarget(
                **{**facts.model_dump(), "directory_count": copied_directories},
                destination_path=display_path(where),
                raw_destination_path=encode_raw_path(where),
                destination_exists=os.path.lexists(where),
            )
        )
    return ArchivePlan(
        created_at=now,
        base_directory=display_path(catalog.base_directory),
        raw_base_directory=encode_raw_path(catalog.base_directory),
        destination_directory=display_path(destination),
        raw_destination_directory=encode_raw_path(destination),
        format=archive_format,
        overwrite=overwrite,
        filters=filters,
        matched_report_count=matched,
        targets=planned,
        total_files=sum(target.file_count for target in planned),
        total_size=sum(target.size for target in planned),
    ).sealed()


def plan_source_removal(
    archive_plan: ArchivePlan, relative_paths: Collection[str], *, now: datetime
) -> PurgePlan:
    """A sealed purge plan for the sources of an archive run whose archives were verified.

    Why a purge plan: :func:`execute_purge` re-walks each target and deletes it only if its
    fingerprint still matches, so a source changed after it was archived is kept and
    reported.  The targets are the archive plan's own (same fingerprints, same reasons),
    restricted to ``relative_paths``; the filters and base directory are the archive
    plan's.  Signal-quality retention is not part of an archive: that part is ``skipped``.
    """
    wanted = set(relative_paths)
    unknown = wanted - {target.relative_path for target in archive_plan.targets}
    if unknown:
        raise InvalidInputError(f"not targets of the archive plan: {', '.join(sorted(unknown))}")
    targets = [
        PlannedTarget.model_validate(
            target.model_dump(
                exclude={"destination_path", "raw_destination_path", "destination_exists"}
            )
        )
        for target in archive_plan.targets
        if target.relative_path in wanted
    ]
    return PurgePlan(
        created_at=now,
        base_directory=archive_plan.base_directory,
        raw_base_directory=archive_plan.raw_base_directory,
        filters=archive_plan.filters,
        matched_report_count=len(targets),
        targets=targets,
        signal_quality=SignalQualityPlan(
            directory=archive_plan.base_directory,
            raw_directory=archive_plan.raw_base_directory,
            retention_days=0,
            cutoff=None,
            outcome="skipped",
            reason="archive_delete_after",
            files=[],
        ),
        total_files=sum(target.file_count for target in targets),
        total_size=sum(target.size for target in targets),
    ).sealed()
