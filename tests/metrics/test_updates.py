"""The pure rules: which families one run or event pushes, and with which values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import bot_core.metrics
from bot_core.metrics import (
    ActedOn,
    MaintenanceRun,
    MetricsConfigError,
    load_metrics_settings,
    maintenance_updates,
    model_change_updates,
    stage7_query,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def names(run: MaintenanceRun) -> list[str]:
    return [update.name for update in maintenance_updates(run)]


def test_a_completed_purge_moves_every_family() -> None:
    run = MaintenanceRun(
        operation="purge",
        outcome="completed",
        acted=[ActedOn(action="removed", targets=4, bytes=5120)],
        approval_wait_seconds=0.0,
        finished_at=NOW,
    )
    updates = {update.name: update for update in maintenance_updates(run)}
    assert list(updates) == [
        "bot_core_maintenance_runs_total",
        "bot_core_maintenance_targets_total",
        "bot_core_maintenance_bytes_total",
        "bot_core_maintenance_approval_wait_seconds",
        "bot_core_maintenance_last_run_timestamp_seconds",
        "bot_core_maintenance_last_success_timestamp_seconds",
    ]
    runs = {s.labels["outcome"]: s.value for s in updates["bot_core_maintenance_runs_total"].series}
    assert runs["completed"] == 1 and sum(runs.values()) == 1 and len(runs) == 7
    (targets,) = updates["bot_core_maintenance_targets_total"].series
    assert targets.labels == {"operation": "purge", "action": "removed"} and targets.value == 4
    assert updates["bot_core_maintenance_bytes_total"].series[0].value == 5120
    stamp = updates["bot_core_maintenance_last_success_timestamp_seconds"].series[0].value
    assert stamp == NOW.timestamp()


@pytest.mark.parametrize("outcome", ["rejected", "refused", "timed_out", "error"])
def test_a_failed_run_leaves_last_success_alone(outcome: str) -> None:
    run = MaintenanceRun.model_validate(
        {"operation": "archive", "outcome": outcome, "finished_at": NOW}
    )
    assert "bot_core_maintenance_last_success_timestamp_seconds" not in names(run)
    assert "bot_core_maintenance_approval_wait_seconds" not in names(run)
    assert "bot_core_maintenance_last_run_timestamp_seconds" in names(run)


def test_a_promotion_counts_targets_but_no_bytes() -> None:
    run = MaintenanceRun(
        operation="promote",
        outcome="completed",
        acted=[ActedOn(action="promoted", targets=1)],
        finished_at=NOW,
    )
    assert "bot_core_maintenance_bytes_total" not in names(run)


def test_a_model_change_under_a_guardrail_counts_a_block() -> None:
    settings = load_metrics_settings()
    updates = model_change_updates(
        settings,
        model="decision_engine",
        source="manual",
        fallback=False,
        guardrail_state="kill_switch",
        now=NOW,
    )
    by_name = {update.name: update for update in updates}
    (change,) = by_name["auto_trader_model_changes_total"].series
    assert change.labels == {
        "environment": "paper",
        "portfolio": "default",
        "risk_profile": "balanced",
        "model": "decision_engine",
        "source": "manual",
        "fallback": "0",
    }
    blocks = {
        s.labels["state"]: s.value
        for s in by_name["auto_trader_model_change_guardrail_blocks_total"].series
    }
    assert blocks == {"active": 0.0, "kill_switch": 1.0}
    (stamp,) = by_name["auto_trader_model_change_timestamp_seconds"].series
    assert stamp.value == NOW.timestamp() and "source" not in stamp.labels


def test_a_model_name_with_a_slash_is_refused() -> None:
    with pytest.raises(MetricsConfigError):
        model_change_updates(
            load_metrics_settings(),
            model="a/b",
            source="auto",
            fallback=True,
            guardrail_state="none",
            now=NOW,
        )


def test_the_stage7_query_is_the_dashboards() -> None:
    assert stage7_query("decision_engine") == (
        'sum(increase(auto_trader_model_change_guardrail_blocks_total{model=~"decision_engine"}'
        "[1h])) / clamp_min(sum(increase(auto_trader_model_changes_total"
        '{model=~"decision_engine"}[1h])), 1)'
    )
    assert 'model=~"model\\\\.v2"' in stage7_query("model.v2")
    assert 'model=~".*"' in stage7_query(None, "30m")
    with pytest.raises(MetricsConfigError, match="invalid window"):
        stage7_query("m", "1 hour")


def test_exports_are_sorted_and_exist() -> None:
    exported = bot_core.metrics.__all__
    order = sorted(exported, key=lambda name: (not name.isupper(), not name[0].isupper(), name))
    assert exported == order
    for name in exported:
        assert hasattr(bot_core.metrics, name)
