"""Every metric name, label set and Pushgateway job this package writes, in one place.

Why fixed here: the Grafana dashboards (``spec/dashboards.md``, stage7/stage8) and the
maintenance dashboards query these exact names; a rename anywhere else would silently empty
a panel.  Nothing in this module has behaviour.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "BASE_LABELS",
    "GUARDRAIL_BLOCKS",
    "GUARDRAIL_JOB",
    "MAINTENANCE_APPROVAL_WAIT",
    "MAINTENANCE_BYTES",
    "MAINTENANCE_JOB",
    "MAINTENANCE_LAST_RUN",
    "MAINTENANCE_LAST_SUCCESS",
    "MAINTENANCE_RUNS",
    "MAINTENANCE_TARGETS",
    "MODEL_CHANGES",
    "MODEL_CHANGE_GUARDRAIL_BLOCKS",
    "MODEL_CHANGE_JOB",
    "MODEL_CHANGE_TIMESTAMP",
    "OUTCOMES",
    "RETRAINING_CYCLES",
    "RETRAINING_GUARDRAIL_BLOCKS",
    "RETRAINING_JOB",
    "RETRAINING_TIMESTAMP",
    "SUCCESS_OUTCOMES",
    "MaintenanceAction",
    "MaintenanceOperation",
    "MaintenanceOutcome",
    "ModelChangeGuardrailState",
    "ModelChangeSource",
    "RetrainingGuardrailState",
]

MaintenanceOperation = Literal["purge", "archive", "promote", "restore"]
MaintenanceOutcome = Literal[
    "empty", "completed", "partial_failure", "error", "rejected", "refused", "timed_out"
]
MaintenanceAction = Literal["removed", "archived", "restored", "promoted"]
ModelChangeSource = Literal["manual", "auto"]
ModelChangeGuardrailState = Literal["none", "active", "kill_switch"]
RetrainingGuardrailState = Literal["none", "guardrail", "kill_switch"]

OUTCOMES: tuple[MaintenanceOutcome, ...] = (
    "empty",
    "completed",
    "partial_failure",
    "error",
    "rejected",
    "refused",
    "timed_out",
)
SUCCESS_OUTCOMES: frozenset[MaintenanceOutcome] = frozenset({"empty", "completed"})
"""Outcomes that move ``bot_core_maintenance_last_success_timestamp_seconds``."""

# --- maintenance flows: job "bot_core_maintenance", grouping key {operation} ----------------
MAINTENANCE_JOB = "bot_core_maintenance"
MAINTENANCE_RUNS = "bot_core_maintenance_runs_total"
MAINTENANCE_TARGETS = "bot_core_maintenance_targets_total"
MAINTENANCE_BYTES = "bot_core_maintenance_bytes_total"
MAINTENANCE_APPROVAL_WAIT = "bot_core_maintenance_approval_wait_seconds"
MAINTENANCE_LAST_RUN = "bot_core_maintenance_last_run_timestamp_seconds"
MAINTENANCE_LAST_SUCCESS = "bot_core_maintenance_last_success_timestamp_seconds"

# --- the trading bot's model metrics (spec/dashboards.md) -----------------------------------
BASE_LABELS = ("environment", "portfolio", "risk_profile")
MODEL_CHANGE_JOB = "auto_trader_model_changes"  # grouping key {model}
MODEL_CHANGES = "auto_trader_model_changes_total"
MODEL_CHANGE_GUARDRAIL_BLOCKS = "auto_trader_model_change_guardrail_blocks_total"
MODEL_CHANGE_TIMESTAMP = "auto_trader_model_change_timestamp_seconds"
RETRAINING_JOB = "auto_trader_retraining"  # grouping key {model}
RETRAINING_CYCLES = "auto_trader_retraining_cycles_total"
RETRAINING_GUARDRAIL_BLOCKS = "auto_trader_retraining_guardrail_blocks_total"
RETRAINING_TIMESTAMP = "auto_trader_retraining_timestamp_seconds"
GUARDRAIL_JOB = "auto_trader_guardrails"  # grouping key {guardrail}
GUARDRAIL_BLOCKS = "auto_trader_guardrail_blocks_total"
