"""Races: two purges of one base at once, and reports that change after the plan was sealed.

1. Two real ``ui_bridge purge`` processes start together on the same tree with the same
   filters.  The base-directory lock makes one wait for the other; the second finds the
   targets gone (``not_found``, not a failure).  Nothing is deleted twice, neither reports
   an error, and together they delete exactly the planned reports.
2. A plan is sealed, then one of its reports is modified (a file grows, a file appears, a
   file is replaced, a file is removed) before execution.  That target is left exactly as
   it now is, reported ``error`` with the reason; every other target is deleted.  A report
   that appears inside a target (a new nested ``summary.json``) is another report, not
   owned by the target: it survives intact while the target's planned files go.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot_core.reporting import execute_purge, parse_filters, plan_purge, scan_reports
from tests.reliability._figures import record, scaled

NOW = datetime(2024, 6, 1, tzinfo=UTC)
PURGE = [sys.executable, "-m", "bot_core.reporting.ui_bridge", "purge"]


def _make_tree(base: Path, count: int, rng: random.Random) -> list[str]:
    """``count`` old smoke reports (a few files each) and one new one; the old ids."""
    old = datetime(2024, 3, 1, tzinfo=UTC).timestamp()
    identifiers = []
    for index in range(count):
        report = base / "smoke" / f"2024-03-01_{index:04d}"
        (report / "exports").mkdir(parents=True)
        for name in ("summary.json", "ledger.csv", "exports/trades.csv"):
            (report / name).write_bytes(os.urandom(rng.randint(10, 4000)))
            os.utime(report / name, (old, old))
        (report / "summary.json").write_text(json.dumps({"run": index}))
        os.utime(report / "summary.json", (old, old))
        identifiers.append(f"smoke/{report.name}")
    keep = base / "smoke" / "2024-05-01_keep"
    keep.mkdir(parents=True)
    (keep / "summary.json").write_text("{}")
    return identifiers


def _files(root: Path) -> dict[str, str]:
    return {
        str(Path(d, n).relative_to(root)): hashlib.sha256(Path(d, n).read_bytes()).hexdigest()
        for d, _, names in os.walk(root)
        for n in names
    }


def test_two_purges_at_once_never_delete_twice_or_fail(tmp_path: Path) -> None:
    rounds = scaled(reduced=3, long=20)
    failures: list[str] = []
    lost = 0
    for round_number in range(rounds):
        base = tmp_path / f"round{round_number}" / "reports"
        rng = random.Random(round_number)
        targets = _make_tree(base, 120, rng)
        kept_before = _files(base / "smoke" / "2024-05-01_keep")
        argv = [*PURGE, "--base-dir", str(base), "--category", "smoke", "--until", "2024-04-01"]
        first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        second = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        outputs = [process.communicate(timeout=120) for process in (first, second)]
        codes = [first.returncode, second.returncode]
        results = [json.loads(out) for out, _ in outputs if out]
        deleted = [
            t["relative_path"] for r in results for t in r["targets"] if t["status"] == "deleted"
        ]
        statuses = sorted(r["status"] for r in results)
        problems = []
        if codes != [0, 0] or len(results) != 2:
            problems.append(f"exit codes {codes}, stderr {[err[-200:] for _, err in outputs]}")
        if sorted(deleted) != sorted(targets):
            problems.append(
                f"deleted {len(deleted)} (unique {len(set(deleted))}) of {len(targets)}"
            )
        if any(r["errors"] for r in results if r.get("errors")):
            problems.append(f"errors {[r.get('errors') for r in results]}")
        if any(t["status"] == "error" for r in results for t in r["targets"]):
            problems.append("a target reported error")
        if any((base / t).exists() for t in targets):
            problems.append("a planned report survived both purges")
        if _files(base / "smoke" / "2024-05-01_keep") != kept_before:
            lost += 1
            problems.append("the report outside the filters changed")
        if problems:
            failures.append(f"round {round_number} ({statuses}): {problems}")
    record(
        "races",
        "two purges of one base at once (real processes)",
        cases=rounds,
        failures=len(failures),
        data_lost=lost,
        detail="120 targets per round; the second finds them not_found",
    )
    assert not failures, failures


def _modify(report: Path, how: str, rng: random.Random) -> None:
    if how == "grow":
        with open(report / "ledger.csv", "ab") as handle:
            handle.write(b"late,row\n")
    elif how == "new-file":
        (report / f"late-{rng.randint(0, 10**6)}.csv").write_bytes(b"late")
    elif how == "nested-summary":
        (report / "exports" / "inner").mkdir(exist_ok=True)
        (report / "exports" / "inner" / "summary.json").write_text("{}")
    elif how == "replace":
        replacement = report / "ledger.csv.new"
        replacement.write_bytes(b"replaced")
        os.replace(replacement, report / "ledger.csv")
    elif how == "remove-file":
        os.unlink(report / "exports" / "trades.csv")


def test_a_report_modified_after_the_plan_is_left_alone(tmp_path: Path) -> None:
    cases = scaled(reduced=15, long=200)
    rng = random.Random(7)
    failures: list[str] = []
    lost = 0
    kinds = ["grow", "new-file", "nested-summary", "replace", "remove-file"]
    for case in range(cases):
        base = tmp_path / f"case{case}" / "reports"
        targets = _make_tree(base, 6, rng)
        plan = plan_purge(
            scan_reports(str(base)),
            parse_filters(categories=["smoke"], until="2024-04-01"),
            now=NOW,
            signal_quality_dir=str(tmp_path / "no-signal-quality"),
            signal_quality_retention_days=30,
        )
        victim = rng.choice(targets)
        how = kinds[case % len(kinds)]
        _modify(base / victim, how, rng)
        changed_state = _files(base / victim)
        result = execute_purge(plan, dry_run=False)
        by_path = {t.relative_path: t for t in result.targets}
        problems = []
        if how == "nested-summary":
            nested = "exports/inner/summary.json"
            if _files(base / victim) != {nested: changed_state[nested]}:
                lost += 1
                problems.append(f"{how}: the new nested report did not survive alone")
        elif by_path[victim].status != "error" or not by_path[victim].error:
            problems.append(f"{how}: victim status {by_path[victim].status}")
        if how != "nested-summary" and _files(base / victim) != changed_state:
            lost += 1
            problems.append(f"{how}: the modified report was touched")
        others = [t for t in targets if t != victim]
        if any(by_path[t].status != "deleted" or (base / t).exists() for t in others):
            problems.append(f"{how}: an unmodified target was not deleted")
        if problems:
            failures.append(f"case {case}: {problems}")
    record(
        "races",
        "report modified between plan and execution",
        cases=cases,
        failures=len(failures),
        data_lost=lost,
        detail="grow, new file, nested summary, replaced file, removed file",
    )
    assert not failures, failures
