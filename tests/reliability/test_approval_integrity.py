"""Approval integrity: every way an approval can fail leaves the disk as it was, and the
audit's ``approval`` record says why.

For the purge, the archive with ``delete_after`` and the promotion, each flow runs against
the session's real Prefect API, pauses, and is answered from a second client with: an
approval for another plan sha256, a self-approval, a rejection, no answer (timeout), and (for
the flows with caps) an approval of a plan over a cap without the override.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot_core.audit import LocalAuditStore, verify_records
from bot_core.registry import build_registry_from_reports, list_champions
from bot_core.reporting import parse_filters
from flows._approval import ApprovalPolicy, Caps
from flows._client import decide
from flows.archive import archive
from flows.promote import promote_champion
from flows.purge import purge
from tests.flows.conftest import Tree, run_in_background, wait_for_pause
from tests.flows.conftest import tree as tree  # the flows' small report tree fixture
from tests.reliability._figures import record

pytestmark = pytest.mark.usefixtures("prefect_api")

SAMPLE_REPORTS = Path(__file__).parents[1] / "registry" / "sample_reports.json"

SCENARIOS = ["wrong-plan", "self-approval", "reject", "timeout", "cap-without-override"]
EXPECTED = {
    "wrong-plan": ("refused", "not this plan"),
    "self-approval": ("refused", "self-approval is not allowed"),
    "reject": ("rejected", "not needed"),
    "timeout": ("timed_out", "no decision within"),
    "cap-without-override": ("refused", "exceeds a cap"),
}
_RESULTS: dict[str, list[int]] = {"cases": [], "failures": [], "lost": []}


def _fingerprint(root: Path) -> dict[str, str]:
    seen: dict[str, str] = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = Path(directory, name)
            seen[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def _policy(scenario: str) -> ApprovalPolicy:
    return ApprovalPolicy(
        requester="alice",
        timeout_seconds=2 if scenario == "timeout" else 60,
        poll_interval_seconds=1,
    )


def _caps(scenario: str) -> Caps | None:
    return Caps(max_targets=1) if scenario == "cap-without-override" else None


def _start(flow_name: str, scenario: str, tree: Tree, tmp_path: Path) -> Callable[[], Any]:
    if flow_name == "purge":
        return lambda: purge(
            filters=parse_filters(categories=["smoke"], until="2024-04-01"),
            base_dir=str(tree.base),
            signal_quality_dir=str(tree.signal_quality),
            caps=_caps(scenario),
            policy=_policy(scenario),
            audit_url=str(tree.audit),
            operations_log=str(tree.ops_log),
            concurrency_limit=None,
        )
    if flow_name == "archive":
        return lambda: archive(
            filters=parse_filters(categories=["smoke"], until="2024-04-01"),
            base_dir=str(tree.base),
            destination=str(tmp_path / "archives"),
            format="zip",
            delete_after=True,
            caps=_caps(scenario),
            policy=_policy(scenario),
            audit_url=str(tree.audit),
            operations_log=str(tree.ops_log),
            concurrency_limit=None,
        )
    quality = tmp_path / "quality"
    build_registry_from_reports(str(quality), json.loads(SAMPLE_REPORTS.read_text()))
    listing = list_champions(str(quality), model=["risk_model"]).models[0]
    version = listing.challengers[0].report.version
    return lambda: promote_champion(
        model="risk_model",
        version=version,
        reason="integrity check",
        quality_dir=str(quality),
        registry_audit_dir=str(tmp_path / "promotions"),
        registry_log_path=str(tmp_path / "report_center.log"),
        policy=_policy(scenario),
        audit_url=str(tree.audit),
        operations_log=str(tree.ops_log),
        concurrency_limit=None,
    )


def _answer(scenario: str, flow_run_id: str) -> None:
    if scenario == "timeout":
        return
    approver = "alice" if scenario == "self-approval" else "bob"
    decide(
        flow_run_id,
        decision="reject" if scenario == "reject" else "approve",
        approver=approver,
        reason="not needed" if scenario == "reject" else "looks fine",
        plan_sha256="0" * 64 if scenario == "wrong-plan" else None,
    )


def _approval_record(audit: Path) -> dict[str, Any]:
    store = LocalAuditStore(str(audit))
    verification = verify_records(store)
    assert verification.status == "ok", verification
    (key,) = [k for k in store.list_keys() if k.endswith("-approval.json")]
    document: dict[str, Any] = json.loads(store.get_bytes(key))["document"]
    return document


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("flow_name", ["purge", "archive", "promote"])
def test_a_failed_approval_changes_nothing_and_says_why(
    flow_name: str, scenario: str, tree: Tree, tmp_path: Path
) -> None:
    if flow_name == "promote" and scenario == "cap-without-override":
        pytest.skip("a promotion has no caps")
    watched = tmp_path
    flow_call = _start(flow_name, scenario, tree, tmp_path)
    before = _fingerprint(watched)
    running = run_in_background(flow_call)
    summary = wait_for_pause(str(tree.audit))
    if scenario == "cap-without-override":
        assert summary.cap_violations, "the plan must exceed the cap for this scenario"
    _answer(scenario, summary.flow_run_id)
    report = running.join(timeout=90)

    outcome, why = EXPECTED[scenario]
    after = _fingerprint(watched)
    lost = sum(1 for key, value in before.items() if after.get(key) != value)
    created = sorted(
        key for key in after if key not in before and not key.startswith(("audit/", "ops/"))
    )
    approval = _approval_record(tree.audit)
    problems = []
    if report.outcome != outcome:
        problems.append(f"outcome {report.outcome}")
    if approval["outcome"] != outcome:
        problems.append(f"approval record outcome {approval['outcome']}")
    said = f"{approval.get('refusal') or ''} {approval.get('reason') or ''}"
    if why not in said:
        problems.append(f"the audit does not say why: {said!r}")
    if lost or created:
        problems.append(f"disk changed: lost {lost}, created {created[:3]}")
    _RESULTS["cases"].append(1)
    _RESULTS["failures"].append(1 if problems else 0)
    _RESULTS["lost"].append(lost)
    assert not problems, problems


def test_zz_record_approval_figures() -> None:
    """Adds the approval-integrity row once the scenarios above ran."""
    if not _RESULTS["cases"]:
        pytest.skip("no approval scenario ran")
    record(
        "approval integrity",
        "wrong hash, self-approval, reject, timeout, cap without override x 3 flows",
        cases=sum(_RESULTS["cases"]),
        failures=sum(_RESULTS["failures"]),
        data_lost=sum(_RESULTS["lost"]),
        detail="disk fingerprint unchanged; approval record names the reason",
    )
