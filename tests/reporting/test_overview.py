"""Contract section 3: the overview document, totals, categories, pagination, dashboards."""

from __future__ import annotations

import json
from pathlib import Path

from bot_core.reporting import Overview

from .helpers import cli, report, write


def run_overview(work: Path, *args: str) -> Overview:
    run = cli("overview", *args, cwd=work)
    assert run.code == 0, run.stderr
    assert run.stderr == ""
    return run.model(Overview)


def test_fields_are_the_contracts(work: Path, base: Path) -> None:
    report(base, "daily/a", {"report_date": "2024-05-01"}, {"x.csv": "1"})
    data = cli("overview", cwd=work).json
    assert list(data) == [
        "reports",
        "base_directory",
        "filters",
        "summary",
        "categories",
        "pagination",
        "dashboards",
    ]
    assert data["base_directory"] == str(base)
    assert set(data["reports"][0]) >= {
        "relative_path",
        "category",
        "display_name",
        "summary_path",
        "summary",
        "summary_error",
        "absolute_path",
        "exports",
        "export_count",
        "total_size",
        "updated_at",
        "created_at",
        "has_summary",
        "has_exports",
    }
    assert set(data["reports"][0]["exports"][0]) == {
        "relative_path",
        "absolute_path",
        "size",
        "modified_at",
    }
    assert list(data["dashboards"]) == ["equity_curve", "asset_heatmap"]


def test_summary_and_categories(work: Path, base: Path) -> None:
    report(base, "daily/a", {"x": 1}, {"e.csv": "12345"}, mtime="2024-05-01T00:00:00Z")
    report(base, "daily/b", b"[]", mtime="2024-05-03T00:00:00Z")
    report(base, "diag/c", None, {"p.txt": "123"}, mtime="2024-04-01T00:00:00Z")
    result = run_overview(work, "--limit", "1")
    summary = result.summary
    assert (summary.report_count, summary.category_count, summary.total_size) == (3, 2, 8)
    assert (summary.export_count, summary.has_summary, summary.has_exports) == (2, 2, 2)
    assert (summary.invalid_summary_count, summary.missing_summary_count) == (1, 1)
    assert summary.latest_updated_at.isoformat() == "2024-05-03T00:00:00+00:00"
    assert summary.earliest_updated_at.isoformat() == "2024-04-01T00:00:00+00:00"
    daily, diag = result.categories
    assert (daily.id, daily.label, daily.count, daily.total_size, daily.invalid_summary_count) == (
        "daily",
        "daily",
        2,
        5,
        1,
    )
    assert (diag.id, diag.count, diag.missing_summary_count, diag.has_summary) == ("diag", 1, 1, 0)


def test_empty_tree_has_null_dates(work: Path) -> None:
    result = run_overview(work)
    assert result.summary.latest_updated_at is None and result.categories == []
    assert not result.pagination.has_more and not result.pagination.has_previous


def test_equity_curve_accepts_both_point_shapes(work: Path, base: Path) -> None:
    curve = [
        {"timestamp": "2024-05-01T00:00:00Z", "value": 100},
        ["2024-05-01T01:00:00Z", 101.5],
        ["bad"],
        {"timestamp": "x", "value": 1},
        {"timestamp": "2024-05-01T02:00:00Z", "value": True},
    ]
    report(base, "daily/a", {"report_date": "May 1", "equity_curve": curve})
    points = run_overview(work).dashboards.equity_curve
    assert [(p.timestamp.isoformat(), p.value) for p in points] == [
        ("2024-05-01T00:00:00+00:00", 100.0),
        ("2024-05-01T01:00:00+00:00", 101.5),
    ]
    assert (points[0].source, points[0].category, points[0].label) == ("daily/a", "daily", "May 1")


def test_equity_curve_keeps_at_most_600_points_and_the_last(work: Path, base: Path) -> None:
    curve = [[1_714_521_600 + 60 * n, n] for n in range(1500)]
    report(base, "daily/a", {"equity_curve": curve})
    points = run_overview(work).dashboards.equity_curve
    assert len(points) == 600
    assert points[-1].value == 1499 and points[0].value == 0


def test_asset_heatmap_sums_every_shape(work: Path, base: Path) -> None:
    report(base, "daily/a", {"asset_heatmap": {"BTC": 1.5, "ETH": {"value": 2}}})
    report(
        base,
        "daily/b",
        {"asset_heatmap": [{"asset": "BTC", "value": 1}, {"symbol": "SOL", "value": -3}]},
    )
    cells = {c.asset: c for c in run_overview(work).dashboards.asset_heatmap}
    assert cells["BTC"].value == 2.5 and cells["BTC"].sources == ["daily/a", "daily/b"]
    assert cells["ETH"].value == 2 and cells["SOL"].value == -3 and cells["SOL"].label == "SOL"


def test_dashboards_cover_the_filtered_reports_only(work: Path, base: Path) -> None:
    report(base, "daily/a", {"asset_heatmap": {"BTC": 1}})
    report(base, "smoke/b", {"asset_heatmap": {"ETH": 1}})
    cells = run_overview(work, "--category", "smoke").dashboards.asset_heatmap
    assert [c.asset for c in cells] == ["ETH"]


def test_stdout_is_exactly_one_json_document(work: Path, base: Path) -> None:
    write(base / "r.json", json.dumps({"a": 1}))
    run = cli("overview", cwd=work)
    assert run.stdout.count("\n") == 1
    json.loads(run.stdout)


def test_progress_goes_to_a_terminal_stderr_and_stdout_stays_json(work: Path, base: Path) -> None:
    import os
    import pty
    import subprocess

    from .helpers import UI_BRIDGE

    for index in range(30):
        report(base, f"daily/d{index:02d}", {"n": index})
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [*UI_BRIDGE, "purge", "--dry-run"],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=60,
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert json.loads(done.stdout)["status"] == "preview"
    assert b"scanning directories" in shown and b"checking: 30/30" in shown
    quiet = cli("purge", "--dry-run", cwd=work)  # stderr is a pipe: no progress
    assert quiet.stderr == ""
