"""The restore flow end to end: a purge's backup restored byte for byte after an approval."""

from __future__ import annotations

from pathlib import Path

from bot_core.audit import LocalAuditStore, verify_backup, verify_records
from bot_core.reporting import parse_filters
from flows._approval import ApprovalPolicy
from flows._client import decide
from flows.purge import purge
from flows.restore import RestoreReport, restore
from tests.flows.conftest import Tree, run_in_background, wait_for_pause


def snapshot(base: Path) -> dict[str, bytes]:
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def purged_backup(tree: Tree) -> str:
    """Purge the old smoke reports (approved on the command line); return the backup id."""
    report = purge(
        filters=parse_filters(categories=["smoke"], until="2024-04-01"),
        base_dir=str(tree.base),
        signal_quality_dir=str(tree.signal_quality),
        policy=ApprovalPolicy(requester="alice", approve_as="bob"),
        audit_url=str(tree.audit),
        operations_log=str(tree.ops_log),
    )
    assert report.outcome == "completed"
    (backup_id,) = report.backup_ids
    return backup_id


def restore_steps(tree: Tree) -> list[str]:
    verification = verify_records(LocalAuditStore(str(tree.audit)), prefix="maintenance/restore")
    assert verification.status == "ok", verification
    (run,) = verification.runs
    assert run.final
    return run.steps


def test_approved_restore_puts_a_purged_report_back_byte_for_byte(tree: Tree) -> None:
    before = snapshot(tree.base)
    backup_id = purged_backup(tree)
    assert snapshot(tree.base) != before

    policy = ApprovalPolicy(requester="alice", timeout_seconds=60, poll_interval_seconds=1)
    running = run_in_background(
        lambda: restore(
            backup_id=backup_id,
            policy=policy,
            audit_url=str(tree.audit),
            operations_log=str(tree.ops_log),
        )
    )
    summary = wait_for_pause(str(tree.audit))
    assert summary.operation.startswith(f"restore of backup {backup_id}")
    assert summary.total_files == 12
    decide(summary.flow_run_id, decision="approve", approver="bob", reason="undo the purge")
    report = running.join()

    assert isinstance(report, RestoreReport)
    assert report.outcome == "completed", report.message
    assert report.execution is not None and report.execution.restored_count > 0
    assert snapshot(tree.base) == before
    assert report.backup_ids == [], "nothing in the target was replaced"
    assert restore_steps(tree) == [
        "overview",
        "dry-run",
        "approval",
        "backup",
        "execution",
        "report",
    ]


def test_restore_backs_up_the_files_it_replaces(tree: Tree) -> None:
    before = snapshot(tree.base)
    backup_id = purged_backup(tree)
    target = tree.base / tree.old_smoke[0] / "summary.json"
    target.parent.mkdir(parents=True)
    target.write_text('{"written": "after the purge"}')

    report = restore(
        backup_id=backup_id,
        overwrite=True,
        policy=ApprovalPolicy(requester="alice", approve_as="bob"),
        audit_url=str(tree.audit),
        operations_log=str(tree.ops_log),
    )

    assert report.outcome == "completed", report.message
    assert report.execution is not None and report.execution.replaced_count == 1
    assert snapshot(tree.base) == before
    (safety,) = report.backup_ids
    assert verify_backup(LocalAuditStore(str(tree.audit)), safety).status == "verified"


def test_rejected_restore_changes_nothing(tree: Tree) -> None:
    backup_id = purged_backup(tree)
    after_purge = snapshot(tree.base)
    policy = ApprovalPolicy(requester="alice", timeout_seconds=60, poll_interval_seconds=1)
    running = run_in_background(
        lambda: restore(
            backup_id=backup_id,
            policy=policy,
            audit_url=str(tree.audit),
            operations_log=str(tree.ops_log),
        )
    )
    summary = wait_for_pause(str(tree.audit))
    decide(summary.flow_run_id, decision="reject", approver="bob", reason="not now")
    report = running.join()

    assert report.outcome == "rejected"
    assert snapshot(tree.base) == after_purge
    assert restore_steps(tree) == ["overview", "dry-run", "approval", "report"]


def test_target_changed_after_approval_stops_the_restore(tree: Tree) -> None:
    backup_id = purged_backup(tree)
    policy = ApprovalPolicy(requester="alice", timeout_seconds=60, poll_interval_seconds=1)
    running = run_in_background(
        lambda: restore(
            backup_id=backup_id,
            policy=policy,
            audit_url=str(tree.audit),
            operations_log=str(tree.ops_log),
        )
    )
    summary = wait_for_pause(str(tree.audit))
    late = tree.base / tree.old_smoke[0] / "summary.json"
    late.parent.mkdir(parents=True)
    late.write_text('{"written": "after the approval was requested"}')
    after = snapshot(tree.base)
    decide(summary.flow_run_id, decision="approve", approver="bob", reason="undo the purge")
    report = running.join()

    assert report.outcome == "error"
    assert "changed since the plan was approved" in report.message
    assert snapshot(tree.base) == after
    assert restore_steps(tree) == ["overview", "dry-run", "approval", "report"]
