"""``champion`` and ``promote`` through the real ``bot_core.reporting.ui_bridge`` (contract 7)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot_core.registry import (
    ChallengersFile,
    ChampionFile,
    ChampionListing,
    HistoryEntry,
    PromoteResult,
    PromotionSummary,
)

from .helpers import UI_BRIDGE, report, tree

TIMESTAMP = re.compile(r"^\d{8}T\d{6}$")


def _files(root: Path, model: str) -> tuple[ChampionFile, ChallengersFile]:
    directory = root / model
    return (
        ChampionFile.model_validate_json((directory / "champion.json").read_bytes()),
        ChallengersFile.model_validate_json((directory / "challengers.json").read_bytes()),
    )


def _versions(challengers: ChallengersFile) -> list[str]:
    return [entry.report.version for entry in challengers.entries]


# --- champion --------------------------------------------------------------------------------


def test_champion_lists_every_model(run: Callable[..., Any], registry: Path) -> None:
    raw = run(UI_BRIDGE, "champion").json()
    listing = ChampionListing.model_validate(raw)
    assert set(raw) == {"status", "base_directory", "models"}  # no missing_models unasked
    assert listing.status == "ok"
    assert listing.base_directory == str(registry)
    assert [m.model_name for m in listing.models] == ["decision_engine", "risk_model"]
    engine = raw["models"][0]
    assert set(engine) == {
        "model_name",
        "champion",
        "champion_metadata",
        "challengers",
        "updated_at",
    }
    assert engine["champion"]["version"] == "v3"
    assert set(engine["champion_metadata"]) == {"decided_at", "reason"}
    assert engine["champion_metadata"]["decided_at"].endswith("+00:00")
    assert [c["report"]["version"] for c in engine["challengers"]] == ["v4", "v2", "v1"]
    assert set(engine["challengers"][0]) == {"report", "metadata"}
    for key in (
        "model_name",
        "version",
        "evaluated_at",
        "metrics",
        "status",
        "delta",
        "parameters",
    ):
        assert key in engine["champion"]
    risk = raw["models"][1]
    assert risk["champion"]["metrics"]["summary"]["mae"] == 0.0137  # metrics under "summary"


def test_champion_named_models_and_missing_models(run: Callable[..., Any], registry: Path) -> None:
    (registry / "empty_model").mkdir()
    raw = run(
        UI_BRIDGE, "champion", "--model", "risk_model", "--model", "ghost", "--model", "empty_model"
    ).json()
    assert [m["model_name"] for m in raw["models"]] == ["risk_model"]
    assert raw["missing_models"] == ["empty_model", "ghost"]


def test_champion_base_dir_and_history(run: Callable[..., Any], registry: Path) -> None:
    moved = registry.parent / "elsewhere"
    registry.rename(moved)
    listing = ChampionListing.model_validate(
        run(UI_BRIDGE, "champion", "--base-dir", moved, "--history").json()
    )
    engine = listing.models[0]
    assert engine.history is not None
    assert [(h.from_version, h.to_version) for h in engine.history] == [
        (None, "v1"),
        ("v1", "v2"),
        ("v2", "v3"),
    ]


def test_champion_missing_registry_directory_is_exit_2(
    run: Callable[..., Any], tmp_path: Path
) -> None:
    line = run(UI_BRIDGE, "champion").assert_error(2)
    assert "registry directory not found" in line
    assert list(tmp_path.iterdir()) == []


# --- promote ---------------------------------------------------------------------------------


def test_promote_replaces_champion_and_records_everything(
    run: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    raw = run(
        UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v2",
        "--reason", "Manual override", "--approver", "alice",
    ).json()  # fmt: skip
    result = PromoteResult.model_validate(raw)
    for key in (
        "status", "model", "version", "reason", "champion_path", "challengers_path",
        "audit_directory", "audit_entry",
    ):  # fmt: skip
        assert key in raw
    assert "dry_run" not in raw
    assert (result.status, result.model, result.version) == ("ok", "decision_engine", "v2")
    assert result.reason == "Manual override"
    assert result.previous_version == "v3"

    # champion.json / challengers.json: v2 is champion, v3 the first challenger.
    champion, challengers = _files(registry, "decision_engine")
    assert result.champion_path == str(registry / "decision_engine" / "champion.json")
    assert result.challengers_path == str(registry / "decision_engine" / "challengers.json")
    assert champion.report.version == "v2"
    assert champion.reason == "Manual override"
    assert before <= champion.decided_at <= datetime.now(UTC)
    assert _versions(challengers) == ["v3", "v4", "v1"]
    assert "replaced as champion by v2" in challengers.entries[0].reason
    raw_champion = json.loads((registry / "decision_engine" / "champion.json").read_text())
    assert list(raw_champion) == ["model_name", "decided_at", "reason", "report"]
    assert raw_champion["decided_at"].endswith("+00:00")
    raw_challengers = json.loads((registry / "decision_engine" / "challengers.json").read_text())
    assert list(raw_challengers) == ["model_name", "updated_at", "entries"]
    assert list(raw_challengers["entries"][0]) == ["decided_at", "reason", "report"]

    # The audit entry.
    audit_root = tmp_path / "audit" / "champion_promotions"
    (entry_dir,) = (audit_root / "decision_engine").iterdir()
    stamp, _, version = entry_dir.name.partition("_")
    assert TIMESTAMP.match(stamp) and version == "v2"
    assert result.audit_directory == str(entry_dir)
    assert result.audit_entry.relative_path == f"decision_engine/{entry_dir.name}"
    assert result.audit_entry.summary_path == str(entry_dir / "summary.json")
    summary_raw = json.loads((entry_dir / "summary.json").read_text())
    summary = PromotionSummary.model_validate(summary_raw)
    assert summary == result.audit_entry.summary
    assert list(summary_raw)[:8] == [
        "status", "model_name", "version", "decided_at", "reason", "previous_champion",
        "candidate", "challengers",
    ]  # fmt: skip
    assert summary.status == "promoted"
    assert summary.previous_champion is not None
    assert summary.previous_champion.version == "v3"
    assert summary.candidate.version == "v2"
    assert [e.report.version for e in summary.challengers] == ["v3", "v4", "v1"]
    assert summary.decided_by == "alice"
    assert summary.metrics_delta["directional_accuracy"].model_dump(mode="json") == {
        "from": 0.578,
        "to": 0.563,
        "delta": -0.015,
    }

    # One line in logs/report_center.log with time, model, versions and reason.
    (line,) = (tmp_path / "logs" / "report_center.log").read_text().splitlines()
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00 ", line)
    for part in ("decision_engine", "from=v3", "to=v2", '"Manual override"'):
        assert part in line

    # One history line: who, when, why, from which version to which, with metrics.
    history = [
        HistoryEntry.model_validate_json(text)
        for text in (registry / "decision_engine" / "history.jsonl").read_text().splitlines()
    ]
    last = history[-1]
    assert (last.action, last.decided_by, last.reason) == ("promote", "alice", "Manual override")
    assert (last.from_version, last.to_version) == ("v3", "v2")
    assert last.from_metrics == summary.previous_champion.metrics
    assert last.to_metrics == summary.candidate.metrics
    assert last.decided_at == champion.decided_at
    assert last.audit_directory == str(entry_dir)
    assert not list((registry / "decision_engine").glob(".*"))


def test_promote_dry_run_shows_the_change_and_writes_nothing(
    run: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    before = tree(tmp_path)
    raw = run(
        UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v2", "--dry-run"
    ).json()
    assert tree(tmp_path) == before
    result = PromoteResult.model_validate(raw)
    assert raw["dry_run"] is True
    assert result.status == "preview"
    assert result.previous_version == "v3"
    summary = result.audit_entry.summary
    assert summary.previous_champion is not None
    assert summary.previous_champion.version == "v3"
    assert summary.candidate.version == "v2"
    assert raw["metrics_delta"]["mae"] == {"from": 0.0191, "to": 0.0198, "delta": 0.0007}
    assert raw["metrics_delta"]["expected_pnl"]["delta"] == -20.6
    assert not Path(result.audit_directory).exists()


def test_promote_back_to_an_earlier_version_stays_in_history(
    run: Callable[..., Any], registry: Path
) -> None:
    for version, expected in (("v2", "v3"), ("v3", "v2")):
        run(
            UI_BRIDGE, "promote", "--model", "decision_engine", "--version", version,
            "--reason", f"to {version}", "--expect-champion", expected,
        ).json()  # fmt: skip
    champion, challengers = _files(registry, "decision_engine")
    assert champion.report.version == "v3"
    assert _versions(challengers) == ["v2", "v4", "v1"]
    listing = ChampionListing.model_validate(
        run(UI_BRIDGE, "champion", "--model", "decision_engine", "--history").json()
    )
    history = listing.models[0].history
    assert history is not None
    assert [(h.from_version, h.to_version, h.action) for h in history][-2:] == [
        ("v3", "v2", "promote"),
        ("v2", "v3", "promote"),
    ]


def test_expect_champion_compare_and_swap(
    run: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    # The approval said "replace v2 with v1", but v3 is the champion: refused, nothing written.
    before = tree(tmp_path)
    line = run(
        UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v1",
        "--reason", "approved", "--expect-champion", "v2",
    ).assert_error(2)  # fmt: skip
    assert "'v3'" in line and "'v2'" in line
    assert tree(tmp_path) == before
    dry = run(
        UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v1",
        "--expect-champion", "v2", "--dry-run",
    )  # fmt: skip
    dry.assert_error(2)
    ok = run(
        UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v1",
        "--reason", "approved", "--expect-champion", "v3",
    ).json()  # fmt: skip
    assert ok["expect_champion"] == "v3"


def test_promote_quality_and_audit_dirs(
    run: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(registry, copy)
    shutil.rmtree(registry.parent.parent)  # nothing under var/ any more
    raw = run(
        UI_BRIDGE, "promote", "--model", "risk_model", "--version", "v3", "--reason", "QA",
        "--quality-dir", copy, "--audit-dir", "elsewhere/audit",
    ).json()  # fmt: skip
    assert raw["champion_path"] == str(copy / "risk_model" / "champion.json")
    assert raw["audit_directory"].startswith(str(tmp_path / "elsewhere" / "audit" / "risk_model"))
    assert Path(raw["audit_entry"]["summary_path"]).is_file()
    champion, challengers = _files(copy, "risk_model")
    assert champion.report.version == "v3"
    assert _versions(challengers) == ["v2", "v1"]


def test_promote_without_a_previous_champion(
    run: Callable[..., Any], build: Callable[..., Path]
) -> None:
    root = build(report(version="v1", status="degraded"))
    raw = run(
        UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v1", "--reason", "only"
    ).json()
    assert raw["previous_version"] is None
    assert raw["audit_entry"]["summary"]["previous_champion"] is None
    assert raw["metrics_delta"]["mae"] == {"from": None, "to": 0.02}
    champion, challengers = _files(root, "decision_engine")
    assert champion.report.version == "v1" and challengers.entries == []


def test_promote_keeps_unknown_report_fields(
    run: Callable[..., Any], build: Callable[..., Path]
) -> None:
    root = build(report(version="v1", da=0.9), {**report(version="v2", day=2), "dataset": "q2"})
    run(
        UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v2", "--reason", "x"
    ).json()
    champion, _ = _files(root, "decision_engine")
    assert champion.report.model_extra == {"dataset": "q2"}


# --- bad input: exit 2, one line on stderr, nothing written ----------------------------------


def _corrupt_champion(root: Path) -> None:
    (root / "decision_engine" / "champion.json").write_text('{"model_name": "decision_engine",')


def _corrupt_challengers(root: Path) -> None:
    (root / "decision_engine" / "challengers.json").write_text("[1, 2]")


def _challenger_without_version(root: Path) -> None:
    path = root / "decision_engine" / "challengers.json"
    data = json.loads(path.read_text())
    del data["entries"][1]["report"]["version"]
    path.write_text(json.dumps(data))


def _duplicate_version(root: Path) -> None:
    path = root / "decision_engine" / "challengers.json"
    data = json.loads(path.read_text())
    data["entries"][0]["report"]["version"] = "v2"
    path.write_text(json.dumps(data))


def _foreign_model(root: Path) -> None:
    path = root / "decision_engine" / "champion.json"
    data = json.loads(path.read_text())
    data["report"]["model_name"] = "risk_model"
    path.write_text(json.dumps(data))


def _eleven_challengers(root: Path) -> None:
    path = root / "decision_engine" / "challengers.json"
    data = json.loads(path.read_text())
    entry = data["entries"][0]
    data["entries"] = [
        {**entry, "report": {**entry["report"], "version": f"x{index}"}} for index in range(11)
    ]
    path.write_text(json.dumps(data))


def _corrupt_history(root: Path) -> None:
    with (root / "decision_engine" / "history.jsonl").open("a") as handle:
        handle.write("not json\n")


def _no_registry(root: Path) -> None:
    shutil.rmtree(root)


def _nothing(root: Path) -> None:
    return None


def _promote(
    model: str = "decision_engine", version: str = "v2", *extra: str, reason: str | None = "r"
) -> tuple[str, ...]:
    with_reason = ("--reason", reason) if reason is not None else ()
    return ("promote", "--model", model, "--version", version, *with_reason, *extra)


PROMOTE_V2 = _promote()


@pytest.mark.parametrize(
    ("damage", "args", "message"),
    [
        (_nothing, _promote("ghost"), "unknown model"),
        (_nothing, _promote(version="v9"), "no challenger"),
        (_nothing, _promote(version="v3"), "already the champion"),
        (_nothing, _promote(reason="  "), "must not be blank"),
        (_nothing, _promote("decision_engine", "v2", "--approver", " "), "must not be blank"),
        (_nothing, _promote("../decision_engine"), "invalid model name"),
        (_nothing, _promote(".hidden"), "starts with a dot"),
        (_nothing, _promote(version="../../x"), "invalid version"),
        (
            _nothing,
            _promote("decision_engine", "v2", "--expect-champion", "a/b"),
            "invalid version",
        ),
        (_nothing, ("promote", "--version", "v2", "--reason", "r"), "--model"),
        (_nothing, _promote("decision_engine", "v2", "--bogus"), "unrecognized"),
        (_corrupt_champion, PROMOTE_V2, "champion.json: Invalid JSON"),
        (_corrupt_challengers, PROMOTE_V2, "challengers.json"),
        (_challenger_without_version, PROMOTE_V2, "entries[1].report.version: Field required"),
        (_duplicate_version, PROMOTE_V2, "appears more than once"),
        (_foreign_model, PROMOTE_V2, "does not match"),
        (_eleven_challengers, PROMOTE_V2, "entries"),
        (_corrupt_history, PROMOTE_V2, "history.jsonl: line 4"),
        (_no_registry, PROMOTE_V2, "registry directory not found"),
        (_corrupt_champion, ("champion",), "champion.json"),
        (_challenger_without_version, ("champion", "--model", "decision_engine"), "Field required"),
        (_corrupt_history, ("champion", "--history"), "history.jsonl"),
        (_nothing, ("champion", "--model", "a\\b"), "invalid model name"),
    ],
)
def test_bad_input_is_exit_2_and_writes_nothing(
    run: Callable[..., Any],
    registry: Path,
    tmp_path: Path,
    damage: Callable[[Path], None],
    args: tuple[str, ...],
    message: str,
) -> None:
    damage(registry)
    before = tree(tmp_path)
    line = run(UI_BRIDGE, *args).assert_error(2)
    assert message in line
    assert tree(tmp_path) == before


def test_dry_run_refuses_the_same_bad_input(run: Callable[..., Any], registry: Path) -> None:
    _challenger_without_version(registry)
    run(UI_BRIDGE, *PROMOTE_V2, "--dry-run").assert_error(2)
    run(UI_BRIDGE, "promote", "--model", "ghost", "--version", "v2", "--dry-run").assert_error(2)


def test_same_second_same_version_never_overwrites_an_audit_entry(
    run: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    from bot_core.registry import promote

    moment = datetime(2024, 7, 1, 9, 30, tzinfo=UTC)
    kwargs: dict[str, Any] = {
        "model": "decision_engine",
        "approver": "bob",
        "audit_dir": tmp_path / "audit",
        "log_path": tmp_path / "log.txt",
    }
    promote(registry, version="v2", reason="a", now=moment, **kwargs)
    promote(registry, version="v3", reason="b", now=moment, **kwargs)
    from bot_core.errors import OperationError

    with pytest.raises(OperationError, match="already exists"):
        promote(
            registry, version="v2", reason="c", now=moment + timedelta(microseconds=1), **kwargs
        )
    champion, _ = _files(registry, "decision_engine")
    assert champion.report.version == "v3"


def test_reason_is_optional_as_the_contract_says_and_the_record_says_so(
    run: Callable[..., Any], registry: Path
) -> None:
    result = run(UI_BRIDGE, *_promote(reason=None))
    assert result.returncode == 0, result.stderr
    champion = json.loads((registry / "decision_engine/champion.json").read_text())
    assert champion["reason"].startswith("no reason given")
