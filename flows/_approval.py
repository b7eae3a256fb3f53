"""The approval gate: caps, the approver's input, and the verdict on it.

Why a verdict of its own: the flow must decide, from the plan and the input alone, whether
the plan may run, and record *why* in the audit either way.  :func:`judge` is pure (no
Prefect, no clock of its own), so every rule (the plan sha256, four eyes, the caps and their
explicit overrides) is tested without a server; :func:`request_approval` is the only part that
pauses the flow run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from time import monotonic
from typing import Literal

from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput, create_flow_run_input
from pydantic import Field

from bot_core._types import Document, UtcDateTime
from bot_core.metrics import GuardrailShare
from bot_core.reporting import Catalog, PlannedTarget

__all__ = [
    "PLAN_INPUT_KEY",
    "Approval",
    "ApprovalPolicy",
    "ApprovalRecord",
    "CapName",
    "CapViolation",
    "Caps",
    "PlanSummary",
    "TargetLine",
    "check_caps",
    "describe",
    "judge",
    "obtain_approval",
    "policy_verdict",
    "request_approval",
    "timed_out",
]

PLAN_INPUT_KEY = "bot-core-plan"
"""Flow run input key under which a paused run publishes its :class:`PlanSummary`, so that
``python -m flows pending``/``approve`` read the plan sha256 from the Prefect API."""

CapName = Literal["max_targets", "max_bytes", "keep_newest_per_category"]
Decision = Literal["approve", "reject"]
Outcome = Literal["approved", "rejected", "refused", "timed_out"]
Method = Literal["prefect_input", "approve_as", "policy"]


class Caps(Document):
    """Blast-radius caps checked at plan time; ``None`` disables a cap."""

    max_targets: int | None = Field(default=None, ge=0, description="most targets one run acts on")
    max_bytes: int | None = Field(default=None, ge=0, description="most bytes one run removes")
    keep_newest_per_category: int | None = Field(
        default=None, ge=0, description="never touch the newest N reports of any category"
    )


class CapViolation(Document):
    """One cap the plan exceeds, with the numbers an approver needs to judge it."""

    cap: CapName
    limit: int
    actual: int
    detail: str


class ApprovalPolicy(Document):
    """Who may approve, and how long the gate waits (deployment settings).

    ``approve_as`` approves on the command line (``--approve-as NAME``) without pausing; it is
    recorded with method ``approve_as``.  ``auto_approve`` lets a scheduled run approve itself
    when the plan is within every cap ("auto-approved by policy"); over a cap it pauses.
    """

    requester: str = Field(min_length=1, description="who asked for this run")
    allow_self_approval: bool = False
    auto_approve: bool = False
    approve_as: str | None = None
    timeout_seconds: int = Field(default=3600, ge=1)
    poll_interval_seconds: int = Field(default=10, ge=1)


class Approval(RunInput):
    """The approver's answer, shown as a form when the paused run is resumed."""

    decision: Literal["approve", "reject"] = Field(
        title="Decision", description="approve runs exactly the plan above; reject changes nothing"
    )
    approver: str = Field(
        min_length=1,
        title="Approver",
        description="Your name; it must differ from the requester's (four eyes).",
    )
    reason: str = Field(
        min_length=1, title="Reason", description="Why you decided so; kept in the audit record."
    )
    plan_sha256: str = Field(
        title="Plan sha256",
        description="Copy the plan sha256 shown above: an approval for another plan is refused.",
    )
    override_max_targets: bool = Field(
        default=False,
        title="Override max targets",
        description="Approve although the plan has more targets than the cap.",
    )
    override_max_bytes: bool = Field(
        default=False,
        title="Override max bytes",
        description="Approve although the plan removes more bytes than the cap.",
    )
    override_keep_newest_per_category: bool = Field(
        default=False,
        title="Override keep-newest",
        description="Approve although the plan touches some of the newest reports of a category.",
    )


class TargetLine(Document):
    """One target as the approver sees it in the pause description and the summary."""

    relative_path: str
    size: int
    file_count: int
    reason: str


class PlanSummary(Document):
    """What a paused run publishes about its plan (flow run input :data:`PLAN_INPUT_KEY`)."""

    operation: str
    flow_run_id: str
    plan_sha256: str
    requester: str
    target_count: int
    total_size: int
    total_files: int
    top_targets: list[TargetLine]
    caps: Caps
    cap_violations: list[CapViolation]
    plan_record_key: str
    audit_store: str
    timeout_seconds: int
    guardrail_share: GuardrailShare | None = None
    """Promotions only: the stage7 guardrail share the approver should weigh (runbook 9.3)."""


class ApprovalRecord(Document):
    """The ``approval`` audit record: who decided what, when, why, and whether it stands."""

    outcome: Outcome
    method: Method | None
    decision: Decision | None
    approver: str | None
    requester: str
    self_approval: bool
    reason: str | None
    plan_sha256: str
    approved_plan_sha256: str | None
    cap_violations: list[CapViolation]
    cap_overrides: list[CapName]
    refusal: str | None = None
    decided_at: UtcDateTime
    wait_seconds: float | None = None
    """Seconds from the pause to the decision (0: approved by the policy or ``approve_as``
    without pausing); ``None`` in records written before it was measured."""


def check_caps(
    targets: Sequence[PlannedTarget], caps: Caps, catalog: Catalog | None = None
) -> list[CapViolation]:
    """Every cap the targets exceed; ``keep_newest_per_category`` needs the full scan."""
    violations: list[CapViolation] = []
    if caps.max_targets is not None and len(targets) > caps.max_targets:
        violations.append(
            CapViolation(
                cap="max_targets",
                limit=caps.max_targets,
                actual=len(targets),
                detail=f"{len(targets)} targets > max_targets {caps.max_targets}",
            )
        )
    size = sum(target.size for target in targets)
    if caps.max_bytes is not None and size > caps.max_bytes:
        violations.append(
            CapViolation(
                cap="max_bytes",
                limit=caps.max_bytes,
                actual=size,
                detail=f"{size} bytes > max_bytes {caps.max_bytes}",
            )
        )
    keep = caps.keep_newest_per_category
    if keep is not None and keep > 0 and catalog is not None:
        by_category: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for report in catalog.reports:
            by_category[report.category].append((report.updated_ns, report.identifier))
        protected: set[str] = set()
        for reports in by_category.values():
            reports.sort(reverse=True)
            protected.update(identifier for _, identifier in reports[:keep])
        hit = [t.relative_path for t in targets if _covers_protected(t, protected)]
        if hit:
            shown = ", ".join(hit[:5]) + (f" (+{len(hit) - 5} more)" if len(hit) > 5 else "")
            violations.append(
                CapViolation(
                    cap="keep_newest_per_category",
                    limit=keep,
                    actual=len(hit),
                    detail=f"{len(hit)} targets are among the newest {keep} of their "
                    f"category: {shown}",
                )
            )
    return violations


def _covers_protected(target: PlannedTarget, protected: set[str]) -> bool:
    paths = [target.relative_path, *(folded.relative_path for folded in target.folded)]
    return any(path in protected for path in paths)


def judge(
    approval: Approval,
    *,
    plan_sha256: str,
    policy: ApprovalPolicy,
    violations: Sequence[CapViolation],
    method: Method,
    now: datetime,
) -> ApprovalRecord:
    """The verdict on one approval input: approved, rejected, or refused and why."""
    overrides: list[CapName] = []
    if approval.override_max_targets:
        overrides.append("max_targets")
    if approval.override_max_bytes:
        overrides.append("max_bytes")
    if approval.override_keep_newest_per_category:
        overrides.append("keep_newest_per_category")
    self_approval = approval.approver.strip() == policy.requester.strip()

    def verdict(outcome: Outcome, refusal: str | None = None) -> ApprovalRecord:
        return ApprovalRecord(
            outcome=outcome,
            method=method,
            decision=approval.decision,
            approver=approval.approver,
            requester=policy.requester,
            self_approval=self_approval,
            reason=approval.reason,
            plan_sha256=plan_sha256,
            approved_plan_sha256=approval.plan_sha256,
            cap_violations=list(violations),
            cap_overrides=overrides,
            refusal=refusal,
            decided_at=now,
        )

    if approval.plan_sha256.strip().lower() != plan_sha256:
        return verdict(
            "refused",
            f"the approval is for plan {approval.plan_sha256!r}, not this plan {plan_sha256}",
        )
    if approval.decision == "reject":
        return verdict("rejected")
    if self_approval and not policy.allow_self_approval:
        return verdict(
            "refused",
            f"approver {approval.approver!r} is the requester; self-approval is not allowed",
        )
    unmet = [v for v in violations if v.cap not in overrides]
    if unmet:
        details = "; ".join(v.detail for v in unmet)
        return verdict(
            "refused", f"the plan exceeds a cap the approval does not override: {details}"
        )
    return verdict("approved")


def policy_verdict(
    *, plan_sha256: str, policy: ApprovalPolicy, violations: Sequence[CapViolation], now: datetime
) -> ApprovalRecord | None:
    """Approve without pausing when the policy allows it; ``None`` means "ask a person".

    ``approve_as`` (the command line's explicit flag) is judged like any approver's input;
    ``auto_approve`` applies only to a plan within every cap.
    """
    if policy.approve_as is not None:
        flag = Approval(
            decision="approve",
            approver=policy.approve_as,
            reason="approved on the command line with --approve-as",
            plan_sha256=plan_sha256,
        )
        return judge(
            flag,
            plan_sha256=plan_sha256,
            policy=policy,
            violations=violations,
            method="approve_as",
            now=now,
        )
    if policy.auto_approve and not violations:
        return ApprovalRecord(
            outcome="approved",
            method="policy",
            decision="approve",
            approver="policy",
            requester=policy.requester,
            self_approval=False,
            reason="auto-approved by policy",
            plan_sha256=plan_sha256,
            approved_plan_sha256=plan_sha256,
            cap_violations=[],
            cap_overrides=[],
            decided_at=now,
        )
    return None


def timed_out(
    *, plan_sha256: str, policy: ApprovalPolicy, violations: Sequence[CapViolation], now: datetime
) -> ApprovalRecord:
    """The record of an approval nobody gave in time."""
    return ApprovalRecord(
        outcome="timed_out",
        method=None,
        decision=None,
        approver=None,
        requester=policy.requester,
        self_approval=False,
        reason=f"no decision within {policy.timeout_seconds} s",
        plan_sha256=plan_sha256,
        approved_plan_sha256=None,
        cap_violations=list(violations),
        cap_overrides=[],
        decided_at=now,
    )


def describe(summary: PlanSummary) -> str:
    """The pause description (markdown): totals, top targets, caps, where the plan is."""
    lines = [
        f"## Approve {summary.operation} plan `{summary.plan_sha256}`",
        "",
        f"Requested by **{summary.requester}**. {summary.target_count} targets, "
        f"{summary.total_files} files, {summary.total_size} bytes.",
        "",
        "| target | size | files | why |",
        "| --- | ---: | ---: | --- |",
    ]
    lines += [
        f"| `{t.relative_path}` | {t.size} | {t.file_count} | {t.reason} |"
        for t in summary.top_targets
    ]
    if summary.target_count > len(summary.top_targets):
        lines.append(f"| … {summary.target_count - len(summary.top_targets)} more | | | |")
    caps = summary.caps
    lines += [
        "",
        f"**Caps:** max_targets={caps.max_targets}, max_bytes={caps.max_bytes}, "
        f"keep_newest_per_category={caps.keep_newest_per_category}.",
    ]
    if summary.cap_violations:
        lines.append("")
        lines.append("**Over a cap** (approve only with the matching override):")
        lines += [f"- {v.detail}" for v in summary.cap_violations]
    if summary.guardrail_share is not None:
        lines += ["", f"**{summary.guardrail_share.describe()}**"]
    lines += [
        "",
        f"Full plan: audit record `{summary.plan_record_key}` in `{summary.audit_store}`.",
        f"Paste the plan sha256 `{summary.plan_sha256}` into the form. "
        f"This request expires after {summary.timeout_seconds} s.",
    ]
    return "\n".join(lines)


def request_approval(summary: PlanSummary, policy: ApprovalPolicy) -> Approval | None:
    """Publish the plan summary, pause the run, and return the input (``None``: timed out)."""
    create_flow_run_input(key=PLAN_INPUT_KEY, value=summary.model_dump(mode="json"))
    form = Approval.with_initial_data(description=describe(summary))
    try:
        return pause_flow_run(
            wait_for_input=form,
            timeout=policy.timeout_seconds,
            poll_interval=policy.poll_interval_seconds,
        )
    except FlowPauseTimeout:
        return None


def obtain_approval(
    plan_sha256: str,
    policy: ApprovalPolicy,
    violations: list[CapViolation],
    summary: PlanSummary,
) -> ApprovalRecord:
    """Approval by the policy or the ``approve_as`` flag, else pause for a person's input.

    The record's ``wait_seconds`` is how long the run waited for the decision (the
    ``approval_wait_seconds`` metric); it is measured on a monotonic clock around the pause.
    """
    verdict = policy_verdict(
        plan_sha256=plan_sha256, policy=policy, violations=violations, now=datetime.now(UTC)
    )
    if verdict is not None:
        return verdict.model_copy(update={"wait_seconds": 0.0})
    paused = monotonic()
    answer: Approval | None = request_approval(summary, policy)
    waited = round(monotonic() - paused, 3)
    if answer is None:
        record = timed_out(
            plan_sha256=plan_sha256, policy=policy, violations=violations, now=datetime.now(UTC)
        )
    else:
        record = judge(
            answer,
            plan_sha256=plan_sha256,
            policy=policy,
            violations=violations,
            method="prefect_input",
            now=datetime.now(UTC),
        )
    return record.model_copy(update={"wait_seconds": waited})
