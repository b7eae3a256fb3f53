"""The two-file commit: a promotion killed between its steps is detected and completed.

The real ``ui_bridge promote`` runs in a subprocess that dies (``os._exit``: no cleanup, no
``finally``, like ``kill -9``) right after a named commit step; the next command reading the
registry must find the interrupted commit and complete it, exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot_core.registry import ChallengersFile, ChampionFile, ChampionListing, read_history

from .helpers import CHAMPION_DIFF, RUNTIME, UI_BRIDGE, tree

PROMOTE = ("promote", "--model", "decision_engine", "--version", "v2", "--reason", "Crash test")


def _state(root: Path) -> tuple[str, list[str]]:
    directory = root / "decision_engine"
    champion = ChampionFile.model_validate_json((directory / "champion.json").read_bytes())
    challengers = ChallengersFile.model_validate_json((directory / "challengers.json").read_bytes())
    return champion.report.version, [entry.report.version for entry in challengers.entries]


def _hidden(root: Path) -> list[str]:
    return sorted(path.name for path in (root / "decision_engine").glob(".*"))


def _assert_completed_once(root: Path, tmp_path: Path) -> None:
    assert _state(root) == ("v2", ["v3", "v4", "v1"])
    assert _hidden(root) == []
    history = read_history(root / "decision_engine")
    assert [(h.from_version, h.to_version) for h in history] == [
        (None, "v1"),
        ("v1", "v2"),
        ("v2", "v3"),
        ("v3", "v2"),
    ]
    entries = list((tmp_path / "audit" / "champion_promotions" / "decision_engine").iterdir())
    assert len(entries) == 1 and (entries[0] / "summary.json").is_file()
    log = (tmp_path / "logs" / "report_center.log").read_text().splitlines()
    assert len(log) == 1 and "Crash test" in log[0]


def test_crash_between_the_two_renames_is_repaired_by_the_next_champion(
    run: Callable[..., Any], run_crashing: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    crashed = run_crashing("after_rename:champion.json", *PROMOTE)
    assert crashed.returncode == 86 and crashed.stdout == ""
    # On disk: the new champion.json beside the old challengers.json (which still lists v2),
    # the staged challengers.json and the journal that names both.
    on_disk = json.loads((registry / "decision_engine" / "champion.json").read_text())
    assert on_disk["report"]["version"] == "v2"
    old = json.loads((registry / "decision_engine" / "challengers.json").read_text())
    assert [e["report"]["version"] for e in old["entries"]] == ["v4", "v2", "v1"]
    hidden = _hidden(registry)
    assert ".commit.json" in hidden
    assert any(name.startswith(".challengers.json.") for name in hidden)

    raw = run(UI_BRIDGE, "champion", "--model", "decision_engine").json()
    listing = ChampionListing.model_validate(raw)
    assert raw["repaired"] == ["decision_engine"]
    assert listing.models[0].champion.version == "v2"
    _assert_completed_once(registry, tmp_path)

    again = run(UI_BRIDGE, "champion", "--model", "decision_engine").json()
    assert "repaired" not in again
    _assert_completed_once(registry, tmp_path)


def test_read_only_commands_report_a_pending_commit_and_write_nothing(
    run: Callable[..., Any], run_crashing: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    run_crashing("after_rename:champion.json", *PROMOTE)
    before = tree(tmp_path)
    dry = run(
        UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v3", "--dry-run"
    ).json()
    assert dry["pending_repair"] is True
    assert dry["previous_version"] == "v2"  # the state the interrupted commit produces
    snapshot = run(RUNTIME, "snapshot", "--model", "decision_engine", "--dry-run").json()
    assert snapshot["pending_repair"] is True
    assert snapshot["champion"]["version"] == "v2"
    assert tree(tmp_path) == before

    diff = run(
        CHAMPION_DIFF, "--lhs", registry, "--rhs", registry, "--output-dir", tmp_path / "d"
    ).json()
    engine = diff["comparisons"][0]
    assert engine["lhs"]["pending_repair"] is True and engine["lhs"]["version"] == "v2"
    assert {k: v for k, v in tree(tmp_path).items() if not k.startswith("d")} == before


@pytest.mark.parametrize(
    "step",
    [
        "after_journal",
        "after_rename:champion.json",
        "after_rename:challengers.json",
        "before_journal_removed",
    ],
)
def test_the_next_promote_completes_the_interrupted_one_first(
    run: Callable[..., Any],
    run_crashing: Callable[..., Any],
    registry: Path,
    tmp_path: Path,
    step: str,
) -> None:
    assert run_crashing(step, *PROMOTE).returncode == 86
    # Approved as "replace v2 with v4": only valid once the interrupted promotion is complete.
    raw = run(
        UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v4",
        "--reason", "next", "--expect-champion", "v2",
    ).json()  # fmt: skip
    assert raw["repaired"] is True
    assert _state(registry) == ("v4", ["v2", "v3", "v1"])
    history = read_history(registry / "decision_engine")
    assert [(h.from_version, h.to_version) for h in history][-2:] == [("v3", "v2"), ("v2", "v4")]
    log = (tmp_path / "logs" / "report_center.log").read_text().splitlines()
    assert len(log) == 2
    assert _hidden(registry) == []


def test_a_torn_history_line_is_replaced_by_the_complete_one(
    run: Callable[..., Any], run_crashing: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    run_crashing("after_rename:challengers.json", *PROMOTE)
    with (registry / "decision_engine" / "history.jsonl").open("a") as handle:
        handle.write('{"model_name": "decision_engine", "decided_at": "20')  # cut short
    run(UI_BRIDGE, "champion").json()
    _assert_completed_once(registry, tmp_path)
    assert (registry / "decision_engine" / "history.jsonl").read_text().count("\n") == 4


def test_a_crash_before_the_journal_leaves_the_old_registry(
    run: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    # What a crash while staging leaves: staged files, no journal.  Not committed.
    directory = registry / "decision_engine"
    (directory / ".champion.json.0123456789abcdef.pending").write_text("{}")
    (directory / ".challengers.json.0123456789abcdef.pending").write_text("{")
    (directory / "..challengers.json.0123456789abcdef.pending.k2j4.partial").write_text("")
    (directory / "..commit.json.x7y8.partial").write_text("{")
    listing = run(UI_BRIDGE, "champion", "--model", "decision_engine").json()
    assert listing["models"][0]["champion"]["version"] == "v3"
    assert "repaired" not in listing
    run(UI_BRIDGE, *PROMOTE).json()
    assert _hidden(registry) == []  # the next commit removed the leftovers
    assert _state(registry)[0] == "v2"


def test_an_unrecoverable_commit_stops_everything(
    run: Callable[..., Any], run_crashing: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    run_crashing("after_rename:champion.json", *PROMOTE)
    (staged,) = (registry / "decision_engine").glob(".challengers.json.*")
    staged.write_text("tampered")
    before = tree(tmp_path)
    line = run(UI_BRIDGE, "champion").assert_error(1)
    assert "matches neither the journal nor its staged copy" in line
    run(UI_BRIDGE, *PROMOTE).assert_error(1)
    assert tree(tmp_path) == before


def test_a_tampered_journal_is_refused(
    run: Callable[..., Any], run_crashing: Callable[..., Any], registry: Path, tmp_path: Path
) -> None:
    run_crashing("after_journal", *PROMOTE)
    journal = registry / "decision_engine" / ".commit.json"
    data = json.loads(journal.read_text())
    data["files"][0]["staged_name"] = "../../../escape"
    journal.write_text(json.dumps(data))
    before = tree(tmp_path)
    assert "unreadable" in run(UI_BRIDGE, "champion").assert_error(1)
    assert tree(tmp_path) == before
