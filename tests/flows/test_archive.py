"""The archive flow end to end against a real Prefect API, and its read-back checks."""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest

from bot_core import reporting
from bot_core.audit import LocalAuditStore, load_manifest, verify_backup, verify_records
from bot_core.errors import InvalidInputError
from bot_core.reporting import Filters, parse_filters, plan_source_removal
from flows._approval import ApprovalPolicy
from flows._client import decide
from flows.archive import ArchiveReport, archive
from tasks import verify_archives
from tests.flows.conftest import Background, Tree, run_in_background, wait_for_pause
from tests.s3server import REGION, SeaweedServer


def smoke_until_april() -> Filters:
    return parse_filters(categories=["smoke"], until="2024-04-01")


def archives_dir(tree: Tree) -> Path:
    return tree.base.parent / "archives"


def start_archive(tree: Tree, **options: Any) -> Background:
    """Start an archive of the old smoke reports (zip, delete_after) in a background thread."""
    settings = ApprovalPolicy(requester="alice", timeout_seconds=60, poll_interval_seconds=1)
    parameters: dict[str, Any] = {
        "format": "zip",
        "delete_after": True,
        "policy": settings,
        **options,
    }
    return run_in_background(lambda: run_archive(tree, **parameters))


def run_archive(tree: Tree, **options: Any) -> ArchiveReport:
    report: ArchiveReport = archive(
        filters=smoke_until_april(),
        base_dir=str(tree.base),
        audit_url=str(tree.audit),
        operations_log=str(tree.ops_log),
        **{"destination": str(archives_dir(tree)), **options},
    )
    return report


def chain_steps(tree: Tree) -> list[str]:
    """The steps of the (single) archive run's audit chain, after checking it is intact."""
    verification = verify_records(LocalAuditStore(str(tree.audit)), prefix="maintenance/archive")
    assert verification.status == "ok", verification
    (run,) = verification.runs
    assert run.status == "ok" and run.final
    return run.steps


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_approved_zip_archive_verifies_then_deletes_the_sources(tree: Tree) -> None:
    before = tree.files()
    running = start_archive(tree)
    summary = wait_for_pause(str(tree.audit))
    assert summary.target_count == 4
    assert "DELETE" in summary.operation
    assert tree.files() == before and not archives_dir(tree).exists()

    decide(summary.flow_run_id, decision="approve", approver="bob", reason="archive old smoke")
    report = running.join()

    assert isinstance(report, ArchiveReport)
    assert report.outcome == "completed", report.message
    assert report.approval is not None and report.approval.approver == "bob"
    assert report.verification is not None and report.verification.verified_count == 4
    assert report.execution is not None and report.source_removal is not None
    for written in report.execution.targets:
        path = Path(written.destination_path)
        assert path.suffix == ".zip"
        with zipfile.ZipFile(path) as opened:
            assert opened.testzip() is None
        assert written.sha256 == sha256(path)
    assert {t.status for t in report.source_removal.targets} == {"deleted"}
    assert tree.files() == {p for p in before if not p.startswith(tuple(tree.old_smoke))}
    assert report.backup_ids == [], "nothing was replaced, so nothing needed a backup"
    assert chain_steps(tree) == [
        "overview",
        "dry-run",
        "approval",
        "backup",
        "execution",
        "verification",
        "source-removal",
        "report",
    ]
    assert "archive run=" in tree.ops_log.read_text()


def test_source_changed_after_approval_is_kept_and_reported(tree: Tree) -> None:
    running = start_archive(tree)
    summary = wait_for_pause(str(tree.audit))
    drifted = tree.base / tree.old_smoke[0] / "exports" / "late.csv"
    drifted.write_text("written after the plan\n")
    decide(summary.flow_run_id, decision="approve", approver="bob", reason="go")
    report = running.join()

    assert report.outcome == "partial_failure"
    assert report.verification is not None and report.source_removal is not None
    checks = {c.relative_path: c for c in report.verification.checks}
    assert checks[tree.old_smoke[0]].status == "not_written"
    assert "changed" in checks[tree.old_smoke[0]].problems[0]
    assert drifted.exists() and (tree.base / tree.old_smoke[0] / "summary.json").exists()
    assert [t.relative_path for t in report.source_removal.targets] == tree.old_smoke[1:]
    assert all(not (tree.base / identifier).exists() for identifier in tree.old_smoke[1:])
    assert "1 not verified" in report.message


def test_overwrite_backs_up_the_replaced_archive_first(tree: Tree) -> None:
    old = archives_dir(tree) / "smoke" / "2024-03-01.zip"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"an older archive")
    report = run_archive(
        tree,
        format="zip",
        overwrite=True,
        policy=ApprovalPolicy(requester="alice", approve_as="bob"),
    )

    assert report.outcome == "completed", report.message
    (backup_id,) = report.backup_ids
    store = LocalAuditStore(str(tree.audit))
    assert verify_backup(store, backup_id).status == "verified"
    manifest, _ = load_manifest(store, backup_id)
    (entry,) = [e for e in manifest.entries if e.type == "file"]
    assert entry.path == "smoke/2024-03-01.zip"
    assert entry.sha256 == hashlib.sha256(b"an older archive").hexdigest()
    with zipfile.ZipFile(old) as replaced:
        assert replaced.testzip() is None
    assert chain_steps(tree).index("backup") < chain_steps(tree).index("execution")
    assert all((tree.base / identifier).exists() for identifier in tree.old_smoke)


def test_directory_archive_is_compared_file_by_file(tree: Tree) -> None:
    report = run_archive(
        tree, format="directory", policy=ApprovalPolicy(requester="alice", approve_as="bob")
    )

    assert report.outcome == "completed", report.message
    assert report.source_removal is None and report.verification is not None
    for check in report.verification.checks:
        assert check.status == "verified" and check.files_checked == 3
    copy = archives_dir(tree) / tree.old_smoke[0] / "summary.json"
    assert copy.read_bytes() == (tree.base / tree.old_smoke[0] / "summary.json").read_bytes()


def test_read_back_catches_a_corrupted_or_differing_archive(tree: Tree) -> None:
    catalog = reporting.scan_reports(str(tree.base))
    now = datetime.now(UTC)
    formats: tuple[Literal["tar", "directory"], ...] = ("tar", "directory")
    for archive_format in formats:
        destination = str(archives_dir(tree) / archive_format)
        plan = reporting.plan_archive(
            catalog,
            smoke_until_april(),
            now=now,
            destination=reporting.resolve_destination(str(tree.base), destination),
            archive_format=archive_format,
            overwrite=False,
        )
        result = reporting.execute_archive(plan, dry_run=False)
        assert verify_archives.fn(plan, result).failed_count == 0
        first = plan.targets[0].fs_destination_path
        if archive_format == "tar":
            data = bytearray(Path(first).read_bytes())
            data[len(data) // 2] ^= 0xFF
            Path(first).write_bytes(bytes(data))
        else:
            (Path(first) / "exports" / "part0.csv").write_text("not the source\n")
        checked = verify_archives.fn(plan, result)
        assert [c.status for c in checked.checks] == ["failed", "verified", "verified", "verified"]
        assert checked.verified_paths() == [t.relative_path for t in plan.targets[1:]]


def test_source_removal_keeps_a_source_changed_after_archiving(tree: Tree) -> None:
    catalog = reporting.scan_reports(str(tree.base))
    plan = reporting.plan_archive(
        catalog,
        smoke_until_april(),
        now=datetime.now(UTC),
        destination=str(archives_dir(tree)),
        archive_format="zip",
        overwrite=False,
    )
    removal = plan_source_removal(plan, tree.old_smoke[:2], now=datetime.now(UTC))
    assert removal.verify_digest() and removal.filters == plan.filters
    assert removal.signal_quality.reason == "archive_delete_after"
    (tree.base / tree.old_smoke[0] / "summary.json").write_text('{"changed": true}')
    result = reporting.execute_purge(removal, dry_run=False)
    statuses = {t.relative_path: t.status for t in result.targets}
    assert statuses == {tree.old_smoke[0]: "error", tree.old_smoke[1]: "deleted"}
    assert (tree.base / tree.old_smoke[0]).exists()
    with pytest.raises(InvalidInputError):
        plan_source_removal(plan, ["daily/2024-03-01"], now=datetime.now(UTC))


def s3_environment(monkeypatch: pytest.MonkeyPatch, server: SeaweedServer) -> Any:
    """Point the flow's S3 client (bot_core.audit settings, boto3 credentials) at ``server``."""
    for name, value in server.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BOT_CORE_AUDIT_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("BOT_CORE_AUDIT_REGION", REGION)
    monkeypatch.setenv("BOT_CORE_AUDIT_ADDRESSING_STYLE", "path")
    return server.client()


def test_s3_zip_archive_uploads_verifies_then_deletes_the_sources(
    tree: Tree, s3_server: SeaweedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = s3_environment(monkeypatch, s3_server)
    bucket = s3_server.create_bucket("archive")
    # One target's object is already there: it is skipped, never replaced, its source kept.
    taken = f"archives/{tree.old_smoke[0]}.zip"
    client.put_object(Bucket=bucket, Key=taken, Body=b"an older archive")
    staging_before = set(Path(tempfile.gettempdir()).glob("archive-staging-*"))
    before = tree.files()

    report = run_archive(
        tree,
        destination=f"s3://{bucket}/archives",
        format="zip",
        delete_after=True,
        policy=ApprovalPolicy(requester="alice", approve_as="bob"),
    )

    assert report.outcome == "partial_failure", report.message
    assert report.execution is not None and report.verification is not None
    assert report.source_removal is not None
    statuses = {t.relative_path: t.status for t in report.execution.targets}
    assert statuses[tree.old_smoke[0]] == "skipped_existing"
    assert client.get_object(Bucket=bucket, Key=taken)["Body"].read() == b"an older archive"
    checks = {c.relative_path: c for c in report.verification.checks}
    assert checks[tree.old_smoke[0]].status == "not_written"
    for identifier in tree.old_smoke[1:]:
        check = checks[identifier]
        key = f"archives/{identifier}.zip"
        assert check.status == "verified" and check.files_checked == 3, check
        assert check.s3_key == f"{identifier}.zip"
        assert check.destination_path == f"s3://{bucket}/{key}"
        data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        digest = hashlib.sha256(data).hexdigest()
        assert client.head_object(Bucket=bucket, Key=key)["Metadata"]["sha256"] == digest
        assert check.sha256 == digest and check.s3_size == len(data)
    deleted = [t.relative_path for t in report.source_removal.targets if t.status == "deleted"]
    assert deleted == tree.old_smoke[1:]
    gone = tuple(tree.old_smoke[1:])
    assert tree.files() == {p for p in before if not p.startswith(gone)}
    assert not archives_dir(tree).exists()
    assert set(Path(tempfile.gettempdir()).glob("archive-staging-*")) == staging_before
    assert "backup" in chain_steps(tree)

    # A second run finds every object there: nothing is replaced, nothing more deleted.
    again = run_archive(
        tree,
        destination=f"s3://{bucket}/archives",
        format="zip",
        delete_after=True,
        policy=ApprovalPolicy(requester="alice", approve_as="bob"),
    )
    assert again.execution is not None and again.outcome == "error", again.message
    assert {t.status for t in again.execution.targets} == {"skipped_existing"}
    assert (tree.base / tree.old_smoke[0]).exists()


@pytest.mark.parametrize(
    ("options", "match"),
    [({"format": "directory"}, "zip or tar"), ({"format": "zip", "overwrite": True}, "overwrite")],
)
def test_s3_destination_refuses_directory_format_and_overwrite(
    tree: Tree, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        archive(
            destination="s3://bucket/prefix",
            base_dir=str(tree.base),
            audit_url=str(tree.audit),
            operations_log=str(tree.ops_log),
            policy=ApprovalPolicy(requester="alice"),
            **options,
        )
    assert not tree.audit.exists(), "refused before anything was recorded"
