"""The demo tree generator: realistic, deterministic, and usable by the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot_core.demo import DemoTree, generate_demo_tree
from bot_core.reporting import Filters, build_overview, scan_reports

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_tree_has_every_kind_of_report(tmp_path: Path) -> None:
    tree = generate_demo_tree(
        str(tmp_path / "reports"),
        reports=200,
        now=NOW,
        signal_quality_directory=str(tmp_path / "sq"),
    )
    catalog = scan_reports(tree.base_directory)
    kinds = {report.kind for report in catalog.reports}
    assert kinds == {"summary", "orphan", "file"}
    statuses = {report.summary_status for report in catalog.reports}
    assert statuses == {"valid", "missing", "invalid"}
    categories = {report.category for report in catalog.reports}
    assert {
        "daily",
        "smoke",
        "emergency",
        "diagnostics",
        "backtests",
        "standalone.json",
    } <= categories
    identifiers = [report.identifier for report in catalog.reports]
    assert any(ident.endswith("/walk_forward") for ident in identifiers)  # nested reports
    assert any("exports/" in entry.path for r in catalog.reports for entry in r.files)
    assert any(entry.is_link for r in catalog.reports for entry in r.files)
    assert any(entry.path.endswith(".zip") for r in catalog.reports for entry in r.files)
    assert any("\udcff" in entry.path for r in catalog.reports for entry in r.files)
    assert len(catalog.reports) == tree.report_count + sum(
        1 for ident in identifiers if ident.endswith("/walk_forward")
    )
    incident = build_overview(catalog, Filters(query="incident"))
    assert incident.summary.report_count >= 1
    assert {r.category for r in incident.reports} == {"emergency"}
    ages = sorted(
        (NOW.timestamp() - os.stat(p).st_mtime) / 86400 for p in (tmp_path / "sq").iterdir()
    )
    assert ages[0] < 30 < ages[-1] and tree.signal_quality_files == len(ages)


def test_demo_builds_a_model_registry(tmp_path: Path) -> None:
    from bot_core.registry import list_champions

    tree = generate_demo_tree(
        str(tmp_path / "r"), reports=20, now=NOW, registry_directory=str(tmp_path / "quality")
    )
    assert tree.registry_models == ["decision_engine", "risk_model"]
    listing = list_champions(str(tmp_path / "quality"))
    assert {model.model_name for model in listing.models} == {"decision_engine", "risk_model"}
    assert all(model.challengers for model in listing.models)


def test_same_seed_same_tree(tmp_path: Path) -> None:
    first = generate_demo_tree(str(tmp_path / "a"), reports=60, now=NOW, seed=3)
    second = generate_demo_tree(str(tmp_path / "b"), reports=60, now=NOW, seed=3)
    listing = [
        sorted(str(p.relative_to(tmp_path / name)) for p in (tmp_path / name).rglob("*"))
        for name in ("a", "b")
    ]
    assert listing[0] == listing[1]
    assert first.total_bytes == second.total_bytes and first.file_count == second.file_count


def test_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep").write_text("keep")
    done = subprocess.run(
        [sys.executable, "-m", "bot_core.demo", "generate", "--base-dir", "x"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stdout == "" and "not empty" in done.stderr
    assert (tmp_path / "x" / "keep").read_text() == "keep"


def test_command_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot_core.demo",
            "generate",
            "--reports",
            "40",
            "--now",
            "2026-01-15T12:00:00Z",
        ],
        cwd=tmp_path,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    tree = DemoTree.model_validate_json(done.stdout)
    assert tree.base_directory == str(tmp_path / "var/reports")
    assert tree.signal_quality_directory == str(tmp_path / "reports/exchanges/signal_quality")
