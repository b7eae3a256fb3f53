"""``python -m bot_core.audit``: verify, list, restore, backup and flush, as JSON on stdout.

Each sub-command reads the settings (``BOT_CORE_AUDIT_*``; the options below override them),
makes one library call and prints the resulting document.  ``bot_core._cli.run_cli`` turns
errors into one line on stderr and the error class's exit status.

Exit status: 0 success; 1 a verification failed, a restore left entries unrestored, records
are still spooled after ``flush``, or an operation failed; 2 invalid input (a malformed
backup id, an unknown backup, invalid settings).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from bot_core._cli import CliOutput, OneLineArgumentParser, run_cli
from bot_core._progress import terminal_progress
from bot_core._types import Document
from bot_core.audit._backup import (
    BackupSummary,
    BackupVerification,
    StoredBackup,
    create_backup,
    list_backups,
    verify_backup,
)
from bot_core.audit._restore import restore_backup
from bot_core.audit._settings import AuditSettings, load_settings, open_backup_store, open_store
from bot_core.audit._spool import SpoolingAuditStore
from bot_core.audit._verify import AuditVerification, RunSummary, list_runs, verify_records
from bot_core.errors import InvalidInputError

__all__ = ["build_parser", "main"]


class VerifyReport(Document):
    """``verify``: the record chains, and the backups that were asked for."""

    status: Literal["ok", "failed"]
    records: AuditVerification
    backups: list[BackupVerification] = Field(default_factory=list)


class ListReport(Document):
    """``list``: runs (newest first) and backups (newest first)."""

    store: str
    backup_store: str
    runs: list[RunSummary] | None
    backups: list[BackupSummary] | None


class BackupReport(Document):
    """``backup``: what was written, and its verification."""

    backup: StoredBackup
    verification: BackupVerification


def _settings(args: argparse.Namespace) -> AuditSettings:
    return load_settings(
        url=args.url,
        backup_url=args.backup_url,
        endpoint_url=args.endpoint_url,
        spool_dir=args.spool_dir,
    )


def _verify(args: argparse.Namespace) -> CliOutput:
    settings = _settings(args)
    records = verify_records(open_store(settings), prefix=args.prefix or "")
    backup_store = open_backup_store(settings)
    ids = list(args.backup or [])
    if args.all_backups:
        ids += [summary.backup_id for summary in list_backups(backup_store)]
    progress = terminal_progress()
    backups = [verify_backup(backup_store, backup_id, progress=progress) for backup_id in ids]
    failed = records.status == "failed" or any(b.status != "verified" for b in backups)
    report = VerifyReport(status="failed" if failed else "ok", records=records, backups=backups)
    return CliOutput(report, exit_code=1 if failed else 0)


def _list(args: argparse.Namespace) -> CliOutput:
    settings = _settings(args)
    store = open_store(settings)
    backup_store = open_backup_store(settings)
    runs = list_runs(store, prefix=args.prefix or "") if args.kind != "backups" else None
    backups = list_backups(backup_store) if args.kind != "records" else None
    return CliOutput(
        ListReport(
            store=store.location, backup_store=backup_store.location, runs=runs, backups=backups
        )
    )


def _restore(args: argparse.Namespace) -> CliOutput:
    store = open_backup_store(_settings(args))
    progress = terminal_progress()
    verified = verify_backup(store, args.backup_id, progress=progress).verified_backup()
    result = restore_backup(
        verified,
        store,
        target=args.target,
        dry_run=args.dry_run,
        overwrite=args.overwrite,
        progress=progress,
    )
    return CliOutput(result, exit_code=1 if result.status == "partial_failure" else 0)


def _backup(args: argparse.Namespace) -> CliOutput:
    labels: dict[str, str] = {}
    for item in args.label or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidInputError(f"--label must be NAME=VALUE, got {item!r}")
        labels[name] = value
    store = open_backup_store(_settings(args))
    progress = terminal_progress()
    stored = create_backup(
        store, args.source_root, args.paths, format=args.format, labels=labels, progress=progress
    )
    verification = verify_backup(
        store,
        stored.backup_id,
        expected_manifest_sha256=stored.manifest_sha256,
        progress=progress,
    )
    report = BackupReport(backup=stored, verification=verification)
    return CliOutput(report, exit_code=0 if verification.status == "verified" else 1)


def _flush(args: argparse.Namespace) -> CliOutput:
    store = open_store(_settings(args))
    if not isinstance(store, SpoolingAuditStore):
        raise InvalidInputError(
            f"nothing to flush: the audit store {store.location} is local (spooling is for S3)"
        )
    result = store.flush(progress=terminal_progress())
    return CliOutput(result, exit_code=0 if result.remaining_count == 0 else 1)


def _add_store_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("store (override BOT_CORE_AUDIT_* variables)")
    group.add_argument("--url", help="audit store: a directory (default 'audit') or s3://b/p")
    group.add_argument("--backup-url", help="backup store, when not the audit store")
    group.add_argument("--endpoint-url", help="S3 endpoint URL")
    group.add_argument("--spool-dir", help="where records wait while S3 is unreachable")


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m bot_core.audit`` parser (each sub-command has help text)."""
    parser = OneLineArgumentParser(
        prog="python -m bot_core.audit",
        description="Audit records, verified backups and restore (JSON on stdout).",
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser
    )

    verify = commands.add_parser(
        "verify",
        help="check every record chain (and backups)",
        description="Check every record chain (and backups).",
    )
    verify.add_argument("--prefix", help="only runs below this key prefix, e.g. maintenance/purge")
    verify.add_argument("--backup", action="append", metavar="BACKUP_ID", help="also verify it")
    verify.add_argument("--all-backups", action="store_true", help="also verify every backup")
    _add_store_options(verify)
    verify.set_defaults(handler=_verify)

    listing = commands.add_parser(
        "list",
        help="list runs (records) and backups",
        description="List runs (records) and backups.",
    )
    listing.add_argument(
        "--kind",
        choices=("all", "records", "backups"),
        default="all",
        help="what to list (default: all)",
    )
    listing.add_argument("--prefix", help="only runs below this key prefix")
    _add_store_options(listing)
    listing.set_defaults(handler=_list)

    restore = commands.add_parser(
        "restore",
        help="verify a backup, then put its files back",
        description="Verify a backup, then put its files back.",
    )
    restore.add_argument("backup_id", metavar="BACKUP_ID")
    restore.add_argument("--target", help="restore below this directory (default: the source)")
    restore.add_argument("--dry-run", action="store_true", help="report only; change nothing")
    restore.add_argument("--overwrite", action="store_true", help="also replace newer files")
    _add_store_options(restore)
    restore.set_defaults(handler=_restore)

    backup = commands.add_parser(
        "backup",
        help="back up paths under a root, then verify it",
        description="Back up paths under a root, then verify it.",
    )
    backup.add_argument("--source-root", required=True, help="the paths are relative to it")
    backup.add_argument(
        "--format",
        choices=("tar.gz", "directory"),
        default="tar.gz",
        help="GNU tar in gzip (level 6), or one object per file (default: tar.gz)",
    )
    backup.add_argument("--label", action="append", metavar="NAME=VALUE", help="kept in manifest")
    backup.add_argument("paths", nargs="+", metavar="PATH")
    _add_store_options(backup)
    backup.set_defaults(handler=_backup)

    flush = commands.add_parser(
        "flush",
        help="upload records spooled while S3 was unreachable",
        description="Upload records spooled while S3 was unreachable.",
    )
    _add_store_options(flush)
    flush.set_defaults(handler=_flush)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    return run_cli(build_parser(), argv)
