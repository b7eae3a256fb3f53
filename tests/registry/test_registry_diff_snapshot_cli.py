"""``scripts.audit.champion_diff`` and ``bot_core.runtime.ui_bridge snapshot`` (contract 7)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot_core.registry import ChampionDiffReport, ChampionDiffResult, RecommendationSnapshot

from .helpers import CHAMPION_DIFF, RUNTIME, SAMPLE_REGISTRY, UI_BRIDGE, report, tree

DIFF_NAME = re.compile(r"^champion_diff_\d{8}T\d{6}(_[A-Za-z0-9_.-]+)?\.json$")

# --- champion_diff ---------------------------------------------------------------------------


def test_diff_against_a_missing_rhs_reports_it(run: Callable[..., Any], tmp_path: Path) -> None:
    # The runbook's command on a fresh clone: var/models/quality does not exist yet.
    raw = run(CHAMPION_DIFF, "--lhs", SAMPLE_REGISTRY, "--rhs", "var/models/quality").json()
    result = ChampionDiffResult.model_validate(raw)
    (written,) = (tmp_path / "audit" / "champion_diffs").iterdir()
    assert DIFF_NAME.match(written.name) and "_" not in written.name.removeprefix("champion_diff_")
    assert result.output_path == str(written)
    on_disk = json.loads(written.read_text())
    assert list(on_disk)[:5] == ["generated_at", "lhs_root", "rhs_root", "models", "comparisons"]
    assert ChampionDiffReport.model_validate(on_disk).generated_at == result.generated_at
    assert on_disk["generated_at"].endswith("+00:00")
    assert result.lhs_root == str(SAMPLE_REGISTRY)
    assert result.rhs_root == str(tmp_path / "var" / "models" / "quality")
    assert (result.lhs_exists, result.rhs_exists) == (True, False)
    assert result.models == ["decision_engine", "risk_model"]
    engine = raw["comparisons"][0]
    assert set(engine) == {"model", "lhs", "rhs", "differences"}
    for side in ("lhs", "rhs"):
        for key in ("exists", "metadata", "status", "metrics", "parameters"):
            assert key in engine[side]
    assert engine["lhs"]["exists"] is True and engine["rhs"]["exists"] is False
    assert "registry directory not found" in engine["rhs"]["error"]
    differences = engine["differences"]
    assert set(differences) >= {
        "metadata_changed",
        "status_change",
        "metrics_delta",
        "parameter_changes",
    }
    assert differences["metadata_changed"] is True
    assert differences["status_change"] == {"from": "improved", "to": None}
    assert differences["metrics_delta"]["mae"] == {"from": 0.0191, "to": None}
    assert differences["parameter_changes"]["max_depth"] == {"from": 8, "to": None}


def test_diff_flattens_metrics_and_keeps_only_differences(
    run: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    # rhs: risk_model's v3 promoted (metrics under "summary"), decision_engine untouched.
    run(UI_BRIDGE, "promote", "--model", "risk_model", "--version", "v3", "--reason", "x").json()
    raw = run(
        CHAMPION_DIFF, "--lhs", SAMPLE_REGISTRY, "--rhs", registry,
        "--model", "risk_model", "--model", "decision_engine",
        "--output-dir", "qa", "--tag", "weekly",
    ).json()  # fmt: skip
    (written,) = (tmp_path / "qa").iterdir()
    assert DIFF_NAME.match(written.name) and written.name.endswith("_weekly.json")
    assert raw["tag"] == "weekly"
    engine, risk = raw["comparisons"]
    assert engine["model"] == "decision_engine"
    assert engine["differences"] == {
        "metadata_changed": False,
        "status_change": None,
        "metrics_delta": {},
        "parameter_changes": {},
        "version_change": None,
    }
    assert risk["lhs"]["metrics"]["summary.mae"] == 0.0137
    delta = risk["differences"]["metrics_delta"]
    assert set(delta) == {"summary.mae", "summary.expected_pnl", "max_drawdown"}
    assert delta["summary.mae"] == {"from": 0.0137, "to": 0.0151, "delta": 0.0014}
    assert risk["differences"]["status_change"] == {"from": "improved", "to": "ok"}
    assert risk["differences"]["version_change"] == {"from": "v2", "to": "v3"}
    assert risk["differences"]["metadata_changed"] is True
    assert risk["differences"]["parameter_changes"] == {
        "var_confidence": {"from": 0.99, "to": 0.995},
        "garch_order": {"from": [1, 1], "to": [1, 2]},
    }


def test_diff_reports_corrupt_and_missing_models_on_their_side(
    run: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    (registry / "decision_engine" / "champion.json").write_text("{")
    (registry / "risk_model" / "champion.json").unlink()
    raw = run(
        CHAMPION_DIFF, "--lhs", SAMPLE_REGISTRY, "--rhs", registry, "--model", "ghost",
        "--model", "decision_engine", "--model", "risk_model",
    ).json()  # fmt: skip
    sides = {c["model"]: c["rhs"] for c in raw["comparisons"]}
    assert sides["decision_engine"]["exists"] is True
    assert "Invalid JSON" in sides["decision_engine"]["error"]
    assert sides["risk_model"]["exists"] is False
    assert "champion.json not found" in sides["risk_model"]["error"]
    assert "not found" in sides["ghost"]["error"]
    assert raw["comparisons"][1]["lhs"]["exists"] is False


def test_diff_bad_arguments_are_exit_2(run: Callable[..., Any], tmp_path: Path) -> None:
    run(CHAMPION_DIFF, "--lhs", "a").assert_error(2)
    run(CHAMPION_DIFF, "--lhs", "a", "--rhs", "b", "--tag", "../x").assert_error(2)
    run(CHAMPION_DIFF, "--lhs", "a", "--rhs", "b", "--model", "a/b").assert_error(2)
    assert list(tmp_path.iterdir()) == []


# --- snapshot --------------------------------------------------------------------------------

SNAPSHOT_KEYS = {
    "decision_summary",
    "guardrail_summary",
    "controller_history",
    "recommendations",
    "champion",
    "challengers",
}


def test_snapshot_is_saved_under_audit_champion_promotions(
    run: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    raw = run(RUNTIME, "snapshot", "--model", "decision_engine").json()
    assert set(raw) >= SNAPSHOT_KEYS
    snapshot = RecommendationSnapshot.model_validate(raw)
    (saved,) = (tmp_path / "audit" / "champion_promotions").iterdir()
    assert re.match(r"^preview_\d{8}T\d{6}\.json$", saved.name)
    assert snapshot.snapshot_path == str(saved)
    assert json.loads(saved.read_text()) == raw
    assert snapshot.status == "ok" and "dry_run" not in raw
    assert snapshot.quality_directory == str(registry)
    assert snapshot.champion.version == "v3"
    assert [c.report.version for c in snapshot.challengers] == ["v4", "v2", "v1"]
    assert [h.to_version for h in snapshot.controller_history] == ["v3", "v2", "v1"]
    assert snapshot.decision_summary.key_metrics == {
        "directional_accuracy": 0.578,
        "mae": 0.0191,
        "expected_pnl": 152.3,
    }
    assert snapshot.guardrail_summary.degraded_challengers == ["v4"]
    assert snapshot.guardrail_summary.status == "ok"
    (advice,) = snapshot.recommendations
    assert (advice.action, advice.version) == ("keep_champion", "v3")


def test_snapshot_dry_run_writes_nothing_and_recommends_promotion(
    run: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    run(UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v1", "--reason", "x")
    before = tree(tmp_path)
    raw = run(RUNTIME, "snapshot", "--model", "decision_engine", "--dry-run").json()
    assert tree(tmp_path) == before
    snapshot = RecommendationSnapshot.model_validate(raw)
    assert raw["dry_run"] is True and snapshot.status == "preview"
    assert snapshot.snapshot_path is None
    assert snapshot.guardrail_summary.status == "attention"
    (advice,) = snapshot.recommendations
    assert (advice.action, advice.version) == ("promote", "v3")  # best usable, not degraded v4
    assert advice.metrics_delta["directional_accuracy"].delta == 0.037


def test_snapshot_of_a_degraded_champion_asks_for_review(
    run: Callable[..., Any], build: Callable[..., Path], tmp_path: Path
) -> None:
    build(report(version="v1"), report(version="v1", day=2, status="degraded"))
    snapshot = RecommendationSnapshot.model_validate(
        run(RUNTIME, "snapshot", "--model", "decision_engine", "--dry-run").json()
    )
    assert snapshot.guardrail_summary.champion_degraded is True
    assert snapshot.recommendations[0].action == "review"


def test_snapshot_quality_dir_and_errors(
    run: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    moved = tmp_path / "q"
    shutil.move(registry, moved)
    raw = run(RUNTIME, "snapshot", "--model", "risk_model", "--quality-dir", moved, "--dry-run")
    assert raw.json()["champion"]["version"] == "v2"
    before = tree(tmp_path)
    run(RUNTIME, "snapshot", "--model", "risk_model").assert_error(2)  # no var/models/quality
    run(RUNTIME, "snapshot", "--model", "ghost", "--quality-dir", moved).assert_error(2)
    run(RUNTIME, "snapshot", "--model", "../q", "--quality-dir", moved).assert_error(2)
    run(RUNTIME, "snapshot").assert_error(2)
    (moved / "decision_engine" / "champion.json").unlink()
    line = run(RUNTIME, "snapshot", "--model", "decision_engine", "--quality-dir", moved)
    assert "has no champion" in line.assert_error(2)
    after = tree(tmp_path)
    assert {k for k in before if k not in after} == {"q/decision_engine/champion.json"}
    assert set(after) <= set(before)
