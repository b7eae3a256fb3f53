"""The archive flow: overview -> dry-run plan -> approval -> verified backup -> archive ->
read-back verification -> (delete_after) source removal -> report.

Audit records (``maintenance/archive/<date>/<run id>/NN-<step>.json``): ``overview``,
``dry-run``, ``approval``, ``backup`` (existing archives that ``overwrite`` replaces; an
empty list says none did), ``execution`` (the library's :class:`ArchiveResult`),
``verification`` (each archive re-read from disk), ``source-removal`` (only with
``delete_after``) and the final ``report``.

Why the approval names a digest of its own (:class:`ArchiveRequest`): the library's archive
plan does not say whether the sources will be deleted afterwards, and an approval given for
"copy these reports" must not also permit "and delete them".  The approved sha256 covers
the sealed archive plan *and* ``delete_after`` (and, for S3, the ``s3://`` destination).

S3 destinations (``s3://bucket/prefix``, zip or tar only): the plan is made against a fresh
local staging directory outside the base, so the library writes and hashes every archive
exactly as for a local destination; each archive is then uploaded to
``<prefix>/<parent>/<name>.zip|.tar.gz`` with its sha256 as object metadata and verified by
downloading it back.  The ``execution`` record is the S3 view (``s3://`` destinations,
existing objects ``skipped_existing``); ``verification`` holds each object's key, size and
sha256.  Overwriting on S3 is refused: an existing object is never replaced.  The client
comes from ``bot_core.audit`` (``BOT_CORE_AUDIT_ENDPOINT_URL``/``REGION``, credentials the
usual boto3 ways); the staging directory is removed at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import Field

from bot_core._types import Document
from bot_core.audit import (
    BackupVerification,
    S3AuditStore,
    VerifiedBackup,
    default_transfer_config,
    load_settings,
    make_s3_client,
    parse_store_url,
)
from bot_core.errors import BotCoreError, InvalidInputError
from bot_core.reporting import (
    DEFAULT_BASE_DIR,
    ArchivePlan,
    ArchiveResult,
    Filters,
    PurgePlan,
    PurgeResult,
    plan_source_removal,
    within_age_window,
)
from flows._approval import (
    ApprovalPolicy,
    ApprovalRecord,
    Caps,
    CapViolation,
    PlanSummary,
    TargetLine,
    check_caps,
    obtain_approval,
)
from flows._common import (
    DEFAULT_CONCURRENCY_LIMIT,
    DEFAULT_OPERATIONS_LOG,
    ActedOn,
    FlowOutcome,
    RunContext,
    announce_outcome,
    destructive_section,
)
from flows.purge import BackupEntry, OverviewRecord, default_requester, run_filters
from tasks import (
    ArchiveVerification,
    build_overview,
    create_backup,
    execute_archive,
    plan_archive,
    record_step,
    remove_archived_sources,
    s3_archive_key,
    scan_reports,
    upload_archives,
    verify_archives,
    verify_backup,
    verify_s3_archives,
)

__all__ = [
    "ArchiveBackupRecord",
    "ArchivePlanRecord",
    "ArchiveReport",
    "ArchiveRequest",
    "SourceRemovalRecord",
    "archive",
    "archive_run_name",
]

OPERATION = "maintenance/archive"
ArchiveFormat = Literal["directory", "zip", "tar"]
TOP_TARGETS = 10


class ArchiveRequest(Document):
    """What an approval of an archive run approves: the sealed plan and ``delete_after``."""

    archive_plan_sha256: str
    delete_after: bool
    s3_destination: str | None = Field(
        default=None, description="the s3:// URL the staged archives go to (S3 only)"
    )

    def digest(self) -> str:
        """sha256 of the canonical JSON (sorted keys, compact, UTF-8): the approved sha256.

        ``s3_destination`` is left out while ``None``, so a local run's digest is unchanged.
        """
        document = self.model_dump(mode="json", exclude={"s3_destination"})
        if self.s3_destination is not None:
            document["s3_destination"] = self.s3_destination
        payload = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ArchivePlanRecord(Document):
    """The ``dry-run`` record: the sealed plan, the approved sha256, caps and violations.

    ``plan_sha256`` is the digest an approval must name (:class:`ArchiveRequest`);
    ``plan.sha256`` is the library's seal, re-checked by the executor.  Each target carries
    ``reason``, ``fingerprint``, ``destination_path`` and ``destination_exists``.
    """

    plan_sha256: str
    request: ArchiveRequest
    plan: ArchivePlan
    caps: Caps
    cap_violations: list[CapViolation]
    s3_keys: dict[str, str] | None = Field(
        default=None, description="S3 only: target -> s3:// URL its staged archive goes to"
    )


class ArchiveBackupRecord(Document):
    """The ``backup`` record: verified backups of the existing archives this run replaces."""

    plan_sha256: str
    replaced_archives: list[str] = Field(description="destination paths that existed")
    note: str
    backups: list[BackupEntry]


class SourceRemovalRecord(Document):
    """The ``source-removal`` record: the purge plan of verified sources and its result.

    A source changed since the plan fails the executor's fingerprint check: it is kept and
    listed in ``kept`` with the reason.
    """

    plan_sha256: str
    removal_plan: PurgePlan
    result: PurgeResult
    not_verified: list[str] = Field(description="targets kept because their archive failed")
    kept: list[str] = Field(description="targets kept because they changed or failed")


class ArchiveReport(Document):
    """The run's result and its final ``report`` record."""

    operation: str = "archive"
    flow_run_id: str
    outcome: FlowOutcome
    message: str
    plan_sha256: str | None
    requester: str
    delete_after: bool
    approval: ApprovalRecord | None
    backup_ids: list[str] = Field(default_factory=list)
    execution: ArchiveResult | None = None
    verification: ArchiveVerification | None = None
    source_removal: PurgeResult | None = None
    audit_prefix: str
    audit_keys: list[str]


def archive_run_name() -> str:
    """``archive-<categories>-until-<date>``, from the run's parameters."""
    filters = run_filters(flow_run.parameters)
    name = f"archive-{'+'.join(filters.categories) or 'all'}"
    if filters.since is not None:
        name += f"-since-{filters.since.date().isoformat()}"
    if filters.until is not None:
        name += f"-until-{filters.until.date().isoformat()}"
    return name


@flow(name="archive", flow_run_name=archive_run_name, validate_parameters=True)
def archive(
    filters: Filters | None = None,
    base_dir: str = DEFAULT_BASE_DIR,
    destination: str | None = None,
    format: ArchiveFormat = "directory",
    overwrite: bool = False,
    delete_after: bool = False,
    older_than_days: int | None = None,
    newer_than_days: int | None = None,
    caps: Caps | None = None,
    policy: ApprovalPolicy | None = None,
    audit_url: str | None = None,
    operations_log: str = DEFAULT_OPERATIONS_LOG,
    concurrency_limit: str | None = DEFAULT_CONCURRENCY_LIMIT,
) -> ArchiveReport:
    """Archive the reports the filters select, once a person (or the policy) approved it.

    Steps: overview; dry-run plan (sha256 over plan and ``delete_after``, per-target
    reasons, caps); approval; verified backup of every existing archive ``overwrite``
    replaces; execution of exactly the approved plan; read-back verification of every
    archive; with ``delete_after``, removal of the sources whose archive verified (each
    re-checked against its fingerprint); report.  ``older_than_days`` / ``newer_than_days``
    set ``until`` / ``since`` relative to the start of the run (the schedules' windows).
    """
    filters = within_age_window(
        filters or Filters(),
        now=datetime.now(UTC),
        older_than_days=older_than_days,
        newer_than_days=newer_than_days,
    )
    store = _s3_store(destination, format, overwrite)
    with _staging_directory(store) as staging:
        return _archive(
            filters=filters,
            base_dir=base_dir,
            destination=staging or destination,
            format=format,
            overwrite=overwrite,
            delete_after=delete_after,
            caps=caps,
            policy=policy,
            audit_url=audit_url,
            operations_log=operations_log,
            concurrency_limit=concurrency_limit,
            store=store,
        )


@contextlib.contextmanager
def _staging_directory(store: S3AuditStore | None) -> Iterator[str | None]:
    """A fresh temporary directory for S3 runs (outside the base, removed at the end)."""
    if store is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="archive-staging-") as staging:
        yield staging


def _s3_store(
    destination: str | None, format: ArchiveFormat, overwrite: bool
) -> S3AuditStore | None:
    """The S3 store an ``s3://`` destination names (``None`` for a local one), or refuse.

    Refused before anything is recorded: the directory format (a tree of loose files is not
    one object with one sha256) and ``overwrite`` (replacing an archive object is not
    supported; delete it deliberately first).
    """
    if destination is None or not destination.startswith("s3://"):
        return None
    if format == "directory":
        raise InvalidInputError(
            f"S3 archive destinations ({destination}) take --format zip or tar, not directory"
        )
    if overwrite:
        raise InvalidInputError(
            f"overwrite is not supported for S3 archive destinations ({destination}): "
            "existing archive objects are never replaced"
        )
    _, bucket, prefix = parse_store_url(destination)
    settings = load_settings()
    return S3AuditStore(
        make_s3_client(settings),
        bucket,
        prefix,
        transfer_config=default_transfer_config(
            threshold_mb=settings.multipart_threshold_mb,
            chunk_mb=settings.multipart_chunksize_mb,
            max_concurrency=settings.max_concurrency,
        ),
    )


def _archive(
    *,
    filters: Filters | None,
    base_dir: str,
    destination: str | None,
    format: ArchiveFormat,
    overwrite: bool,
    delete_after: bool,
    caps: Caps | None,
    policy: ApprovalPolicy | None,
    audit_url: str | None,
    operations_log: str,
    concurrency_limit: str | None,
    store: S3AuditStore | None,
) -> ArchiveReport:
    """The flow's steps; with ``store``, ``destination`` is the local staging directory."""
    run = RunContext(OPERATION, audit_url)
    filters = filters or Filters()
    caps = caps or Caps()
    policy = policy or ApprovalPolicy(requester=default_requester())

    catalog = scan_reports(base_dir)
    overview = build_overview(catalog, filters)
    record_step(run.audit, "overview", OverviewRecord.of(overview))

    plan = plan_archive(
        catalog,
        filters,
        now=datetime.now(UTC),
        destination=destination,
        archive_format=format,
        overwrite=overwrite,
    )
    s3_urls = None
    if store is not None:
        s3_urls = {
            t.relative_path: f"{store.location}/{s3_archive_key(plan, t)}" for t in plan.targets
        }
    request = ArchiveRequest(
        archive_plan_sha256=plan.sha256,
        delete_after=delete_after,
        s3_destination=None if store is None else store.location,
    )
    sha = request.digest()
    violations = check_caps(plan.targets, caps, catalog)
    plan_key = record_step(
        run.audit,
        "dry-run",
        ArchivePlanRecord(
            plan_sha256=sha,
            request=request,
            plan=plan,
            caps=caps,
            cap_violations=violations,
            s3_keys=s3_urls,
        ),
    )
    finish = _Finisher(run, policy, operations_log, sha, delete_after)
    if not plan.targets:
        return finish("empty", "nothing matched")

    summary = _summary(run, plan, sha, delete_after, policy, caps, violations, plan_key, s3_urls)
    get_run_logger().info(
        "plan %s: %d targets, %d bytes; approve with: python -m flows approve %s "
        "--approver NAME --reason TEXT",
        sha,
        summary.target_count,
        summary.total_size,
        run.flow_run_id,
    )
    approval = obtain_approval(sha, policy, violations, summary)
    record_step(run.audit, "approval", approval)
    finish.approval = approval
    if approval.outcome != "approved":
        return finish(approval.outcome, approval.refusal or approval.reason or approval.outcome)

    with destructive_section(concurrency_limit, timeout_seconds=policy.timeout_seconds):
        backups = _backup_replaced_archives(run, plan, sha, finish)
        finish.backup_ids = [backup.backup_id for backup in backups]
        result = execute_archive(plan, backups)
        if store is not None:
            result = upload_archives(plan, result, store)
        record_step(run.audit, "execution", result)
        finish.execution = result
        if store is None:
            verification = verify_archives(plan, result)
        else:
            verification = verify_s3_archives(plan, result, store)
        record_step(run.audit, "verification", verification)
        finish.verification = verification
        if delete_after:
            finish.source_removal = _remove_verified_sources(run, plan, sha, verification)

    return finish(*_outcome(result, verification, finish.source_removal))


def _summary(
    run: RunContext,
    plan: ArchivePlan,
    sha: str,
    delete_after: bool,
    policy: ApprovalPolicy,
    caps: Caps,
    violations: list[CapViolation],
    plan_key: str,
    s3_urls: dict[str, str] | None = None,
) -> PlanSummary:
    """What the approver sees; the operation says plainly when sources will be deleted.

    For S3 each line names the ``s3://`` object, not the staging file the plan points at.
    """
    where = s3_urls or {t.relative_path: t.destination_path for t in plan.targets}
    biggest = sorted(plan.targets, key=lambda t: (-t.size, t.relative_path))[:TOP_TARGETS]
    replaced = " (replaces an existing archive)"
    return PlanSummary(
        operation=(
            f"archive ({plan.format}{' to S3' if s3_urls else ''}"
            f"{', then DELETE the sources' if delete_after else ''})"
        ),
        flow_run_id=run.flow_run_id,
        plan_sha256=sha,
        requester=policy.requester,
        target_count=len(plan.targets),
        total_size=plan.total_size,
        total_files=plan.total_files,
        top_targets=[
            TargetLine(
                relative_path=f"{t.relative_path} -> {where[t.relative_path]}",
                size=t.size,
                file_count=t.file_count,
                reason=t.reason + (replaced if t.destination_exists and plan.overwrite else ""),
            )
            for t in biggest
        ],
        caps=caps,
        cap_violations=violations,
        plan_record_key=plan_key,
        audit_store=run.store_name,
        timeout_seconds=policy.timeout_seconds,
    )


def _backup_replaced_archives(
    run: RunContext, plan: ArchivePlan, sha: str, finish: _Finisher
) -> list[VerifiedBackup]:
    """Back up and verify every archive ``overwrite`` would replace *now*; or stop.

    Existence is checked at backup time, not plan time: an archive that appeared since the
    plan is replaced too, so it is backed up too.  Without ``overwrite`` nothing is replaced
    (the executor skips existing destinations) and the record says so.
    """
    root = plan.fs_destination_directory
    existing = [
        t.fs_destination_path
        for t in plan.targets
        if plan.overwrite and os.path.lexists(t.fs_destination_path)
    ]
    paths = [os.path.relpath(path, root) for path in existing]
    entries: list[tuple[BackupEntry, BackupVerification]] = []
    if paths:
        labels = {"operation": "archive", "run_id": run.flow_run_id, "plan_sha256": sha}
        stored = create_backup(run.backup_store, root, paths, labels)
        verification = verify_backup(run.backup_store, stored)
        entry = BackupEntry(source_root=root, paths=paths, stored=stored, verification=verification)
        entries.append((entry, verification))
    if paths:
        note = f"{len(paths)} existing archives will be replaced; backed up first"
    elif plan.overwrite:
        note = "no existing archive to replace; no backup needed"
    else:
        note = "overwrite is off: no archive is replaced; no backup needed"
    record_step(
        run.audit,
        "backup",
        ArchiveBackupRecord(
            plan_sha256=sha,
            replaced_archives=[
                t.destination_path for t in plan.targets if t.fs_destination_path in existing
            ],
            note=note,
            backups=[entry for entry, _ in entries],
        ),
    )
    try:
        return [verification.verified_backup() for _, verification in entries]
    except BotCoreError as exc:
        finish("error", str(exc))
        raise


def _remove_verified_sources(
    run: RunContext, plan: ArchivePlan, sha: str, verification: ArchiveVerification
) -> PurgeResult:
    """Delete the sources whose archive verified, through the purge executor.

    The removal plan reuses the archive plan's targets and fingerprints, so a source that
    changed after it was planned (and archived) is kept and reported, never deleted.
    """
    verified = verification.verified_paths()
    removal = plan_source_removal(plan, verified, now=datetime.now(UTC))
    result = remove_archived_sources(removal, verification)
    record_step(
        run.audit,
        "source-removal",
        SourceRemovalRecord(
            plan_sha256=sha,
            removal_plan=removal,
            result=result,
            not_verified=[t.relative_path for t in plan.targets if t.relative_path not in verified],
            kept=[t.relative_path for t in result.targets if t.status != "deleted"],
        ),
    )
    return result


def _outcome(
    result: ArchiveResult, verification: ArchiveVerification, removal: PurgeResult | None
) -> tuple[FlowOutcome, str]:
    """``completed`` only when every archive was written and verified (and every source
    removed, with ``delete_after``); ``error`` when none was; else ``partial_failure``."""
    message = (
        f"archived {verification.verified_count} of {result.planned_count} targets "
        f"({result.copied_size} bytes); {verification.failed_count} not verified"
    )
    if removal is not None:
        message += f"; deleted {removal.deleted_count} sources"
        kept = removal.planned_count - removal.deleted_count
        if kept:
            message += f", kept {kept} changed or failed"
    perfect = verification.failed_count == 0 and (
        removal is None or removal.deleted_count == result.planned_count
    )
    if perfect:
        return "completed", message
    if verification.verified_count == 0:
        return "error", message
    return "partial_failure", message


class _Finisher:
    """The report step (final audit record, artifact, operations-log line), fed as the
    run goes so that every exit path writes the same complete report."""

    def __init__(
        self,
        run: RunContext,
        policy: ApprovalPolicy,
        operations_log: str,
        sha: str,
        delete_after: bool,
    ) -> None:
        self.run = run
        self.policy = policy
        self.operations_log = operations_log
        self.sha = sha
        self.delete_after = delete_after
        self.approval: ApprovalRecord | None = None
        self.backup_ids: list[str] = []
        self.execution: ArchiveResult | None = None
        self.verification: ArchiveVerification | None = None
        self.source_removal: PurgeResult | None = None

    def __call__(self, outcome: FlowOutcome, message: str) -> ArchiveReport:
        run = self.run
        keys = [stored.key for stored in run.audit.records]
        report = ArchiveReport(
            flow_run_id=run.flow_run_id,
            outcome=outcome,
            message=message,
            plan_sha256=self.sha,
            requester=self.policy.requester,
            delete_after=self.delete_after,
            approval=self.approval,
            backup_ids=self.backup_ids,
            execution=self.execution,
            verification=self.verification,
            source_removal=self.source_removal,
            audit_prefix=run.audit.prefix,
            audit_keys=keys,
        )
        report_key = record_step(run.audit, "report", report, final=True)
        report = report.model_copy(update={"audit_keys": [*keys, report_key]})
        announce_outcome(
            "archive",
            run.flow_run_id,
            outcome,
            message,
            approver=self.approval.approver if self.approval else None,
            plan_sha256=self.sha,
            markdown=_markdown(report),
            operations_log=self.operations_log,
            acted=self._acted(),
            approval_wait_seconds=self.approval.wait_seconds if self.approval else None,
        )
        return report

    def _acted(self) -> list[ActedOn]:
        """Archives that verified (and the bytes copied), and sources removed after them."""
        acted: list[ActedOn] = []
        if self.execution is not None and self.verification is not None:
            acted.append(
                ActedOn(
                    action="archived",
                    targets=self.verification.verified_count,
                    bytes=self.execution.copied_size,
                )
            )
        if self.source_removal is not None:
            removal = self.source_removal
            acted.append(
                ActedOn(action="removed", targets=removal.deleted_count, bytes=removal.removed_size)
            )
        return acted


def _markdown(report: ArchiveReport) -> str:
    lines = [
        f"# Archive {report.outcome}",
        "",
        f"- run: `{report.flow_run_id}`",
        f"- plan sha256: `{report.plan_sha256}`",
        f"- requester: {report.requester}; delete sources after: {report.delete_after}",
    ]
    if report.approval is not None:
        a = report.approval
        lines.append(
            f"- approval: {a.outcome} by {a.approver or '-'} ({a.method or '-'}): "
            f"{a.refusal or a.reason or ''}"
        )
    if report.backup_ids:
        lines.append(f"- backups: {', '.join(f'`{b}`' for b in report.backup_ids)}")
    lines += [f"- {report.message}", f"- audit: `{report.audit_prefix}`"]
    if report.verification is not None:
        removed = {}
        if report.source_removal is not None:
            removed = {t.relative_path: t.status for t in report.source_removal.targets}
        lines += ["", "| target | archive | verified | source |", "| --- | --- | --- | --- |"]
        lines += [
            f"| `{c.relative_path}` | `{c.destination_path}` | {c.status} | "
            f"{removed.get(c.relative_path, 'kept')} |"
            for c in report.verification.checks
        ]
    return "\n".join(lines)
