"""The stage7 guardrail share, read from Prometheus for the promotion approval.

Why in the approval: runbook 9.3 asks a reviewer to look at the share of recent model
changes made while a risk guardrail was active before approving another one.  The query is
the stage7 dashboard's "share of changes with guardrail (60m)" panel, so the approver sees
the number Grafana shows, with the panel's 30 % review threshold.

:func:`guardrail_share` never raises for a server problem: an approval must not fail because
Prometheus is down, so "unavailable" and its reason become part of what the approver reads.
"""

from __future__ import annotations

import math
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot_core._types import Document, UtcDateTime
from bot_core.errors import MetricsConfigError, MetricsUnavailableError
from bot_core.metrics._names import MODEL_CHANGE_GUARDRAIL_BLOCKS, MODEL_CHANGES
from bot_core.metrics._settings import MetricsSettings

__all__ = [
    "DEFAULT_WINDOW",
    "REVIEW_THRESHOLD",
    "GuardrailShare",
    "ShareStatus",
    "guardrail_share",
    "stage7_query",
    "window_seconds",
]

REVIEW_THRESHOLD = 0.3
"""The stage7 panel's orange threshold: at or above it, review runbook 9.3 first."""

DEFAULT_WINDOW = "1h"

ShareStatus = Literal["ok", "no_changes", "unavailable", "not_configured"]

_WINDOW = re.compile(r"^([1-9][0-9]{0,5})([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def window_seconds(window: str) -> int:
    """``1h`` -> 3600; a PromQL range of one number and one unit (s, m, h, d, w)."""
    match = _WINDOW.match(window.strip())
    if match is None:
        raise MetricsConfigError(
            f"invalid window {window!r}: use a number and a unit s|m|h|d|w, e.g. 1h or 30m"
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _model_matcher(model: str | None) -> str:
    """The ``model=~"..."`` value: the model name matched literally (``.*``: every model)."""
    if model is None:
        return ".*"
    regex = re.escape(model.strip())
    return regex.replace("\\", "\\\\").replace('"', '\\"')


def stage7_query(model: str | None, window: str = DEFAULT_WINDOW) -> str:
    """The stage7 share query with the model substituted (the dashboard's ``$model``)."""
    window_seconds(window)
    matcher = _model_matcher(model)
    return (
        f'sum(increase({MODEL_CHANGE_GUARDRAIL_BLOCKS}{{model=~"{matcher}"}}[{window}])) / '
        f'clamp_min(sum(increase({MODEL_CHANGES}{{model=~"{matcher}"}}[{window}])), 1)'
    )


class GuardrailShare(Document):
    """The share (0..1) of model changes made under an active guardrail, or why unknown.

    ``status``: ``ok`` (a share), ``no_changes`` (Prometheus has no model change in the
    window: share 0), ``unavailable`` (Prometheus failed; ``reason``), ``not_configured``
    (no ``BOT_CORE_PROMETHEUS_URL``).
    """

    status: ShareStatus
    model: str | None
    window: str
    share: float | None = None
    threshold: float = REVIEW_THRESHOLD
    above_threshold: bool | None = None
    query: str | None = None
    prometheus_url: str | None = None
    reason: str | None = None
    measured_at: UtcDateTime

    def describe(self) -> str:
        """One line for the approval description, e.g. ``Guardrail share (stage7, last 60
        min): 12.5 % — below the 30 % review threshold``."""
        if self.status == "not_configured":
            return "Guardrail share not configured (set BOT_CORE_PROMETHEUS_URL)"
        if self.status == "unavailable" or self.share is None:
            return f"Guardrail share unavailable: {self.reason or 'unknown reason'}"
        head = f"Guardrail share (stage7, last {_duration(self.window)}): {self.share * 100:.1f} %"
        limit = f"{self.threshold * 100:g} %"
        if self.status == "no_changes":
            return f"{head} — {self.reason}"
        if self.above_threshold:
            return f"{head} — ABOVE {limit}: review runbook 9.3 before approving"
        return f"{head} — below the {limit} review threshold"


class _Sample(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metric: dict[str, str] = Field(default_factory=dict)
    value: tuple[float, str]


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resultType: str
    result: list[_Sample]


class _Answer(BaseModel):
    """``GET /api/v1/query``: ``{"status": "success", "data": {...}}`` or an error."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["success", "error"]
    data: _Data | None = None
    errorType: str | None = None
    error: str | None = None


def _query(prometheus_url: str, query: str, timeout: float) -> _Answer:
    url = f"{prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body: bytes = response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()  # Prometheus explains a 4xx in the JSON body
        if not body:
            raise MetricsUnavailableError(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise MetricsUnavailableError(f"cannot reach {prometheus_url}: {exc.reason}") from exc
    except (OSError, ValueError) as exc:
        raise MetricsUnavailableError(f"cannot reach {prometheus_url}: {exc}") from exc
    try:
        return _Answer.model_validate_json(body)
    except ValidationError as exc:
        raise MetricsUnavailableError(
            f"unreadable answer from {prometheus_url}: {exc.errors()[0].get('msg')}"
        ) from exc


def guardrail_share(
    settings: MetricsSettings,
    *,
    model: str | None,
    window: str = DEFAULT_WINDOW,
    now: datetime | None = None,
) -> GuardrailShare:
    """Query the stage7 share for ``model`` (``None``: every model) over ``window``.

    An empty result vector means Prometheus has no model change in the window: share 0.
    Raises only :class:`MetricsConfigError` for a malformed ``window``.
    """
    query = stage7_query(model, window)
    at = now or datetime.now(UTC)
    url = settings.prometheus_url

    def result(
        status: ShareStatus, *, share: float | None = None, reason: str | None = None
    ) -> GuardrailShare:
        return GuardrailShare(
            status=status,
            model=model,
            window=window,
            share=share,
            above_threshold=None if share is None else share >= REVIEW_THRESHOLD,
            query=None if status == "not_configured" else query,
            prometheus_url=url,
            reason=reason,
            measured_at=at,
        )

    if url is None:
        return result("not_configured")
    try:
        answer = _query(url, query, settings.metrics_timeout_seconds)
    except MetricsUnavailableError as exc:
        return result("unavailable", reason=str(exc))
    if answer.status != "success" or answer.data is None:
        error = f"{answer.errorType or 'error'}: {answer.error or 'no data'}"
        return result("unavailable", reason=f"Prometheus answered {error}")
    if not answer.data.result:
        return result(
            "no_changes", share=0.0, reason=f"no model changes in the last {_span(window)}"
        )
    text = answer.data.result[0].value[1]
    try:
        share = float(text)
    except ValueError:
        share = math.nan
    if not math.isfinite(share):
        return result("unavailable", reason=f"Prometheus returned the share {text!r}")
    return result("ok", share=share)


def _duration(window: str) -> str:
    """``1h`` -> ``60 min``; ``90s`` -> ``90 s``."""
    seconds = window_seconds(window)
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _span(window: str) -> str:
    """``1h`` -> ``hour`` (as in "no model changes in the last hour"), else the duration."""
    return "hour" if window_seconds(window) == 3600 else _duration(window)
