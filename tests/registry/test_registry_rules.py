"""The update rule, ranking, metric deltas and name checks (pure library functions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot_core.errors import InvalidInputError, InvalidNameError
from bot_core.registry import (
    MAX_CHALLENGERS,
    ChallengersFile,
    ChampionFile,
    HistoryEntry,
    QualityReport,
    apply_quality_report,
    build_registry_from_reports,
    metric_value,
    rank_reports,
    read_history,
    record_quality_report,
    report_score,
    validate_name,
)
from bot_core.registry._rules import metric_deltas, value_changes

from .helpers import report

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def q(*args: object, **kwargs: object) -> QualityReport:
    return QualityReport.model_validate(report(*args, **kwargs))  # type: ignore[arg-type,unused-ignore]


# --- metrics and ranking ---------------------------------------------------------------------


def test_metrics_are_read_flat_or_under_summary() -> None:
    flat = q(da=0.6, mae=0.01, pnl=5.0)
    nested = q(da=0.6, mae=0.01, pnl=5.0, nested=True)
    for item in (flat, nested):
        assert metric_value(item, "directional_accuracy") == 0.6
        assert metric_value(item, "mae") == 0.01
        assert metric_value(item, "expected_pnl") == 5.0
    assert report_score(flat) == report_score(nested)


def test_non_numeric_and_missing_metrics_rank_last() -> None:
    odd = QualityReport.model_validate(
        {**report(), "metrics": {"directional_accuracy": True, "mae": "low", "expected_pnl": None}}
    )
    assert metric_value(odd, "directional_accuracy") is None
    assert report_score(odd) == (float("-inf"),) * 3
    assert rank_reports([odd, q(da=0.1)])[0].metrics["directional_accuracy"] == 0.1


def test_ranking_is_accuracy_then_lower_mae_then_pnl() -> None:
    a = q(version="a", da=0.60, mae=0.05, pnl=1.0)
    b = q(version="b", da=0.59, mae=0.01, pnl=999.0)  # worse accuracy: mae does not matter
    c = q(version="c", da=0.60, mae=0.04, pnl=0.0)  # same accuracy, lower mae than a
    d = q(version="d", da=0.60, mae=0.04, pnl=2.0)  # same as c, higher pnl
    e = q(version="e", da=None, mae=0.001, pnl=1e6)  # no accuracy at all
    ranked = [item.version for item in rank_reports([a, b, c, d, e])]
    assert ranked == ["d", "c", "a", "b", "e"]


def test_rank_keeps_given_order_on_ties() -> None:
    first, second = q(version="first"), q(version="second")
    assert [r.version for r in rank_reports([first, second])] == ["first", "second"]


# --- the update rule -------------------------------------------------------------------------


def _apply(
    champion: ChampionFile | None, challengers: ChallengersFile | None, new: QualityReport
) -> tuple[ChampionFile | None, ChallengersFile, str]:
    update = apply_quality_report(champion, challengers, new, decided_at=NOW)
    return update.champion, update.challengers, update.outcome


def test_first_report_becomes_champion() -> None:
    champion, challengers, outcome = _apply(None, None, q(version="v1"))
    assert outcome == "champion"
    assert champion is not None and champion.report.version == "v1"
    assert champion.decided_at == NOW
    assert challengers.entries == []


def test_better_report_replaces_champion_which_becomes_first_challenger() -> None:
    champion, challengers, _ = _apply(None, None, q(version="v1", da=0.5))
    champion, challengers, _ = _apply(champion, challengers, q(version="v2", da=0.4))
    assert champion is not None and champion.report.version == "v1"
    champion, challengers, outcome = _apply(champion, challengers, q(version="v3", da=0.6))
    assert outcome == "champion"
    assert champion is not None and champion.report.version == "v3"
    assert [e.report.version for e in challengers.entries] == ["v1", "v2"]
    assert "replaced as champion by v3" in challengers.entries[0].reason
    assert "v3 beats v1 on directional_accuracy" in champion.reason


def test_equal_report_does_not_replace_champion() -> None:
    champion, challengers, _ = _apply(None, None, q(version="v1"))
    champion, challengers, outcome = _apply(champion, challengers, q(version="v2"))
    assert outcome == "challenger"
    assert champion is not None and champion.report.version == "v1"
    assert "ties" in challengers.entries[0].reason


def test_lower_mae_then_higher_pnl_decide_on_equal_accuracy() -> None:
    champion, challengers, _ = _apply(None, None, q(version="v1", mae=0.02, pnl=10.0))
    champion, challengers, outcome = _apply(
        champion, challengers, q(version="v2", mae=0.03, pnl=99.0)
    )
    assert outcome == "challenger"
    assert "on mae" in challengers.entries[0].reason
    champion, challengers, outcome = _apply(
        champion, challengers, q(version="v3", mae=0.02, pnl=11.0)
    )
    assert outcome == "champion"
    assert champion is not None and "on expected_pnl" in champion.reason


def test_degraded_report_is_always_a_challenger() -> None:
    champion, challengers, outcome = _apply(None, None, q(version="v1", status="degraded"))
    assert outcome == "challenger" and champion is None
    champion, challengers, _ = _apply(champion, challengers, q(version="v2", da=0.1))
    assert champion is not None and champion.report.version == "v2"
    champion, challengers, outcome = _apply(
        champion, challengers, q(version="v3", da=0.99, status="degraded")
    )
    assert outcome == "challenger"
    assert champion is not None and champion.report.version == "v2"
    assert [e.report.version for e in challengers.entries] == ["v3", "v1"]
    assert "degraded" in challengers.entries[0].reason


def test_at_most_ten_challengers_newest_first() -> None:
    champion, challengers, _ = _apply(None, None, q(version="champ", da=0.9))
    dropped: list[str] = []
    for index in range(MAX_CHALLENGERS + 3):
        update = apply_quality_report(
            champion, challengers, q(version=f"c{index}", da=0.1), decided_at=NOW
        )
        champion, challengers = update.champion, update.challengers
        dropped += update.dropped_versions
    versions = [e.report.version for e in challengers.entries]
    assert versions == [f"c{index}" for index in range(12, 2, -1)]
    assert dropped == ["c0", "c1", "c2"]


def test_replaced_champion_at_ten_challengers_drops_the_oldest() -> None:
    champion, challengers, _ = _apply(None, None, q(version="champ", da=0.5))
    for index in range(MAX_CHALLENGERS):
        champion, challengers, _ = _apply(champion, challengers, q(version=f"c{index}", da=0.1))
    update = apply_quality_report(champion, challengers, q(version="new", da=0.9), decided_at=NOW)
    assert update.champion is not None and update.champion.report.version == "new"
    assert len(update.challengers.entries) == MAX_CHALLENGERS
    assert update.challengers.entries[0].report.version == "champ"
    assert update.dropped_versions == ["c0"]


def test_re_evaluations_refresh_instead_of_duplicating() -> None:
    champion, challengers, _ = _apply(None, None, q(version="v1", da=0.5))
    champion, challengers, _ = _apply(champion, challengers, q(version="v2", da=0.4))
    # The champion re-evaluated (even degraded) keeps its place: demotion is an operator's call.
    champion, challengers, outcome = _apply(
        champion, challengers, q(version="v1", da=0.3, status="degraded")
    )
    assert outcome == "champion_refreshed"
    assert champion is not None and champion.report.status == "degraded"
    # A challenger re-evaluated replaces its own entry and goes through the rule again.
    champion, challengers, outcome = _apply(champion, challengers, q(version="v2", da=0.45))
    assert outcome == "champion"
    assert champion is not None and champion.report.version == "v2"
    assert [e.report.version for e in challengers.entries] == ["v1"]


# --- building a registry on disk -------------------------------------------------------------


def test_build_registry_from_reports_writes_files_and_history(tmp_path: Path) -> None:
    root = tmp_path / "quality"
    updates = build_registry_from_reports(
        root,
        [
            report(version="v2", day=2, da=0.6),
            report(version="v1", day=1, da=0.5),  # applied first: evaluated earlier
            report(version="v3", day=3, da=0.7, status="degraded"),
            report("risk_model", "r1", day=1, nested=True),
        ],
    )
    assert [(u.version, u.outcome) for u in updates] == [
        ("v1", "champion"),
        ("r1", "champion"),
        ("v2", "champion"),
        ("v3", "challenger"),
    ]
    directory = root / "decision_engine"
    champion = ChampionFile.model_validate_json((directory / "champion.json").read_bytes())
    challengers = ChallengersFile.model_validate_json((directory / "challengers.json").read_bytes())
    assert champion.report.version == "v2"
    assert champion.decided_at == datetime(2024, 5, 2, 8, tzinfo=UTC)
    assert [e.report.version for e in challengers.entries] == ["v3", "v1"]
    history = read_history(directory)
    assert [(h.from_version, h.to_version, h.action) for h in history] == [
        (None, "v1", "update_rule"),
        ("v1", "v2", "update_rule"),
    ]
    assert history[1].from_metrics == {
        "directional_accuracy": 0.5,
        "mae": 0.02,
        "expected_pnl": 100.0,
    }
    assert not list(directory.glob(".*")), "no journal or staged file is left behind"


def test_build_is_reproducible(tmp_path: Path) -> None:
    reports = json.loads(Path(__file__).with_name("sample_reports.json").read_text())
    build_registry_from_reports(tmp_path / "a", reports)
    build_registry_from_reports(tmp_path / "b", reports)
    for path in sorted((tmp_path / "a").rglob("*.json*")):
        twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert path.read_bytes() == twin.read_bytes()


def test_record_refuses_invalid_reports(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="version"):
        record_quality_report(
            tmp_path, {k: v for k, v in report().items() if k != "version"}, decided_at=NOW
        )
    with pytest.raises(InvalidInputError, match="unsafe"):
        record_quality_report(tmp_path, report(version="../x"), decided_at=NOW)
    assert list(tmp_path.iterdir()) == []


def test_history_lines_are_documents(tmp_path: Path) -> None:
    build_registry_from_reports(tmp_path, [report()])
    line = (tmp_path / "decision_engine" / "history.jsonl").read_text().splitlines()[0]
    entry = HistoryEntry.model_validate_json(line)
    assert entry.decided_by == "quality-evaluator"
    assert '"decided_at":"2024-05-01T08:00:00+00:00"' in line


# --- deltas and names ------------------------------------------------------------------------


def test_metric_deltas_flatten_and_keep_only_differences() -> None:
    deltas = metric_deltas(
        {"summary": {"mae": 0.02, "same": 1}, "gone": 1.5, "text": "a"},
        {"summary": {"mae": 0.015, "same": 1}, "new": 2, "text": "b"},
    )
    dumped = {key: value.model_dump(mode="json") for key, value in deltas.items()}
    assert dumped == {
        "gone": {"from": 1.5, "to": None},
        "new": {"from": None, "to": 2},
        "summary.mae": {"from": 0.02, "to": 0.015, "delta": -0.005},
        "text": {"from": "a", "to": "b"},
    }
    assert value_changes({"a": {"b": 1}}, {"a": {"b": 1}}) == {}


@pytest.mark.parametrize(
    "name",
    ["", " ", "a/b", "..", "a..b", ".hidden", "a\\b", "a\x00b", "tab\tname", " lead", "x" * 129],
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_name(name)


@pytest.mark.parametrize("name", ["decision_engine", "v2", "2024.06.01-rc1", "v1+build.7"])
def test_safe_names_are_accepted(name: str) -> None:
    assert validate_name(name, kind="version") == name
