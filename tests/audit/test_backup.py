"""Backups: tar.gz (GNU, gzip 6) or directory copy, manifest, and verification by reading back."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from bot_core.audit import (
    BackupFormat,
    BackupVerification,
    MemoryAuditStore,
    VerifiedBackup,
    create_backup,
    list_backups,
    load_manifest,
    verify_backup,
)
from bot_core.errors import (
    BackupNotFoundError,
    BackupNotVerifiedError,
    UnsafePathError,
)
from tests.audit.conftest import Backend
from tests.audit.helpers import LONG_NAME, NON_UTF8, START, build_tree


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "source"
    root.mkdir()
    return root, build_tree(root)


@pytest.mark.parametrize("fmt", ["tar.gz", "directory"])
def test_backup_verifies_on_every_backend(
    backend: Backend, source: tuple[Path, list[str]], fmt: BackupFormat
) -> None:
    root, paths = source
    stored = create_backup(
        backend.store, root, [*paths, "smoke/gone"], format=fmt, labels={"run_id": "r1"}
    )
    assert stored.missing == ["smoke/gone"]
    assert stored.file_count == 7
    verification = verify_backup(
        backend.store, stored.backup_id, expected_manifest_sha256=stored.manifest_sha256
    )
    assert verification.status == "verified", verification.problems
    assert verification.files_checked == 7
    verified = verification.verified_backup()
    assert isinstance(verified, VerifiedBackup)
    assert verified.backup_id == stored.backup_id
    manifest = verified.manifest
    by_path = {entry.path: entry for entry in manifest.entries}
    link = by_path["smoke/2024-06-01/link"]
    assert (link.type, link.link_target) == ("symlink", "../../outside/target.txt")
    odd = by_path["smoke/2024-06-01/" + NON_UTF8.decode("utf-8", "backslashreplace")]
    assert odd.raw_path is not None and odd.raw().encode("utf-8", "surrogateescape").endswith(
        NON_UTF8
    )
    script = by_path["smoke/2024-06-01/exports/run.sh"]
    assert script.mode == "0755"
    assert script.sha256 == hashlib.sha256(b"#!/bin/sh\n").hexdigest()
    assert by_path["smoke"].type == "directory"  # ancestors keep their metadata
    assert manifest.source_root == str(root)
    assert manifest.labels == {"run_id": "r1"}
    assert [b.backup_id for b in list_backups(backend.store)] == [stored.backup_id]


def test_archive_is_gnu_tar_at_gzip_level_6(tmp_path: Path, source: tuple[Path, list[str]]) -> None:
    root, paths = source
    store = MemoryAuditStore()
    stored = create_backup(store, root, paths, now=START)
    assert stored.backup_id.startswith("20240612T100000Z-")
    data = store.objects[f"backups/{stored.backup_id}/data.tar.gz"]
    assert data[:3] == b"\x1f\x8b\x08"
    assert data[8] == 0  # XFL: 2 would mean level 9, 4 level 1
    tar_bytes = gzip.decompress(data)
    assert gzip.compress(tar_bytes, compresslevel=6, mtime=int(START.timestamp()))[10:] == data[10:]
    assert b"././@LongLink" in tar_bytes  # GNU long names
    with tarfile.open(
        fileobj=io.BytesIO(tar_bytes), encoding="utf-8", errors="surrogateescape"
    ) as tar:
        names = tar.getnames()
        assert all(member.uid == 0 and member.uname == "" for member in tar.getmembers())
    assert any(name.endswith(LONG_NAME) for name in names)
    assert any(name.encode("utf-8", "surrogateescape").endswith(NON_UTF8) for name in names)
    sidecar = store.objects[f"backups/{stored.backup_id}/manifest.json.sha256"].decode()
    manifest_bytes = store.objects[f"backups/{stored.backup_id}/manifest.json"]
    assert sidecar.split()[0] == hashlib.sha256(manifest_bytes).hexdigest()


def test_flipped_byte_in_archive_fails_verification(
    backend: Backend, source: tuple[Path, list[str]]
) -> None:
    root, paths = source
    stored = create_backup(backend.store, root, paths)
    key = f"backups/{stored.backup_id}/data.tar.gz"
    data = bytearray(backend.read(key))
    data[len(data) // 2] ^= 0x01
    backend.write(key, bytes(data))
    verification = verify_backup(backend.store, stored.backup_id)
    assert verification.status == "failed"
    assert any("archive sha256" in p.problem for p in verification.problems)
    with pytest.raises(BackupNotVerifiedError, match="not verified"):
        verification.verified_backup()


def test_edited_manifest_fails_verification(
    backend: Backend, source: tuple[Path, list[str]]
) -> None:
    root, paths = source
    stored = create_backup(backend.store, root, paths)
    key = f"backups/{stored.backup_id}/manifest.json"
    manifest = json.loads(backend.read(key))
    manifest["entries"][-1]["mode"] = "0777"
    edited = json.dumps(manifest).encode()
    backend.write(key, edited)
    verification = verify_backup(backend.store, stored.backup_id)
    assert verification.status == "failed"
    assert [p.problem for p in verification.problems] == [
        "manifest does not match its recorded sha256 (manifest.json.sha256)"
    ]
    # A forger who also rewrites the sidecar is caught by the sha256 the audit recorded.
    backend.write(
        f"{key}.sha256", f"{hashlib.sha256(edited).hexdigest()}  manifest.json\n".encode()
    )
    assert verify_backup(backend.store, stored.backup_id).status == "verified"
    recorded = verify_backup(
        backend.store, stored.backup_id, expected_manifest_sha256=stored.manifest_sha256
    )
    assert recorded.status == "failed"


def test_edited_file_in_a_directory_backup_fails_verification(
    tmp_path: Path, source: tuple[Path, list[str]]
) -> None:
    root, paths = source
    store = MemoryAuditStore()
    stored = create_backup(store, root, paths, format="directory")
    key = f"backups/{stored.backup_id}/files/models/champion.json"
    store.objects[key] = b'{"model_name": "forged"}'
    store.objects[f"backups/{stored.backup_id}/files/extra.txt"] = b"planted"
    verification = verify_backup(store, stored.backup_id)
    assert sorted((p.path, p.problem) for p in verification.problems) == [
        (f"backups/{stored.backup_id}/files/extra.txt", "object not in the manifest"),
        ("models/champion.json", "sha256/size does not match the manifest"),
    ]


def test_only_verify_backup_makes_a_verified_backup(source: tuple[Path, list[str]]) -> None:
    root, paths = source
    store = MemoryAuditStore()
    stored = create_backup(store, root, paths)
    verification = verify_backup(store, stored.backup_id)
    with pytest.raises(TypeError):
        VerifiedBackup(verification, load_manifest(store, stored.backup_id)[0])
    forged = BackupVerification.model_validate_json(verification.model_dump_json())
    assert forged.status == "verified"
    with pytest.raises(BackupNotVerifiedError, match="not produced by verify_backup"):
        forged.verified_backup()


def test_backup_refuses_unsafe_paths(tmp_path: Path, source: tuple[Path, list[str]]) -> None:
    root, _ = source
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("do not copy")
    os.symlink(outside, root / "via-link")
    store = MemoryAuditStore()
    for bad in ("../outside/secret", "/etc/passwd", "via-link/secret", ""):
        with pytest.raises(UnsafePathError):
            create_backup(store, root, [bad])
    stored = create_backup(store, root, ["via-link"])  # the link itself, never its target
    manifest, _ = load_manifest(store, stored.backup_id)
    assert [(e.path, e.type) for e in manifest.entries] == [("via-link", "symlink")]


def test_unknown_backup(backend: Backend) -> None:
    with pytest.raises(BackupNotFoundError):
        verify_backup(backend.store, "20240101T000000Z-00000000")
    with pytest.raises(UnsafePathError):
        verify_backup(backend.store, "../../etc")
