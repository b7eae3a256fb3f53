"""Prefect tasks over ``bot_core.audit``: records, backups, verification and restore.

Records are written once (a retry could only meet ``RecordExistsError``), so they do not
retry; backup creation and verification are repeatable reads and writes under a fresh id,
so they do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from pydantic import BaseModel

from bot_core import audit
from bot_core.audit import (
    AuditRun,
    AuditStore,
    BackupManifest,
    BackupVerification,
    RestoreResult,
    StoredBackup,
    VerifiedBackup,
)
from tasks._task import maintenance_task

__all__ = [
    "create_backup",
    "load_backup_manifest",
    "preview_restore",
    "record_step",
    "restore_backup",
    "verify_backup",
    "verify_backup_id",
]


@maintenance_task()
def record_step(run: AuditRun, step: str, document: BaseModel, *, final: bool = False) -> str:
    """Append one step's document to the run's audit chain; return the record's key."""
    return run.record(step, document, final=final).key


@maintenance_task(retries=2, retry_delay_seconds=[1, 5])
def create_backup(
    store: AuditStore, source_root: str, paths: Sequence[str], labels: dict[str, str]
) -> StoredBackup:
    """Copy what the execution will delete or overwrite into the backup store."""
    return audit.create_backup(store, source_root, list(paths), labels=labels)


@maintenance_task(retries=2, retry_delay_seconds=[1, 5])
def verify_backup(store: AuditStore, stored: StoredBackup) -> BackupVerification:
    """Read the backup back and check every hash against the manifest written a moment ago."""
    return audit.verify_backup(
        store, stored.backup_id, expected_manifest_sha256=stored.manifest_sha256
    )


@maintenance_task(retries=2, retry_delay_seconds=[1, 5])
def verify_backup_id(
    store: AuditStore, backup_id: str, expected_manifest_sha256: str | None = None
) -> BackupVerification:
    """Read an existing backup back (by id) and check every hash, before a restore."""
    return audit.verify_backup(store, backup_id, expected_manifest_sha256=expected_manifest_sha256)


@maintenance_task(retries=2, retry_delay_seconds=[1, 5])
def load_backup_manifest(store: AuditStore, backup_id: str) -> tuple[BackupManifest, str]:
    """A backup's manifest and the sha256 of its exact bytes (the restore's overview)."""
    manifest, data = audit.load_manifest(store, backup_id)
    return manifest, hashlib.sha256(data).hexdigest()


@maintenance_task(retries=2, retry_delay_seconds=[1, 5])
def preview_restore(
    backup: VerifiedBackup, store: AuditStore, *, target: str | None, overwrite: bool
) -> RestoreResult:
    """What a restore would restore, replace or skip (a dry run: nothing is written)."""
    return audit.restore_backup(backup, store, target=target, dry_run=True, overwrite=overwrite)


@maintenance_task()
def restore_backup(
    backup: VerifiedBackup, store: AuditStore, *, target: str | None, overwrite: bool
) -> RestoreResult:
    """Put a verified backup's files back under ``target`` (default: its source root)."""
    return audit.restore_backup(backup, store, target=target, dry_run=False, overwrite=overwrite)
