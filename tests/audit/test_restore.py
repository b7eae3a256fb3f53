"""Restore: byte-for-byte round trips, hostile archives, newer files, links in the target."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot_core.audit import (
    BackupFormat,
    BackupManifest,
    LocalAuditStore,
    ManifestEntry,
    MemoryAuditStore,
    create_backup,
    new_backup_id,
    restore_backup,
    verify_backup,
)
from bot_core.audit._backup import ArchiveInfo
from bot_core.errors import BackupNotVerifiedError
from tests.audit.conftest import Backend
from tests.audit.helpers import build_tree, snapshot


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "source"
    root.mkdir()
    return root, build_tree(root)


@pytest.mark.parametrize("fmt", ["tar.gz", "directory"])
def test_restore_round_trips_a_tree_byte_for_byte(
    backend: Backend, tmp_path: Path, source: tuple[Path, list[str]], fmt: BackupFormat
) -> None:
    root, paths = source
    before = snapshot(root)
    stored = create_backup(backend.store, root, paths, format=fmt)
    verified = verify_backup(backend.store, stored.backup_id).verified_backup()
    target = tmp_path / "restored"

    preview = restore_backup(verified, backend.store, target=target, dry_run=True)
    assert preview.status == "preview"
    assert {entry.status for entry in preview.entries} == {"would_restore"}
    assert not target.exists()

    result = restore_backup(verified, backend.store, target=target)
    assert result.status == "completed"
    assert result.restored_count == len(before)
    assert snapshot(target) == before  # content, modes, mtimes (ns), links, odd names

    again = restore_backup(verified, backend.store, target=target)
    assert {entry.status for entry in again.entries} == {"unchanged"}
    assert snapshot(target) == before


def test_restore_into_the_source_after_a_purge(
    tmp_path: Path, source: tuple[Path, list[str]]
) -> None:
    root, paths = source
    before = snapshot(root)
    store = LocalAuditStore(tmp_path / "audit")
    verified = verify_backup(store, create_backup(store, root, paths).backup_id).verified_backup()
    report = root / "smoke" / "2024-06-01"
    for path in sorted(report.rglob("*"), key=lambda p: -len(p.parts)):
        path.unlink() if path.is_symlink() or path.is_file() else path.rmdir()
    report.rmdir()
    result = restore_backup(verified, store)
    assert result.target == str(root)
    assert result.status == "completed"
    after = snapshot(root)
    # ``smoke`` survived the purge; the restore leaves existing directories as they are.
    assert {"smoke": "unchanged"}.items() <= {e.path: e.status for e in result.entries}.items()
    assert {k: v for k, v in after.items() if k != b"smoke"} == {
        k: v for k, v in before.items() if k != b"smoke"
    }


def test_restore_never_overwrites_a_newer_file_without_overwrite(
    tmp_path: Path, source: tuple[Path, list[str]]
) -> None:
    root, paths = source
    store = MemoryAuditStore()
    verified = verify_backup(store, create_backup(store, root, paths).backup_id).verified_backup()
    newer = root / "models" / "champion.json"
    newer.write_text('{"model_name": "newer"}')  # mtime: now, newer than the backup's copy
    older = root / "smoke" / "2024-06-01" / "summary.json"
    older.write_text("{}")
    os.utime(older, ns=(1_000_000_000, 1_000_000_000))

    result = restore_backup(verified, store)
    statuses = {entry.path: entry.status for entry in result.entries}
    assert statuses["models/champion.json"] == "skipped_newer"
    assert statuses["smoke/2024-06-01/summary.json"] == "replaced"
    assert result.status == "partial_failure"
    assert newer.read_text() == '{"model_name": "newer"}'
    assert older.read_text() == '{"report_date": "2024-06-01"}'

    forced = restore_backup(verified, store, overwrite=True)
    assert {e.path: e.status for e in forced.entries}["models/champion.json"] == "replaced"
    assert newer.read_text() == '{"model_name": "m"}'
    assert forced.status == "completed"


def test_restore_refuses_a_symlink_in_the_target_path(
    tmp_path: Path, source: tuple[Path, list[str]]
) -> None:
    root, paths = source
    store = MemoryAuditStore()
    verified = verify_backup(store, create_backup(store, root, paths).backup_id).verified_backup()
    target = tmp_path / "target"
    outside = tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    os.symlink(outside, target / "smoke")
    result = restore_backup(verified, store, target=target)
    statuses = {entry.path: entry.status for entry in result.entries}
    assert statuses["smoke"] == "refused"
    assert statuses["smoke/2024-06-01/summary.json"] == "refused"
    assert statuses["models/champion.json"] == "restored"
    assert result.status == "partial_failure"
    assert list(outside.iterdir()) == []


def test_restore_takes_only_a_verified_backup() -> None:
    with pytest.raises(TypeError):
        restore_backup("20240101T000000Z-00000000", MemoryAuditStore())  # type: ignore[arg-type]


# -- hostile archives -------------------------------------------------------------------------


def _entry(
    path: str, kind: str = "file", data: bytes = b"", target: str | None = None
) -> ManifestEntry:
    return ManifestEntry(
        path=path,
        type=kind,  # type: ignore[arg-type]
        size=len(data) if kind == "file" else 0,
        mode="0644",
        mtime=datetime(2024, 1, 1, tzinfo=UTC),
        mtime_ns=1_704_067_200_000_000_000,
        sha256=hashlib.sha256(data).hexdigest() if kind == "file" else None,
        link_target=target,
    )


def plant_backup(
    store: LocalAuditStore,
    source_root: Path,
    members: list[tuple[str, str, bytes, str | None]],
    manifest_entries: list[ManifestEntry],
) -> str:
    """Write a hand-made backup (archive, manifest, sidecar) straight into the store."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, data, link in members:
            info = tarfile.TarInfo(name)
            info.type = {
                "file": tarfile.REGTYPE,
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
            }[kind]
            info.size = len(data) if kind == "file" else 0
            info.linkname = link or ""
            tar.addfile(info, io.BytesIO(data) if kind == "file" else None)
    archive = buffer.getvalue()
    backup_id = new_backup_id()
    files = [e for e in manifest_entries if e.type == "file"]
    manifest = BackupManifest(
        backup_id=backup_id,
        created_at=datetime.now(UTC),
        source_root=str(source_root),
        format="tar.gz",
        paths=["."],
        archive=ArchiveInfo(
            key="data.tar.gz", size=len(archive), sha256=hashlib.sha256(archive).hexdigest()
        ),
        file_count=len(files),
        directory_count=0,
        symlink_count=sum(e.type == "symlink" for e in manifest_entries),
        total_size=sum(e.size for e in files),
        entries=manifest_entries,
    )
    data = manifest.to_bytes()
    store.put_bytes(f"backups/{backup_id}/data.tar.gz", archive)
    store.put_bytes(
        f"backups/{backup_id}/manifest.json.sha256",
        f"{hashlib.sha256(data).hexdigest()}  manifest.json\n".encode(),
    )
    store.put_bytes(f"backups/{backup_id}/manifest.json", data)
    return backup_id


def hostile_backup(tmp_path: Path, store: LocalAuditStore) -> tuple[str, Path, Path]:
    """A backup whose manifest and archive agree on entries that would escape the target."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    absolute = str(tmp_path / "absolute-evil.txt")
    members = [
        ("../evil.txt", "file", b"evil", None),
        (absolute, "file", b"evil", None),
        ("link", "symlink", b"", str(outside)),
        ("link/pwned.txt", "file", b"pwned", None),
        ("fine.txt", "file", b"fine", None),
    ]
    entries = [
        _entry("../evil.txt", data=b"evil"),
        _entry(absolute, data=b"evil"),
        _entry("fine.txt", data=b"fine"),
        _entry("link", "symlink", target=str(outside)),
        _entry("link/pwned.txt", data=b"pwned"),
    ]
    target = tmp_path / "target"
    return plant_backup(store, target, members, entries), target, outside


def test_hostile_archive_is_never_verified(tmp_path: Path) -> None:
    store = LocalAuditStore(tmp_path / "audit")
    backup_id, target, outside = hostile_backup(tmp_path, store)
    verification = verify_backup(store, backup_id)
    assert verification.status == "failed"
    problems = {(p.path, p.problem.split(" (")[0].split(":")[0]) for p in verification.problems}
    assert ("../evil.txt", "unsafe path") in problems
    assert (str(tmp_path / "absolute-evil.txt"), "unsafe path") in problems
    assert ("link/pwned.txt", "below link, which is a symlink") in problems
    with pytest.raises(BackupNotVerifiedError):
        verification.verified_backup()
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "absolute-evil.txt").exists()
    assert list(outside.iterdir()) == []
    assert not target.exists()


def test_archive_members_outside_the_manifest_or_hard_links_fail(tmp_path: Path) -> None:
    store = LocalAuditStore(tmp_path / "audit")
    members = [
        ("fine.txt", "file", b"fine", None),
        ("../evil.txt", "file", b"evil", None),
        ("hard", "hardlink", b"", "/etc/passwd"),
    ]
    backup_id = plant_backup(store, tmp_path / "t", members, [_entry("fine.txt", data=b"fine")])
    problems = {(p.path, p.problem) for p in verify_backup(store, backup_id).problems}
    assert problems == {
        ("../evil.txt", "archive entry is not in the manifest"),
        ("hard", "archive entry is a hard link, which a backup never contains"),
    }


def test_restore_rechecks_each_file_against_the_manifest(
    tmp_path: Path, source: tuple[Path, list[str]]
) -> None:
    """A backup changed after verification is caught while restoring (local store)."""
    root, paths = source
    store = LocalAuditStore(tmp_path / "audit")
    stored = create_backup(store, root, paths, format="directory")
    verified = verify_backup(store, stored.backup_id).verified_backup()
    planted = (
        tmp_path / "audit" / "backups" / stored.backup_id / "files" / "models" / "champion.json"
    )
    planted.chmod(0o644)
    planted.write_text('{"model_name": "swapped"}')
    target = tmp_path / "target"
    with pytest.raises(BackupNotVerifiedError, match="changed since it was verified"):
        restore_backup(verified, store, target=target)
    assert not (target / "models" / "champion.json").exists()
