"""The trading bot's ``auto_trader_*`` events: model changes, retraining, guardrail blocks.

Names and labels are the runbook's dashboards' (``spec/dashboards.md``): every series has
the base labels ``environment``, ``portfolio`` and ``risk_profile`` from
:class:`MetricsSettings`.  Each event is one push to its own Pushgateway job (grouping key
``{model}`` or ``{guardrail}``), counted with the read-back of :mod:`._pushgateway`.

Why the guardrail state is an explicit argument: whether a risk guardrail was active when a
model changed is a fact the caller knows (the bot's risk engine, the operator); guessing it
here from other metrics would make the stage7 share measure our guess.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot_core.errors import MetricsConfigError
from bot_core.metrics._names import (
    GUARDRAIL_BLOCKS,
    GUARDRAIL_JOB,
    MODEL_CHANGE_GUARDRAIL_BLOCKS,
    MODEL_CHANGE_JOB,
    MODEL_CHANGE_TIMESTAMP,
    MODEL_CHANGES,
    RETRAINING_CYCLES,
    RETRAINING_GUARDRAIL_BLOCKS,
    RETRAINING_JOB,
    RETRAINING_TIMESTAMP,
    ModelChangeGuardrailState,
    ModelChangeSource,
    RetrainingGuardrailState,
)
from bot_core.metrics._pushgateway import FamilyUpdate, PushReceipt, Series, push_updates
from bot_core.metrics._settings import MetricsSettings, load_metrics_settings

__all__ = [
    "guardrail_block_updates",
    "model_change_updates",
    "record_guardrail_block",
    "record_model_change",
    "record_retraining",
    "retraining_updates",
]


def _label(name: str, value: str) -> str:
    """A label value must be one non-blank line (it becomes part of a Pushgateway URL too)."""
    text = value.strip()
    if not text or "/" in text or "\n" in text:
        raise MetricsConfigError(f"{name} must be a non-blank name without '/', got {value!r}")
    return text


def model_change_updates(
    settings: MetricsSettings,
    *,
    model: str,
    source: ModelChangeSource,
    fallback: bool,
    guardrail_state: ModelChangeGuardrailState,
    now: datetime,
) -> list[FamilyUpdate]:
    """One model change: ``changes_total`` +1, the timestamp gauge, and ``+1`` on
    ``guardrail_blocks_total{state}`` when a guardrail was active (``+0`` on both states
    otherwise, so the series exist before the first block)."""
    base = {**settings.base_labels(), "model": _label("model", model)}
    return [
        FamilyUpdate(
            name=MODEL_CHANGES,
            type="counter",
            help="Model changes (champion promotions) by source and fallback.",
            series=[
                Series(
                    labels={**base, "source": source, "fallback": "1" if fallback else "0"},
                    value=1.0,
                )
            ],
        ),
        FamilyUpdate(
            name=MODEL_CHANGE_GUARDRAIL_BLOCKS,
            type="counter",
            help="Model changes made while a risk guardrail was active.",
            series=[
                Series(
                    labels={**base, "state": state},
                    value=1.0 if state == guardrail_state else 0.0,
                )
                for state in ("active", "kill_switch")
            ],
        ),
        FamilyUpdate(
            name=MODEL_CHANGE_TIMESTAMP,
            type="gauge",
            help="Unix time of the model's last change.",
            series=[Series(labels=base, value=now.timestamp())],
        ),
    ]


def retraining_updates(
    settings: MetricsSettings,
    *,
    model: str,
    source: str,
    guardrail_state: RetrainingGuardrailState,
    now: datetime,
) -> list[FamilyUpdate]:
    """One retraining cycle: ``cycles_total`` +1, the timestamp, and a block when blocked."""
    base = {**settings.base_labels(), "model": _label("model", model)}
    with_source = {**base, "source": _label("source", source)}
    return [
        FamilyUpdate(
            name=RETRAINING_CYCLES,
            type="counter",
            help="Retraining cycles by source.",
            series=[Series(labels=with_source, value=1.0)],
        ),
        FamilyUpdate(
            name=RETRAINING_GUARDRAIL_BLOCKS,
            type="counter",
            help="Retraining cycles blocked by a risk guardrail or the kill switch.",
            series=[
                Series(
                    labels={**with_source, "state": state},
                    value=1.0 if state == guardrail_state else 0.0,
                )
                for state in ("guardrail", "kill_switch")
            ],
        ),
        FamilyUpdate(
            name=RETRAINING_TIMESTAMP,
            type="gauge",
            help="Unix time of the model's last retraining cycle.",
            series=[Series(labels=base, value=now.timestamp())],
        ),
    ]


def guardrail_block_updates(settings: MetricsSettings, *, guardrail: str) -> list[FamilyUpdate]:
    """One guardrail block: ``auto_trader_guardrail_blocks_total{guardrail}`` +1."""
    return [
        FamilyUpdate(
            name=GUARDRAIL_BLOCKS,
            type="counter",
            help="Trading actions blocked by a risk guardrail.",
            series=[
                Series(
                    labels={**settings.base_labels(), "guardrail": _label("guardrail", guardrail)},
                    value=1.0,
                )
            ],
        )
    ]


def _push(
    settings: MetricsSettings, job: str, key: dict[str, str], updates: list[FamilyUpdate]
) -> PushReceipt | None:
    if settings.pushgateway_url is None:
        return None
    return push_updates(
        settings.pushgateway_url,
        job,
        key,
        updates,
        timeout=settings.metrics_timeout_seconds,
        now=datetime.now(UTC),
    )


def record_model_change(
    *,
    model: str,
    source: ModelChangeSource = "manual",
    fallback: bool = False,
    guardrail_state: ModelChangeGuardrailState = "none",
    settings: MetricsSettings | None = None,
) -> PushReceipt | None:
    """Push one model change (job ``auto_trader_model_changes``, group ``{model}``);
    ``None`` when no Pushgateway is configured."""
    settings = settings or load_metrics_settings()
    updates = model_change_updates(
        settings,
        model=model,
        source=source,
        fallback=fallback,
        guardrail_state=guardrail_state,
        now=datetime.now(UTC),
    )
    return _push(settings, MODEL_CHANGE_JOB, {"model": model.strip()}, updates)


def record_retraining(
    *,
    model: str,
    source: str,
    guardrail_state: RetrainingGuardrailState = "none",
    settings: MetricsSettings | None = None,
) -> PushReceipt | None:
    """Push one retraining cycle (job ``auto_trader_retraining``, group ``{model}``)."""
    settings = settings or load_metrics_settings()
    updates = retraining_updates(
        settings, model=model, source=source, guardrail_state=guardrail_state, now=datetime.now(UTC)
    )
    return _push(settings, RETRAINING_JOB, {"model": model.strip()}, updates)


def record_guardrail_block(
    *, guardrail: str, settings: MetricsSettings | None = None
) -> PushReceipt | None:
    """Push one guardrail block (job ``auto_trader_guardrails``, group ``{guardrail}``)."""
    settings = settings or load_metrics_settings()
    updates = guardrail_block_updates(settings, guardrail=guardrail)
    return _push(settings, GUARDRAIL_JOB, {"guardrail": guardrail.strip()}, updates)
