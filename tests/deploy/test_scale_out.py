"""The scale-out path of docs/deployment.md, end to end on loopback.

A Prefect server on PostgreSQL, the ``maintenance`` process work pool, ``prefect deploy`` of
``deploy/prefect.yaml`` from the repository root, and two workers (``host-a``, ``host-b``)
standing in for two hosts, each with its own ``PREFECT_HOME`` and the audit store and
backups on S3 (SeaweedFS, Object Lock).  Why end to end: what can break here is the seams
(the pull step resolved on the worker, parameters merged by the server, the approval sent
from another shell, records written to S3 from a worker's flow-run process), and only real
servers show them.  Everything is stopped at the end, by PID, even when the test fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.schedules import CronSchedule
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.deploy.pgserver import (
    ManagedProcess,
    PostgresServer,
    PrefectServer,
    find_postgres_bin,
    prefect_cli,
    prefect_env,
    stopping,
    wait_until,
)
from tests.s3server import REGION, SeaweedServer, s3_server

__all__ = ["s3_server"]  # the session's SeaweedFS fixture, used below

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
PREFECT_FILE = "deploy/prefect.yaml"
KEEP_NEWEST = 5  # smoke-weekly's keep_newest_per_category cap
SIGNAL_QUALITY_RETENTION = timedelta(days=30)
DEPLOYMENTS = (
    "purge/signal-quality-nightly",
    "purge/smoke-weekly",
    "archive/daily-archive-zip",
    "promote/promote-on-demand",
    "restore/restore-on-demand",
)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the module's Prefect server; skipped only without binaries."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL binaries (/usr/lib/postgresql/*/bin); CI installs them")
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _python(
    args: list[str], *, env: dict[str, str], cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stderr}"
    return result


def _smoke_split(reports: Path, env: dict[str, str], cwd: Path) -> tuple[list[str], str]:
    """The smoke reports older than the newest ``KEEP_NEWEST``, and the ``until`` selecting them.

    Read through the same overview the flow records, so "old" means what the catalog means.
    """
    overview = _python(
        ["-m", "bot_core.reporting.ui_bridge", "overview", "--category", "smoke", "--base-dir",
         str(reports), "--limit", "1000"], env=env, cwd=cwd,
    )  # fmt: skip
    smoke = sorted(
        json.loads(overview.stdout)["reports"], key=lambda r: r["updated_at"], reverse=True
    )
    assert len(smoke) > KEEP_NEWEST, "the demo tree has too few smoke reports"
    old = smoke[KEEP_NEWEST:]
    # Halfway between the newest old report and the oldest kept one: no rounding of either
    # timestamp on its way through the API can move a report across the line.
    newest_old = datetime.fromisoformat(old[0]["updated_at"])
    oldest_kept = datetime.fromisoformat(smoke[KEEP_NEWEST - 1]["updated_at"])
    assert oldest_kept > newest_old
    until = newest_old + (oldest_kept - newest_old) / 2
    return sorted(r["relative_path"] for r in old), until.isoformat()


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``root``: (size, mtime in ns), to show what was left untouched."""
    return {
        path.relative_to(root).as_posix(): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in root.rglob("*")
        if not path.is_dir() or path.is_symlink()
    }


def _cron(schedule: object) -> tuple[str, str | None]:
    assert isinstance(schedule, CronSchedule), schedule
    return schedule.cron, schedule.timezone


def _state(run_id: UUID) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def _wait_for_state(run_id: UUID, wanted: str, *, timeout: float, workers: list[Any]) -> FlowRun:
    def check() -> FlowRun | None:
        run = _state(run_id)
        name = run.state.type.value if run.state else "?"
        if name == wanted:
            return run
        if name in ("FAILED", "CRASHED", "CANCELLED"):
            logs = "\n".join(worker.log_tail() for worker in workers)
            raise AssertionError(f"flow run {run_id} ended {name}: {run.state}\n{logs}")
        return None

    found: FlowRun = wait_until(check, timeout=timeout, what=f"flow run {run_id} {wanted}")
    return found


def test_two_workers_on_postgres_with_s3_audit(
    postgres: PostgresServer, s3_server: SeaweedServer, tmp_path: Path
) -> None:
    # -- the shared state: Prefect on PostgreSQL, audit and backups on S3 (Object Lock) ----
    server = PrefectServer(
        tmp_path / "server",
        database_url=postgres.url,
        # No scheduled runs of the nightly deployments during the test: only those it starts.
        extra_env={"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"},
    )
    workers: list[ManagedProcess] = []
    with stopping(server):
        server.wait_healthy()
        api = server.api_url
        operator = prefect_env(tmp_path / "operator", api)
        bucket = s3_server.create_bucket("scale-out", object_lock=True)
        audit_env = {
            "BOT_CORE_AUDIT_URL": f"s3://{bucket}/bot-core",
            "BOT_CORE_AUDIT_ENDPOINT_URL": s3_server.endpoint_url,
            "BOT_CORE_AUDIT_REGION": REGION,
            "BOT_CORE_AUDIT_ADDRESSING_STYLE": "path",
            "BOT_CORE_AUDIT_OBJECT_LOCK_MODE": "governance",
            "BOT_CORE_AUDIT_OBJECT_LOCK_DAYS": "1",
            "AWS_ACCESS_KEY_ID": s3_server.environ()["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": s3_server.environ()["AWS_SECRET_ACCESS_KEY"],
        }

        # -- what an operator types once (docs/deployment.md, "Scale-out") ---------------
        prefect_cli(["work-pool", "create", "maintenance", "--type", "process"], env=operator,
                    cwd=tmp_path)  # fmt: skip
        prefect_cli(["gcl", "create", "bot-core-maintenance", "--limit", "1"], env=operator,
                    cwd=tmp_path)  # fmt: skip
        deployed = prefect_cli(["deploy", "--prefect-file", PREFECT_FILE, "--all"],
                               env=operator, cwd=REPO, timeout=180)  # fmt: skip
        for name in DEPLOYMENTS:
            assert name in deployed.stdout, deployed.stdout

        # -- two "hosts": each its own Prefect home and spool, the same checkout and S3 ----
        for host in ("host-a", "host-b"):
            home = tmp_path / host
            home.mkdir()
            env = prefect_env(
                home,
                api,
                BOT_CORE_HOME=str(REPO),
                BOT_CORE_AUDIT_SPOOL_DIR=str(home / "spool"),
                PREFECT_WORKER_QUERY_SECONDS="1",
                **audit_env,
            )
            command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", "maintenance",
                       "--type", "process", "--name", host]  # fmt: skip
            workers.append(ManagedProcess(host, command, log_path=home / "worker.log", env=env,
                                          cwd=home))  # fmt: skip
        with stopping(*workers):
            _exercise(tmp_path, operator, audit_env, workers)


def _exercise(
    tmp_path: Path, operator: dict[str, str], audit_env: dict[str, str], workers: list[Any]
) -> None:
    """Run the two purge deployments on the workers and check what they did."""
    data = tmp_path / "data"
    data.mkdir()
    reports, quality = data / "reports", data / "signal_quality"
    _python(["-m", "bot_core.demo", "generate", "--reports", "40", "--base-dir", str(reports),
             "--signal-quality-dir", str(quality), "--no-registry"], env=operator,
            cwd=data)  # fmt: skip
    old_smoke, until = _smoke_split(reports, operator, data)
    before = _snapshot(reports)
    now = datetime.now(UTC)
    quality_ages = {p.name: now - datetime.fromtimestamp(p.stat().st_mtime, UTC)
                    for p in quality.iterdir()}  # fmt: skip
    ops_log = data / "operations.md"
    empty_quality = data / "no_signal_quality"
    empty_quality.mkdir()

    with temporary_settings(updates={PREFECT_API_URL: operator["PREFECT_API_URL"]}):
        # What `prefect deploy` stored: the pull step unresolved (each worker resolves
        # BOT_CORE_HOME on its own host), the pool, the schedule and the policy.
        with get_client(sync_client=True) as client:
            stored = client.read_deployment_by_name("purge/smoke-weekly")
        assert stored.pull_steps == [
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": "{{ $BOT_CORE_HOME }}"
                }
            }
        ]
        assert stored.work_pool_name == "maintenance"
        assert [_cron(s.schedule) for s in stored.schedules] == [("30 7 * * 1", "Europe/Warsaw")]
        assert stored.parameters["policy"]["auto_approve"] is False
        # Both at once: the purge waits for a person on one worker while the nightly
        # retention, auto-approved, runs to the end (on the other, or the same, host).
        smoke = run_deployment(
            "purge/smoke-weekly",
            parameters={
                # A fixed cut-off instead of the deployment's rolling older_than_days.
                "filters": {"categories": ["smoke"], "until": until},
                "older_than_days": None,
                "base_dir": str(reports),
                "signal_quality_dir": str(empty_quality),
                "operations_log": str(ops_log),
            },
            timeout=0,
        )
        nightly = run_deployment(
            "purge/signal-quality-nightly",
            parameters={
                "base_dir": str(reports),
                "signal_quality_dir": str(quality),
                "operations_log": str(ops_log),
            },
            timeout=0,
        )
        assert isinstance(smoke, FlowRun) and isinstance(nightly, FlowRun)
        _wait_for_state(smoke.id, "PAUSED", timeout=120, workers=workers)
        _wait_for_state(nightly.id, "COMPLETED", timeout=120, workers=workers)
        assert _snapshot(reports) == before, "nothing may change before the approval"

        approved = _python(
            ["-m", "flows", "approve", str(smoke.id), "--approver", "bob", "--reason",
             "scale-out test: old smoke reports"], env=operator, cwd=data,
        )  # fmt: skip
        assert json.loads(approved.stdout)["decision"] == "approve"
        _wait_for_state(smoke.id, "COMPLETED", timeout=120, workers=workers)

    # -- what happened on disk -------------------------------------------------------------
    after = _snapshot(reports)
    for identifier in old_smoke:
        assert not (reports / identifier).exists(), f"{identifier} should be purged"
    expected = {
        path: stat
        for path, stat in before.items()
        if not any(path == old or path.startswith(old + "/") for old in old_smoke)
    }
    assert after == expected, "only the approved old smoke reports may be gone"
    for name, age in quality_ages.items():
        if age > SIGNAL_QUALITY_RETENTION + timedelta(days=1):
            assert not (quality / name).exists(), f"{name} ({age}) outlived the retention"
        elif age < SIGNAL_QUALITY_RETENTION - timedelta(days=1):
            assert (quality / name).exists(), f"{name} ({age}) is within the retention"
    lines = ops_log.read_text(encoding="utf-8").splitlines()
    assert any(f"run={smoke.id} outcome=completed approver='bob'" in line for line in lines)
    assert any(f"run={nightly.id} outcome=completed approver='policy'" in line for line in lines)

    # -- the audit chain on S3, verified by the shell an auditor uses ------------------------
    auditor = {**operator, **audit_env, "BOT_CORE_AUDIT_SPOOL_DIR": str(tmp_path / "spool")}
    verified = _python(["-m", "bot_core.audit", "verify", "--all-backups"], env=auditor, cwd=data,
                       check=False)  # fmt: skip
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr
    report = json.loads(verified.stdout)
    assert report["status"] == "ok"
    runs = {run["run_id"]: run for run in report["records"]["runs"]}
    assert runs[str(smoke.id)]["status"] == "ok"
    assert runs[str(smoke.id)]["steps"] == [
        "overview", "dry-run", "approval", "backup", "execution", "report"
    ]  # fmt: skip
    assert runs[str(nightly.id)]["status"] == "ok"
    assert report["backups"], "the purge's verified backups are on S3"
    assert all(backup["status"] == "verified" for backup in report["backups"])
