"""Report sub-commands of ``ui_bridge``: overview, delete, purge, archive (contract 2-6).

Each handler turns options into the library's keyword arguments, makes one call and
returns the document.  The filter options are declared once and shared.
"""

from __future__ import annotations

import argparse
from typing import Any

from bot_core._cli import CliOutput
from bot_core._progress import terminal_progress
from bot_core.reporting._api import DEFAULT_BASE_DIR, archive, delete, overview_stream, purge
from bot_core.reporting._filters import Filters, parse_filters
from bot_core.reporting._overview import write_overview
from bot_core.reporting._signal_quality import DEFAULT_RETENTION_DAYS, DEFAULT_SIGNAL_QUALITY_DIR

__all__ = ["add_report_commands", "filter_options", "filters_from_args"]


def _base_dir_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--base-dir",
        default=DEFAULT_BASE_DIR,
        help=f"directory holding the reports (default: {DEFAULT_BASE_DIR})",
    )
    return options


def filter_options() -> argparse.ArgumentParser:
    """The filter options (contract 2), as a parent parser any command line can include."""
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("filters")
    group.add_argument(
        "--since", help="updated at or after (ISO-8601 date or datetime; naive = UTC)"
    )
    group.add_argument("--until", help="updated at or before (ISO-8601 date or datetime)")
    group.add_argument(
        "--category",
        action="append",
        dest="categories",
        metavar="CATEGORY",
        help="only this category (repeatable, case-insensitive)",
    )
    group.add_argument("--summary-status", help="any (default), valid, missing or invalid")
    group.add_argument("--has-exports", help="any (default), yes or no")
    group.add_argument("--query", help="case-insensitive text in name, category or summary values")
    group.add_argument(
        "--sort", dest="sort_key", help="updated_at (default), created_at, name or size"
    )
    group.add_argument("--sort-direction", help="asc or desc (default)")
    group.add_argument("--limit", help="at most N reports (N > 0)")
    group.add_argument("--offset", help="skip the first N reports (N >= 0)")
    return options


def filters_from_args(args: argparse.Namespace) -> Filters:
    """Validated :class:`Filters` from options declared by :func:`filter_options`."""
    return parse_filters(
        since=args.since,
        until=args.until,
        categories=args.categories,
        summary_status=args.summary_status,
        has_exports=args.has_exports,
        query=args.query,
        sort_key=args.sort_key,
        sort_direction=args.sort_direction,
        limit=args.limit,
        offset=args.offset,
    )


def _run_overview(args: argparse.Namespace) -> CliOutput:
    filters = filters_from_args(args)
    parts = overview_stream(args.base_dir, filters, progress=terminal_progress())
    return CliOutput(None, stream=lambda out: write_overview(parts, out))


def _run_delete(args: argparse.Namespace) -> CliOutput:
    result = delete(args.path, base_dir=args.base_dir, dry_run=args.dry_run)
    return CliOutput(result, 1 if result.status == "error" else 0)


def _run_purge(args: argparse.Namespace) -> CliOutput:
    filters = filters_from_args(args)
    result = purge(
        args.base_dir,
        filters,
        dry_run=args.dry_run,
        signal_quality_dir=args.signal_quality_dir,
        signal_quality_retention_days=args.signal_quality_retention_days,
        progress=terminal_progress(),
    )
    return CliOutput(result)


def _run_archive(args: argparse.Namespace) -> CliOutput:
    filters = filters_from_args(args)
    result = archive(
        args.base_dir,
        filters,
        destination=args.destination,
        format=args.format,
        overwrite=args.overwrite,
        dry_run=args.dry_run,
        progress=terminal_progress(),
    )
    return CliOutput(result)


def add_report_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``overview``, ``delete``, ``purge`` and ``archive``."""
    base, filters = _base_dir_options(), filter_options()

    command = commands.add_parser(
        "overview",
        parents=[base, filters],
        help="list reports with totals (JSON)",
        description="List the reports the filters select, with totals per category.",
    )
    command.set_defaults(handler=_run_overview)

    command = commands.add_parser(
        "delete",
        parents=[base],
        help="delete one report or directory",
        description="Delete PATH (relative to the base directory, or absolute inside it) "
        "and everything under it. A symlink is removed as a link, never followed.",
    )
    command.add_argument("path", help="path relative to --base-dir, or absolute inside it")
    command.add_argument("--dry-run", action="store_true", help="show what would be removed")
    command.set_defaults(handler=_run_delete)

    command = commands.add_parser(
        "purge",
        parents=[base, filters],
        help="delete every matching report",
        description="Delete what every matching report owns, and signal-quality files "
        "older than the retention cutoff.",
    )
    command.add_argument("--dry-run", action="store_true", help="plan and preview only")
    command.add_argument(
        "--signal-quality-dir",
        default=DEFAULT_SIGNAL_QUALITY_DIR,
        help=f"signal-quality report directory (default: {DEFAULT_SIGNAL_QUALITY_DIR})",
    )
    command.add_argument(
        "--signal-quality-retention-days",
        type=int,
        default=DEFAULT_RETENTION_DAYS,
        metavar="DAYS",
        help=f"keep signal-quality files this many days "
        f"(default: {DEFAULT_RETENTION_DAYS}; <= 0 disables, then only --until applies)",
    )
    command.set_defaults(handler=_run_purge)

    command = commands.add_parser(
        "archive",
        parents=[base, filters],
        help="copy matching reports to an archive",
        description="Copy every matching report to a directory, zip or tar.gz archive. "
        "Sources are never modified.",
    )
    command.add_argument(
        "--destination", help="archive directory outside the base (default: <base>_archives)"
    )
    command.add_argument(
        "--format",
        choices=["directory", "zip", "tar"],
        default="directory",
        help="directory (default), zip or tar (tar.gz)",
    )
    command.add_argument("--overwrite", action="store_true", help="replace existing archives")
    command.add_argument("--dry-run", action="store_true", help="plan and preview only")
    command.set_defaults(handler=_run_archive)
