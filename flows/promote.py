"""The promotion flow: champion and challengers -> promotion plan -> approval -> verified
backup of the registry files -> compare-and-swap promotion -> report.

Audit records (``maintenance/promote/<date>/<run id>/NN-<step>.json``): ``overview`` (the
model's champion and challengers), ``dry-run`` (the :class:`PromotionPlan` and its sha256),
``approval``, ``backup``, ``execution`` (the :class:`PromoteResult`) and the final
``report``.  The promotion passes ``expect_champion`` = the planned champion, so a champion
that changed after the approval makes the promotion fail with nothing written.

Before the pause the stage7 guardrail share is read from Prometheus and shown to the
approver (and kept in the ``dry-run`` record); a completed promotion is counted in
``auto_trader_model_changes_total`` (``guardrail_state`` says whether a risk guardrail was
active: the caller knows, the flow does not guess).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from prefect import flow
from prefect.runtime import flow_run

from bot_core._types import Document
from bot_core.audit import BackupVerification, StoredBackup
from bot_core.errors import BotCoreError
from bot_core.metrics import GuardrailShare, ModelChangeGuardrailState, record_model_change
from bot_core.registry import (
    DEFAULT_AUDIT_DIR,
    DEFAULT_LOG_PATH,
    DEFAULT_QUALITY_DIR,
    ChampionListing,
    PromoteResult,
    PromotionPlan,
)
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
    best_effort_push,
    destructive_section,
    promotion_guardrail_share,
)
from flows.purge import default_requester
from tasks import create_backup, list_champions, plan_promotion, promote, record_step, verify_backup

__all__ = ["PromotePlanRecord", "PromotionReport", "plan_digest", "promote_champion"]

OPERATION = "maintenance/promote"
REGISTRY_FILES = ("champion.json", "challengers.json", "history.jsonl")


class PromotePlanRecord(Document):
    """The ``dry-run`` record: the promotion plan and the sha256 an approval must name."""

    plan_sha256: str
    plan: PromotionPlan
    guardrail_share: GuardrailShare | None = None
    """The stage7 share the approver was shown, or why it was unavailable."""


class RegistryBackupRecord(Document):
    """The ``backup`` record: the registry files as they were before the promotion."""

    plan_sha256: str
    source_root: str
    paths: list[str]
    stored: StoredBackup
    verification: BackupVerification


class PromotionReport(Document):
    """The run's result and its final ``report`` record."""

    operation: str = "promote"
    flow_run_id: str
    outcome: FlowOutcome
    message: str
    model: str
    version: str
    previous_version: str | None
    plan_sha256: str | None
    requester: str
    approval: ApprovalRecord | None
    backup_id: str | None = None
    execution: PromoteResult | None = None
    audit_prefix: str


def plan_digest(plan: PromotionPlan) -> str:
    """sha256 of the plan's canonical JSON (sorted keys, compact, UTF-8)."""
    payload = json.dumps(
        plan.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def promote_run_name() -> str:
    """``promote-<model>-<version>``, from the run's parameters."""
    return f"promote-{flow_run.parameters.get('model')}-{flow_run.parameters.get('version')}"


@flow(name="promote", flow_run_name=promote_run_name, validate_parameters=True)
def promote_champion(
    model: str,
    version: str,
    reason: str,
    quality_dir: str = str(DEFAULT_QUALITY_DIR),
    registry_audit_dir: str = str(DEFAULT_AUDIT_DIR),
    registry_log_path: str = str(DEFAULT_LOG_PATH),
    policy: ApprovalPolicy | None = None,
    audit_url: str | None = None,
    operations_log: str = DEFAULT_OPERATIONS_LOG,
    concurrency_limit: str | None = DEFAULT_CONCURRENCY_LIMIT,
    guardrail_state: ModelChangeGuardrailState = "none",
    prometheus_url: str | None = None,
) -> PromotionReport:
    """Make challenger ``version`` of ``model`` its champion, once the plan is approved.

    Steps: overview (champion and challengers); dry-run (the promotion plan and its sha256);
    approval; verified backup of ``champion.json``, ``challengers.json`` and
    ``history.jsonl``; promotion with ``expect_champion`` set to the planned champion; report.
    ``prometheus_url`` (default ``BOT_CORE_PROMETHEUS_URL``) is where the guardrail share is
    read; ``guardrail_state`` labels the model-change metrics of a completed promotion.
    """
    run = RunContext(OPERATION, audit_url)
    policy = policy or ApprovalPolicy(requester=default_requester())

    listing: ChampionListing = list_champions(quality_dir, model)
    record_step(run.audit, "overview", listing)

    plan = plan_promotion(
        quality_dir,
        model=model,
        version=version,
        reason=reason,
        approver=policy.requester,
        decided_at=datetime.now(UTC),
    )
    sha = plan_digest(plan)
    share = promotion_guardrail_share(model, prometheus_url)
    plan_key = record_step(
        run.audit,
        "dry-run",
        PromotePlanRecord(plan_sha256=sha, plan=plan, guardrail_share=share),
    )

    summary = PlanSummary(
        operation="promote",
        flow_run_id=run.flow_run_id,
        plan_sha256=sha,
        requester=policy.requester,
        target_count=1,
        total_size=0,
        total_files=len(REGISTRY_FILES),
        top_targets=[
            TargetLine(
                relative_path=f"{model}: {plan.previous_version or '-'} -> {plan.version}",
                size=0,
                file_count=len(REGISTRY_FILES),
                reason=reason,
            )
        ],
        caps=Caps(),
        cap_violations=[],
        plan_record_key=plan_key,
        audit_store=run.store_name,
        timeout_seconds=policy.timeout_seconds,
        guardrail_share=share,
    )
    approval = obtain_approval(sha, policy, [], summary)
    record_step(run.audit, "approval", approval)
    if approval.outcome != "approved":
        message = approval.refusal or approval.reason or approval.outcome
        return _finish(run, policy, operations_log, approval.outcome, message, plan, sha, approval)

    with destructive_section(concurrency_limit, timeout_seconds=policy.timeout_seconds):
        paths = [f"{model}/{name}" for name in REGISTRY_FILES]
        labels = {"operation": "promote", "run_id": run.flow_run_id, "plan_sha256": sha}
        stored = create_backup(run.backup_store, quality_dir, paths, labels)
        verification = verify_backup(run.backup_store, stored)
        record_step(
            run.audit,
            "backup",
            RegistryBackupRecord(
                plan_sha256=sha,
                source_root=quality_dir,
                paths=paths,
                stored=stored,
                verification=verification,
            ),
        )
        try:
            backup = verification.verified_backup()
            result = promote(
                quality_dir,
                plan,
                backup,
                reason=reason,
                approver=approval.approver or policy.requester,
                audit_dir=registry_audit_dir,
                log_path=registry_log_path,
            )
        except BotCoreError as exc:
            _finish(run, policy, operations_log, "error", str(exc), plan, sha, approval)
            raise
        record_step(run.audit, "execution", result)

    best_effort_push(
        "model change",
        lambda: record_model_change(model=model, source="manual", guardrail_state=guardrail_state),
    )
    message = f"{model}: {plan.previous_version or '-'} -> {plan.version}"
    return _finish(
        run, policy, operations_log, "completed", message, plan, sha, approval, stored, result
    )


def _finish(
    run: RunContext,
    policy: ApprovalPolicy,
    operations_log: str,
    outcome: FlowOutcome,
    message: str,
    plan: PromotionPlan,
    sha: str,
    approval: ApprovalRecord,
    stored: StoredBackup | None = None,
    execution: PromoteResult | None = None,
) -> PromotionReport:
    """The report step: final audit record, markdown artifact, operations-log line."""
    report = PromotionReport(
        flow_run_id=run.flow_run_id,
        outcome=outcome,
        message=message,
        model=plan.model_name,
        version=plan.version,
        previous_version=plan.previous_version,
        plan_sha256=sha,
        requester=policy.requester,
        approval=approval,
        backup_id=stored.backup_id if stored else None,
        execution=execution,
        audit_prefix=run.audit.prefix,
    )
    record_step(run.audit, "report", report, final=True)
    announce_outcome(
        "promote",
        run.flow_run_id,
        outcome,
        message,
        approver=approval.approver,
        plan_sha256=sha,
        markdown=f"# Promotion {outcome}\n\n- run: `{run.flow_run_id}`\n- {message}\n"
        f"- approval: {approval.outcome} by {approval.approver or '-'}\n"
        f"- plan sha256: `{sha}`\n- audit: `{run.audit.prefix}`",
        operations_log=operations_log,
        acted=[ActedOn(action="promoted", targets=1)] if execution is not None else [],
        approval_wait_seconds=approval.wait_seconds,
    )
    return report
