"""The AI recommendation snapshot of a model's champion (contract 7, runbook 9.2).

Everything is derived from the registry: the champion and its challengers, the champion
history (``controller_history``, newest first), quality guardrails (is the champion degraded,
does a challenger rank above it) and the recommendation that follows, with its rationale and
metric deltas.  ``build_snapshot`` is pure; ``take_snapshot`` reads the registry and, unless
it is a dry run, saves the snapshot as ``<audit-dir>/preview_<YYYYMMDDTHHMMSS>.json``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from bot_core._fs import display_path
from bot_core._types import as_utc
from bot_core.errors import RegistryNotFoundError
from bot_core.registry._config import DEFAULT_AUDIT_DIR, DEFAULT_QUALITY_DIR
from bot_core.registry._listing import model_view
from bot_core.registry._models import (
    DecisionSummary,
    GuardrailSummary,
    HistoryEntry,
    QualityReport,
    Recommendation,
    RecommendationSnapshot,
)
from bot_core.registry._names import validate_name
from bot_core.registry._promote import audit_timestamp
from bot_core.registry._rules import (
    KEY_METRICS,
    metric_deltas,
    metric_value,
    rank_reports,
    ranking_reason,
)
from bot_core.registry._store import (
    RegistryState,
    create_new_file,
    dump_document,
    load_registry,
    read_history,
)

__all__ = ["build_snapshot", "take_snapshot"]


def _recommend(
    champion: QualityReport, best: QualityReport | None, beats: bool, why: str
) -> Recommendation:
    degraded = champion.status == "degraded"
    if best is not None and beats:
        suffix = f"; champion {champion.version} is degraded" if degraded else ""
        return Recommendation(
            action="promote",
            version=best.version,
            rationale=f"{why}{suffix}",
            metrics_delta=metric_deltas(champion.metrics, best.metrics),
        )
    if degraded:
        return Recommendation(
            action="review",
            version=champion.version,
            rationale=(
                f"champion {champion.version} is degraded and no usable challenger ranks "
                "above it; review or retrain before promoting"
            ),
            metrics_delta={},
        )
    return Recommendation(
        action="keep_champion",
        version=champion.version,
        rationale=why or f"no usable challenger of {champion.model_name} yet",
        metrics_delta={},
    )


def build_snapshot(
    state: RegistryState,
    history: list[HistoryEntry],
    *,
    generated_at: datetime,
    snapshot_path: str | None = None,
    dry_run: bool = False,
) -> RecommendationSnapshot:
    """The snapshot of one model's registry; :class:`RegistryNotFoundError` without champion."""
    view = model_view(state)
    if view is None or state.champion is None:
        raise RegistryNotFoundError(f"model {state.model_name!r} has no champion yet")
    champion = state.champion
    report = champion.report
    usable = [
        entry.report
        for entry in (state.challengers.entries if state.challengers is not None else [])
        if entry.report.status != "degraded"
    ]
    degraded = [
        entry.report.version
        for entry in (state.challengers.entries if state.challengers is not None else [])
        if entry.report.status == "degraded"
    ]
    ranked = rank_reports(usable)
    best = ranked[0] if ranked else None
    beats, why = ranking_reason(best, report) if best is not None else (False, "")
    findings: list[str] = []
    if report.status == "degraded":
        findings.append(f"champion {report.version} is degraded")
    if best is not None and beats:
        findings.append(f"challenger {why}")
    if degraded:
        findings.append(f"degraded challengers: {', '.join(degraded)}")
    return RecommendationSnapshot(
        decision_summary=DecisionSummary(
            model_name=state.model_name,
            champion_version=report.version,
            champion_status=report.status,
            decided_at=champion.decided_at,
            reason=champion.reason,
            key_metrics={name: metric_value(report, name) for name in KEY_METRICS},
            challenger_count=len(view.challengers),
            best_challenger_version=best.version if best is not None else None,
        ),
        guardrail_summary=GuardrailSummary(
            status="attention" if report.status == "degraded" or beats else "ok",
            champion_degraded=report.status == "degraded",
            degraded_challengers=degraded,
            findings=findings,
        ),
        controller_history=list(reversed(history)),
        recommendations=[_recommend(report, best, beats, why)],
        champion=report,
        challengers=view.challengers,
        status="preview" if dry_run else "ok",
        model_name=state.model_name,
        generated_at=as_utc(generated_at),
        quality_directory=display_path(str(state.directory.parent)),
        snapshot_path=snapshot_path,
        dry_run=True if dry_run else None,
        pending_repair=True if state.pending_repair else None,
    )


def take_snapshot(
    quality_dir: str | os.PathLike[str] = DEFAULT_QUALITY_DIR,
    *,
    model: str,
    audit_dir: str | os.PathLike[str] = DEFAULT_AUDIT_DIR,
    dry_run: bool = False,
    now: datetime | None = None,
) -> RecommendationSnapshot:
    """Build the snapshot of ``model`` and, unless ``dry_run``, save it under ``audit_dir``.

    A dry run writes nothing (an interrupted commit is reported as ``pending_repair``); a real
    run completes such a commit first.  The file is created, never replaced.
    """
    validate_name(model, kind="model name")
    moment = as_utc(now) if now is not None else datetime.now(UTC)
    state = load_registry(quality_dir, model, repair=not dry_run)
    history = read_history(state.directory)
    if dry_run:
        return build_snapshot(state, history, generated_at=moment, dry_run=True)
    path = Path(os.path.abspath(audit_dir)) / f"preview_{audit_timestamp(moment)}.json"
    snapshot = build_snapshot(
        state, history, generated_at=moment, snapshot_path=display_path(str(path))
    )
    create_new_file(path, dump_document(snapshot))
    return snapshot
