"""``python -m flows`` from second processes against the session's Prefect API."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from prefect.settings import PREFECT_API_URL

from flows.purge import PurgeReport
from tests.flows.conftest import Tree, wait_for_pause
from tests.flows.test_purge import start_purge


def flows_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m flows ARGS`` in a new process talking to the same API."""
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    return subprocess.run(
        [sys.executable, "-m", "flows", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_pending_and_approve_from_another_process(tree: Tree) -> None:
    running = start_purge(tree)
    summary = wait_for_pause(str(tree.audit))

    listed = flows_cli("pending")
    assert listed.returncode == 0, listed.stderr
    runs = {run["flow_run_id"]: run for run in json.loads(listed.stdout)["runs"]}
    assert runs[summary.flow_run_id]["plan"]["plan_sha256"] == summary.plan_sha256

    approved = flows_cli(
        "approve", summary.flow_run_id, "--approver", "bob", "--reason", "from the shell"
    )
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["plan_sha256"] == summary.plan_sha256
    report = running.join()
    assert report.outcome == "completed"
    assert report.approval.reason == "from the shell"


def test_run_purge_with_approve_as(tree: Tree) -> None:
    done = flows_cli(
        "run",
        "purge",
        "--category",
        "smoke",
        "--until",
        "2024-04-01",
        "--base-dir",
        str(tree.base),
        "--signal-quality-dir",
        str(tree.signal_quality),
        "--requester",
        "alice",
        "--approve-as",
        "bob",
        "--audit-url",
        str(tree.audit),
        "--operations-log",
        str(tree.ops_log),
    )
    assert done.returncode == 0, done.stderr
    report = PurgeReport.model_validate_json(done.stdout)
    assert report.outcome == "completed"
    assert report.approval is not None and report.approval.method == "approve_as"
    assert all(not (tree.base / identifier).exists() for identifier in tree.old_smoke)


def test_approve_an_unknown_run_is_exit_2() -> None:
    done = flows_cli(
        "approve", "00000000-0000-0000-0000-000000000000", "--approver", "b", "--reason", "r"
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: no flow run")
