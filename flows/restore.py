"""The restore flow: backup overview -> restore dry run -> approval -> verified backup of what
the restore replaces -> restore of a freshly verified backup -> report.

Audit records (``maintenance/restore/<date>/<run id>/NN-<step>.json``): ``overview`` (the
backup's manifest summary), ``dry-run`` (what would be restored, replaced, left unchanged,
skipped or refused, and the sha256 an approval must name), ``approval``, ``backup`` (files
of the target the restore replaces; an empty list says none), ``execution`` (the library's
:class:`RestoreResult`) and the final ``report``.

Why the dry run is repeated inside the destructive section: a restore decides per file
from the target's current state, so the approved plan is only executed if the target still
yields the same plan (same sha256); otherwise the run stops with nothing written.
"""

from __future__ import annotations

import hashlib
import json
import os

from prefect import flow
from prefect.runtime import flow_run
from pydantic import Field

from bot_core._types import Document, UtcDateTime
from bot_core.audit import (
    BackupFormat,
    BackupManifest,
    BackupVerification,
    RestoreResult,
    VerifiedBackup,
)
from bot_core.errors import BotCoreError
from flows._approval import (
    ApprovalPolicy,
    ApprovalRecord,
    Caps,
    PlanSummary,
    TargetLine,
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
from flows.purge import BackupEntry, default_requester
from tasks import (
    create_backup,
    load_backup_manifest,
    preview_restore,
    record_step,
    restore_backup,
    verify_backup,
    verify_backup_id,
)

__all__ = [
    "RestoreBackupRecord",
    "RestoreOverviewRecord",
    "RestorePlan",
    "RestoreReport",
    "restore",
    "restore_run_name",
]

OPERATION = "maintenance/restore"
TOP_TARGETS = 10
_ACTS = ("would_restore", "would_replace")


class RestoreOverviewRecord(Document):
    """The ``overview`` record: the backup's manifest summary (entries are in the plan)."""

    backup_id: str
    manifest_sha256: str
    created_at: UtcDateTime
    format: BackupFormat
    source_root: str
    paths: list[str]
    missing: list[str]
    labels: dict[str, str]
    file_count: int
    directory_count: int
    symlink_count: int
    total_size: int

    @classmethod
    def of(cls, manifest: BackupManifest, manifest_sha256: str) -> RestoreOverviewRecord:
        return cls(
            backup_id=manifest.backup_id,
            manifest_sha256=manifest_sha256,
            created_at=manifest.created_at,
            format=manifest.format,
            source_root=manifest.source_root,
            paths=manifest.paths,
            missing=manifest.missing,
            labels=manifest.labels,
            file_count=manifest.file_count,
            directory_count=manifest.directory_count,
            symlink_count=manifest.symlink_count,
            total_size=manifest.total_size,
        )


class RestorePlan(Document):
    """The ``dry-run`` record: the restore's dry run, bound to one manifest and target."""

    plan_sha256: str = ""
    backup_id: str
    manifest_sha256: str
    target: str
    overwrite: bool
    preview: RestoreResult = Field(description="per entry: would_restore, would_replace, ...")

    def sealed(self) -> RestorePlan:
        """A copy whose ``plan_sha256`` is the sha256 of its canonical JSON (itself excluded)."""
        payload = json.dumps(
            self.model_dump(mode="json", exclude={"plan_sha256"}),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        return self.model_copy(update={"plan_sha256": digest})


class RestoreBackupRecord(Document):
    """The ``backup`` record: the target's files the restore replaces, backed up first."""

    plan_sha256: str
    replaced: list[str]
    backups: list[BackupEntry]


class RestoreReport(Document):
    """The run's result and its final ``report`` record."""

    operation: str = "restore"
    flow_run_id: str
    outcome: FlowOutcome
    message: str
    backup_id: str
    target: str | None
    plan_sha256: str | None
    requester: str
    approval: ApprovalRecord | None
    backup_ids: list[str] = Field(default_factory=list)
    execution: RestoreResult | None = None
    audit_prefix: str
    audit_keys: list[str]


def restore_run_name() -> str:
    """``restore-<backup id>``, from the run's parameters."""
    return f"restore-{flow_run.parameters.get('backup_id')}"


@flow(name="restore", flow_run_name=restore_run_name, validate_parameters=True)
def restore(
    backup_id: str,
    target: str | None = None,
    overwrite: bool = False,
    policy: ApprovalPolicy | None = None,
    audit_url: str | None = None,
    operations_log: str = DEFAULT_OPERATIONS_LOG,
    concurrency_limit: str | None = DEFAULT_CONCURRENCY_LIMIT,
) -> RestoreReport:
    """Restore backup ``backup_id`` under ``target`` (default: where it was taken from).

    Steps: overview (manifest summary); dry run (what would be restored or replaced, and its
    sha256); approval; inside the destructive section, a fresh verification of the backup and
    the dry run again (it must hash to the approved sha256), a verified backup of every file
    the restore replaces, then the restore; report.
    """
    run = RunContext(OPERATION, audit_url)
    policy = policy or ApprovalPolicy(requester=default_requester())
    finish = _Finisher(run, policy, operations_log, backup_id)

    manifest, manifest_sha = load_backup_manifest(run.backup_store, backup_id)
    record_step(run.audit, "overview", RestoreOverviewRecord.of(manifest, manifest_sha))
    finish.sizes = {entry.path: entry.size for entry in manifest.entries}

    plan = _plan(run, backup_id, manifest_sha, target, overwrite, finish)
    plan_key = record_step(run.audit, "dry-run", plan)
    finish.plan = plan
    if not any(entry.status in _ACTS for entry in plan.preview.entries):
        return finish("empty", "nothing to restore: every file is present or skipped")

    summary = _summary(run, plan, manifest, policy, plan_key)
    approval = obtain_approval(plan.plan_sha256, policy, [], summary)
    record_step(run.audit, "approval", approval)
    finish.approval = approval
    if approval.outcome != "approved":
        return finish(approval.outcome, approval.refusal or approval.reason or approval.outcome)

    with destructive_section(concurrency_limit, timeout_seconds=policy.timeout_seconds):
        current = _plan(run, backup_id, manifest_sha, target, overwrite, finish)
        if current.plan_sha256 != plan.plan_sha256:
            return finish(
                "error",
                f"the target changed since the plan was approved (plan now "
                f"{current.plan_sha256}); nothing restored",
            )
        safety = _backup_replaced_files(run, plan, manifest, finish)
        finish.backup_ids = [backup.backup_id for backup in safety]
        verified = _fresh_verified_backup(run, backup_id, manifest_sha, finish)
        result = restore_backup(verified, run.backup_store, target=target, overwrite=overwrite)
        record_step(run.audit, "execution", result)
        finish.execution = result

    outcome: FlowOutcome = "completed" if result.status == "completed" else "partial_failure"
    return finish(
        outcome,
        f"restored {result.restored_count}, replaced {result.replaced_count}, "
        f"skipped {result.skipped_count}, refused {result.refused_count}, "
        f"errors {result.error_count} into {result.target}",
    )


def _plan(
    run: RunContext,
    backup_id: str,
    manifest_sha: str,
    target: str | None,
    overwrite: bool,
    finish: _Finisher,
) -> RestorePlan:
    """The restore's dry run from a backup verified just now against the overview's manifest."""
    verified = _fresh_verified_backup(run, backup_id, manifest_sha, finish)
    preview = preview_restore(verified, run.backup_store, target=target, overwrite=overwrite)
    return RestorePlan(
        backup_id=backup_id,
        manifest_sha256=manifest_sha,
        target=preview.target,
        overwrite=overwrite,
        preview=preview,
    ).sealed()


def _summary(
    run: RunContext,
    plan: RestorePlan,
    manifest: BackupManifest,
    policy: ApprovalPolicy,
    plan_key: str,
) -> PlanSummary:
    """Replacements first: they are what an approver must look at."""
    sizes = {entry.path: entry.size for entry in manifest.entries}
    acting = [entry for entry in plan.preview.entries if entry.status in _ACTS]
    acting.sort(key=lambda e: (e.status != "would_replace", e.path))
    return PlanSummary(
        operation=f"restore of backup {plan.backup_id} into {plan.target}",
        flow_run_id=run.flow_run_id,
        plan_sha256=plan.plan_sha256,
        requester=policy.requester,
        target_count=len(acting),
        total_size=sum(sizes.get(entry.path, 0) for entry in acting),
        total_files=sum(entry.type == "file" for entry in acting),
        top_targets=[
            TargetLine(
                relative_path=entry.path,
                size=sizes.get(entry.path, 0),
                file_count=1 if entry.type == "file" else 0,
                reason=entry.status.removeprefix("would_"),
            )
            for entry in acting[:TOP_TARGETS]
        ],
        caps=Caps(),
        cap_violations=[],
        plan_record_key=plan_key,
        audit_store=run.store_name,
        timeout_seconds=policy.timeout_seconds,
    )


def _backup_replaced_files(
    run: RunContext, plan: RestorePlan, manifest: BackupManifest, finish: _Finisher
) -> list[VerifiedBackup]:
    """Back up and verify every file of the target the restore will replace; or stop.

    The restore replaces a differing file that is older than the backup's copy even without
    ``overwrite`` (and a newer one with it), so every ``would_replace`` entry is backed up.
    """
    raw = {entry.path: entry.raw() for entry in manifest.entries}
    replaced = [e.path for e in plan.preview.entries if e.status == "would_replace"]
    entries: list[tuple[BackupEntry, BackupVerification]] = []
    if replaced:
        root = os.path.abspath(plan.target)
        paths = [raw[path] for path in replaced]
        labels = {
            "operation": "restore",
            "run_id": run.flow_run_id,
            "plan_sha256": plan.plan_sha256,
        }
        stored = create_backup(run.backup_store, root, paths, labels)
        verification = verify_backup(run.backup_store, stored)
        entry = BackupEntry(source_root=root, paths=paths, stored=stored, verification=verification)
        entries.append((entry, verification))
    record_step(
        run.audit,
        "backup",
        RestoreBackupRecord(
            plan_sha256=plan.plan_sha256,
            replaced=replaced,
            backups=[entry for entry, _ in entries],
        ),
    )
    try:
        return [verification.verified_backup() for _, verification in entries]
    except BotCoreError as exc:
        finish("error", str(exc))
        raise


def _fresh_verified_backup(
    run: RunContext, backup_id: str, manifest_sha: str, finish: _Finisher
) -> VerifiedBackup:
    """The backup to restore, read back once more right before the restore; or stop."""
    verification = verify_backup_id(run.backup_store, backup_id, manifest_sha)
    try:
        return verification.verified_backup()
    except BotCoreError as exc:
        finish("error", str(exc))
        raise


class _Finisher:
    """The report step (final audit record, artifact, operations-log line), fed as the
    run goes so that every exit path writes the same complete report."""

    def __init__(
        self, run: RunContext, policy: ApprovalPolicy, operations_log: str, backup_id: str
    ) -> None:
        self.run = run
        self.policy = policy
        self.operations_log = operations_log
        self.backup_id = backup_id
        self.plan: RestorePlan | None = None
        self.approval: ApprovalRecord | None = None
        self.backup_ids: list[str] = []
        self.execution: RestoreResult | None = None
        self.sizes: dict[str, int] = {}

    def __call__(self, outcome: FlowOutcome, message: str) -> RestoreReport:
        run = self.run
        keys = [stored.key for stored in run.audit.records]
        sha = self.plan.plan_sha256 if self.plan else None
        report = RestoreReport(
            flow_run_id=run.flow_run_id,
            outcome=outcome,
            message=message,
            backup_id=self.backup_id,
            target=self.plan.target if self.plan else None,
            plan_sha256=sha,
            requester=self.policy.requester,
            approval=self.approval,
            backup_ids=self.backup_ids,
            execution=self.execution,
            audit_prefix=run.audit.prefix,
            audit_keys=keys,
        )
        report_key = record_step(run.audit, "report", report, final=True)
        report = report.model_copy(update={"audit_keys": [*keys, report_key]})
        approver = self.approval.approver if self.approval else None
        announce_outcome(
            "restore",
            run.flow_run_id,
            outcome,
            message,
            approver=approver,
            plan_sha256=sha,
            markdown=f"# Restore {outcome}\n\n- run: `{run.flow_run_id}`\n"
            f"- backup: `{self.backup_id}` into `{report.target}`\n- {message}\n"
            f"- approval: {self.approval.outcome if self.approval else '-'} by {approver or '-'}\n"
            f"- plan sha256: `{sha}`\n- safety backups: {', '.join(self.backup_ids) or '-'}\n"
            f"- audit: `{run.audit.prefix}`",
            operations_log=self.operations_log,
            acted=self._acted(),
            approval_wait_seconds=self.approval.wait_seconds if self.approval else None,
        )
        return report

    def _acted(self) -> list[ActedOn]:
        """Files restored or replaced, with their sizes from the backup's manifest."""
        if self.execution is None:
            return []
        done = [e for e in self.execution.entries if e.status in ("restored", "replaced")]
        size = sum(self.sizes.get(entry.path, 0) for entry in done)
        return [ActedOn(action="restored", targets=len(done), bytes=size)]
