"""The purge flow: overview -> dry-run plan -> approval -> verified backup -> purge -> report.

Each step writes one record to the audit chain of the run (``maintenance/purge/<date>/<run
id>/NN-<step>.json``): ``overview``, ``dry-run``, ``approval``, ``backup``, ``execution`` and
the final ``report``.  A rejection, a refused approval or a timeout writes its ``approval``
record and the final ``report`` and changes nothing.  Write flows as sync functions: an
un-awaited pause in an async flow silently skips the gate.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import Field

from bot_core._types import Document
from bot_core.audit import BackupVerification, StoredBackup, VerifiedBackup
from bot_core.errors import BotCoreError
from bot_core.reporting import (
    DEFAULT_BASE_DIR,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_SIGNAL_QUALITY_DIR,
    Filters,
    Overview,
    PurgePlan,
    PurgeResult,
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
from tasks import (
    build_overview,
    create_backup,
    execute_purge,
    plan_purge,
    record_step,
    scan_reports,
    verify_backup,
)

__all__ = [
    "BackupRecord",
    "OverviewRecord",
    "PlanRecord",
    "PurgeReport",
    "default_requester",
    "purge",
    "purge_run_name",
    "run_filters",
]

OPERATION = "maintenance/purge"
TOP_TARGETS = 10


class OverviewRecord(Document):
    """The ``overview`` record: the matching reports and totals (dashboards left out)."""

    overview: Overview

    @classmethod
    def of(cls, overview: Overview) -> OverviewRecord:
        return cls(overview=overview)


class PlanRecord(Document):
    """The ``dry-run`` record: the sealed plan, its sha256, the caps and what exceeds them.

    Each target of ``plan`` carries ``reason`` (why it was selected) and its fingerprint.
    """

    plan_sha256: str
    plan: PurgePlan
    caps: Caps
    cap_violations: list[CapViolation]


class BackupEntry(Document):
    """One backup the run took: where it is and the verdict of reading it back."""

    source_root: str
    paths: list[str]
    stored: StoredBackup
    verification: BackupVerification


class BackupRecord(Document):
    """The ``backup`` record: every backup taken before execution, each verified."""

    plan_sha256: str
    backups: list[BackupEntry]


class PurgeReport(Document):
    """The run's result and its final ``report`` record."""

    operation: str = "purge"
    flow_run_id: str
    outcome: FlowOutcome
    message: str
    plan_sha256: str | None
    requester: str
    approval: ApprovalRecord | None
    backup_ids: list[str] = Field(default_factory=list)
    execution: PurgeResult | None = None
    audit_prefix: str
    audit_keys: list[str]


def run_filters(parameters: dict[str, Any]) -> Filters:
    """The filters a run's parameters mean now (``older_than_days``/``newer_than_days``
    resolved), for its name; a window the flow will refuse is named without it."""
    raw = parameters.get("filters")
    filters = raw if isinstance(raw, Filters) else Filters.model_validate(raw or {})
    try:
        return within_age_window(
            filters,
            now=datetime.now(UTC),
            older_than_days=parameters.get("older_than_days"),
            newer_than_days=parameters.get("newer_than_days"),
        )
    except BotCoreError:
        return filters


def default_requester() -> str:
    """The operating-system user, as the requester of an ad-hoc run."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USER") or "unknown"


def purge_run_name() -> str:
    """``purge-<categories>-until-<date>``, from the run's parameters."""
    filters = run_filters(flow_run.parameters)
    categories = "+".join(filters.categories) or "all"
    name = f"purge-{categories}"
    if filters.since is not None:
        name += f"-since-{filters.since.date().isoformat()}"
    if filters.until is not None:
        name += f"-until-{filters.until.date().isoformat()}"
    return name


@flow(name="purge", flow_run_name=purge_run_name, validate_parameters=True)
def purge(
    filters: Filters | None = None,
    base_dir: str = DEFAULT_BASE_DIR,
    signal_quality_dir: str = DEFAULT_SIGNAL_QUALITY_DIR,
    signal_quality_retention_days: int = DEFAULT_RETENTION_DAYS,
    include_reports: bool = True,
    older_than_days: int | None = None,
    newer_than_days: int | None = None,
    caps: Caps | None = None,
    policy: ApprovalPolicy | None = None,
    audit_url: str | None = None,
    operations_log: str = DEFAULT_OPERATIONS_LOG,
    concurrency_limit: str | None = DEFAULT_CONCURRENCY_LIMIT,
) -> PurgeReport:
    """Purge the reports the filters select, once a person (or the policy) approved the plan.

    Steps: overview; dry-run plan (sha256, per-target reasons, caps); approval (pause for an
    :class:`Approval` bound to the plan sha256); verified backup of every target; execution
    of exactly the approved plan; report (final audit record, artifact, operations log).
    ``include_reports=False`` applies only the signal-quality retention (no report is
    deleted); the overview still records what the filters match.  ``older_than_days`` /
    ``newer_than_days`` set ``until`` / ``since`` relative to the start of the run (the
    schedules' rolling windows).
    """
    run = RunContext(OPERATION, audit_url)
    now = datetime.now(UTC)
    filters = within_age_window(
        filters or Filters(),
        now=now,
        older_than_days=older_than_days,
        newer_than_days=newer_than_days,
    )
    caps = caps or Caps()
    policy = policy or ApprovalPolicy(requester=default_requester())
    logger = get_run_logger()

    catalog = scan_reports(base_dir)
    overview = build_overview(catalog, filters)
    record_step(run.audit, "overview", OverviewRecord.of(overview))

    plan = plan_purge(
        catalog,
        filters,
        now=now,
        signal_quality_dir=signal_quality_dir,
        signal_quality_retention_days=signal_quality_retention_days,
        include_reports=include_reports,
    )
    violations = check_caps(plan.targets, caps, catalog)
    plan_key = record_step(
        run.audit,
        "dry-run",
        PlanRecord(plan_sha256=plan.sha256, plan=plan, caps=caps, cap_violations=violations),
    )
    if not plan.targets and not plan.signal_quality.files:
        return _finish(run, policy, operations_log, "empty", "nothing matched", plan)

    summary = _summary(run, plan, policy, caps, violations, plan_key)
    logger.info(
        "plan %s: %d targets, %d bytes; approve with: python -m flows approve %s "
        "--approver NAME --reason TEXT",
        plan.sha256,
        summary.target_count,
        summary.total_size,
        run.flow_run_id,
    )
    approval = obtain_approval(plan.sha256, policy, violations, summary)
    record_step(run.audit, "approval", approval)
    if approval.outcome != "approved":
        message = approval.refusal or approval.reason or approval.outcome
        return _finish(run, policy, operations_log, approval.outcome, message, plan, approval)

    with destructive_section(concurrency_limit, timeout_seconds=policy.timeout_seconds):
        backups = _verified_backups(run, plan, policy, operations_log, approval)
        result = execute_purge(plan, [backup for _, backup in backups])
        record_step(run.audit, "execution", result)

    return _finish(
        run,
        policy,
        operations_log,
        _outcome(result),
        f"deleted {result.deleted_count} of {result.planned_count} targets, "
        f"{result.removed_size} bytes; signal quality: "
        f"{result.signal_quality_cleanup.removed} files removed",
        plan,
        approval,
        [backup.backup_id for _, backup in backups],
        result,
    )


def _outcome(result: PurgeResult) -> FlowOutcome:
    """The run's outcome: the execution's status, where ``empty`` (no report target) still
    counts as ``completed`` when the signal-quality retention removed files."""
    if result.status == "empty" and result.signal_quality_cleanup.status == "completed":
        return "completed"
    if result.status in ("partial_failure", "error", "empty"):
        return result.status
    return "completed"


def _summary(
    run: RunContext,
    plan: PurgePlan,
    policy: ApprovalPolicy,
    caps: Caps,
    violations: list[CapViolation],
    plan_key: str,
) -> PlanSummary:
    biggest = sorted(plan.targets, key=lambda t: (-t.size, t.relative_path))[:TOP_TARGETS]
    return PlanSummary(
        operation="purge",
        flow_run_id=run.flow_run_id,
        plan_sha256=plan.sha256,
        requester=policy.requester,
        target_count=len(plan.targets),
        total_size=plan.total_size,
        total_files=plan.total_files,
        top_targets=[
            TargetLine(
                relative_path=t.relative_path, size=t.size, file_count=t.file_count, reason=t.reason
            )
            for t in biggest
        ],
        caps=caps,
        cap_violations=violations,
        plan_record_key=plan_key,
        audit_store=run.store_name,
        timeout_seconds=policy.timeout_seconds,
    )


def _verified_backups(
    run: RunContext,
    plan: PurgePlan,
    policy: ApprovalPolicy,
    operations_log: str,
    approval: ApprovalRecord,
) -> list[tuple[BackupEntry, VerifiedBackup]]:
    """Back up every target (and planned signal-quality file), verify, record; or stop.

    A backup that does not verify ends the run here: its record and the final report are
    written, and :class:`BackupNotVerifiedError` fails the flow run.  Nothing was deleted.
    """
    labels = {"operation": "purge", "run_id": run.flow_run_id, "plan_sha256": plan.sha256}
    sources: list[tuple[str, list[str]]] = []
    if plan.targets:
        base = plan.fs_base_directory
        sources.append((base, [t.fs_path for t in plan.targets]))
    quality = plan.signal_quality
    if quality.files:
        directory = quality.fs_directory
        names = [os.path.basename(f.fs_path) for f in quality.files]
        sources.append((directory, names))
    entries: list[tuple[BackupEntry, BackupVerification]] = []
    for root, paths in sources:
        stored = create_backup(run.backup_store, root, paths, labels)
        verification = verify_backup(run.backup_store, stored)
        entry = BackupEntry(source_root=root, paths=paths, stored=stored, verification=verification)
        entries.append((entry, verification))
    record_step(
        run.audit,
        "backup",
        BackupRecord(plan_sha256=plan.sha256, backups=[entry for entry, _ in entries]),
    )
    try:
        return [(entry, verification.verified_backup()) for entry, verification in entries]
    except BotCoreError as exc:
        _finish(run, policy, operations_log, "error", str(exc), plan, approval)
        raise


def _finish(
    run: RunContext,
    policy: ApprovalPolicy,
    operations_log: str,
    outcome: FlowOutcome,
    message: str,
    plan: PurgePlan,
    approval: ApprovalRecord | None = None,
    backup_ids: list[str] | None = None,
    execution: PurgeResult | None = None,
) -> PurgeReport:
    """The report step: final audit record, markdown artifact, operations-log line."""
    keys = [stored.key for stored in run.audit.records]
    report = PurgeReport(
        flow_run_id=run.flow_run_id,
        outcome=outcome,
        message=message,
        plan_sha256=plan.sha256,
        requester=policy.requester,
        approval=approval,
        backup_ids=backup_ids or [],
        execution=execution,
        audit_prefix=run.audit.prefix,
        audit_keys=keys,
    )
    report_key = record_step(run.audit, "report", report, final=True)
    report = report.model_copy(update={"audit_keys": [*keys, report_key]})
    announce_outcome(
        "purge",
        run.flow_run_id,
        outcome,
        message,
        approver=approval.approver if approval else None,
        plan_sha256=plan.sha256,
        markdown=_markdown(report),
        operations_log=operations_log,
        acted=[]
        if execution is None
        else [
            ActedOn(action="removed", targets=execution.deleted_count, bytes=execution.removed_size)
        ],
        approval_wait_seconds=approval.wait_seconds if approval else None,
    )
    return report


def _markdown(report: PurgeReport) -> str:
    lines = [
        f"# Purge {report.outcome}",
        "",
        f"- run: `{report.flow_run_id}`",
        f"- plan sha256: `{report.plan_sha256}`",
        f"- requester: {report.requester}",
    ]
    if report.approval is not None:
        a = report.approval
        lines.append(
            f"- approval: {a.outcome} by {a.approver or '-'} ({a.method or '-'}): "
            f"{a.refusal or a.reason or ''}"
        )
    if report.backup_ids:
        lines.append(f"- backups: {', '.join(f'`{b}`' for b in report.backup_ids)}")
    lines.append(f"- {report.message}")
    lines.append(f"- audit: `{report.audit_prefix}`")
    if report.execution is not None:
        lines += ["", "| target | status | files | bytes |", "| --- | --- | ---: | ---: |"]
        lines += [
            f"| `{t.relative_path}` | {t.status} | {t.removed_files} | {t.removed_size} |"
            for t in report.execution.targets
        ]
    return "\n".join(lines)
