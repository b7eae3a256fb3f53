"""Pushes against a real Pushgateway: read-back counting, pushadd, failures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot_core.metrics import (
    ActedOn,
    FamilyUpdate,
    MaintenanceRun,
    MetricsUnavailableError,
    Series,
    load_metrics_settings,
    push_updates,
    read_group,
    record_maintenance_run,
)
from tests.promstack import Pushgateway, closed_port_url

JOB = "bot_core_maintenance"


def run(outcome: str, *, removed: int = 0, size: int = 0) -> MaintenanceRun:
    return MaintenanceRun.model_validate(
        {
            "operation": "purge",
            "outcome": outcome,
            "acted": [ActedOn(action="removed", targets=removed, bytes=size)] if removed else [],
            "approval_wait_seconds": 0.0,
            "finished_at": datetime.now(UTC),
        }
    )


def test_counters_count_across_pushes(pushgateway: Pushgateway) -> None:
    record_maintenance_run(run("completed", removed=4, size=100))
    record_maintenance_run(run("completed", removed=3, size=50))
    record_maintenance_run(run("rejected"))

    def value(name: str, **labels: str) -> float | None:
        return pushgateway.value(JOB, name, operation="purge", **labels)

    assert value("bot_core_maintenance_runs_total", outcome="completed") == 2
    assert value("bot_core_maintenance_runs_total", outcome="rejected") == 1
    assert value("bot_core_maintenance_runs_total", outcome="timed_out") == 0
    assert value("bot_core_maintenance_targets_total", action="removed") == 7
    assert value("bot_core_maintenance_bytes_total", action="removed") == 150
    text = pushgateway.exposition()
    assert (
        'bot_core_maintenance_runs_total{instance="",job="bot_core_maintenance",'
        'operation="purge",outcome="completed"} 2' in text
    )
    assert "_created" not in text


def test_last_success_survives_a_failed_run(pushgateway: Pushgateway) -> None:
    first = record_maintenance_run(run("completed"))
    assert first is not None
    success = first.value("bot_core_maintenance_last_success_timestamp_seconds")
    later = record_maintenance_run(run("error"))
    assert later is not None
    assert later.value("bot_core_maintenance_last_success_timestamp_seconds") is None
    name = "bot_core_maintenance_last_success_timestamp_seconds"
    assert pushgateway.value(JOB, name) == success
    last_run = pushgateway.value(JOB, "bot_core_maintenance_last_run_timestamp_seconds")
    assert last_run is not None and success is not None and last_run >= success


def test_series_of_other_label_sets_are_carried_forward(pushgateway: Pushgateway) -> None:
    def gauge(env: str, value: float) -> FamilyUpdate:
        return FamilyUpdate(
            name="t_gauge",
            type="gauge",
            help="t",
            series=[Series(labels={"env": env}, value=value)],
        )

    now = datetime.now(UTC)
    push_updates(pushgateway.url, "t", {"g": "1"}, [gauge("paper", 1)], timeout=5, now=now)
    push_updates(pushgateway.url, "t", {"g": "1"}, [gauge("live", 2)], timeout=5, now=now)
    group = read_group(pushgateway.url, "t", {"g": "1"}, timeout=5)
    assert group["t_gauge"] == {
        (("env", "paper"), ("g", "1")): 1.0,
        (("env", "live"), ("g", "1")): 2.0,
    }


def test_without_a_pushgateway_nothing_is_pushed() -> None:
    assert record_maintenance_run(run("completed")) is None


def test_a_gateway_that_is_down_is_an_unavailable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    url = closed_port_url()
    monkeypatch.setenv("BOT_CORE_PUSHGATEWAY_URL", url)
    with pytest.raises(MetricsUnavailableError, match="cannot read") as caught:
        record_maintenance_run(run("completed"))
    assert caught.value.exit_code == 1
    assert load_metrics_settings().pushgateway_url == url
