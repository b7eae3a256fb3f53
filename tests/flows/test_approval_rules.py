"""The approval verdict and the caps, without a Prefect server (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot_core.reporting import parse_filters, plan_purge, scan_reports
from flows._approval import Approval, ApprovalPolicy, Caps, check_caps, judge, policy_verdict
from tests.flows.conftest import Tree

NOW = datetime(2024, 6, 1, tzinfo=UTC)
POLICY = ApprovalPolicy(requester="alice")


def plan_of(tree: Tree, **filters: object):
    catalog = scan_reports(str(tree.base))
    plan = plan_purge(
        catalog,
        parse_filters(**filters),
        now=NOW,
        signal_quality_dir=str(tree.signal_quality),
        signal_quality_retention_days=30,
    )
    return catalog, plan


def answer(**fields: object) -> Approval:
    values = {"decision": "approve", "approver": "bob", "reason": "ok", "plan_sha256": "a" * 64}
    return Approval(**{**values, **fields})


def test_keep_newest_protects_the_newest_reports_of_each_category(tree: Tree) -> None:
    catalog, plan = plan_of(tree, categories=["smoke"])
    violations = check_caps(plan.targets, Caps(keep_newest_per_category=2), catalog)
    (violation,) = violations
    assert violation.cap == "keep_newest_per_category"
    assert violation.actual == 2  # smoke/2024-05-01 and smoke/2024-03-04
    assert "smoke/2024-05-01" in violation.detail


def test_caps_within_limits_report_nothing(tree: Tree) -> None:
    catalog, plan = plan_of(tree, categories=["smoke"], until="2024-04-01")
    caps = Caps(max_targets=4, max_bytes=plan.total_size, keep_newest_per_category=1)
    assert check_caps(plan.targets, caps, catalog) == []
    over = check_caps(plan.targets, Caps(max_bytes=plan.total_size - 1), catalog)
    assert [v.cap for v in over] == ["max_bytes"]


def test_verdicts() -> None:
    sha = "a" * 64
    common = {"plan_sha256": sha, "policy": POLICY, "method": "prefect_input", "now": NOW}
    assert judge(answer(), violations=[], **common).outcome == "approved"
    assert judge(answer(decision="reject"), violations=[], **common).outcome == "rejected"
    assert judge(answer(plan_sha256="b" * 64), violations=[], **common).outcome == "refused"
    assert judge(answer(approver="alice"), violations=[], **common).outcome == "refused"
    relaxed = {**common, "policy": ApprovalPolicy(requester="alice", allow_self_approval=True)}
    allowed = judge(answer(approver="alice"), violations=[], **relaxed)
    assert (allowed.outcome, allowed.self_approval) == ("approved", True)


def test_auto_approval_needs_the_policy_and_a_plan_within_caps(tree: Tree) -> None:
    catalog, plan = plan_of(tree, categories=["smoke"])
    over = check_caps(plan.targets, Caps(max_targets=1), catalog)
    auto = ApprovalPolicy(requester="scheduler", auto_approve=True)
    sha = plan.sha256
    assert policy_verdict(plan_sha256=sha, policy=POLICY, violations=[], now=NOW) is None
    assert policy_verdict(plan_sha256=sha, policy=auto, violations=over, now=NOW) is None
    granted = policy_verdict(plan_sha256=sha, policy=auto, violations=[], now=NOW)
    assert granted is not None and granted.reason == "auto-approved by policy"
