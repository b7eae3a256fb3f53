"""Outages: the Prefect API unreachable at start and during a pause; S3 gone mid-run.

* API unreachable at start: ``flows run``, ``pending`` and ``approve`` end with one line
  naming the server, exit 1, and nothing on disk changes.
* API gone during a pause: a purge waits for approval, its Prefect server (SQLite) is
  stopped for a while and started again on the same address and database; the run must
  then either resume and complete after the approval, or fail with a one-line error, with
  nothing deleted that has no verified backup.
* S3 gone mid-run: the audit store is SeaweedFS; it stops while the run waits for approval.
  The remaining records are spooled locally, the run completes (backups are local), and
  once S3 is back the spool flushes and every run's chain verifies.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot_core.audit import SpoolingAuditStore, load_settings, open_store, verify_records
from bot_core.reporting import parse_filters
from flows._approval import ApprovalPolicy
from flows._client import decide
from flows.purge import purge
from tests.deploy.pgserver import PrefectServer, prefect_env, wait_until
from tests.flows.conftest import Tree, run_in_background, wait_for_pause
from tests.flows.conftest import tree as tree  # the flows' small report tree fixture
from tests.reliability._figures import record
from tests.s3server import SeaweedServer
from tests.s3server import s3_server as s3_server  # the session's SeaweedFS


def _fingerprint(root: Path) -> dict[str, str]:
    return {
        str(Path(d, n).relative_to(root)): hashlib.sha256(Path(d, n).read_bytes()).hexdigest()
        for d, _, names in os.walk(root)
        for n in names
    }


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _flows(*args: str) -> list[str]:
    return [sys.executable, "-m", "flows", *args]


def _demo(root: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "bot_core.demo", "generate", "--reports", "40"],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_an_unreachable_api_at_start_is_one_clear_line(tmp_path: Path) -> None:
    _demo(tmp_path)
    url = f"http://127.0.0.1:{_closed_port()}/api"
    env = prefect_env(tmp_path / "home", url)
    commands = [
        _flows("run", "purge", "--category", "smoke", "--approve-as", "bob"),
        _flows("pending"),
        _flows(
            "approve", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "--approver", "b", "--reason", "r"
        ),
    ]
    before = _fingerprint(tmp_path / "var")
    problems = []
    for argv in commands:
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
        lines = done.stderr.strip().splitlines()
        if done.returncode != 1 or done.stdout or "Traceback" in done.stderr:
            problems.append(f"{argv[3:5]}: exit {done.returncode} {done.stderr[-300:]!r}")
        elif len(lines) != 1 or url not in lines[0]:
            problems.append(f"{argv[3:5]}: {done.stderr!r}")
    if _fingerprint(tmp_path / "var") != before:
        problems.append("the disk changed")
    record(
        "outages",
        "Prefect API unreachable at start (run, pending, approve)",
        cases=len(commands),
        failures=len(problems),
        data_lost=0,
        detail="exit 1, one line naming the API URL, nothing changed",
    )
    assert not problems, problems


@pytest.mark.slow
def test_an_api_outage_during_the_pause_resumes_or_fails_cleanly(tmp_path: Path) -> None:
    _demo(tmp_path)
    home = tmp_path / "prefect-home"
    server = PrefectServer(home)
    server.wait_healthy()
    env = prefect_env(tmp_path / "client-home", server.api_url)
    reports_before = _fingerprint(tmp_path / "var/reports")
    flow = subprocess.Popen(
        _flows(
            "run",
            "purge",
            *("--category", "smoke", "--requester", "alice"),
            *("--timeout", "240", "--poll-interval", "1", "--no-concurrency-limit"),
        ),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    restarted: PrefectServer | None = None
    try:

        def paused_run() -> str | None:
            listed = subprocess.run(_flows("pending"), cwd=tmp_path, env=env, capture_output=True)
            runs = json.loads(listed.stdout or "{}").get("runs", [])
            return runs[0]["flow_run_id"] if runs else None

        run_id = wait_until(paused_run, timeout=120, what="the purge to pause")
        server.stop()
        time.sleep(8)  # the paused run polls a server that is gone
        restarted = PrefectServer(home, port=server.port)
        restarted.wait_healthy()
        approve = subprocess.run(
            _flows("approve", run_id, "--approver", "bob", "--reason", "after the outage"),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        out, err = flow.communicate(timeout=180)
    finally:
        if flow.poll() is None:
            flow.kill()
        for running in (server, restarted):
            if running is not None:
                running.stop()
    resumed = flow.returncode == 0 and json.loads(out)["outcome"] == "completed"
    clean_failure = (
        flow.returncode != 0
        and "Traceback" not in err
        and _fingerprint(tmp_path / "var/reports") == reports_before
    )
    record(
        "outages",
        "Prefect API stopped and restarted during the approval pause",
        cases=1,
        failures=0 if (resumed or clean_failure) else 1,
        data_lost=0,
        detail="resumed and completed" if resumed else "failed cleanly, nothing deleted",
    )
    assert approve.returncode == 0 or not resumed, approve.stderr
    assert resumed or clean_failure, (flow.returncode, err[-2000:])


def test_s3_gone_mid_run_spools_then_flushes(
    s3_server: SeaweedServer,
    prefect_api: None,
    tree: Tree,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket = s3_server.create_bucket("outage")
    for name, value in s3_server.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BOT_CORE_AUDIT_URL", f"s3://{bucket}/audit")
    monkeypatch.setenv("BOT_CORE_AUDIT_BACKUP_URL", str(tmp_path / "backups"))
    monkeypatch.setenv("BOT_CORE_AUDIT_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("BOT_CORE_AUDIT_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("BOT_CORE_AUDIT_MAX_ATTEMPTS", "1")
    running = run_in_background(
        lambda: purge(
            filters=parse_filters(categories=["smoke"], until="2024-04-01"),
            base_dir=str(tree.base),
            signal_quality_dir=str(tree.signal_quality),
            policy=ApprovalPolicy(requester="alice", timeout_seconds=60, poll_interval_seconds=1),
            operations_log=str(tree.ops_log),
            concurrency_limit=None,
        )
    )
    summary = wait_for_pause(f"s3://{bucket}/audit")
    with s3_server.stopped():
        decide(summary.flow_run_id, decision="approve", approver="bob", reason="S3 is down")
        report = running.join(timeout=120)
        store = open_store(load_settings())
        assert isinstance(store, SpoolingAuditStore)
        spooled = len(store.spooled_keys())
    store = open_store(load_settings())
    assert isinstance(store, SpoolingAuditStore)
    flushed = store.flush()
    verification = verify_records(store)
    problems = []
    if report.outcome != "completed":
        problems.append(f"outcome {report.outcome}: {report.message}")
    if spooled < 4:
        problems.append(f"only {spooled} records spooled while S3 was down")
    if flushed.remaining_count != 0 or store.spooled_keys():
        problems.append(f"flush left {flushed.remaining_count}")
    if verification.status != "ok" or verification.record_count != 6:
        problems.append(f"chain {verification.status}, {verification.record_count} records")
    record(
        "outages",
        "S3 audit store stopped mid-run (spool, then flush)",
        cases=1,
        failures=len(problems),
        data_lost=0 if not problems else 1,
        detail=f"{spooled} records spooled and flushed; chain verifies",
    )
    assert not problems, problems
