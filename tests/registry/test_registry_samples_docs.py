"""The sample registry, the runbook's commands on a fresh clone, the docs and the exports."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bot_core.errors
import bot_core.registry
import bot_core.runtime
from bot_core.registry import (
    ChampionListing,
    PromoteResult,
    QualityReport,
    build_registry_from_reports,
    load_registry,
)
from bot_core.registry._docs import render_schemas
from bot_core.reporting.ui_bridge import build_parser as reporting_parser
from bot_core.runtime.ui_bridge import build_parser as runtime_parser
from scripts.audit.champion_diff import build_parser as diff_parser

from .helpers import (
    CHAMPION_DIFF,
    REPO,
    RUNTIME,
    SAMPLE_REGISTRY,
    SAMPLE_REPORTS,
    UI_BRIDGE,
)

DOCS = REPO / "docs" / "registry.md"


def test_sample_registry_is_what_the_update_rule_builds(tmp_path: Path) -> None:
    build_registry_from_reports(tmp_path, json.loads(SAMPLE_REPORTS.read_text()))
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    shipped = sorted(
        p.relative_to(SAMPLE_REGISTRY) for p in SAMPLE_REGISTRY.rglob("*") if p.is_file()
    )
    assert built == shipped
    for relative in built:
        assert (tmp_path / relative).read_bytes() == (SAMPLE_REGISTRY / relative).read_bytes()


def test_sample_registry_has_two_complete_models() -> None:
    for model in ("decision_engine", "risk_model"):
        state = load_registry(SAMPLE_REGISTRY, model)
        assert state.champion is not None and state.challengers is not None
        reports: list[QualityReport] = [state.champion.report] + [
            entry.report for entry in state.challengers.entries
        ]
        assert len(reports) >= 3
        for item in reports:
            assert item.version and item.parameters and item.metrics and item.status
    assert "v2" in [
        entry.report.version
        for entry in load_registry(SAMPLE_REGISTRY, "decision_engine").challengers.entries  # type: ignore[union-attr]
    ]


def test_runbook_commands_on_a_fresh_clone(run: Callable[..., Any], tmp_path: Path) -> None:
    # 6.4 / 9.x with the sample copied to the default registry location.
    shutil.copytree(SAMPLE_REGISTRY, tmp_path / "var" / "models" / "quality")
    listing = ChampionListing.model_validate(run(UI_BRIDGE, "champion").json())
    assert [m.model_name for m in listing.models] == ["decision_engine", "risk_model"]
    run(UI_BRIDGE, "champion", "--model", "decision_engine").json()
    promoted = PromoteResult.model_validate(
        run(
            UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v2",
            "--reason", "Manual override",
        ).json()
    )  # fmt: skip
    assert Path(promoted.audit_entry.summary_path).is_file()
    diff = run(
        CHAMPION_DIFF, "--lhs", SAMPLE_REGISTRY, "--rhs", "var/models/quality",
        "--model", "decision_engine", "--model", "risk_model",
    ).json()  # fmt: skip
    assert diff["comparisons"][0]["differences"]["version_change"] == {"from": "v3", "to": "v2"}
    snapshot = run(RUNTIME, "snapshot", "--model", "decision_engine", "--dry-run").json()
    assert snapshot["recommendations"][0]["version"] == "v3"
    run(
        UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v3",
        "--reason", "Degradacja championa", "--dry-run",
    ).json()  # fmt: skip
    done = run(
        UI_BRIDGE, "promote", "--model", "decision_engine", "--version", "v3",
        "--reason", "Degradacja championa – zgoda komitetu",
    ).json()  # fmt: skip
    assert done["reason"] == "Degradacja championa – zgoda komitetu"
    log = (tmp_path / "logs" / "report_center.log").read_text(encoding="utf-8")
    assert "zgoda komitetu" in log.splitlines()[-1]
    assert (
        len(list((tmp_path / "audit" / "champion_promotions" / "decision_engine").iterdir())) == 2
    )


# --- documentation ---------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _commands() -> dict[str, argparse.ArgumentParser]:
    reporting = _subcommands(reporting_parser())
    return {
        "champion": reporting["champion"],
        "promote": reporting["promote"],
        "snapshot": _subcommands(runtime_parser())["snapshot"],
        "champion_diff": diff_parser(),
    }


@pytest.mark.parametrize("name", ["champion", "promote", "snapshot", "champion_diff"])
def test_every_command_and_option_is_documented(name: str) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    parser = _commands()[name]
    assert parser.description
    assert f"{name}" in docs
    for action in parser._actions:
        if action.dest in ("help",):
            continue
        assert action.help, f"{name} {action.option_strings} has no help text"
        for option in action.option_strings:
            assert option in docs, f"{option} of {name} is not in docs/registry.md"


def test_generated_schemas_in_the_docs_are_current() -> None:
    assert render_schemas() in DOCS.read_text(encoding="utf-8"), (
        "run: python -m bot_core.registry._docs"
    )


# --- exports ---------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [bot_core.registry, bot_core.runtime, bot_core.errors])
def test_exports_are_sorted_and_exist(module: Any) -> None:
    names = module.__all__
    order = sorted(names, key=lambda name: (not name.isupper(), not name[0].isupper(), name))
    assert names == order
    for name in names:
        assert hasattr(module, name)


def test_error_tree_docstring_names_every_error() -> None:
    doc = bot_core.errors.__doc__ or ""
    for name in bot_core.errors.__all__:
        assert name in doc
        error = getattr(bot_core.errors, name)
        assert error.__doc__
    assert bot_core.errors.ChampionMismatchError.exit_code == 2
    assert bot_core.errors.RegistryRecoveryError.exit_code == 1
