"""The promotion flow end to end: real pause, approval from a second client, registry CAS."""

from __future__ import annotations

import json
from pathlib import Path

from bot_core.audit import LocalAuditStore, verify_backup, verify_records
from bot_core.registry import build_registry_from_reports, list_champions
from flows._approval import ApprovalPolicy
from flows._client import decide
from flows.promote import promote_champion
from tests.flows.conftest import run_in_background, wait_for_pause

SAMPLES = Path(__file__).parents[1] / "registry" / "sample_reports.json"


def test_approved_promotion_swaps_the_champion(tmp_path: Path) -> None:
    quality = tmp_path / "quality"
    build_registry_from_reports(str(quality), json.loads(SAMPLES.read_text()))
    champion = list_champions(str(quality), model=["risk_model"]).models[0]
    before = champion.champion.version
    challenger = champion.challengers[0].report.version
    audit = tmp_path / "audit"

    running = run_in_background(
        lambda: promote_champion(
            model="risk_model",
            version=challenger,
            reason="better on the last quarter",
            quality_dir=str(quality),
            registry_audit_dir=str(tmp_path / "promotions"),
            registry_log_path=str(tmp_path / "report_center.log"),
            policy=ApprovalPolicy(requester="alice", timeout_seconds=60, poll_interval_seconds=1),
            audit_url=str(audit),
            operations_log=str(tmp_path / "ops.md"),
        )
    )
    summary = wait_for_pause(str(audit))
    assert list_champions(str(quality), model=["risk_model"]).models[0].champion.version == before
    decide(summary.flow_run_id, decision="approve", approver="bob", reason="agreed")
    report = running.join()

    assert report.outcome == "completed", report.message
    assert (report.previous_version, report.version) == (before, challenger)
    now = list_champions(str(quality), model=["risk_model"]).models[0]
    assert now.champion.version == challenger
    store = LocalAuditStore(str(audit))
    assert verify_backup(store, report.backup_id).status == "verified"
    records = verify_records(store, prefix="maintenance/promote")
    assert records.status == "ok"
    assert records.runs[0].steps == [
        "overview",
        "dry-run",
        "approval",
        "backup",
        "execution",
        "report",
    ]
