"""Prometheus metrics of the maintenance flows and of the trading bot's model events.

Batch jobs have no process to scrape, so everything here is *pushed* to a Pushgateway
(the "batch-job way"), with counters kept counting by reading the group back first (see
:mod:`bot_core.metrics._pushgateway`).  No Prefect here: the flows call
:func:`record_maintenance_run` from their report step and decide themselves what a failure
means (a warning).  Names and labels: ``docs/metrics.md``.
"""

from bot_core.errors import MetricsConfigError, MetricsUnavailableError
from bot_core.metrics._auto_trader import (
    guardrail_block_updates,
    model_change_updates,
    record_guardrail_block,
    record_model_change,
    record_retraining,
    retraining_updates,
)
from bot_core.metrics._maintenance import (
    ACTIONS,
    ActedOn,
    MaintenanceRun,
    maintenance_updates,
    record_maintenance_run,
)
from bot_core.metrics._names import (
    MaintenanceAction,
    MaintenanceOperation,
    MaintenanceOutcome,
    ModelChangeGuardrailState,
    ModelChangeSource,
    RetrainingGuardrailState,
)
from bot_core.metrics._pushgateway import (
    FamilyUpdate,
    PushedFamily,
    PushReceipt,
    Series,
    push_updates,
    read_group,
)
from bot_core.metrics._settings import MetricsSettings, load_metrics_settings
from bot_core.metrics._share import (
    DEFAULT_WINDOW,
    REVIEW_THRESHOLD,
    GuardrailShare,
    ShareStatus,
    guardrail_share,
    stage7_query,
    window_seconds,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_WINDOW",
    "REVIEW_THRESHOLD",
    "ActedOn",
    "FamilyUpdate",
    "GuardrailShare",
    "MaintenanceAction",
    "MaintenanceOperation",
    "MaintenanceOutcome",
    "MaintenanceRun",
    "MetricsConfigError",
    "MetricsSettings",
    "MetricsUnavailableError",
    "ModelChangeGuardrailState",
    "ModelChangeSource",
    "PushReceipt",
    "PushedFamily",
    "RetrainingGuardrailState",
    "Series",
    "ShareStatus",
    "guardrail_block_updates",
    "guardrail_share",
    "load_metrics_settings",
    "maintenance_updates",
    "model_change_updates",
    "push_updates",
    "read_group",
    "record_guardrail_block",
    "record_maintenance_run",
    "record_model_change",
    "record_retraining",
    "retraining_updates",
    "stage7_query",
    "window_seconds",
]
