"""Spooling: S3 goes away mid-run, records wait locally, and a flush delivers them in order."""

from __future__ import annotations

from pathlib import Path

from bot_core.audit import (
    AuditRun,
    LocalAuditStore,
    S3AuditStore,
    SpoolingAuditStore,
    verify_records,
)
from tests.audit.helpers import START, Clock
from tests.s3server import SeaweedServer, dead_endpoint_url


def test_s3_stopped_mid_run_records_are_spooled_then_flushed(
    s3_server: SeaweedServer, tmp_path: Path
) -> None:
    bucket = s3_server.create_bucket("spool")
    client = s3_server.client(connect_timeout=1, read_timeout=5)
    spool = LocalAuditStore(tmp_path / "spool")
    store = SpoolingAuditStore(S3AuditStore(client, bucket, "audit"), spool)
    run = AuditRun(store, "maintenance/archive", "run-7", started_at=START, clock=Clock())

    assert not run.record("overview", {"n": 1}).spooled
    assert not run.record("dry-run", {"n": 2}).spooled
    with s3_server.stopped():
        assert run.record("approval", {"n": 3}).spooled
        assert run.record("backup", {"n": 4}).spooled
        assert len(store.spooled_keys()) == 2

    # S3 is back: the spool is visible in verify and the chain spans both places.
    before = verify_records(store)
    assert before.status == "ok"
    assert before.spooled_count == 2
    [run_result] = before.runs
    assert run_result.status == "open"
    assert [k.rsplit("/", 1)[1] for k in run_result.spooled_keys] == [
        "03-approval.json",
        "04-backup.json",
    ]

    # The next record flushes the spool first, so S3 receives 03 and 04 before 05.
    fifth = run.record("execution", {"n": 5}, final=True)
    assert not fifth.spooled
    assert store.spooled_keys() == []
    after = verify_records(store)
    assert (after.status, after.spooled_count, after.record_count) == ("ok", 0, 5)
    assert after.runs[0].status == "ok"
    remote = S3AuditStore(s3_server.client(), bucket, "audit")
    assert [k.rsplit("/", 1)[1] for k in remote.list_keys()] == [
        "01-overview.json",
        "02-dry-run.json",
        "03-approval.json",
        "04-backup.json",
        "05-execution.json",
    ]
    assert remote.get_json(fifth.key)["document"] == {"n": 5}
    assert not any(p.is_file() for p in (tmp_path / "spool").rglob("*"))


def test_flush_reports_pending_while_unreachable_and_tolerates_a_repeated_upload(
    s3_server: SeaweedServer, tmp_path: Path
) -> None:
    bucket = s3_server.create_bucket("flush")
    unreachable = s3_server.client(connect_timeout=1, endpoint_url=dead_endpoint_url())
    spool = LocalAuditStore(tmp_path / "spool")
    offline = SpoolingAuditStore(S3AuditStore(unreachable, bucket), spool)
    run = AuditRun(offline, "maintenance/promote", "run-9", started_at=START, clock=Clock())
    assert run.record("overview", {}).spooled
    # A retry in a new process, S3 still unreachable, continues the chain from the spool.
    retry = AuditRun(offline, "maintenance/promote", "run-9", started_at=START, clock=Clock())
    assert retry.record("report", {}, final=True).key.endswith("/02-report.json")
    pending = offline.flush()
    assert (pending.status, pending.remaining_count) == ("unavailable", 2)

    online = SpoolingAuditStore(S3AuditStore(s3_server.client(), bucket), spool)
    # A previous flush crashed after uploading the first record: same bytes are fine.
    first = offline.spooled_keys()[0]
    online.primary.put_bytes(first, spool.get_bytes(first))
    result = online.flush()
    assert result.status == "completed"
    assert [r.status for r in result.records] == ["already_present", "flushed"]
    assert verify_records(online).status == "ok"
