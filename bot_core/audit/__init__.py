"""Audit storage, verified backups and restore, on a local directory or S3.

Every maintenance step writes a JSON record (:class:`AuditRun`) that an auditor can read
without the Prefect database; the records of a run form a hash chain that
:func:`verify_records` checks.  No destructive step runs without a :class:`VerifiedBackup`,
which only :func:`verify_backup` produces.  ``python -m bot_core.audit`` offers ``verify``,
``list``, ``restore``, ``backup`` and ``flush``.  See ``docs/audit.md``.

Typical use in a flow::

    store = open_store()                       # BOT_CORE_AUDIT_URL: audit/ or s3://...
    run = AuditRun(store, "maintenance/purge", run_id, started_at=started_at)
    run.record("overview", overview)
    stored = create_backup(open_backup_store(), base_dir, plan_paths)
    verified = verify_backup(
        open_backup_store(), stored.backup_id, expected_manifest_sha256=stored.manifest_sha256
    ).verified_backup()                        # raises BackupNotVerifiedError otherwise
    run.record("backup", verified.verification)
"""

from bot_core.audit._backup import (
    ArchiveInfo,
    BackupFormat,
    BackupManifest,
    BackupProblem,
    BackupSummary,
    BackupVerification,
    ManifestEntry,
    StoredBackup,
    VerifiedBackup,
    create_backup,
    list_backups,
    load_manifest,
    new_backup_id,
    verify_backup,
)
from bot_core.audit._keys import build_key, parse_record_key, record_key, run_prefix
from bot_core.audit._records import AuditRecord, AuditRun, content_digest
from bot_core.audit._restore import RestoreEntry, RestoreResult, RestoreStatus, restore_backup
from bot_core.audit._s3 import ObjectLockMode, S3AuditStore, default_transfer_config
from bot_core.audit._settings import (
    AuditSettings,
    load_settings,
    make_s3_client,
    open_backup_store,
    open_store,
    parse_store_url,
)
from bot_core.audit._spool import FlushedRecord, FlushResult, SpoolingAuditStore
from bot_core.audit._store import AuditStore, LocalAuditStore, MemoryAuditStore, StoredObject
from bot_core.audit._verify import (
    AuditVerification,
    ChainIssue,
    RunSummary,
    RunVerification,
    list_runs,
    verify_records,
)

__all__ = [
    "ArchiveInfo",
    "AuditRecord",
    "AuditRun",
    "AuditSettings",
    "AuditStore",
    "AuditVerification",
    "BackupFormat",
    "BackupManifest",
    "BackupProblem",
    "BackupSummary",
    "BackupVerification",
    "ChainIssue",
    "FlushResult",
    "FlushedRecord",
    "LocalAuditStore",
    "ManifestEntry",
    "MemoryAuditStore",
    "ObjectLockMode",
    "RestoreEntry",
    "RestoreResult",
    "RestoreStatus",
    "RunSummary",
    "RunVerification",
    "S3AuditStore",
    "SpoolingAuditStore",
    "StoredBackup",
    "StoredObject",
    "VerifiedBackup",
    "build_key",
    "content_digest",
    "create_backup",
    "default_transfer_config",
    "list_backups",
    "list_runs",
    "load_manifest",
    "load_settings",
    "make_s3_client",
    "new_backup_id",
    "open_backup_store",
    "open_store",
    "parse_record_key",
    "parse_store_url",
    "record_key",
    "restore_backup",
    "run_prefix",
    "verify_backup",
    "verify_records",
]
