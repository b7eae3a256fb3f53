"""``python -m flows run archive`` and ``run restore`` in second processes."""

from __future__ import annotations

import zipfile

from flows.archive import ArchiveReport
from flows.restore import RestoreReport
from tests.flows.conftest import Tree
from tests.flows.test_cli import flows_cli
from tests.flows.test_restore import purged_backup, snapshot


def test_run_archive_then_restore_from_the_shell(tree: Tree) -> None:
    destination = tree.base.parent / "archives"
    shared = [
        "--requester",
        "alice",
        "--approve-as",
        "bob",
        "--audit-url",
        str(tree.audit),
        "--operations-log",
        str(tree.ops_log),
    ]
    archived = flows_cli(
        "run",
        "archive",
        "--category",
        "smoke",
        "--until",
        "2024-04-01",
        "--base-dir",
        str(tree.base),
        "--destination",
        str(destination),
        "--format",
        "zip",
        "--delete-after",
        *shared,
    )
    assert archived.returncode == 0, archived.stderr
    report = ArchiveReport.model_validate_json(archived.stdout)
    assert report.outcome == "completed", report.message
    assert report.approval is not None and report.approval.method == "approve_as"
    assert all(not (tree.base / identifier).exists() for identifier in tree.old_smoke)
    for identifier in tree.old_smoke:
        with zipfile.ZipFile(destination / f"{identifier}.zip") as opened:
            assert opened.testzip() is None


def test_run_restore_into_another_directory_from_the_shell(tree: Tree) -> None:
    original = snapshot(tree.base / tree.old_smoke[0])
    backup_id = purged_backup(tree)
    restored_into = tree.base.parent / "restored"
    done = flows_cli(
        "run",
        "restore",
        backup_id,
        "--target",
        str(restored_into),
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
    report = RestoreReport.model_validate_json(done.stdout)
    assert report.outcome == "completed", report.message
    assert report.approval is not None and report.approval.method == "approve_as"
    assert snapshot(restored_into / tree.old_smoke[0]) == original
