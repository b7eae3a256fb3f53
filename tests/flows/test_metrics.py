"""Every maintenance flow pushes its outcome metrics to a real Pushgateway; a Pushgateway
that is down never changes a run."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot_core.audit import LocalAuditStore
from bot_core.registry import build_registry_from_reports, list_champions
from bot_core.reporting import parse_filters
from flows._approval import ApprovalPolicy, describe
from flows._client import decide
from flows.archive import archive
from flows.promote import promote_champion
from flows.purge import PurgeReport, purge
from flows.restore import restore
from tests.flows.conftest import Tree, run_in_background, wait_for_pause, write_report
from tests.promstack import Pushgateway, closed_port_url, pushgateway, pushgateway_server

__all__ = ["pushgateway", "pushgateway_server"]  # re-exported fixtures

JOB = "bot_core_maintenance"
SAMPLES = Path(__file__).parents[1] / "registry" / "sample_reports.json"
RUNS = "bot_core_maintenance_runs_total"
LAST_SUCCESS = "bot_core_maintenance_last_success_timestamp_seconds"


def run_purge(tree: Tree, **policy: object) -> PurgeReport:
    report: PurgeReport = purge(
        filters=parse_filters(categories=["smoke"], until="2024-04-01"),
        base_dir=str(tree.base),
        signal_quality_dir=str(tree.signal_quality),
        policy=ApprovalPolicy.model_validate({"requester": "alice", **policy}),
        audit_url=str(tree.audit),
        operations_log=str(tree.ops_log),
    )
    return report


def recreate_old_smoke(tree: Tree) -> None:
    """Write the old smoke reports again (a purge removed them), for a second run."""
    for identifier in tree.old_smoke:
        write_report(tree.base, identifier, datetime(2024, 3, 2, tzinfo=UTC))


def test_two_purges_count_two(pushgateway: Pushgateway, tree: Tree) -> None:
    first = run_purge(tree, auto_approve=True)
    assert first.outcome == "completed"
    assert first.approval is not None and first.approval.wait_seconds == 0
    size = first.execution.removed_size if first.execution else 0
    recreate_old_smoke(tree)
    assert run_purge(tree, auto_approve=True).outcome == "completed"

    def value(name: str, **labels: str) -> float | None:
        return pushgateway.value(JOB, name, operation="purge", **labels)

    assert value(RUNS, outcome="completed") == 2
    assert value(RUNS, outcome="error") == 0
    assert value("bot_core_maintenance_targets_total", action="removed") == 8
    total = value("bot_core_maintenance_bytes_total", action="removed")
    assert total is not None and total >= 2 * size > 0
    assert value("bot_core_maintenance_approval_wait_seconds") == 0
    assert value(LAST_SUCCESS) is not None
    assert 'operation="purge",outcome="completed"} 2' in pushgateway.exposition()


def test_last_success_is_kept_after_a_refused_run(pushgateway: Pushgateway, tree: Tree) -> None:
    assert run_purge(tree, auto_approve=True).outcome == "completed"
    success = pushgateway.value(JOB, LAST_SUCCESS, operation="purge")
    last_run = pushgateway.value(JOB, "bot_core_maintenance_last_run_timestamp_seconds")
    recreate_old_smoke(tree)
    before = tree.files()

    refused = run_purge(tree, approve_as="alice")  # the requester: four eyes refuse it
    assert refused.outcome == "refused"
    assert tree.files() == before
    assert pushgateway.value(JOB, RUNS, operation="purge", outcome="refused") == 1
    assert pushgateway.value(JOB, RUNS, operation="purge", outcome="completed") == 1
    assert pushgateway.value(JOB, LAST_SUCCESS, operation="purge") == success
    later = pushgateway.value(JOB, "bot_core_maintenance_last_run_timestamp_seconds")
    assert later is not None and last_run is not None and later > last_run


def test_a_gateway_that_is_down_only_warns(
    tree: Tree, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("BOT_CORE_PUSHGATEWAY_URL", closed_port_url())
    with caplog.at_level(logging.WARNING):
        report = run_purge(tree, approve_as="bob")
    assert report.outcome == "completed", report.message
    assert "outcome=completed" in tree.ops_log.read_text()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("purge metrics not pushed: cannot read http://127.0.0.1:" in w for w in warnings)


def test_a_paused_approval_records_its_wait(pushgateway: Pushgateway, tree: Tree) -> None:
    running = run_in_background(
        lambda: run_purge(tree, timeout_seconds=60, poll_interval_seconds=1)
    )
    summary = wait_for_pause(str(tree.audit))
    assert summary.guardrail_share is None, "only a promotion shows the guardrail share"
    decide(summary.flow_run_id, decision="approve", approver="bob", reason="old smoke")
    report = running.join()
    assert report.outcome == "completed"
    assert report.approval.wait_seconds > 0
    wait = pushgateway.value(JOB, "bot_core_maintenance_approval_wait_seconds", operation="purge")
    assert wait == report.approval.wait_seconds


def test_archive_and_restore_push_their_actions(pushgateway: Pushgateway, tree: Tree) -> None:
    archived = archive(
        filters=parse_filters(categories=["smoke"], until="2024-04-01"),
        base_dir=str(tree.base),
        destination=str(tree.base.parent / "archives"),
        format="zip",
        delete_after=True,
        policy=ApprovalPolicy(requester="alice", approve_as="bob"),
        audit_url=str(tree.audit),
        operations_log=str(tree.ops_log),
    )
    assert archived.outcome == "completed", archived.message
    value = pushgateway.value
    assert value(JOB, "bot_core_maintenance_targets_total", operation="archive",
                 action="archived") == 4  # fmt: skip
    assert value(JOB, "bot_core_maintenance_targets_total", operation="archive",
                 action="removed") == 4  # fmt: skip
    copied = value(JOB, "bot_core_maintenance_bytes_total", operation="archive", action="archived")
    assert copied is not None and copied > 0

    recreate_old_smoke(tree)
    purged = run_purge(tree, approve_as="bob")
    (backup_id,) = purged.backup_ids
    restored = restore(
        backup_id=backup_id,
        policy=ApprovalPolicy(requester="alice", approve_as="bob"),
        audit_url=str(tree.audit),
        operations_log=str(tree.ops_log),
    )
    assert restored.outcome == "completed", restored.message
    execution = restored.execution
    assert execution is not None
    targets = value(JOB, "bot_core_maintenance_targets_total", operation="restore",
                    action="restored")  # fmt: skip
    assert targets == execution.restored_count + execution.replaced_count > 0
    restored_bytes = value(
        JOB, "bot_core_maintenance_bytes_total", operation="restore", action="restored"
    )
    assert restored_bytes is not None and restored_bytes > 0
    assert value(JOB, RUNS, operation="restore", outcome="completed") == 1


def test_promotion_pushes_maintenance_and_model_change_metrics(
    pushgateway: Pushgateway, tmp_path: Path
) -> None:
    quality = tmp_path / "quality"
    build_registry_from_reports(str(quality), json.loads(SAMPLES.read_text()))
    challenger = list_champions(str(quality), model=["risk_model"]).models[0].challengers[0]
    audit = tmp_path / "audit"
    running = run_in_background(
        lambda: promote_champion(
            model="risk_model",
            version=challenger.report.version,
            reason="metrics",
            quality_dir=str(quality),
            registry_audit_dir=str(tmp_path / "promotions"),
            registry_log_path=str(tmp_path / "report_center.log"),
            policy=ApprovalPolicy(requester="alice", timeout_seconds=60, poll_interval_seconds=1),
            audit_url=str(audit),
            operations_log=str(tmp_path / "ops.md"),
            guardrail_state="active",
            prometheus_url=closed_port_url(),
        )
    )
    summary = wait_for_pause(str(audit))
    assert summary.guardrail_share is not None
    assert summary.guardrail_share.status == "unavailable"
    assert "**Guardrail share unavailable: cannot reach http://127.0.0.1:" in describe(summary)
    decide(summary.flow_run_id, decision="approve", approver="bob", reason="agreed")
    report = running.join()
    assert report.outcome == "completed", report.message

    store = LocalAuditStore(str(audit))
    (dry_run,) = [key for key in store.list_keys("maintenance/promote") if "dry-run" in key]
    recorded = store.get_json(dry_run)["document"]["guardrail_share"]
    assert recorded["status"] == "unavailable" and "cannot reach" in recorded["reason"]

    assert pushgateway.value(JOB, "bot_core_maintenance_targets_total", operation="promote",
                             action="promoted") == 1  # fmt: skip
    job = "auto_trader_model_changes"
    assert pushgateway.value(job, "auto_trader_model_changes_total", model="risk_model",
                             source="manual", fallback="0") == 1  # fmt: skip
    assert pushgateway.value(job, "auto_trader_model_change_guardrail_blocks_total",
                             model="risk_model", state="active") == 1  # fmt: skip
