"""Contract section 2: filters shared by overview, purge and archive."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot_core.reporting import Overview

from .helpers import cli, report, snapshot


@pytest.fixture
def tree(base: Path) -> Path:
    report(
        base,
        "daily/a",
        {"report_date": "b-day", "env": "paper", "pnl": 12.5},
        {"exports/x.csv": "xxxx"},
        mtime="2024-04-01T00:00:00Z",
    )
    report(
        base,
        "daily/b",
        {"report_date": "A-day", "env": "live", "nested": {"env": "paper"}},
        mtime="2024-04-02T00:00:00Z",
    )
    report(
        base,
        "Smoke/c",
        {"status": "failed", "ok": False},
        {"log.txt": "ll"},
        mtime="2024-03-31T23:59:59Z",
    )
    report(base, "smoke/d", b"{broken", mtime="2024-04-03T12:00:00Z")
    report(base, "diag/e", None, {"cpu.prof": "123456789"}, mtime="2024-04-05T00:00:00Z")
    return base


def paths(work: Path, *args: str) -> list[str]:
    run = cli("overview", *args, cwd=work)
    assert run.code == 0, run.stderr
    return [item.relative_path for item in run.model(Overview).reports]


def test_default_sort_is_updated_at_desc(work: Path, tree: Path) -> None:
    assert paths(work) == ["diag/e", "smoke/d", "daily/b", "daily/a", "Smoke/c"]


def test_since_until_inclusive_and_date_alone_is_midnight_utc(work: Path, tree: Path) -> None:
    assert paths(work, "--since", "2024-04-01", "--until", "2024-04-02") == ["daily/b", "daily/a"]
    # 2024-03-31T23:59:59Z is before 2024-04-01 00:00 UTC
    assert "Smoke/c" not in paths(work, "--since", "2024-04-01")
    assert paths(work, "--until", "2024-03-31T23:59:59Z") == ["Smoke/c"]


def test_offsets_and_naive_datetimes(work: Path, tree: Path) -> None:
    # 2024-04-02T02:00+02:00 == 2024-04-02T00:00Z: inclusive
    assert paths(
        work, "--since", "2024-04-02T02:00:00+02:00", "--until", "2024-04-02T00:00:00"
    ) == ["daily/b"]


def test_categories_repeatable_and_case_insensitive(work: Path, tree: Path) -> None:
    assert paths(work, "--category", "SMOKE") == ["smoke/d", "Smoke/c"]
    assert paths(work, "--category", "daily", "--category", "Diag") == [
        "diag/e",
        "daily/b",
        "daily/a",
    ]


def test_summary_status_and_has_exports(work: Path, tree: Path) -> None:
    assert paths(work, "--summary-status", "invalid") == ["smoke/d"]
    assert paths(work, "--summary-status", "missing") == ["diag/e"]
    assert paths(work, "--summary-status", "valid") == ["daily/b", "daily/a", "Smoke/c"]
    assert paths(work, "--has-exports", "no") == ["smoke/d", "daily/b"]
    assert paths(work, "--has-exports", "yes") == ["diag/e", "daily/a", "Smoke/c"]


def test_query_matches_identifier_category_and_top_level_scalars(work: Path, tree: Path) -> None:
    assert paths(work, "--query", "PAPER") == ["daily/a"]  # nested values do not count
    assert paths(work, "--query", "12.5") == ["daily/a"]
    assert paths(work, "--query", "false") == ["Smoke/c"]
    assert paths(work, "--query", "diag") == ["diag/e"]
    assert paths(work, "--query", "/b") == ["daily/b"]


def test_sorts_and_directions(work: Path, tree: Path) -> None:
    # name sorts by display_name, case-insensitive, ties by identifier
    assert paths(work, "--sort", "name", "--sort-direction", "asc") == [
        "daily/b",
        "daily/a",
        "diag/e",
        "Smoke/c",
        "smoke/d",
    ]
    assert paths(work, "--sort", "size", "--sort-direction", "desc")[:2] == ["diag/e", "daily/a"]
    assert paths(work, "--sort", "created_at", "--sort-direction", "asc")[0] == "Smoke/c"


def test_filter_then_sort_then_page(work: Path, tree: Path) -> None:
    run = cli(
        "overview",
        "--category",
        "daily",
        "--category",
        "smoke",
        "--sort",
        "updated_at",
        "--sort-direction",
        "asc",
        "--limit",
        "2",
        "--offset",
        "1",
        cwd=work,
    )
    result = run.model(Overview)
    assert [r.relative_path for r in result.reports] == ["daily/a", "daily/b"]
    assert result.pagination.model_dump() == {
        "total_count": 4,
        "returned_count": 2,
        "limit": 2,
        "offset": 1,
        "has_more": True,
        "has_previous": True,
    }
    assert result.summary.report_count == 4  # over all filtered reports, not the page


def test_filters_are_echoed_normalised(work: Path, tree: Path) -> None:
    data = cli(
        "overview",
        "--since",
        "2024-04-01T02:00:00+02:00",
        "--category",
        "Daily",
        "--query",
        "   ",
        cwd=work,
    ).json
    assert data["filters"] == {
        "since": "2024-04-01T00:00:00+00:00",
        "until": None,
        "categories": ["daily"],
        "summary_status": "any",
        "limit": None,
        "offset": None,
        "sort_key": "updated_at",
        "sort_direction": "desc",
        "query": None,
        "has_exports": "any",
    }


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--since", "yesterday"], "--since"),
        (["--until", "2024-13-01"], "--until"),
        (["--since", "2024-05-02", "--until", "2024-05-01"], "after --until"),
        (["--limit", "0"], "--limit"),
        (["--limit", "ten"], "--limit"),
        (["--offset", "-1"], "--offset"),
        (["--sort", "colour"], "--sort"),
        (["--sort-direction", "up"], "--sort-direction"),
        (["--summary-status", "broken"], "--summary-status"),
        (["--has-exports", "maybe"], "--has-exports"),
        (["--category", " "], "--category"),
    ],
)
@pytest.mark.parametrize("command", ["overview", "purge", "archive"])
def test_invalid_filters_exit_2_with_one_line(
    work: Path, tree: Path, command: str, args: list[str], fragment: str
) -> None:
    before = snapshot(work)
    line = cli(command, *args, cwd=work).assert_clean_error(2)
    assert fragment in line
    assert snapshot(work) == before
