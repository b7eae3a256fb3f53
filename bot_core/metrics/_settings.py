"""Metrics configuration (pydantic-settings, ``BOT_CORE_*``): where to push, where to query.

Why one settings class for both servers: a batch job and a flow need the same four facts
(Pushgateway, Prometheus, the ``auto_trader_*`` base labels, a timeout), and reading them in
one place keeps the flows and the command line from disagreeing about defaults.

Example::

    BOT_CORE_PUSHGATEWAY_URL=http://pushgateway:9091 \\
    BOT_CORE_PROMETHEUS_URL=http://prometheus:9090 \\
    BOT_CORE_ENVIRONMENT=live BOT_CORE_PORTFOLIO=core BOT_CORE_RISK_PROFILE=conservative \\
    python -m bot_core.metrics guardrail-share --model decision_engine
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot_core.errors import MetricsConfigError

__all__ = ["MetricsSettings", "load_metrics_settings"]


def _http_url(value: Any) -> Any:
    """Blank means unset; anything else must be an absolute http(s) URL with a host."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be an http:// or https:// URL")
    text = value.strip()
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL with a host, got {text!r}")
    return text.rstrip("/")


class MetricsSettings(BaseSettings):
    """Where metrics go and which labels every ``auto_trader_*`` series carries.

    **Parameters** (environment variable = ``BOT_CORE_`` + upper-case name):

    * ``pushgateway_url`` - the Pushgateway (``http://host:9091``); unset: nothing is pushed.
    * ``prometheus_url`` - the Prometheus the stage7 guardrail share is read from; unset: the
      promotion approval says "not configured".
    * ``environment``, ``portfolio``, ``risk_profile`` - the base labels of ``auto_trader_*``.
    * ``metrics_timeout_seconds`` - per HTTP request to either server.
    """

    model_config = SettingsConfigDict(env_prefix="BOT_CORE_", extra="ignore", frozen=True)

    pushgateway_url: str | None = None
    prometheus_url: str | None = None
    environment: str = Field(default="paper", min_length=1)
    portfolio: str = Field(default="default", min_length=1)
    risk_profile: str = Field(default="balanced", min_length=1)
    metrics_timeout_seconds: float = Field(default=5.0, gt=0, le=300)

    @field_validator("pushgateway_url", "prometheus_url", mode="before")
    @classmethod
    def _valid_url(cls, value: Any) -> Any:
        return _http_url(value)

    def base_labels(self) -> dict[str, str]:
        """``environment``, ``portfolio`` and ``risk_profile``: on every ``auto_trader_*``."""
        return {
            "environment": self.environment,
            "portfolio": self.portfolio,
            "risk_profile": self.risk_profile,
        }


def load_metrics_settings(**overrides: Any) -> MetricsSettings:
    """Read the settings from the environment; ``overrides`` that are not ``None`` win.

    A malformed value is a :class:`MetricsConfigError` (exit status 2) naming the variable.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return MetricsSettings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or "settings"
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        raise MetricsConfigError(
            f"invalid metrics setting BOT_CORE_{field.upper()}: {message}"
        ) from exc
