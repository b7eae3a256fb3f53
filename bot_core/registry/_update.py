"""Recording newly evaluated quality reports with the update rule, and building registries.

:func:`build_registry_from_reports` is what the demo data generator calls: it replays quality
reports in evaluation order through :func:`record_quality_report`, so the registry it writes
(``champion.json``, ``challengers.json``, ``history.jsonl``) is exactly what the live update
rule would have produced, and is byte-for-byte reproducible (decisions are dated with each
report's ``evaluated_at``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot_core._types import as_utc
from bot_core.errors import InvalidInputError, OperationError
from bot_core.registry._config import UPDATE_RULE_ACTOR
from bot_core.registry._models import HistoryEntry, QualityReport, RegistryUpdate
from bot_core.registry._names import validate_name
from bot_core.registry._rules import apply_quality_report
from bot_core.registry._store import (
    commit_registry,
    model_directory,
    read_history,
    read_state,
    registry_lock,
    repair_locked,
    transaction_id,
)

__all__ = ["build_registry_from_reports", "coerce_report", "record_quality_report"]


def coerce_report(report: QualityReport | Mapping[str, Any]) -> QualityReport:
    """A :class:`QualityReport` from a model or a plain mapping; invalid input is exit 2."""
    if isinstance(report, QualityReport):
        return report
    try:
        return QualityReport.model_validate(dict(report))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInputError(f"invalid quality report: {where}: {first['msg']}") from exc


def record_quality_report(
    quality_dir: str | os.PathLike[str],
    report: QualityReport | Mapping[str, Any],
    *,
    decided_at: datetime,
    decided_by: str = UPDATE_RULE_ACTOR,
) -> RegistryUpdate:
    """Apply the update rule to one new report and commit the result atomically.

    Creates ``<quality_dir>/<model>/`` when needed.  When the report replaces the champion,
    one history line records it (``action: update_rule``).
    """
    quality_report = coerce_report(report)
    model = validate_name(quality_report.model_name, kind="model name")
    try:
        os.makedirs(Path(os.path.abspath(quality_dir)) / model, exist_ok=True)
    except OSError as exc:
        raise OperationError(
            f"cannot create the registry directory for {model!r}: {exc.strerror or exc}"
        ) from exc
    directory = model_directory(quality_dir, model)
    moment = as_utc(decided_at)
    with registry_lock(directory, exclusive=True):
        repair_locked(directory)
        state = read_state(directory, model)
        read_history(directory)
        update = apply_quality_report(
            state.champion, state.challengers, quality_report, decided_at=moment
        )
        history = None
        if update.outcome == "champion":
            previous = state.champion.report if state.champion is not None else None
            history = HistoryEntry(
                model_name=model,
                decided_at=moment,
                action="update_rule",
                decided_by=decided_by,
                reason=update.rule,
                from_version=previous.version if previous is not None else None,
                to_version=quality_report.version,
                from_metrics=previous.metrics if previous is not None else None,
                to_metrics=quality_report.metrics,
                audit_directory=None,
                transaction_id=transaction_id(update.champion, update.challengers),
            )
        commit_registry(
            directory,
            champion=update.champion,
            challengers=update.challengers,
            started_at=moment,
            history=history,
        )
    return update


def build_registry_from_reports(
    quality_dir: str | os.PathLike[str],
    reports: Iterable[QualityReport | Mapping[str, Any]],
    *,
    decided_by: str = UPDATE_RULE_ACTOR,
) -> list[RegistryUpdate]:
    """Write a registry under ``quality_dir`` from quality reports, with the update rule.

    Reports are applied in ``evaluated_at`` order (ties keep the given order), each decision
    dated with its report's ``evaluated_at``; models may be mixed.  Returns each decision, in
    the order applied.  Existing registries under ``quality_dir`` are updated, not replaced.

    Example::

        build_registry_from_reports("demo/var/models/quality", [
            {"model_name": "decision_engine", "version": "v1", "status": "ok",
             "evaluated_at": "2024-05-01T08:00:00+00:00",
             "metrics": {"directional_accuracy": 0.55, "mae": 0.021, "expected_pnl": 120.0}},
        ])
    """
    validated = [coerce_report(report) for report in reports]
    for report in validated:
        validate_name(report.model_name, kind="model name")
    ordered = sorted(validated, key=lambda report: report.evaluated_at)
    updates: list[RegistryUpdate] = []
    for report in ordered:
        updates.append(
            record_quality_report(
                quality_dir, report, decided_at=report.evaluated_at, decided_by=decided_by
            )
        )
    return updates
