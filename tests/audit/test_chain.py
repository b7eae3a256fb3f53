"""Record chains: keys, write-once, and verify catching edits, deletions and insertions."""

from __future__ import annotations

import hashlib
import json

import pytest

from bot_core.audit import (
    AuditRun,
    MemoryAuditStore,
    build_key,
    parse_record_key,
    verify_records,
)
from bot_core.errors import InvalidInputError, RecordExistsError, UnsafePathError
from tests.audit.conftest import Backend
from tests.audit.helpers import START, Clock, forge, issues, write_run

PREFIX = "maintenance/purge/2024/06/12/run-1"


def key(n: int, step: str) -> str:
    return f"{PREFIX}/{n:02d}-{step}.json"


@pytest.mark.parametrize(
    "parts",
    [("..",), ("a/../b",), ("/etc/passwd",), ("a//b",), ("",), ("a\\b",), ("a\x00b",), (".",)],
)
def test_build_key_refuses_escaping_keys(parts: tuple[str, ...]) -> None:
    with pytest.raises(UnsafePathError):
        build_key(*parts)


def test_run_names_are_checked() -> None:
    store = MemoryAuditStore()
    with pytest.raises(UnsafePathError):
        AuditRun(store, "maintenance/purge", "../x")
    with pytest.raises(UnsafePathError):
        AuditRun(store, "purge", "run-1")
    with pytest.raises(UnsafePathError):
        AuditRun(store, "backups/x", "run-1")
    with pytest.raises(UnsafePathError):
        AuditRun(store, "maintenance/purge", "run-1").record("a/b", {})


def test_key_layout_and_envelope() -> None:
    store = MemoryAuditStore()
    run = write_run(store)
    assert sorted(store.objects) == [
        key(1, "overview"),
        key(2, "dry-run"),
        key(3, "approval"),
    ]
    first = json.loads(store.objects[key(1, "overview")])
    second = json.loads(store.objects[key(2, "dry-run")])
    assert first["previous_sha256"] is None
    assert (
        second["previous_sha256"] == hashlib.sha256(store.objects[key(1, "overview")]).hexdigest()
    )
    assert second["recorded_at"].endswith("+00:00")
    assert second["document"] == {"step": "dry-run", "index": 2}
    assert run.head_sha256 == hashlib.sha256(store.objects[key(3, "approval")]).hexdigest()
    parsed = parse_record_key(key(3, "approval"))
    assert parsed is not None
    assert (parsed.operation, parsed.date, parsed.run_id, parsed.sequence, parsed.step) == (
        "maintenance/purge",
        "2024-06-12",
        "run-1",
        3,
        "approval",
    )


def test_final_record_closes_the_run_and_a_new_process_resumes_the_chain() -> None:
    store = MemoryAuditStore()
    write_run(store, steps=("overview", "dry-run"), final=False)
    resumed = AuditRun(store, "maintenance/purge", "run-1", started_at=START, clock=Clock())
    stored = resumed.record("approval", {"ok": True}, final=True)
    assert stored.key == key(3, "approval")
    with pytest.raises(InvalidInputError):
        resumed.record("late", {})
    result = verify_records(store)
    assert result.status == "ok"
    assert [run.status for run in result.runs] == ["ok"]


def test_records_are_write_once(backend: Backend) -> None:
    backend.store.put_json("maintenance/purge/x.json", {"a": 1})
    with pytest.raises(RecordExistsError):
        backend.store.put_json("maintenance/purge/x.json", {"a": 2})
    assert backend.store.get_json("maintenance/purge/x.json") == {"a": 1}


def test_clean_and_open_runs_verify(backend: Backend) -> None:
    write_run(backend.store, run_id="done")
    write_run(backend.store, run_id="running", final=False)
    result = verify_records(backend.store)
    assert result.status == "ok"
    assert {run.run_id: run.status for run in result.runs} == {"done": "ok", "running": "open"}
    assert result.record_count == 6
    assert result.open_run_count == 1


def test_other_tools_folders_beside_the_records_are_not_insertions(backend: Backend) -> None:
    # The runbook keeps champion diffs, promotion entries and daily archives under audit/.
    write_run(backend.store, run_id="done")
    backend.write("champion_diffs/champion_diff_20240601T120000.json", b"{}")
    backend.write("champion_promotions/decision_engine/20240601_v2/summary.json", b"{}")
    backend.write("daily_archives/daily/2024-06-01.zip", b"PK")
    result = verify_records(backend.store)
    assert result.status == "ok"
    assert result.stray_keys == []


def test_verify_catches_an_edit(backend: Backend) -> None:
    write_run(backend.store)
    envelope = json.loads(backend.read(key(2, "dry-run")))
    envelope["document"]["index"] = 99  # a hand edit, digest left as it was
    backend.write(key(2, "dry-run"), json.dumps(envelope).encode())
    result = verify_records(backend.store)
    assert result.status == "failed"
    assert issues(result) == [("edited", key(2, "dry-run"))]


def test_verify_catches_an_edit_with_a_recomputed_digest(backend: Backend) -> None:
    write_run(backend.store)
    envelope = json.loads(backend.read(key(1, "overview")))
    backend.write(key(1, "overview"), forge(envelope, document={"step": "forged"}))
    result = verify_records(backend.store)
    assert issues(result) == [("edited", key(1, "overview"))]
    assert "previous_sha256" in result.runs[0].issues[0].detail


def test_verify_catches_a_deletion(backend: Backend) -> None:
    write_run(backend.store, steps=("overview", "dry-run", "approval", "backup"))
    backend.delete(key(2, "dry-run"))
    result = verify_records(backend.store)
    assert result.status == "failed"
    [issue] = result.runs[0].issues
    assert (issue.kind, issue.sequence) == ("removed", 2)
    assert "02" in issue.detail


def test_verify_catches_the_deletion_of_the_first_record(backend: Backend) -> None:
    write_run(backend.store)
    backend.delete(key(1, "overview"))
    result = verify_records(backend.store)
    assert [(i.kind, i.sequence) for i in result.runs[0].issues] == [("removed", 1)]


def test_verify_catches_insertions(backend: Backend) -> None:
    write_run(backend.store)
    original = json.loads(backend.read(key(2, "dry-run")))
    # A second record numbered 02, well formed, linked to 01, with a valid digest.
    forged_key = key(2, "approval")
    backend.write(
        forged_key,
        forge(original, key=forged_key, step="approval", document={"decision": "approve"}),
    )
    # A record appended after the final one, correctly linked.
    last = backend.read(key(3, "approval"))
    late_key = key(4, "execution")
    backend.write(
        late_key,
        forge(
            json.loads(last),
            key=late_key,
            sequence=4,
            step="execution",
            final=False,
            previous_sha256=hashlib.sha256(last).hexdigest(),
        ),
    )
    # A stray object in the record area.
    backend.write("maintenance/purge/notes.json", b"{}")
    result = verify_records(backend.store)
    assert result.status == "failed"
    assert sorted(issues(result)) == [("inserted", forged_key), ("inserted", late_key)]
    assert [(i.kind, i.key) for i in result.stray_keys] == [
        ("inserted", "maintenance/purge/notes.json")
    ]


def test_verify_catches_a_record_moved_from_another_run(backend: Backend) -> None:
    write_run(backend.store, run_id="run-1", final=False)
    write_run(backend.store, run_id="run-2")
    other = backend.read(key(3, "approval").replace("run-1", "run-2"))
    backend.write(key(4, "approval"), other)
    result = verify_records(backend.store, prefix="maintenance/purge/2024/06/12/run-1")
    assert ("inserted", key(4, "approval")) in issues(result)
    assert result.run_count == 1


def test_unreadable_record_is_reported_as_edited() -> None:
    store = MemoryAuditStore()
    write_run(store)
    store.objects[key(2, "dry-run")] = b"{not json"
    result = verify_records(store)
    assert issues(result) == [("edited", key(2, "dry-run"))]
