"""Restoring a verified backup into a target directory, refusing anything unsafe.

Why it never uses ``tarfile.extract``: every write goes through a descriptor on its parent
directory, opened component by component with ``O_NOFOLLOW`` (``bot_core._fs``), and files
appear by an atomic rename of a hidden temporary file whose sha256 was checked against the
manifest.  So an entry cannot escape the target, whatever the archive says (``..`` and
absolute paths are already refused by verification; a symlink planted in the target, or
one restored earlier, is never followed), and a hard link can never point outside.

Rules, per entry (all reported, like borg's dry-run and real-run loop):

* missing -> ``restored`` (dry run: ``would_restore``);
* an existing file with the same content -> ``unchanged``;
* an existing file that is newer than the backup's copy -> ``skipped_newer`` unless
  ``overwrite``; an older one -> ``replaced`` (dry run: ``would_replace``);
* a symlink, file or directory in the way, or a symlink in the path -> ``refused``;
* files get their original mode and mtime (nanoseconds); directories created by the restore
  get theirs at the end; existing directories are left as they are.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal, get_args

from pydantic import Field

from bot_core._fs import display_path, open_relative_dir
from bot_core._progress import NullProgress, ProgressCallback
from bot_core._types import Document
from bot_core.audit._backup import (
    ARCHIVE_NAME,
    EntryType,
    ManifestEntry,
    VerifiedBackup,
    _backup_key,
    _unwrap,
    backup_file_key,
    iter_archive,
)
from bot_core.audit._fsat import fsync_fd, publish_at, temporary_file_at
from bot_core.audit._store import AuditStore, sha256_file
from bot_core.errors import BackupNotVerifiedError, OperationError

__all__ = ["RestoreEntry", "RestoreResult", "RestoreStatus", "restore_backup"]

RestoreStatus = Literal[
    "restored",
    "replaced",
    "unchanged",
    "would_restore",
    "would_replace",
    "skipped_newer",
    "refused",
    "error",
]

_CHUNK = 1024 * 1024
_FILE_MODE_MASK = 0o1777  # permission bits and sticky; never setuid/setgid


class RestoreEntry(Document):
    """What the restore did (or would do) with one entry of the backup."""

    path: str
    type: EntryType
    status: RestoreStatus
    reason: str | None = None


class RestoreResult(Document):
    """The outcome of ``python -m bot_core.audit restore``."""

    backup_id: str
    store: str
    target: str
    dry_run: bool
    overwrite: bool
    status: Literal["preview", "completed", "partial_failure"]
    restored_count: int
    replaced_count: int
    unchanged_count: int
    skipped_count: int
    refused_count: int
    error_count: int
    entries: list[RestoreEntry] = Field(default_factory=list)


class _Refused(Exception):
    """An entry cannot be restored safely (the reason is the message)."""


class _Restorer:
    def __init__(
        self, backup: VerifiedBackup, root_fd: int | None, *, dry_run: bool, overwrite: bool
    ) -> None:
        self.backup = backup
        self.root_fd = root_fd
        self.dry_run = dry_run
        self.overwrite = overwrite
        self.results: dict[str, RestoreEntry] = {}
        self.created_dirs: list[ManifestEntry] = []
        self.blocked: list[str] = []  # raw paths whose subtrees cannot be restored

    # -- helpers ------------------------------------------------------------------------------

    def _set(self, entry: ManifestEntry, status: RestoreStatus, reason: str | None = None) -> None:
        self.results[entry.raw()] = RestoreEntry(
            path=entry.path, type=entry.type, status=status, reason=reason
        )

    def _is_blocked(self, raw: str) -> str | None:
        for blocked in self.blocked:
            if raw.startswith(blocked + "/"):
                return blocked
        return None

    @contextlib.contextmanager
    def _parent(self, raw: str) -> Iterator[tuple[int | None, str]]:
        """A descriptor on the entry's parent (``None``: it does not exist yet, dry run)."""
        parts = raw.split("/")
        if self.root_fd is None:
            yield None, parts[-1]
            return
        try:
            fd = open_relative_dir(self.root_fd, parts[:-1])
        except FileNotFoundError:
            if not self.dry_run:
                raise
            yield None, parts[-1]
            return
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _Refused("a symlink or a file sits in its path in the target") from exc
            raise
        try:
            yield fd, parts[-1]
        finally:
            os.close(fd)

    def _guard(self, entry: ManifestEntry) -> bool:
        blocked = self._is_blocked(entry.raw())
        if blocked is not None:
            self._set(entry, "refused", f"{display_path(blocked)} could not be restored")
            return False
        return True

    def _existing_decision(
        self, entry: ManifestEntry, current: os.stat_result, same: bool
    ) -> RestoreStatus | None:
        """``unchanged``/``skipped_newer`` to stop here, ``None`` to go on and replace."""
        if same:
            return "unchanged"
        if current.st_mtime_ns > entry.mtime_ns and not self.overwrite:
            return "skipped_newer"
        return None

    # -- directories --------------------------------------------------------------------------

    def directory(self, entry: ManifestEntry) -> None:
        if not self._guard(entry):
            self.blocked.append(entry.raw())
            return
        try:
            with self._parent(entry.raw()) as (fd, name):
                current = _lstat(name, fd)
                if current is None:
                    if self.dry_run or fd is None:
                        self._set(entry, "would_restore")
                        return
                    os.mkdir(name, 0o700, dir_fd=fd)
                    self.created_dirs.append(entry)
                    self._set(entry, "restored")
                elif stat.S_ISDIR(current.st_mode):
                    self._set(entry, "unchanged", "the directory exists")
                else:
                    kind = "a symlink" if stat.S_ISLNK(current.st_mode) else "a file"
                    raise _Refused(f"{kind} is in the way")
        except _Refused as exc:
            self.blocked.append(entry.raw())
            self._set(entry, "refused", str(exc))
        except OSError as exc:
            self.blocked.append(entry.raw())
            self._set(entry, "error", exc.strerror or str(exc))

    def finish_directories(self) -> None:
        """Give the directories this restore created their modes and mtimes, deepest first."""
        assert self.root_fd is not None
        for entry in sorted(self.created_dirs, key=lambda e: e.raw().count("/"), reverse=True):
            try:
                fd = open_relative_dir(self.root_fd, entry.raw().split("/"))
                try:
                    os.fchmod(fd, entry.mode_bits() & _FILE_MODE_MASK)
                    os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
                finally:
                    os.close(fd)
            except OSError as exc:
                self._set(entry, "error", f"metadata not restored: {exc.strerror or exc}")

    # -- files --------------------------------------------------------------------------------

    def file(self, entry: ManifestEntry, source: IO[bytes]) -> None:
        if not self._guard(entry):
            return
        try:
            with self._parent(entry.raw()) as (fd, name):
                current = _lstat(name, fd)
                replacing = False
                if current is not None:
                    if stat.S_ISLNK(current.st_mode):
                        raise _Refused("a symlink is in the way")
                    if not stat.S_ISREG(current.st_mode):
                        raise _Refused("a directory or special file is in the way")
                    assert fd is not None
                    decision = self._existing_decision(
                        entry, current, _same_content(fd, name, current, entry)
                    )
                    if decision is not None:
                        self._set(entry, decision)
                        return
                    replacing = True
                if self.dry_run or fd is None:
                    self._set(entry, "would_replace" if replacing else "would_restore")
                    return
                self._write(fd, name, entry, source)
                self._set(entry, "replaced" if replacing else "restored")
        except _Refused as exc:
            self._set(entry, "refused", str(exc))
        except OSError as exc:
            self._set(entry, "error", exc.strerror or str(exc))

    def _write(self, fd: int, name: str, entry: ManifestEntry, source: IO[bytes]) -> None:
        digest = hashlib.sha256()
        size = 0
        with temporary_file_at(fd, name) as (handle, temp_name):
            while chunk := source.read(_CHUNK):
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            if (digest.hexdigest(), size) != (entry.sha256, entry.size):
                raise BackupNotVerifiedError(
                    f"backup {self.backup.backup_id} changed since it was verified: "
                    f"{entry.path} does not match the manifest"
                )
            publish_at(
                fd,
                temp_name,
                name,
                exclusive=False,
                handle=handle,
                mode=entry.mode_bits() & _FILE_MODE_MASK,
                mtime_ns=entry.mtime_ns,
            )

    # -- symlinks -----------------------------------------------------------------------------

    def symlink(self, entry: ManifestEntry) -> None:
        if not self._guard(entry):
            return
        target = entry.raw_link_target()
        assert target is not None
        try:
            with self._parent(entry.raw()) as (fd, name):
                current = _lstat(name, fd)
                replacing = False
                if current is not None:
                    if not stat.S_ISLNK(current.st_mode):
                        raise _Refused("a file or directory is in the way")
                    assert fd is not None
                    same = os.readlink(name, dir_fd=fd) == target
                    decision = self._existing_decision(entry, current, same)
                    if decision is not None:
                        self._set(entry, decision)
                        return
                    replacing = True
                if self.dry_run or fd is None:
                    self._set(entry, "would_replace" if replacing else "would_restore")
                    return
                temp_name = f".{name}.restore.partial" if len(name) < 200 else ".link.partial"
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp_name, dir_fd=fd)
                os.symlink(target, temp_name, dir_fd=fd)
                try:
                    os.utime(
                        temp_name,
                        ns=(entry.mtime_ns, entry.mtime_ns),
                        dir_fd=fd,
                        follow_symlinks=False,
                    )
                    os.rename(temp_name, name, src_dir_fd=fd, dst_dir_fd=fd)
                except BaseException:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temp_name, dir_fd=fd)
                    raise
                fsync_fd(fd)
                self._set(entry, "replaced" if replacing else "restored")
        except _Refused as exc:
            self._set(entry, "refused", str(exc))
        except OSError as exc:
            self._set(entry, "error", exc.strerror or str(exc))


def _lstat(name: str, dir_fd: int | None) -> os.stat_result | None:
    if dir_fd is None:
        return None
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


def _same_content(fd: int, name: str, current: os.stat_result, entry: ManifestEntry) -> bool:
    if current.st_size != entry.size:
        return False
    file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=fd)
    with os.fdopen(file_fd, "rb") as handle:
        digest = hashlib.sha256()
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest() == entry.sha256


def _sort_key(entry: ManifestEntry) -> list[bytes]:
    return [part.encode("utf-8", "surrogateescape") for part in entry.raw().split("/")]


def restore_backup(
    backup: VerifiedBackup,
    store: AuditStore,
    *,
    target: str | os.PathLike[str] | None = None,
    dry_run: bool = False,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> RestoreResult:
    """Put the files of a verified backup back under ``target`` (default: its source root).

    **Parameters:**

    * ``backup`` - from ``verify_backup(...).verified_backup()``: an unverified backup
      cannot be restored.
    * ``dry_run`` - report what would happen and change nothing.
    * ``overwrite`` - also replace files that are newer than the backup's copy.
    """
    if not isinstance(backup, VerifiedBackup):
        raise TypeError("restore_backup needs a VerifiedBackup (see verify_backup)")
    store = _unwrap(store)
    report = progress or NullProgress()
    manifest = backup.manifest
    root = os.path.abspath(os.fspath(target) if target is not None else manifest.raw_source_root())
    root_fd: int | None = None
    try:
        if not dry_run:
            os.makedirs(root, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise OperationError(f"cannot open restore target {display_path(root)}: {exc}") from exc
    restorer = _Restorer(backup, root_fd, dry_run=dry_run, overwrite=overwrite)
    entries = sorted(manifest.entries, key=_sort_key)
    try:
        for entry in entries:
            if entry.type == "directory":
                restorer.directory(entry)
        files = {entry.raw(): entry for entry in entries if entry.type == "file"}
        done = 0
        if manifest.format == "tar.gz":
            with store.fetch_file(_backup_key(manifest.backup_id, ARCHIVE_NAME)) as local:
                _check_archive_hash(backup, local)
                for member, reader in iter_archive(local):
                    wanted = files.get(member.name)
                    if wanted is None or reader is None:
                        continue
                    restorer.file(wanted, reader)
                    done += 1
                    report("restore", done, len(files))
        else:
            for raw, entry in files.items():
                with (
                    store.fetch_file(backup_file_key(manifest.backup_id, raw)) as local,
                    open(local, "rb") as reader,
                ):
                    restorer.file(entry, reader)
                done += 1
                report("restore", done, len(files))
        for entry in entries:
            if entry.type == "symlink":
                restorer.symlink(entry)
        if root_fd is not None and not dry_run:
            restorer.finish_directories()
            fsync_fd(root_fd)
    finally:
        if root_fd is not None:
            os.close(root_fd)
    results = [restorer.results[e.raw()] for e in entries if e.raw() in restorer.results]
    counts = {
        status: sum(r.status == status for r in results) for status in get_args(RestoreStatus)
    }
    failed = counts["refused"] + counts["error"] + counts["skipped_newer"]
    return RestoreResult(
        backup_id=manifest.backup_id,
        store=store.location,
        target=display_path(root),
        dry_run=dry_run,
        overwrite=overwrite,
        status="preview" if dry_run else ("partial_failure" if failed else "completed"),
        restored_count=counts["restored"] + counts["would_restore"],
        replaced_count=counts["replaced"] + counts["would_replace"],
        unchanged_count=counts["unchanged"],
        skipped_count=counts["skipped_newer"],
        refused_count=counts["refused"],
        error_count=counts["error"],
        entries=results,
    )


def _check_archive_hash(backup: VerifiedBackup, local: Path) -> None:
    archive = backup.manifest.archive
    digest, size = sha256_file(local)
    if archive is None or (digest, size) != (archive.sha256, archive.size):
        raise BackupNotVerifiedError(
            f"backup {backup.backup_id} changed since it was verified: the archive's sha256 "
            "no longer matches the manifest"
        )
