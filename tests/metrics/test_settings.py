"""Metrics settings: defaults, the environment, and one-line errors for malformed URLs."""

from __future__ import annotations

import pytest

from bot_core.metrics import MetricsConfigError, load_metrics_settings


def test_defaults_push_nothing_and_label_paper() -> None:
    settings = load_metrics_settings()
    assert settings.pushgateway_url is None and settings.prometheus_url is None
    assert settings.base_labels() == {
        "environment": "paper",
        "portfolio": "default",
        "risk_profile": "balanced",
    }
    assert settings.metrics_timeout_seconds == 5


def test_environment_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_CORE_PUSHGATEWAY_URL", "http://gw:9091/")
    monkeypatch.setenv("BOT_CORE_ENVIRONMENT", "live")
    monkeypatch.setenv("BOT_CORE_METRICS_TIMEOUT_SECONDS", "1.5")
    monkeypatch.setenv("BOT_CORE_PROMETHEUS_URL", "  ")
    settings = load_metrics_settings(prometheus_url="https://prom.example:9090")
    assert settings.pushgateway_url == "http://gw:9091"
    assert settings.prometheus_url == "https://prom.example:9090"
    assert settings.environment == "live"
    assert settings.metrics_timeout_seconds == 1.5


@pytest.mark.parametrize("url", ["ftp://gw:9091", "gw:9091", "http://", "file:///tmp/x"])
def test_a_url_that_is_not_http_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("BOT_CORE_PUSHGATEWAY_URL", url)
    with pytest.raises(MetricsConfigError) as caught:
        load_metrics_settings()
    message = str(caught.value)
    assert message.startswith("invalid metrics setting BOT_CORE_PUSHGATEWAY_URL: must be an http")
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_a_bad_timeout_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_CORE_METRICS_TIMEOUT_SECONDS", "0")
    with pytest.raises(MetricsConfigError, match="BOT_CORE_METRICS_TIMEOUT_SECONDS"):
        load_metrics_settings()
