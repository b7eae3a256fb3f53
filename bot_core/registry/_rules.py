"""Pure decisions: ranking reports, the update rule, and metric deltas.

Nothing here touches the disk or reads the clock; callers pass the registry state and the
decision time in, and get frozen documents out (borg's ``prune()``).

The update rule for a newly evaluated quality report:

1. A report whose version is the champion's is a re-evaluation: the champion's report is
   refreshed in place (demoting a champion is an operator's decision, made with ``promote``).
2. A report whose version is already a challenger replaces that challenger entry.
3. A ``degraded`` report is always a challenger.
4. With no champion, the report becomes champion.
5. Otherwise the report becomes champion only if it ranks strictly above the champion: higher
   ``directional_accuracy``, then lower ``mae``, then higher ``expected_pnl`` (a missing
   metric ranks last).  The replaced champion becomes the first challenger.
6. Everything else becomes the first (newest) challenger; the list keeps the ten newest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal

from pydantic import JsonValue

from bot_core.registry._models import (
    MAX_CHALLENGERS,
    ChallengerEntry,
    ChallengersFile,
    ChampionFile,
    MetricDelta,
    QualityReport,
    RegistryUpdate,
    ValueChange,
)

__all__ = [
    "KEY_METRICS",
    "apply_quality_report",
    "flatten",
    "metric_deltas",
    "metric_value",
    "rank_reports",
    "ranking_reason",
    "report_score",
    "value_changes",
]

KEY_METRICS: tuple[str, ...] = ("directional_accuracy", "mae", "expected_pnl")
"""The metrics the update rule ranks by, in order of precedence."""

_DIRECTION: dict[str, Literal[1, -1]] = {"directional_accuracy": 1, "mae": -1, "expected_pnl": 1}
_NUMBER_DIGITS = 12


def _as_number(value: JsonValue) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def metric_value(report: QualityReport, name: str) -> float | None:
    """A numeric metric, read flat (``metrics.mae``) or under ``summary`` (``metrics.summary.mae``).

    ``None`` when it is absent or not a finite number.
    """
    direct = _as_number(report.metrics.get(name))
    if direct is not None:
        return direct
    summary = report.metrics.get("summary")
    if isinstance(summary, dict):
        return _as_number(summary.get(name))
    return None


def report_score(report: QualityReport) -> tuple[float, float, float]:
    """The ranking key: bigger is better on every position; a missing metric is ``-inf``."""
    score: list[float] = []
    for name in KEY_METRICS:
        value = metric_value(report, name)
        score.append(-math.inf if value is None else value * _DIRECTION[name])
    return (score[0], score[1], score[2])


def rank_reports(reports: Iterable[QualityReport]) -> list[QualityReport]:
    """Reports best first by :func:`report_score`; ties keep their given order."""
    return sorted(reports, key=report_score, reverse=True)


def ranking_reason(candidate: QualityReport, incumbent: QualityReport) -> tuple[bool, str]:
    """Whether ``candidate`` ranks strictly above ``incumbent``, and the metric that decided."""
    for name in KEY_METRICS:
        ours, theirs = metric_value(candidate, name), metric_value(incumbent, name)
        ours_key = -math.inf if ours is None else ours * _DIRECTION[name]
        theirs_key = -math.inf if theirs is None else theirs * _DIRECTION[name]
        if ours_key == theirs_key:
            continue
        better = ours_key > theirs_key
        word = "beats" if better else "does not beat"
        return better, (
            f"{candidate.version} {word} {incumbent.version} on {name} "
            f"({_show(ours)} vs {_show(theirs)})"
        )
    return False, f"{candidate.version} ties with {incumbent.version}; the champion stays"


def _show(value: float | None) -> str:
    return "missing" if value is None else f"{value:g}"


def apply_quality_report(
    champion: ChampionFile | None,
    challengers: ChallengersFile | None,
    report: QualityReport,
    *,
    decided_at: datetime,
) -> RegistryUpdate:
    """Apply the update rule (module docstring) to one new report; return the new registry."""
    model = report.model_name
    entries = list(challengers.entries) if challengers is not None else []
    previous_version = champion.report.version if champion is not None else None

    if champion is not None and champion.report.version == report.version:
        refreshed = ChampionFile(
            model_name=model,
            decided_at=champion.decided_at,
            reason=champion.reason,
            report=report,
        )
        rule = f"re-evaluation of champion {report.version}: report refreshed, champion kept"
        return _update(
            report, "champion_refreshed", rule, previous_version, refreshed, entries, decided_at
        )

    replaced = [entry for entry in entries if entry.report.version == report.version]
    entries = [entry for entry in entries if entry.report.version != report.version]
    again = " (re-evaluated)" if replaced else ""

    if report.status == "degraded":
        rule = f"update rule: {report.version} is degraded, so it is a challenger{again}"
        entries.insert(0, ChallengerEntry(decided_at=decided_at, reason=rule, report=report))
        return _update(report, "challenger", rule, previous_version, champion, entries, decided_at)

    if champion is None:
        rule = f"update rule: {report.version} is the first usable report of {model}"
        new_champion = ChampionFile(
            model_name=model, decided_at=decided_at, reason=rule, report=report
        )
        return _update(report, "champion", rule, None, new_champion, entries, decided_at)

    better, why = ranking_reason(report, champion.report)
    rule = f"update rule: {why}{again}"
    if better:
        new_champion = ChampionFile(
            model_name=model, decided_at=decided_at, reason=rule, report=report
        )
        demoted = ChallengerEntry(
            decided_at=decided_at,
            reason=f"update rule: replaced as champion by {report.version}",
            report=champion.report,
        )
        entries.insert(0, demoted)
        return _update(
            report, "champion", rule, previous_version, new_champion, entries, decided_at
        )
    entries.insert(0, ChallengerEntry(decided_at=decided_at, reason=rule, report=report))
    return _update(report, "challenger", rule, previous_version, champion, entries, decided_at)


def _update(
    report: QualityReport,
    outcome: Literal["champion", "challenger", "champion_refreshed"],
    rule: str,
    previous_version: str | None,
    champion: ChampionFile | None,
    entries: list[ChallengerEntry],
    decided_at: datetime,
) -> RegistryUpdate:
    kept, dropped = entries[:MAX_CHALLENGERS], entries[MAX_CHALLENGERS:]
    return RegistryUpdate(
        model_name=report.model_name,
        version=report.version,
        outcome=outcome,
        rule=rule,
        previous_version=previous_version,
        dropped_versions=[entry.report.version for entry in dropped],
        champion=champion,
        challengers=ChallengersFile(
            model_name=report.model_name, updated_at=decided_at, entries=kept
        ),
    )


# --- flattening and deltas -------------------------------------------------------------------


def flatten(values: Mapping[str, JsonValue], prefix: str = "") -> dict[str, JsonValue]:
    """Nested objects flattened with dots (``{"summary": {"mae": 1}}`` -> ``{"summary.mae": 1}``).

    Keys come out sorted; lists and scalars are leaves.
    """
    flat: dict[str, JsonValue] = {}
    for key in sorted(values):
        value = values[key]
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _same(lhs: JsonValue, rhs: JsonValue) -> bool:
    if isinstance(lhs, bool) != isinstance(rhs, bool):
        return False
    return lhs == rhs


def metric_deltas(
    before: Mapping[str, JsonValue], after: Mapping[str, JsonValue]
) -> dict[str, MetricDelta]:
    """``{key: {from, to, delta}}`` over flattened metrics, only for keys whose value differs.

    ``delta`` (``to - from``, rounded to 12 decimals) is present when both sides are numbers;
    a side that lacks the key is ``null``.
    """
    lhs, rhs = flatten(before), flatten(after)
    deltas: dict[str, MetricDelta] = {}
    for key in sorted(set(lhs) | set(rhs)):
        old, new = lhs.get(key), rhs.get(key)
        if _same(old, new):
            continue
        old_number, new_number = _as_number(old), _as_number(new)
        delta = None
        if old_number is not None and new_number is not None:
            delta = round(new_number - old_number, _NUMBER_DIGITS)
        deltas[key] = MetricDelta(from_=old, to=new, delta=delta)
    return deltas


def value_changes(
    before: Mapping[str, JsonValue], after: Mapping[str, JsonValue]
) -> dict[str, ValueChange]:
    """``{key: {from, to}}`` over flattened values, only for keys whose value differs."""
    lhs, rhs = flatten(before), flatten(after)
    return {
        key: ValueChange(from_=lhs.get(key), to=rhs.get(key))
        for key in sorted(set(lhs) | set(rhs))
        if not _same(lhs.get(key), rhs.get(key))
    }
