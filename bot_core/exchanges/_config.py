"""Settings of the exchange layer, kept apart from the code that acts on them.

Why value classes: the reporter, the manager and the metrics endpoint each take one small,
validated settings object, so a bad combination (a release level above the threshold, a
negative cooldown) fails when it is built, with a message an operator can act on, instead of
producing a failover that flaps or never returns.

Example::

    SignalQualitySettings(threshold=0.6, release=0.3, window=20)
    FailoverSettings(error_threshold=3, cooldown_seconds=30.0)
    MetricsSettings(host="127.0.0.1", port=9000)
"""

from __future__ import annotations

from typing import Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, model_validator

from bot_core._types import Document
from bot_core.errors import ExchangeConfigError
from bot_core.reporting import DEFAULT_SIGNAL_QUALITY_DIR

__all__ = [
    "BACKEND_HEADER",
    "DEFAULT_BINANCE_ENDPOINT",
    "DEFAULT_LOG_PATH",
    "DEFAULT_METRICS_HOST",
    "DEFAULT_METRICS_PORT",
    "DEFAULT_SIGNAL_QUALITY_DIR",
    "SUPPORTED_EXCHANGES",
    "BackendName",
    "ConnectionSettings",
    "ExchangeName",
    "FailoverSettings",
    "MetricsSettings",
    "SignalQualitySettings",
    "build_settings",
]

BACKEND_HEADER = "X-Bot-Core-Backend"
"""Request header naming the backend that sent a request (``native`` or ``ccxt``).

Both backends send it so a local server can fault one of them and not the other."""
DEFAULT_LOG_PATH = "logs/exchange_manager.log"
"""Where the manager logs failover events, relative to the working directory (runbook 8.1)."""
DEFAULT_METRICS_HOST = "127.0.0.1"
DEFAULT_METRICS_PORT = 9000
DEFAULT_BINANCE_ENDPOINT = "https://api.binance.com"
SUPPORTED_EXCHANGES = ("binance",)

ExchangeName = Literal["binance"]
BackendName = Literal["native", "ccxt"]


_D = TypeVar("_D", bound=Document)


class SignalQualitySettings(Document):
    """How the reporter keeps history and scores degradation.

    **Parameters:**

    * **history_limit** - records kept in ``<exchange>.json`` (the oldest are dropped).
    * **window** - samples (executions and health checks) in the rolling score.
    * **min_samples** - samples needed before the score may publish a transition, so one
      failed order right after a start does not count as a degraded exchange.
    * **threshold** - a rolling score at or above it publishes ``...degraded``.
    * **release** - once degraded, a rolling score at or below it publishes ``...recovered``.
    * **slippage_limit_bps** - adverse slippage that scores a fill as fully degraded.
    * **latency_limit** - latency in seconds that scores a call as fully degraded.
    * **fsync** - fsync each write; tests on a shared disk may turn it off.
    """

    history_limit: int = Field(default=500, ge=1)
    window: int = Field(default=20, ge=1)
    min_samples: int = Field(default=5, ge=1)
    threshold: float = Field(default=0.6, gt=0.0, le=1.0)
    release: float = Field(default=0.3, ge=0.0, lt=1.0)
    slippage_limit_bps: float = Field(default=50.0, gt=0.0)
    latency_limit: float = Field(default=2.0, gt=0.0)
    fsync: bool = True

    @model_validator(mode="after")
    def _release_below_threshold(self) -> Self:
        if self.min_samples > self.window:
            raise ValueError(
                f"min_samples ({self.min_samples}) cannot exceed window ({self.window})"
            )
        if self.release >= self.threshold:
            raise ValueError(
                f"release ({self.release}) must be below threshold ({self.threshold}),"
                " or the degradation state would flap"
            )
        return self


class FailoverSettings(Document):
    """When the manager leaves the native backend and when it may come back.

    **Parameters:**

    * **error_threshold** - consecutive native errors that engage CCXT.
    * **cooldown_seconds** - the least time spent on CCXT before native is probed again;
      a failed probe starts a new cooldown, so a dead native API is not hammered.
    """

    error_threshold: int = Field(default=3, ge=1)
    cooldown_seconds: float = Field(default=30.0, ge=0.0)


class MetricsSettings(Document):
    """Where ``/metrics`` listens: loopback unless an operator opens it on purpose."""

    host: str = DEFAULT_METRICS_HOST
    port: int = Field(default=DEFAULT_METRICS_PORT, ge=0, le=65535)


class ConnectionSettings(Document):
    """How both backends reach one exchange.

    **Parameters:**

    * **endpoint** - scheme and host of the REST API; both backends use it, so a drill or a
      test can point them at a local server.
    * **api_key**, **api_secret** - credentials for signed endpoints (orders, balance).
    * **timeout** - seconds per request.
    * **recv_window** - Binance's ``recvWindow`` in milliseconds.
    * **ccxt_rate_limit** - let ccxt throttle its own requests (off in tests).
    """

    exchange: ExchangeName = "binance"
    endpoint: str = DEFAULT_BINANCE_ENDPOINT
    api_key: str = ""
    api_secret: str = Field(default="", repr=False)  # kept out of reprs and logs
    timeout: float = Field(default=10.0, gt=0.0, le=120.0)
    recv_window: int = Field(default=5000, ge=1, le=60000)
    ccxt_rate_limit: bool = True

    @model_validator(mode="after")
    def _endpoint_is_a_base_url(self) -> Self:
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"endpoint must be an http(s) URL, got {self.endpoint!r}")
        if parts.query or parts.fragment or parts.path not in ("", "/"):
            raise ValueError(f"endpoint must be scheme://host[:port] only, got {self.endpoint!r}")
        try:
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError as exc:
            raise ValueError(f"endpoint has an invalid port: {self.endpoint!r}") from exc
        return self

    @property
    def base_url(self) -> str:
        """The endpoint without a trailing slash."""
        return self.endpoint.rstrip("/")


def build_settings(model: type[_D], **values: object) -> _D:
    """Build a settings model, turning a validation error into :class:`ExchangeConfigError`."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or model.__name__}: {error['msg']}"
            for error in exc.errors()
        )
        raise ExchangeConfigError(f"invalid {model.__name__}: {problems}") from exc
