"""Prefect tasks: thin, typed adapters over ``bot_core``, one library call each.

The flows in ``flows/`` chain them (overview, plan, backup, execution, records).  Tasks hold
no logic of their own; retries sit only on reads and backups, never on a deletion or a
promotion.  Every task uses ``NO_CACHE``: a cached result of a destructive or audit step
would be a lie about what this run did.
"""

from tasks._archive import (
    ArchiveCheck,
    ArchiveVerification,
    execute_archive,
    plan_archive,
    remove_archived_sources,
    s3_archive_key,
    upload_archives,
    verify_archives,
    verify_s3_archives,
)
from tasks._audit import (
    create_backup,
    load_backup_manifest,
    preview_restore,
    record_step,
    restore_backup,
    verify_backup,
    verify_backup_id,
)
from tasks._registry import list_champions, plan_promotion, promote
from tasks._reporting import build_overview, execute_purge, plan_purge, scan_reports

__all__ = [
    "ArchiveCheck",
    "ArchiveVerification",
    "build_overview",
    "create_backup",
    "execute_archive",
    "execute_purge",
    "list_champions",
    "load_backup_manifest",
    "plan_archive",
    "plan_promotion",
    "plan_purge",
    "preview_restore",
    "promote",
    "record_step",
    "remove_archived_sources",
    "restore_backup",
    "s3_archive_key",
    "scan_reports",
    "upload_archives",
    "verify_archives",
    "verify_backup",
    "verify_backup_id",
    "verify_s3_archives",
]
