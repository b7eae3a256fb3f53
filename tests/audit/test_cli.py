"""``python -m bot_core.audit`` in subprocesses: JSON on stdout, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot_core.audit import (
    AuditRun,
    LocalAuditStore,
    S3AuditStore,
    SpoolingAuditStore,
)
from tests.audit.helpers import START, Clock, build_tree, snapshot, write_run
from tests.audit.test_restore import hostile_backup
from tests.s3server import SeaweedServer, dead_endpoint_url


def run_cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    """Run the CLI; return (exit status, parsed stdout or None, stderr)."""
    completed = subprocess.run(
        [sys.executable, "-m", "bot_core.audit", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        timeout=120,
        check=False,
    )
    stdout = completed.stdout.decode()
    return (
        completed.returncode,
        json.loads(stdout) if stdout.strip() else None,
        completed.stderr.decode(),
    )


def assert_one_line_error(code: int, out: Any, err: str, expected_code: int, text: str) -> None:
    assert code == expected_code, err
    assert out is None
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert text in err


def test_local_verify_list_backup_and_restore(tmp_path: Path) -> None:
    source = tmp_path / "var"
    source.mkdir()
    paths = build_tree(source)
    write_run(LocalAuditStore(tmp_path / "audit"))  # the default store: audit/ in the cwd

    code, out, err = run_cli(tmp_path, "verify")
    assert (code, out["status"], err) == (0, "ok", "")
    assert out["records"]["runs"][0]["steps"] == ["overview", "dry-run", "approval"]

    code, out, err = run_cli(tmp_path, "backup", "--source-root", "var", *paths, "--label", "k=v")
    assert code == 0, err
    backup_id = out["backup"]["backup_id"]
    assert out["verification"]["status"] == "verified"
    assert (tmp_path / "audit" / "backups" / backup_id / "manifest.json").is_file()

    code, out, err = run_cli(tmp_path, "list")
    assert code == 0, err
    assert [run["run_id"] for run in out["runs"]] == ["run-1"]
    assert [(b["backup_id"], b["labels"]) for b in out["backups"]] == [(backup_id, {"k": "v"})]

    code, out, err = run_cli(tmp_path, "restore", backup_id, "--target", "out", "--dry-run")
    assert (code, out["status"]) == (0, "preview")
    assert not (tmp_path / "out").exists()
    code, out, err = run_cli(tmp_path, "restore", backup_id, "--target", "out")
    assert (code, out["status"]) == (0, "completed"), err
    assert snapshot(tmp_path / "out") == snapshot(source)

    champion = tmp_path / "out" / "models" / "champion.json"
    champion.write_text("newer")
    code, out, err = run_cli(tmp_path, "restore", backup_id, "--target", "out")
    assert (code, out["status"], out["skipped_count"]) == (1, "partial_failure", 1)
    assert champion.read_text() == "newer"
    code, out, err = run_cli(tmp_path, "restore", backup_id, "--target", "out", "--overwrite")
    assert (code, out["status"]) == (0, "completed")
    assert champion.read_text() == '{"model_name": "m"}'

    code, out, err = run_cli(tmp_path, "verify", "--all-backups")
    assert (code, out["status"], [b["status"] for b in out["backups"]]) == (0, "ok", ["verified"])

    record = next((tmp_path / "audit" / "maintenance").rglob("02-*.json"))
    record.chmod(0o644)
    record.write_text(record.read_text().replace('"index": 2', '"index": 3'))
    code, out, err = run_cli(tmp_path, "verify")
    assert (code, out["status"], err) == (1, "failed", "")
    assert out["records"]["runs"][0]["issues"][0]["kind"] == "edited"


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "restore", "20240101T000000Z-00000000")
    assert_one_line_error(*result, 2, "no backup 20240101T000000Z-00000000")
    result = run_cli(tmp_path, "restore", "../../etc")
    assert_one_line_error(*result, 2, "invalid backup id")
    result = run_cli(tmp_path, "list", env={"BOT_CORE_AUDIT_OBJECT_LOCK_DAYS": "-1"})
    assert_one_line_error(*result, 2, "BOT_CORE_AUDIT_OBJECT_LOCK_DAYS")
    result = run_cli(tmp_path, "frobnicate")
    assert_one_line_error(*result, 2, "invalid choice")
    result = run_cli(tmp_path, "flush")
    assert_one_line_error(*result, 2, "nothing to flush")
    result = run_cli(tmp_path, "backup", "--source-root", str(tmp_path), "../etc")
    assert_one_line_error(*result, 2, "backup path refused")


def test_cli_refuses_to_restore_a_hostile_backup(tmp_path: Path) -> None:
    backup_id, target, outside = hostile_backup(tmp_path, LocalAuditStore(tmp_path / "audit"))
    result = run_cli(tmp_path, "restore", backup_id, "--target", str(target))
    assert_one_line_error(*result, 1, f"backup {backup_id} is not verified")
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "absolute-evil.txt").exists()
    assert list(outside.iterdir()) == []
    assert not target.exists()


@pytest.fixture
def s3_env(s3_server: SeaweedServer, tmp_path: Path) -> tuple[dict[str, str], str]:
    bucket = s3_server.create_bucket("cli")
    env = {
        "AWS_ACCESS_KEY_ID": s3_server.environ()["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": s3_server.environ()["AWS_SECRET_ACCESS_KEY"],
        "BOT_CORE_AUDIT_URL": f"s3://{bucket}/audit",
        "BOT_CORE_AUDIT_ENDPOINT_URL": s3_server.endpoint_url,
        "BOT_CORE_AUDIT_REGION": "us-east-1",
        "BOT_CORE_AUDIT_SPOOL_DIR": str(tmp_path / "spool"),
        "BOT_CORE_AUDIT_MAX_ATTEMPTS": "1",
    }
    return env, bucket


def test_s3_spool_flush_verify_backup_and_restore(
    s3_server: SeaweedServer, s3_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, bucket = s3_env
    spool = LocalAuditStore(tmp_path / "spool")
    online = S3AuditStore(s3_server.client(), bucket, "audit")
    offline = S3AuditStore(
        s3_server.client(connect_timeout=1, endpoint_url=dead_endpoint_url()), bucket, "audit"
    )
    run = AuditRun(
        SpoolingAuditStore(online, spool),
        "maintenance/purge",
        "r1",
        started_at=START,
        clock=Clock(),
    )
    run.record("overview", {})
    run.store = SpoolingAuditStore(offline, spool)  # the network goes away
    assert run.record("dry-run", {}).spooled
    assert run.record("report", {}, final=True).spooled

    code, out, err = run_cli(tmp_path, "verify", env=env)
    assert (code, out["status"], out["records"]["spooled_count"]) == (0, "ok", 2), err
    assert out["records"]["spool_directory"] == str(tmp_path / "spool")

    code, out, err = run_cli(tmp_path, "flush", env=env)
    assert (code, out["status"], out["flushed_count"], out["remaining_count"]) == (
        0,
        "completed",
        2,
        0,
    ), err
    code, out, err = run_cli(tmp_path, "verify", env=env)
    assert (code, out["records"]["spooled_count"], out["records"]["runs"][0]["status"]) == (
        0,
        0,
        "ok",
    )

    source = tmp_path / "var"
    source.mkdir()
    paths = build_tree(source)
    code, out, err = run_cli(tmp_path, "backup", "--source-root", "var", *paths, env=env)
    assert (code, out["verification"]["status"]) == (0, "verified"), err
    backup_id = out["backup"]["backup_id"]
    assert online.exists(f"backups/{backup_id}/manifest.json")
    code, out, err = run_cli(tmp_path, "restore", backup_id, "--target", "out", env=env)
    assert (code, out["status"]) == (0, "completed"), err
    assert snapshot(tmp_path / "out") == snapshot(source)
    code, out, err = run_cli(tmp_path, "list", "--kind", "backups", env=env)
    assert (out["runs"], [b["backup_id"] for b in out["backups"]]) == (None, [backup_id])


def test_s3_unreachable_is_a_one_line_error(tmp_path: Path) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "BOT_CORE_AUDIT_URL": "s3://nowhere/audit",
        "BOT_CORE_AUDIT_ENDPOINT_URL": dead_endpoint_url(),
        "BOT_CORE_AUDIT_MAX_ATTEMPTS": "1",
        "BOT_CORE_AUDIT_CONNECT_TIMEOUT": "1",
    }
    result = run_cli(tmp_path, "verify", env=env)
    assert_one_line_error(*result, 1, "S3 cannot be reached")
