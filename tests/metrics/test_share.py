"""The stage7 guardrail share: not configured, unreachable, and real Prometheus data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot_core.metrics import (
    GuardrailShare,
    MetricsSettings,
    ModelChangeGuardrailState,
    guardrail_share,
    load_metrics_settings,
    record_model_change,
)
from bot_core.metrics._cli import main
from flows._approval import Caps, PlanSummary, describe
from tests.promstack import Prometheus, Pushgateway, closed_port_url


def summary_with(share: GuardrailShare) -> PlanSummary:
    return PlanSummary(
        operation="promote",
        flow_run_id="run",
        plan_sha256="0" * 64,
        requester="alice",
        target_count=1,
        total_size=0,
        total_files=3,
        top_targets=[],
        caps=Caps(),
        cap_violations=[],
        plan_record_key="k",
        audit_store="audit",
        timeout_seconds=60,
        guardrail_share=share,
    )


def test_not_configured() -> None:
    share = guardrail_share(load_metrics_settings(), model="decision_engine")
    assert share.status == "not_configured" and share.share is None
    assert "**Guardrail share not configured (set BOT_CORE_PROMETHEUS_URL)**" in describe(
        summary_with(share)
    )


def test_unreachable_prometheus_is_unavailable_with_its_reason() -> None:
    settings = load_metrics_settings(prometheus_url=closed_port_url(), metrics_timeout_seconds=2)
    share = guardrail_share(settings, model="decision_engine")
    assert share.status == "unavailable"
    line = share.describe()
    assert line.startswith("Guardrail share unavailable: cannot reach http://127.0.0.1:")
    assert "refused" in line.lower()


def test_the_thresholds_wording() -> None:
    at = datetime.now(UTC)
    low = GuardrailShare(
        status="ok", model="m", window="1h", share=0.125, above_threshold=False, measured_at=at
    )
    high = low.model_copy(update={"share": 0.41, "above_threshold": True})
    assert low.describe() == (
        "Guardrail share (stage7, last 60 min): 12.5 % — below the 30 % review threshold"
    )
    assert high.describe() == (
        "Guardrail share (stage7, last 60 min): 41.0 % — ABOVE 30 %: review runbook 9.3 "
        "before approving"
    )


def change(
    model: str, settings: MetricsSettings, state: ModelChangeGuardrailState = "none"
) -> None:
    record_model_change(model=model, guardrail_state=state, settings=settings)


def changes_query(model: str) -> str:
    return f'auto_trader_model_changes_total{{model="{model}"}}'


def test_real_prometheus_no_changes_low_and_high_share(
    pushgateway_server: Pushgateway, prometheus_server: Prometheus
) -> None:
    settings = load_metrics_settings(
        pushgateway_url=pushgateway_server.url, prometheus_url=prometheus_server.url
    )
    empty = guardrail_share(settings, model="never_changed")
    assert empty.status == "no_changes" and empty.share == 0
    assert empty.describe() == (
        "Guardrail share (stage7, last 60 min): 0.0 % — no model changes in the last hour"
    )

    # increase() needs two samples in the window: push, wait for a scrape, push again.
    change("share_low", settings)
    change("share_high", settings, "active")
    prometheus_server.wait_for(changes_query("share_low"), 1)
    prometheus_server.wait_for(changes_query("share_high"), 1)
    for index in range(9):
        change("share_low", settings, "active" if index == 0 else "none")
    for index in range(4):
        change("share_high", settings, "active" if index < 3 else "none")
    prometheus_server.wait_for(changes_query("share_low"), 10)
    prometheus_server.wait_for(changes_query("share_high"), 5)

    low = guardrail_share(settings, model="share_low")
    high = guardrail_share(settings, model="share_high")
    assert low.status == "ok" and low.share is not None and 0 < low.share < 0.3, low
    assert high.status == "ok" and high.share is not None and high.share >= 0.3, high
    assert "below the 30 % review threshold" in describe(summary_with(low))
    assert "ABOVE 30 %: review runbook 9.3 before approving" in describe(summary_with(high))


def test_guardrail_share_command(
    prometheus_server: Prometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["guardrail-share", "--model", "nobody", "--prometheus", prometheus_server.url])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    share = GuardrailShare.model_validate_json(out)
    assert share.status == "no_changes" and share.share == 0

    code = main(["guardrail-share", "--prometheus", closed_port_url()])
    out, _ = capsys.readouterr()
    assert code == 1
    assert GuardrailShare.model_validate_json(out).status == "unavailable"
