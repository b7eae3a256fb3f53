"""The purge flow end to end against a real Prefect API: pause, resume from a second client."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from bot_core.audit import LocalAuditStore, verify_backup, verify_records
from bot_core.reporting import parse_filters
from flows._approval import ApprovalPolicy, Caps
from flows._client import decide
from flows.purge import PurgeReport, purge
from tests.flows.conftest import Background, Tree, run_in_background, wait_for_pause


def start_purge(
    tree: Tree, *, caps: Caps | None = None, timeout: int = 60, **policy: object
) -> Background:
    """Start a purge of the old smoke reports in a background thread."""
    settings = ApprovalPolicy.model_validate(
        {"requester": "alice", "timeout_seconds": timeout, "poll_interval_seconds": 1, **policy}
    )
    return run_in_background(
        lambda: purge(
            filters=parse_filters(categories=["smoke"], until="2024-04-01"),
            base_dir=str(tree.base),
            signal_quality_dir=str(tree.signal_quality),
            caps=caps,
            policy=settings,
            audit_url=str(tree.audit),
            operations_log=str(tree.ops_log),
        )
    )


def chain_steps(tree: Tree) -> list[str]:
    """The steps of the (single) run's audit chain, after checking the chain is intact."""
    verification = verify_records(LocalAuditStore(str(tree.audit)), prefix="maintenance/purge")
    assert verification.status == "ok", verification
    (run,) = verification.runs
    assert run.status == "ok" and run.final
    return run.steps


def test_approved_purge_deletes_exactly_the_plan(tree: Tree) -> None:
    before = tree.files()
    running = start_purge(tree)
    summary = wait_for_pause(str(tree.audit))
    assert summary.target_count == 4
    assert tree.files() == before, "nothing may change before the approval"

    decide(summary.flow_run_id, decision="approve", approver="bob", reason="old smoke runs")
    report = running.join()

    assert isinstance(report, PurgeReport)
    assert report.outcome == "completed", report.message
    assert report.approval is not None and report.approval.approver == "bob"
    remaining = tree.files()
    for identifier in tree.old_smoke:
        assert not any(path.startswith(identifier) for path in remaining)
    assert remaining == {p for p in before if not p.startswith(tuple(tree.old_smoke))}
    assert chain_steps(tree) == ["overview", "dry-run", "approval", "backup", "execution", "report"]
    (backup_id,) = report.backup_ids
    assert verify_backup(LocalAuditStore(str(tree.audit)), backup_id).status == "verified"
    log = tree.ops_log.read_text()
    assert f"run={summary.flow_run_id}" in log and "outcome=completed" in log


def test_rejection_changes_nothing(tree: Tree) -> None:
    before = tree.files()
    running = start_purge(tree)
    summary = wait_for_pause(str(tree.audit))
    decide(summary.flow_run_id, decision="reject", approver="bob", reason="keep them for now")
    report = running.join()

    assert report.outcome == "rejected"
    assert report.approval.reason == "keep them for now"
    assert tree.files() == before
    assert chain_steps(tree) == ["overview", "dry-run", "approval", "report"]


def test_approval_for_another_plan_is_refused(tree: Tree) -> None:
    before = tree.files()
    running = start_purge(tree)
    summary = wait_for_pause(str(tree.audit))
    decide(
        summary.flow_run_id,
        decision="approve",
        approver="bob",
        reason="looks fine",
        plan_sha256="0" * 64,
    )
    report = running.join()

    assert report.outcome == "refused"
    assert "not this plan" in (report.approval.refusal or "")
    assert tree.files() == before
    assert chain_steps(tree) == ["overview", "dry-run", "approval", "report"]


def test_requester_cannot_approve_their_own_plan(tree: Tree) -> None:
    before = tree.files()
    running = start_purge(tree)
    summary = wait_for_pause(str(tree.audit))
    decide(summary.flow_run_id, decision="approve", approver="alice", reason="mine")
    report = running.join()

    assert report.outcome == "refused"
    assert report.approval.self_approval is True
    assert "self-approval" in (report.approval.refusal or "")
    assert tree.files() == before


def test_plan_over_a_cap_needs_an_explicit_override(tree: Tree) -> None:
    before = tree.files()
    running = start_purge(tree, caps=Caps(max_targets=2))
    summary = wait_for_pause(str(tree.audit))
    assert [v.cap for v in summary.cap_violations] == ["max_targets"]
    decide(summary.flow_run_id, decision="approve", approver="bob", reason="ok")
    report = running.join()

    assert report.outcome == "refused"
    assert "max_targets" in (report.approval.refusal or "")
    assert tree.files() == before


def test_override_of_a_cap_is_recorded_and_executes(tree: Tree) -> None:
    running = start_purge(tree, caps=Caps(max_targets=2))
    summary = wait_for_pause(str(tree.audit))
    decide(
        summary.flow_run_id,
        decision="approve",
        approver="bob",
        reason="one-off cleanup",
        overrides=["max_targets"],
    )
    report = running.join()

    assert report.outcome == "completed"
    assert report.approval.cap_overrides == ["max_targets"]
    assert report.execution is not None and report.execution.deleted_count == 4


def test_target_changed_after_approval_is_left_alone(tree: Tree) -> None:
    running = start_purge(tree)
    summary = wait_for_pause(str(tree.audit))
    drifted = tree.base / tree.old_smoke[0] / "exports" / "late.csv"
    drifted.write_text("written after the plan\n")
    decide(summary.flow_run_id, decision="approve", approver="bob", reason="go")
    report = running.join()

    assert report.outcome == "partial_failure"
    statuses = {t.relative_path: t.status for t in report.execution.targets}
    assert statuses.pop(tree.old_smoke[0]) == "error"
    assert set(statuses.values()) == {"deleted"}
    assert drifted.exists()
    assert (tree.base / tree.old_smoke[0] / "summary.json").exists()


def test_timeout_changes_nothing(tree: Tree) -> None:
    before = tree.files()
    running = start_purge(tree, timeout=2)
    report = running.join()

    assert report.outcome == "timed_out"
    assert tree.files() == before
    assert chain_steps(tree) == ["overview", "dry-run", "approval", "report"]


def test_auto_approval_only_within_caps(tree: Tree) -> None:
    report = purge(
        filters=parse_filters(categories=["smoke"], until="2024-04-01"),
        base_dir=str(tree.base),
        signal_quality_dir=str(tree.signal_quality),
        caps=Caps(max_targets=10, keep_newest_per_category=1),
        policy=ApprovalPolicy(requester="scheduler", auto_approve=True),
        audit_url=str(tree.audit),
        operations_log=str(tree.ops_log),
    )
    assert report.outcome == "completed"
    assert report.approval.method == "policy"
    assert report.approval.reason == "auto-approved by policy"
    assert all((tree.base / kept).exists() for kept in tree.kept)


def test_approve_as_flag_is_recorded_as_such(tree: Tree) -> None:
    report = purge(
        filters=parse_filters(categories=["smoke"], until="2024-04-01"),
        base_dir=str(tree.base),
        signal_quality_dir=str(tree.signal_quality),
        policy=ApprovalPolicy(requester="alice", approve_as="bob"),
        audit_url=str(tree.audit),
        operations_log=str(tree.ops_log),
    )
    assert report.outcome == "completed"
    assert (report.approval.method, report.approval.approver) == ("approve_as", "bob")


def test_nothing_matched_ends_without_a_pause(tree: Tree) -> None:
    report = purge(
        filters=parse_filters(categories=["nothing"]),
        base_dir=str(tree.base),
        signal_quality_dir=str(tree.signal_quality),
        policy=ApprovalPolicy(requester="alice"),
        audit_url=str(tree.audit),
        operations_log=str(tree.ops_log),
    )
    assert report.outcome == "empty"
    assert chain_steps(tree) == ["overview", "dry-run", "report"]


def test_signal_quality_only_purge_keeps_every_report(tree: Tree) -> None:
    tree.signal_quality.mkdir()
    old_file = tree.signal_quality / "binance.json"
    old_file.write_text("{}")
    long_ago = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    os.utime(old_file, (long_ago, long_ago))
    fresh_file = tree.signal_quality / "kraken.json"
    fresh_file.write_text("{}")
    before = tree.files()

    report = purge(
        filters=parse_filters(),
        base_dir=str(tree.base),
        signal_quality_dir=str(tree.signal_quality),
        include_reports=False,
        policy=ApprovalPolicy(requester="scheduler", auto_approve=True),
        audit_url=str(tree.audit),
        operations_log=str(tree.ops_log),
    )

    assert report.outcome == "completed", report.message
    assert report.execution is not None and report.execution.targets == []
    assert tree.files() == before, "no report may be touched"
    assert not old_file.exists() and fresh_file.exists()


def test_older_than_days_is_resolved_when_the_run_starts(tree: Tree) -> None:
    report = purge(
        filters=parse_filters(categories=["smoke"]),
        older_than_days=(datetime.now(UTC) - datetime(2024, 4, 1, tzinfo=UTC)).days,
        base_dir=str(tree.base),
        signal_quality_dir=str(tree.signal_quality),
        policy=ApprovalPolicy(requester="scheduler", auto_approve=True),
        audit_url=str(tree.audit),
        operations_log=str(tree.ops_log),
    )
    assert report.outcome == "completed", report.message
    assert report.execution is not None
    assert sorted(t.relative_path for t in report.execution.targets) == tree.old_smoke
    assert report.execution.filters.until is not None
    assert report.execution.filters.until.date().isoformat() in ("2024-03-31", "2024-04-01")
