"""Prefect tasks for the archive flow: plan, write, re-read every archive, remove sources.

Planning and writing are one library call each.  Re-reading the written archives has no
``bot_core`` counterpart (the library trusts its own writer); it lives here, read-only and
retried like every read, because the flow must not delete a source on the writer's word
alone: ``delete_after`` needs proof that the archive on disk holds the source's bytes.

S3 destinations (``s3://bucket/prefix``): the library writes and hashes each archive into a
local staging directory exactly as for a local destination; :func:`upload_archives` then
puts every archive that verified locally on S3 with its sha256 as object metadata, and
:func:`verify_s3_archives` downloads each one back.  Only an archive whose S3 copy verified
counts as verified, so ``delete_after`` never deletes a source on the upload's word alone.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Literal

from pydantic import Field

from bot_core import reporting
from bot_core._types import Document
from bot_core.audit import S3AuditStore, VerifiedBackup
from bot_core.errors import AuditStoreError, InvalidInputError
from bot_core.reporting import (
    ArchivePlan,
    ArchivePlannedTarget,
    ArchiveResult,
    ArchiveTargetResult,
    Catalog,
    Filters,
    PurgePlan,
    PurgeResult,
)
from tasks._task import maintenance_task

__all__ = [
    "ArchiveCheck",
    "ArchiveVerification",
    "execute_archive",
    "plan_archive",
    "remove_archived_sources",
    "s3_archive_key",
    "upload_archives",
    "verify_archives",
    "verify_s3_archives",
]

_CHUNK = 1024 * 1024


class ArchiveCheck(Document):
    """The verdict on one written archive, read back from disk."""

    relative_path: str
    destination_path: str
    format: Literal["directory", "zip", "tar"]
    status: Literal["verified", "failed", "not_written"]
    sha256: str | None = None
    files_checked: int = 0
    bytes_checked: int = 0
    problems: list[str]
    s3_key: str | None = Field(default=None, description="object key (S3 destinations only)")
    s3_size: int | None = Field(default=None, description="object size read back from S3")


class ArchiveVerification(Document):
    """The ``verification`` record: every target's archive, re-read after the execution."""

    plan_sha256: str
    verified_count: int
    failed_count: int
    checks: list[ArchiveCheck]

    def verified_paths(self) -> list[str]:
        """The targets whose archive verified: the only sources ``delete_after`` may remove."""
        return [check.relative_path for check in self.checks if check.status == "verified"]


@maintenance_task(retries=2, retry_delay_seconds=[1, 5])
def plan_archive(
    catalog: Catalog,
    filters: Filters,
    *,
    now: datetime,
    destination: str | None,
    archive_format: Literal["directory", "zip", "tar"],
    overwrite: bool,
) -> ArchivePlan:
    """Seal the archive plan (targets, destinations, reasons, fingerprints, sha256)."""
    resolved = reporting.resolve_destination(catalog.base_directory, destination)
    return reporting.plan_archive(
        catalog,
        filters,
        now=now,
        destination=resolved,
        archive_format=archive_format,
        overwrite=overwrite,
    )


@maintenance_task()
def execute_archive(plan: ArchivePlan, backups: list[VerifiedBackup]) -> ArchiveResult:
    """Write exactly the approved plan's archives; no retries (a failure is reported).

    ``backups`` are the verified backups of the archives this run replaces (empty when it
    replaces none); the flow backs up every destination that exists when it calls this.
    """
    del backups  # the permission, not an input of the writer
    return reporting.execute_archive(plan, dry_run=False)


@maintenance_task(retries=2, retry_delay_seconds=[1, 5])
def verify_archives(plan: ArchivePlan, result: ArchiveResult) -> ArchiveVerification:
    """Re-read every archive the execution wrote and compare it with what was planned."""
    by_path = {target.relative_path: target for target in plan.targets}
    checks = [_check(plan, by_path[written.relative_path], written) for written in result.targets]
    verified = sum(check.status == "verified" for check in checks)
    return ArchiveVerification(
        plan_sha256=plan.sha256,
        verified_count=verified,
        failed_count=len(checks) - verified,
        checks=checks,
    )


@maintenance_task()
def remove_archived_sources(plan: PurgePlan, verification: ArchiveVerification) -> PurgeResult:
    """Delete the sources of verified archives; the executor re-checks every fingerprint.

    Refuses a plan naming a target whose archive did not verify.  No retries.
    """
    unverified = {t.relative_path for t in plan.targets} - set(verification.verified_paths())
    if unverified:
        raise InvalidInputError(
            f"refusing to delete sources without a verified archive: {sorted(unverified)}"
        )
    return reporting.execute_purge(plan, dry_run=False)


# -- S3 destinations ---------------------------------------------------------------------------


def s3_archive_key(plan: ArchivePlan, target: ArchivePlannedTarget) -> str:
    """The object key (below the store's prefix) of a target staged in ``plan``'s directory:
    the same ``<parent>/<name>.zip|.tar.gz`` layout a local destination gets."""
    relative = os.path.relpath(target.fs_destination_path, plan.fs_destination_directory)
    return relative.replace(os.sep, "/")


def _s3_url(store: S3AuditStore, key: str) -> str:
    return f"{store.location}/{key}"


@maintenance_task()
def upload_archives(plan: ArchivePlan, result: ArchiveResult, store: S3AuditStore) -> ArchiveResult:
    """Upload every staged archive that re-reads cleanly; the S3 view of the execution.

    Returns ``result`` with each destination replaced by its ``s3://`` URL.  An archive that
    failed the local read-back is not uploaded (``error``); an object that already exists is
    ``skipped_existing`` (never replaced: overwrite on S3 is refused by the flow).  The
    existence check and the upload are two requests, because boto3's managed transfer cannot
    send ``If-None-Match``; :func:`verify_s3_archives` compares the sha256 afterwards, so an
    object replaced in between fails verification instead of passing.  No retries.
    """
    by_path = {target.relative_path: target for target in plan.targets}
    targets: list[ArchiveTargetResult] = []
    for written in result.targets:
        target = by_path[written.relative_path]
        key = s3_archive_key(plan, target)
        update: dict[str, object] = {"destination_path": _s3_url(store, key)}
        if written.status == "copied":
            local = _check(plan, target, written)
            try:
                if local.status != "verified":
                    problems = "; ".join(local.problems)
                    update |= {"status": "error", "error": f"staged archive: {problems}"}
                elif store.exists(key):
                    update |= {
                        "status": "skipped_existing",
                        "error": "object exists on S3; not replaced",
                    }
                else:
                    store.put_file(key, target.fs_destination_path, sha256=written.sha256)
            except AuditStoreError as exc:
                update |= {"status": "error", "error": f"upload failed: {exc}"}
        targets.append(written.model_copy(update=update))
    copied = [t for t in targets if t.status == "copied"]
    errors = [f"{t.relative_path}: {t.error}" for t in targets if t.error]
    failed = any(t.status in ("error", "skipped_existing", "not_found") for t in targets)
    return result.model_copy(
        update={
            "destination_directory": store.location,
            "targets": targets,
            "copied_count": len(copied),
            "copied_files": sum(t.copied_files for t in copied),
            "copied_directories": sum(t.copied_directories for t in copied),
            "copied_size": sum(t.copied_size for t in copied),
            "errors": errors or None,
            "status": ("partial_failure" if copied else "error") if failed else result.status,
        }
    )


@maintenance_task(retries=2, retry_delay_seconds=[1, 5])
def verify_s3_archives(
    plan: ArchivePlan, uploaded: ArchiveResult, store: S3AuditStore
) -> ArchiveVerification:
    """Download every uploaded archive and check it: sha256 of the bytes read back against
    the staged archive's and the object's ``sha256`` metadata, then every member re-read."""
    by_path = {target.relative_path: target for target in plan.targets}
    checks = [
        _check_s3(plan, by_path[written.relative_path], written, store)
        for written in uploaded.targets
    ]
    verified = sum(check.status == "verified" for check in checks)
    return ArchiveVerification(
        plan_sha256=plan.sha256,
        verified_count=verified,
        failed_count=len(checks) - verified,
        checks=checks,
    )


def _check_s3(
    plan: ArchivePlan,
    target: ArchivePlannedTarget,
    written: ArchiveTargetResult,
    store: S3AuditStore,
) -> ArchiveCheck:
    key = s3_archive_key(plan, target)
    check = ArchiveCheck(
        relative_path=target.relative_path,
        destination_path=written.destination_path,
        format=plan.format,
        status="not_written",
        problems=[written.error or f"archive {written.status}"],
        s3_key=key,
    )
    if written.status != "copied":
        return check
    problems: list[str] = []
    files = size = 0
    digest: str | None = None
    object_size: int | None = None
    try:
        with store.fetch_file(key) as path:
            digest, object_size = _file_sha256(str(path))
            if digest != written.sha256:
                problems.append(f"sha256 {digest} differs from the uploaded {written.sha256}")
            read = _read_zip if plan.format == "zip" else _read_tar
            files, size = read(str(path), problems)
        metadata = _object_metadata(store, key)
        if metadata.get("sha256") != written.sha256:
            problems.append(f"object metadata sha256 {metadata.get('sha256')!r} differs")
    except (AuditStoreError, OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        problems.append(f"cannot read the archive back from S3: {exc}")
    if not problems and files != written.copied_files:
        problems.append(f"{files} files read back, {written.copied_files} written")
    return check.model_copy(
        update={
            "status": "failed" if problems else "verified",
            "sha256": digest,
            "files_checked": files,
            "bytes_checked": size,
            "problems": problems,
            "s3_size": object_size,
        }
    )


def _object_metadata(store: S3AuditStore, key: str) -> dict[str, str]:
    """The object's user metadata (``x-amz-meta-*``), where put_file stored the sha256."""
    from botocore.exceptions import BotoCoreError, ClientError

    object_key = f"{store.prefix}/{key}" if store.prefix else key
    try:
        head = store.client.head_object(Bucket=store.bucket, Key=object_key)
    except (BotoCoreError, ClientError) as exc:
        raise AuditStoreError(f"cannot read the metadata of {_s3_url(store, key)}: {exc}") from exc
    metadata: dict[str, str] = head.get("Metadata", {})
    return metadata


# -- reading archives back ---------------------------------------------------------------------


def _sha256(handle: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _file_sha256(path: str) -> tuple[str, int]:
    with open(path, "rb") as handle:
        return _sha256(handle)


def _check(
    plan: ArchivePlan, target: ArchivePlannedTarget, written: ArchiveTargetResult
) -> ArchiveCheck:
    problems: list[str] = []
    check = ArchiveCheck(
        relative_path=target.relative_path,
        destination_path=target.destination_path,
        format=plan.format,
        status="not_written",
        problems=[written.error or f"archive {written.status}"],
    )
    if written.status != "copied":
        return check
    path = target.fs_destination_path
    try:
        if plan.format == "directory":
            source = os.path.join(plan.fs_base_directory, target.fs_path)
            files, size = _compare_tree(source, path, problems)
            digest = None
        else:
            digest, _ = _file_sha256(path)
            if written.sha256 != digest:
                problems.append(f"sha256 {digest} differs from the recorded {written.sha256}")
            read = _read_zip if plan.format == "zip" else _read_tar
            files, size = read(path, problems)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        problems.append(f"cannot read the archive back: {exc}")
        files, size, digest = 0, 0, None
    if not problems and files != written.copied_files:
        problems.append(f"{files} files read back, {written.copied_files} written")
    return check.model_copy(
        update={
            "status": "failed" if problems else "verified",
            "sha256": digest,
            "files_checked": files,
            "bytes_checked": size,
            "problems": problems,
        }
    )


def _read_zip(path: str, problems: list[str]) -> tuple[int, int]:
    """Read every member in full: zipfile checks each member's CRC-32 at its end."""
    files = size = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            try:
                with archive.open(info) as member:
                    _, read = _sha256(member)
            except zipfile.BadZipFile as exc:
                problems.append(f"{info.filename}: {exc}")
                continue
            if read != info.file_size:
                problems.append(f"{info.filename}: {read} bytes read, {info.file_size} recorded")
            files += 1
            size += read
    return files, size


def _read_tar(path: str, problems: list[str]) -> tuple[int, int]:
    """Read every member in full (gzip checks its CRC-32 and length at the end)."""
    files = size = 0
    with tarfile.open(path, mode="r:gz") as archive:
        for member in archive:
            if member.isdir():
                continue
            if member.isfile():
                handle = archive.extractfile(member)
                assert handle is not None
                _, read = _sha256(handle)
                if read != member.size:
                    problems.append(f"{member.name}: {read} bytes read, {member.size} recorded")
                size += read
            files += 1
    return files, size


def _walk(root: str) -> Iterator[str]:
    """Every non-directory path under ``root`` (relative), symlinks not followed."""
    for directory, _, names in os.walk(root, followlinks=False):
        for name in names:
            yield os.path.relpath(os.path.join(directory, name), root)


def _compare_tree(source: str, copy: str, problems: list[str]) -> tuple[int, int]:
    """Compare every file of the copy with its source: type, size and sha256."""
    if not os.path.isdir(copy) or os.path.islink(copy):
        return _compare_file(source, copy, os.path.basename(copy), problems)
    files = size = 0
    for relative in sorted(_walk(copy)):
        got = _compare_file(
            os.path.join(source, relative), os.path.join(copy, relative), relative, problems
        )
        files += got[0]
        size += got[1]
    return files, size


def _compare_file(source: str, copy: str, shown: str, problems: list[str]) -> tuple[int, int]:
    copied = os.lstat(copy)
    try:
        original = os.lstat(source)
    except FileNotFoundError:
        problems.append(f"{shown}: in the copy but not in the source")
        return 1, 0
    if stat.S_ISLNK(copied.st_mode) or stat.S_ISLNK(original.st_mode):
        if os.path.islink(source) != os.path.islink(copy) or (
            os.readlink(source) != os.readlink(copy)
        ):
            problems.append(f"{shown}: symlink differs from the source")
        return 1, 0
    copy_digest, copy_size = _file_sha256(copy)
    source_digest, source_size = _file_sha256(source)
    if (copy_size, copy_digest) != (source_size, source_digest):
        problems.append(f"{shown}: size or sha256 differs from the source")
    return 1, copy_size
