"""Prefect tasks for the archive flow: plan, write, re-read every archive, remove sources.

Planning and writing are one library call each.  Re-reading the written archives has no
``bot_core`` counterpart (the library trusts its own writer); it lives here, read-only and
retried like every read, because the flow must not delete a source on the writer's word
alone: ``delete_after`` needs proof that the archive on disk holds the source's bytes.
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

from prefect import task
from prefect.cache_policies import NO_CACHE

from bot_core import reporting
from bot_core._types import Document
from bot_core.audit import VerifiedBackup
from bot_core.errors import InvalidInputError
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

__all__ = [
    "ArchiveCheck",
    "ArchiveVerification",
    "execute_archive",
    "plan_archive",
    "remove_archived_sources",
    "verify_archives",
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


class ArchiveVerification(Document):
    """The ``verification`` record: every target's archive, re-read after the execution."""

    plan_sha256: str
    verified_count: int
    failed_count: int
    checks: list[ArchiveCheck]

    def verified_paths(self) -> list[str]:
        """The targets whose archive verified: the only sources ``delete_after`` may remove."""
        return [check.relative_path for check in self.checks if check.status == "verified"]


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
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


@task(cache_policy=NO_CACHE)
def execute_archive(plan: ArchivePlan, backups: list[VerifiedBackup]) -> ArchiveResult:
    """Write exactly the approved plan's archives; no retries (a failure is reported).

    ``backups`` are the verified backups of the archives this run replaces (empty when it
    replaces none); the flow backs up every destination that exists when it calls this.
    """
    del backups  # the permission, not an input of the writer
    return reporting.execute_archive(plan, dry_run=False)


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
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


@task(cache_policy=NO_CACHE)
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
