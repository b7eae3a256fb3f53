"""Discover the reports under a base directory in one pass (contract section 1).

Why it looks the way it does:

* One ``os.scandir`` per directory and one ``lstat`` per entry, opened relative to the parent
  directory's descriptor with ``O_NOFOLLOW``: a symlink is recorded as a link and never
  followed, and a directory swapped for a symlink during the scan is refused, not entered.
* The scan reads no clock and no environment: it returns plain records (cheap to build for
  100k reports); the overview and the planners turn them into documents.
* Every directory's child directories and loose entries are remembered, so a planner can
  predict exactly which directories a purge will empty without touching the disk again.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from typing import NamedTuple

from bot_core._fs import DIR_OPEN_FLAGS, display_path
from bot_core._progress import NullProgress, ProgressCallback
from bot_core.errors import InvalidInputError, OperationError
from bot_core.reporting._models import ReportKind, SummaryStatus
from bot_core.reporting._summary import (
    MAX_SUMMARY_BYTES,
    SUMMARY_NAME,
    DashboardColumns,
    read_summary,
    summary_facts,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_SUMMARY_BYTES",
    "SUMMARY_NAME",
    "Catalog",
    "DirectoryNode",
    "FileEntry",
    "ScannedReport",
    "scan_reports",
]

MAX_DEPTH = 256
"""Directories nested deeper than this are not entered (a warning says so)."""


class FileEntry(NamedTuple):
    """One non-directory entry: path relative to the base (raw), size, mtime, link flag.

    Symlinks and other special files have ``is_link`` set and a size of 0 (contract 1).
    """

    path: str
    size: int
    mtime_ns: int
    is_link: bool


@dataclass(slots=True)
class DirectoryNode:
    """What the planner needs to know about one directory to predict its removal."""

    children: list[str] = field(default_factory=list)
    """Child directories (relative to the base) that were scanned."""
    entries: int = 0
    """Non-directory entries plus child directories that could not be scanned."""


@dataclass(slots=True)
class ScannedReport:
    """One report found on disk, before any filter."""

    identifier: str
    kind: ReportKind
    files: list[FileEntry] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)
    index: int = 0
    """Position in scan order; dashboard points refer to reports by it."""
    report_date: str | None = None
    query_text: str = ""
    """Case-folded top-level scalar values of a valid summary, for ``--query``."""
    summary_error: str | None = None
    summary_mtime_ns: int | None = None
    total_size: int = 0
    export_count: int = 0
    updated_ns: int = 0
    created_ns: int = 0

    @property
    def category(self) -> str:
        return self.identifier.split("/", 1)[0]

    @property
    def summary_status(self) -> SummaryStatus:
        if self.kind != "summary":
            return "missing"
        return "valid" if self.summary_error is None else "invalid"

    @property
    def summary_path(self) -> str | None:
        return f"{self.identifier}/{SUMMARY_NAME}" if self.kind == "summary" else None

    @property
    def display_name(self) -> str:
        return self.report_date if self.report_date is not None else display_path(self.identifier)

    def exports(self) -> list[FileEntry]:
        """The owned files other than the report's own summary, sorted by path."""
        own_summary = self.summary_path
        return sorted(entry for entry in self.files if entry.path != own_summary)

    def finish(self) -> None:
        """Compute the totals the filters and sorts use, once the scan is complete."""
        own_summary = self.summary_path
        mtimes = [entry.mtime_ns for entry in self.files]
        exports = [entry for entry in self.files if entry.path != own_summary]
        self.export_count = len(exports)
        self.total_size = sum(entry.size for entry in exports)
        self.created_ns = min(mtimes) if mtimes else 0
        if self.summary_mtime_ns is not None:
            self.updated_ns = self.summary_mtime_ns
        else:
            self.updated_ns = max((entry.mtime_ns for entry in exports), default=self.created_ns)


@dataclass(slots=True)
class Catalog:
    """Everything one scan found."""

    base_directory: str
    """Absolute path of the base directory (raw)."""
    exists: bool
    reports: list[ScannedReport]
    directories: dict[str, DirectoryNode]
    warnings: list[str]
    device: int = 0
    dashboards: DashboardColumns = field(default_factory=DashboardColumns)


class _Scanner:
    """The walk itself; see :func:`scan_reports`."""

    def __init__(self, base: str, device: int, progress: ProgressCallback) -> None:
        self.base = base
        self.device = device
        self.progress = progress
        self.reports: list[ScannedReport] = []
        self.directories: dict[str, DirectoryNode] = {}
        self.warnings: list[str] = []
        self.dashboards = DashboardColumns()
        self.scanned = 0

    def add(self, report: ScannedReport) -> ScannedReport:
        report.index = len(self.reports)
        self.reports.append(report)
        return report

    def warn(self, relative: str, message: str) -> None:
        self.warnings.append(f"{display_path(relative) or '.'}: {message}")

    def run(self, base_fd: int) -> None:
        # Each frame: (descriptor, relative path, owning summary report, pending child names).
        root = self.visit(base_fd, "", None)
        stack: list[tuple[int, str, ScannedReport | None, list[str]]] = [
            (base_fd, "", root[0], root[1])
        ]
        while stack:
            fd, relative, owner, pending = stack[-1]
            if not pending:
                stack.pop()
                if relative:
                    os.close(fd)
                continue
            name = pending.pop()
            child = f"{relative}/{name}" if relative else name
            child_fd = self.open_child(fd, name, child, relative, len(stack))
            if child_fd is None:
                continue
            try:
                child_owner, child_pending = self.visit(child_fd, child, owner)
            except BaseException:
                os.close(child_fd)
                raise
            stack.append((child_fd, child, child_owner, child_pending))

    def open_child(
        self, parent_fd: int, name: str, child: str, parent: str, depth: int
    ) -> int | None:
        node = self.directories[parent]
        if depth >= MAX_DEPTH:
            self.warn(child, f"nested deeper than {MAX_DEPTH} directories; not scanned")
            node.entries += 1
            return None
        try:
            child_fd = os.open(name, DIR_OPEN_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                self.warn(child, f"cannot open directory: {exc.strerror}")
                node.entries += 1
            return None
        if os.fstat(child_fd).st_dev != self.device:
            os.close(child_fd)
            self.warn(child, "on another filesystem; not scanned")
            node.entries += 1
            return None
        node.children.append(child)
        return child_fd

    def visit(
        self, fd: int, relative: str, owner: ScannedReport | None
    ) -> tuple[ScannedReport | None, list[str]]:
        """List one directory; decide which report owns it; return its owner and subdirs."""
        node = DirectoryNode()
        self.directories[relative] = node
        files: list[FileEntry] = []
        subdirs: list[str] = []
        summary_mtime: int | None = None
        has_regular = False
        prefix = f"{relative}/" if relative else ""
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            subdirs.append(entry.name)
                            continue
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue  # vanished while we looked
                    if stat.S_ISREG(info.st_mode):
                        has_regular = True
                        files.append(
                            FileEntry(prefix + entry.name, info.st_size, info.st_mtime_ns, False)
                        )
                        if entry.name == SUMMARY_NAME:
                            summary_mtime = info.st_mtime_ns
                    else:
                        files.append(FileEntry(prefix + entry.name, 0, info.st_mtime_ns, True))
        except OSError as exc:
            if not relative:
                raise OperationError(
                    f"cannot read base directory {display_path(self.base)}: {exc.strerror}"
                ) from exc
            self.warn(relative, f"cannot list directory: {exc.strerror}")
            node.entries += 1
            return owner, []
        self.scanned += 1
        if self.scanned % 1000 == 0:
            self.progress("scanning directories", self.scanned, None)
        node.entries += len(files)

        if not relative:
            for item in files:
                if not item.is_link:
                    self.add(ScannedReport(item.path, "file", files=[item]))
            return None, subdirs

        if summary_mtime is not None:
            report = self.add(ScannedReport(relative, "summary", summary_mtime_ns=summary_mtime))
            summary, report.summary_error = read_summary(fd)
            if summary is not None:
                facts = summary_facts(summary, report.index, self.dashboards)
                report.report_date, report.query_text = facts.report_date, facts.query_text
            owner = report
        if owner is not None:
            owner.files.extend(files)
            owner.directories.append(relative)
            return owner, subdirs
        if has_regular:
            self.add(ScannedReport(relative, "orphan", files=files, directories=[relative]))
        return None, subdirs


def scan_reports(base_directory: str, *, progress: ProgressCallback | None = None) -> Catalog:
    """Scan ``base_directory`` and return every report under it, sorted by identifier.

    An absent base directory is an empty catalog; a base that is not a directory is an
    :class:`InvalidInputError`.  Directories that cannot be read are skipped with a warning.
    """
    base = os.path.abspath(base_directory)
    try:
        base_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return Catalog(base, False, [], {}, [])
    except NotADirectoryError as exc:
        raise InvalidInputError(f"base directory is not a directory: {display_path(base)}") from exc
    except OSError as exc:
        raise OperationError(
            f"cannot open base directory {display_path(base)}: {exc.strerror}"
        ) from exc
    try:
        device = os.fstat(base_fd).st_dev
        scanner = _Scanner(base, device, progress or NullProgress())
        scanner.run(base_fd)
    finally:
        os.close(base_fd)
    reports = scanner.reports
    for report in reports:
        report.finish()
    reports.sort(key=lambda report: report.identifier.split("/"))
    scanner.progress("scanning directories", scanner.scanned, scanner.scanned)
    return Catalog(
        base, True, reports, scanner.directories, scanner.warnings, device, scanner.dashboards
    )
