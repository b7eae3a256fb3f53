"""Backups of a plan's targets, their manifest, and verification by reading them back.

Why this design:

* A backup is only worth something once it has been read back, so the API makes that
  explicit: :func:`verify_backup` returns a :class:`BackupVerification`, and only its
  :meth:`~BackupVerification.verified_backup` hands out a :class:`VerifiedBackup`, which
  nothing else can construct.  Executors that destroy data take a ``VerifiedBackup``.
* Sources are walked with descriptors and ``O_NOFOLLOW`` (``bot_core._fs``): a symlink is
  stored as a link, never followed, and a requested path that passes through a symlink is
  refused.  Names that are not UTF-8 are kept byte for byte (``surrogateescape``).
* The archive is a GNU tar in a ``gzip.GzipFile`` at level 6 (Python 3.11's ``w|gz``
  hard-codes level 9), or a directory copy: one object per file.  Data goes first, the
  manifest last: a backup exists only once its ``manifest.json`` does, and every object is
  itself published atomically (rename/link on disk, a single PUT or completed multipart
  upload on S3).

Layout in the store (``backups/`` under the audit directory by default)::

    backups/<backup-id>/data.tar.gz            (format tar.gz)
    backups/<backup-id>/files/<quoted path>    (format directory; raw bytes %-quoted)
    backups/<backup-id>/manifest.json.sha256   sha256 of manifest.json, sha256sum format
    backups/<backup-id>/manifest.json          the manifest, written last
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import re
import secrets
import stat
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, cast
from urllib.parse import quote

from pydantic import ConfigDict, Field, PrivateAttr, ValidationError

from bot_core._fs import (
    DIR_OPEN_FLAGS,
    decode_raw_path,
    display_path,
    encode_raw_path,
    open_relative_dir,
    split_relative,
)
from bot_core._progress import NullProgress, ProgressCallback
from bot_core._types import Document, UtcDateTime, as_utc
from bot_core.audit._keys import BACKUPS_PREFIX, build_key
from bot_core.audit._spool import SpoolingAuditStore
from bot_core.audit._store import AuditStore, dump_json, load_json
from bot_core.errors import (
    AuditStoreError,
    BackupError,
    BackupNotFoundError,
    BackupNotVerifiedError,
    RecordNotFoundError,
    UnsafePathError,
)

__all__ = [
    "BACKUP_SCHEMA",
    "ArchiveInfo",
    "BackupFormat",
    "BackupManifest",
    "BackupProblem",
    "BackupSummary",
    "BackupVerification",
    "ManifestEntry",
    "StoredBackup",
    "VerifiedBackup",
    "backup_file_key",
    "create_backup",
    "iter_archive",
    "list_backups",
    "load_manifest",
    "new_backup_id",
    "verify_backup",
]

BACKUP_SCHEMA: Literal["bot_core.audit.backup/1"] = "bot_core.audit.backup/1"
GZIP_LEVEL = 6
ARCHIVE_NAME = "data.tar.gz"
MANIFEST_NAME = "manifest.json"
MANIFEST_SHA_NAME = "manifest.json.sha256"

BackupFormat = Literal["tar.gz", "directory"]
EntryType = Literal["file", "directory", "symlink"]

_BACKUP_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024
_FILE_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_KEY_SAFE = "/!$&'()*+,;=:@-._~ "


# -- documents --------------------------------------------------------------------------------


class ManifestEntry(Document):
    """One file, directory or symlink in a backup, relative to the source root.

    ``path`` is the display form (invalid UTF-8 bytes as ``\\xNN``); ``raw_path`` is the
    base64 of the real bytes when the display form would lose them (else ``null``).
    ``mode`` is the permission bits in octal (``"0644"``); ``mtime_ns`` is exact.
    """

    path: str
    raw_path: str | None = None
    type: EntryType
    size: int = Field(ge=0)
    mode: str = Field(pattern=r"^0[0-7]{3,4}$")
    mtime: UtcDateTime
    mtime_ns: int
    sha256: str | None = None
    link_target: str | None = None
    link_target_raw: str | None = None

    def raw(self) -> str:
        """The real relative path (``surrogateescape`` str)."""
        return decode_raw_path(self.path, self.raw_path)

    def raw_link_target(self) -> str | None:
        """The real symlink target, for symlinks."""
        if self.link_target is None:
            return None
        return decode_raw_path(self.link_target, self.link_target_raw)

    def mode_bits(self) -> int:
        """``mode`` as an int."""
        return int(self.mode, 8)


class ArchiveInfo(Document):
    """The archive object of a ``tar.gz`` backup."""

    key: str
    size: int
    sha256: str
    tar_format: Literal["gnu"] = "gnu"
    gzip_level: int = GZIP_LEVEL


class BackupManifest(Document):
    """The manifest of a backup (``manifest.json``; JSON schema in ``docs/audit.md``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_: Literal["bot_core.audit.backup/1"] = Field(default=BACKUP_SCHEMA, alias="schema")
    backup_id: str
    created_at: UtcDateTime
    source_root: str
    source_root_raw: str | None = None
    format: BackupFormat
    paths: list[str]
    missing: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    archive: ArchiveInfo | None = None
    file_count: int
    directory_count: int
    symlink_count: int
    total_size: int
    entries: list[ManifestEntry]

    def raw_source_root(self) -> str:
        """The real source root path."""
        return decode_raw_path(self.source_root, self.source_root_raw)

    def to_bytes(self) -> bytes:
        """The exact bytes stored as ``manifest.json``."""
        return dump_json(self.model_dump(mode="json", by_alias=True))


class StoredBackup(Document):
    """What :func:`create_backup` wrote: verify it before relying on it."""

    backup_id: str
    store: str
    format: BackupFormat
    manifest_key: str
    manifest_sha256: str
    file_count: int
    total_size: int
    archive_size: int | None
    missing: list[str]


class BackupProblem(Document):
    """One reason a backup is not verified."""

    path: str | None
    problem: str


class BackupSummary(Document):
    """One backup in ``python -m bot_core.audit list``."""

    backup_id: str
    created_at: UtcDateTime
    format: BackupFormat
    source_root: str
    file_count: int
    total_size: int
    labels: dict[str, str]


class BackupVerification(Document):
    """The verdict of :func:`verify_backup`: ``verified``, or ``failed`` with the problems."""

    backup_id: str
    store: str
    status: Literal["verified", "failed"]
    verified_at: UtcDateTime
    manifest_sha256: str | None
    format: BackupFormat | None
    files_checked: int
    bytes_checked: int
    problems: list[BackupProblem] = Field(default_factory=list)

    _verified: VerifiedBackup | None = PrivateAttr(default=None)

    def verified_backup(self) -> VerifiedBackup:
        """The capability to execute a destructive step; raises unless verified.

        Only a verification produced by :func:`verify_backup` carries it: a
        ``BackupVerification`` built by hand (or parsed from JSON) never does.
        """
        if self.status != "verified" or self._verified is None:
            reasons = "; ".join(
                f"{p.path}: {p.problem}" if p.path else p.problem for p in self.problems[:3]
            )
            raise BackupNotVerifiedError(
                f"backup {self.backup_id} is not verified"
                + (f": {reasons}" if reasons else " (not produced by verify_backup)")
            )
        return self._verified


_TOKEN = object()


class VerifiedBackup:
    """Proof that a backup was read back and every hash matched.

    Only :func:`verify_backup` can create one; flows hand it to the executor of a
    destructive step, which is how "only a verified backup may permit execution" is
    enforced by the types rather than by convention.
    """

    __slots__ = ("manifest", "manifest_sha256", "store", "verification")

    def __init__(
        self,
        verification: BackupVerification,
        manifest: BackupManifest,
        *,
        _token: object = None,
    ) -> None:
        if _token is not _TOKEN:
            raise TypeError("a VerifiedBackup is only produced by verify_backup()")
        self.verification = verification
        self.manifest = manifest
        self.manifest_sha256 = verification.manifest_sha256
        self.store = verification.store

    @property
    def backup_id(self) -> str:
        return self.manifest.backup_id

    def __repr__(self) -> str:
        return f"VerifiedBackup({self.backup_id!r}, manifest_sha256={self.manifest_sha256!r})"


# -- keys -------------------------------------------------------------------------------------


def new_backup_id(now: datetime | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-<8 hex>``: sortable by time, unique by the random suffix."""
    moment = as_utc(now or datetime.now(UTC))
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def _check_backup_id(backup_id: str) -> str:
    if not _BACKUP_ID.match(backup_id):
        raise UnsafePathError(
            f"invalid backup id {backup_id!r}: expected YYYYMMDDTHHMMSSZ-xxxxxxxx"
        )
    return backup_id


def _backup_key(backup_id: str, *parts: str) -> str:
    return build_key(BACKUPS_PREFIX, _check_backup_id(backup_id), *parts)


def backup_file_key(backup_id: str, raw_path: str) -> str:
    """The object key of one file in a ``directory`` backup (raw bytes %-quoted)."""
    quoted = quote(raw_path.encode("utf-8", "surrogateescape"), safe=_KEY_SAFE)
    return _backup_key(backup_id, "files", quoted)


def _unwrap(store: AuditStore) -> AuditStore:
    return store.primary if isinstance(store, SpoolingAuditStore) else store


# -- writing ----------------------------------------------------------------------------------


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


class _HashingReader:
    """A read-only file object that hashes what is read through it."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


class _CompressInBackground:
    """Feed a ``GzipFile`` from a worker thread, in 1 MiB pieces, in order.

    Why: compressing is most of a backup's CPU time, and ``zlib`` (like the sha256 and the
    file write behind it) releases the GIL, so the tar stream can be built on this thread
    while the previous piece is compressed on another core.  The bytes are the same as
    writing directly: one writer thread keeps the order, and DEFLATE output does not depend
    on how its input is split into ``compress`` calls.  An error in the worker is raised by
    the next ``write`` or by ``close``.
    """

    def __init__(self, target: gzip.GzipFile) -> None:
        self.target = target
        self.buffer = bytearray()
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.previous: Future[int] | None = None

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= _CHUNK:
            self._hand_over()
        return len(data)

    def _hand_over(self) -> None:
        piece = bytes(self.buffer)
        self.buffer.clear()
        if self.previous is not None:
            self.previous.result()  # at most one piece waits: memory stays bounded
        self.previous = self.pool.submit(self.target.write, piece)

    def close(self) -> None:
        try:
            if self.buffer:
                self._hand_over()
            if self.previous is not None:
                self.previous.result()
        finally:
            self.pool.shutdown(wait=True)

    def __enter__(self) -> _CompressInBackground:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self.close()
        else:
            self.pool.shutdown(wait=True)


@dataclass
class _Walk:
    entries: dict[str, ManifestEntry]
    sink: _Sink
    progress: ProgressCallback
    files_done: int = 0


def _entry(raw: str, st: os.stat_result, kind: EntryType, **extra: Any) -> ManifestEntry:
    return ManifestEntry(
        path=display_path(raw),
        raw_path=encode_raw_path(raw),
        type=kind,
        size=st.st_size if kind == "file" else 0,
        mode=f"{stat.S_IMODE(st.st_mode):04o}",
        mtime=datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=UTC),
        mtime_ns=st.st_mtime_ns,
        **extra,
    )


class _Sink:
    """Where walked entries go: a tar stream or a directory of objects."""

    def directory(self, raw: str, entry: ManifestEntry) -> None:
        raise NotImplementedError

    def symlink(self, raw: str, entry: ManifestEntry, target: str) -> None:
        raise NotImplementedError

    def file(self, raw: str, entry: ManifestEntry, handle: IO[bytes]) -> str:
        raise NotImplementedError


class _TarSink(_Sink):
    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar

    def _info(self, raw: str, entry: ManifestEntry, kind: bytes) -> tarfile.TarInfo:
        info = tarfile.TarInfo(raw)
        info.type = kind
        info.mode = entry.mode_bits()
        info.mtime = entry.mtime_ns // 1_000_000_000
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    def directory(self, raw: str, entry: ManifestEntry) -> None:
        self.tar.addfile(self._info(raw, entry, tarfile.DIRTYPE))

    def symlink(self, raw: str, entry: ManifestEntry, target: str) -> None:
        info = self._info(raw, entry, tarfile.SYMTYPE)
        info.linkname = target
        self.tar.addfile(info)

    def file(self, raw: str, entry: ManifestEntry, handle: IO[bytes]) -> str:
        info = self._info(raw, entry, tarfile.REGTYPE)
        info.size = entry.size
        reader = _HashingReader(handle)
        self.tar.addfile(info, reader)
        return reader.digest.hexdigest()


class _DirectorySink(_Sink):
    def __init__(self, store: AuditStore, backup_id: str, staging: Path) -> None:
        self.store = store
        self.backup_id = backup_id
        self.staging = staging
        self.keys: set[str] = set()

    def directory(self, raw: str, entry: ManifestEntry) -> None:
        return None

    def symlink(self, raw: str, entry: ManifestEntry, target: str) -> None:
        return None

    def file(self, raw: str, entry: ManifestEntry, handle: IO[bytes]) -> str:
        key = backup_file_key(self.backup_id, raw)
        staged = self.staging / f"file-{len(self.keys)}"
        reader = _HashingReader(handle)
        with open(staged, "wb") as out:
            while chunk := reader.read(_CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if reader.size != entry.size:
            raise BackupError(f"{entry.path} changed size while being backed up")
        digest = reader.digest.hexdigest()
        self.store.put_file(key, staged, sha256=digest, move=True)
        self.keys.add(key)
        return digest


def _add_directory(walk: _Walk, raw: str, st: os.stat_result) -> None:
    if raw in walk.entries:
        return
    entry = _entry(raw, st, "directory")
    walk.sink.directory(raw, entry)
    walk.entries[raw] = entry


def _add_file(walk: _Walk, dir_fd: int, name: str, raw: str, st: os.stat_result) -> None:
    if raw in walk.entries:
        return
    try:
        fd = os.open(name, _FILE_OPEN_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise BackupError(f"cannot read {display_path(raw)}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        before = os.fstat(fd)
        if (before.st_ino, before.st_dev) != (st.st_ino, st.st_dev):
            raise BackupError(f"{display_path(raw)} was replaced while being backed up")
        entry = _entry(raw, before, "file")
        try:
            digest = walk.sink.file(raw, entry, handle)
        except OSError as exc:
            raise BackupError(f"cannot read {display_path(raw)}: {exc}") from exc
        after = os.fstat(fd)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise BackupError(f"{display_path(raw)} changed while being backed up")
    walk.entries[raw] = entry.model_copy(update={"sha256": digest})
    walk.files_done += 1
    walk.progress("backup", walk.files_done, None)


def _add_symlink(walk: _Walk, dir_fd: int, name: str, raw: str, st: os.stat_result) -> None:
    if raw in walk.entries:
        return
    target = os.readlink(name, dir_fd=dir_fd)
    entry = _entry(
        raw,
        st,
        "symlink",
        link_target=display_path(target),
        link_target_raw=encode_raw_path(target),
    )
    walk.sink.symlink(raw, entry, target)
    walk.entries[raw] = entry


def _add_tree(walk: _Walk, dir_fd: int, raw: str) -> None:
    with os.scandir(dir_fd) as scan:
        children = sorted(scan, key=lambda e: e.name.encode("utf-8", "surrogateescape"))
    for child in children:
        child_raw = f"{raw}/{child.name}"
        st = child.stat(follow_symlinks=False)
        _add_node(walk, dir_fd, child.name, child_raw, st)


def _add_node(walk: _Walk, dir_fd: int, name: str, raw: str, st: os.stat_result) -> None:
    if stat.S_ISLNK(st.st_mode):
        _add_symlink(walk, dir_fd, name, raw, st)
    elif stat.S_ISREG(st.st_mode):
        _add_file(walk, dir_fd, name, raw, st)
    elif stat.S_ISDIR(st.st_mode):
        _add_directory(walk, raw, st)
        child_fd = os.open(name, DIR_OPEN_FLAGS, dir_fd=dir_fd)
        try:
            _add_tree(walk, child_fd, raw)
        finally:
            os.close(child_fd)
    # sockets, fifos and devices are not report data: they are skipped


def _checked_parts(requested: str) -> list[str]:
    """The components of one requested path, or :class:`UnsafePathError` (``..``, absolute,
    the root itself)."""
    try:
        parts = split_relative(requested)
    except ValueError as exc:
        raise UnsafePathError(f"backup path refused: {exc}") from exc
    if not parts:
        raise UnsafePathError("backup path refused: the source root itself; name its contents")
    return parts


def _walk_sources(root_fd: int, paths: Sequence[str], walk: _Walk) -> list[str]:
    """Add every requested path (and its ancestors, for their metadata); return the missing."""
    missing: list[str] = []
    for requested in paths:
        parts = _checked_parts(requested)
        raw = "/".join(parts)
        try:
            for depth in range(1, len(parts)):
                ancestor_fd = open_relative_dir(root_fd, parts[: depth - 1])
                try:
                    st = os.lstat(parts[depth - 1], dir_fd=ancestor_fd)
                finally:
                    os.close(ancestor_fd)
                _add_directory(walk, "/".join(parts[:depth]), st)
            parent_fd = open_relative_dir(root_fd, parts[:-1])
        except FileNotFoundError:
            missing.append(display_path(raw))
            continue
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafePathError(
                    f"backup path refused: {display_path(raw)} passes through a symlink or file"
                ) from exc
            raise BackupError(f"cannot open {display_path(raw)}: {exc.strerror}") from exc
        try:
            try:
                st = os.lstat(parts[-1], dir_fd=parent_fd)
            except FileNotFoundError:
                missing.append(display_path(raw))
                continue
            _add_node(walk, parent_fd, parts[-1], raw, st)
        finally:
            os.close(parent_fd)
    return missing


def _sort_key(raw: str) -> list[bytes]:
    return [part.encode("utf-8", "surrogateescape") for part in raw.split("/")]


def create_backup(
    store: AuditStore,
    source_root: str | os.PathLike[str],
    paths: Sequence[str],
    *,
    format: BackupFormat = "tar.gz",
    backup_id: str | None = None,
    labels: dict[str, str] | None = None,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> StoredBackup:
    """Back up ``paths`` (relative to ``source_root``) into ``store``; return what was written.

    **Parameters:**

    * ``paths`` - report directories, single files, registry files, relative POSIX paths
      (``..`` and absolute paths are refused); paths that do not exist are listed in
      ``missing`` rather than failing the backup.
    * ``format`` - ``"tar.gz"`` (GNU tar, gzip level 6) or ``"directory"`` (one object per
      file).
    * ``labels`` - free-form strings kept in the manifest (operation, run id, plan sha256).

    The result is not yet a permission to destroy anything: pass its ``backup_id`` (and
    ``manifest_sha256``) to :func:`verify_backup`.
    """
    store = _unwrap(store)
    report = progress or NullProgress()
    created_at = as_utc(now or datetime.now(UTC))
    backup_id = _check_backup_id(backup_id or new_backup_id(created_at))
    for requested in paths:
        _checked_parts(requested)  # refuse a bad path before the store is touched at all
    manifest_key = _backup_key(backup_id, MANIFEST_NAME)
    if store.exists(manifest_key):
        raise BackupError(f"backup {backup_id} already exists in {store.location}")
    root = os.path.abspath(os.fspath(source_root))
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise BackupError(f"cannot open source root {display_path(root)}: {exc.strerror}") from exc
    archive: ArchiveInfo | None = None
    try:
        with store.staging_directory() as staging:
            if format == "tar.gz":
                archive_path = staging / ARCHIVE_NAME
                with open(archive_path, "wb") as raw_out:
                    hashed = _HashingWriter(raw_out)
                    with (
                        gzip.GzipFile(
                            filename="",
                            mode="wb",
                            fileobj=hashed,
                            compresslevel=GZIP_LEVEL,
                            mtime=int(created_at.timestamp()),
                        ) as gz,
                        _CompressInBackground(gz) as pipe,
                        tarfile.open(
                            fileobj=cast(IO[bytes], pipe),  # write-only stream: "w|"
                            mode="w|",
                            format=tarfile.GNU_FORMAT,
                            encoding="utf-8",
                            errors="surrogateescape",
                        ) as tar,
                    ):
                        walk = _Walk({}, _TarSink(tar), report)
                        missing = _walk_sources(root_fd, paths, walk)
                    raw_out.flush()
                    os.fsync(raw_out.fileno())
                archive_key = _backup_key(backup_id, ARCHIVE_NAME)
                digest = hashed.digest.hexdigest()
                store.put_file(archive_key, archive_path, sha256=digest, move=True, progress=report)
                archive = ArchiveInfo(key=ARCHIVE_NAME, size=hashed.size, sha256=digest)
            else:
                walk = _Walk({}, _DirectorySink(store, backup_id, staging), report)
                missing = _walk_sources(root_fd, paths, walk)
    finally:
        os.close(root_fd)
    entries = [walk.entries[raw] for raw in sorted(walk.entries, key=_sort_key)]
    files = [entry for entry in entries if entry.type == "file"]
    manifest = BackupManifest(
        backup_id=backup_id,
        created_at=created_at,
        source_root=display_path(root),
        source_root_raw=encode_raw_path(root),
        format=format,
        paths=[display_path(p) for p in paths],
        missing=missing,
        labels=dict(labels or {}),
        archive=archive,
        file_count=len(files),
        directory_count=sum(entry.type == "directory" for entry in entries),
        symlink_count=sum(entry.type == "symlink" for entry in entries),
        total_size=sum(entry.size for entry in files),
        entries=entries,
    )
    data = manifest.to_bytes()
    manifest_sha = hashlib.sha256(data).hexdigest()
    store.put_bytes(
        _backup_key(backup_id, MANIFEST_SHA_NAME),
        f"{manifest_sha}  {MANIFEST_NAME}\n".encode("ascii"),
        write_once=True,
    )
    store.put_bytes(manifest_key, data, write_once=True)  # the publication point
    return StoredBackup(
        backup_id=backup_id,
        store=store.location,
        format=format,
        manifest_key=manifest_key,
        manifest_sha256=manifest_sha,
        file_count=manifest.file_count,
        total_size=manifest.total_size,
        archive_size=archive.size if archive else None,
        missing=missing,
    )


# -- reading and verifying --------------------------------------------------------------------


def load_manifest(store: AuditStore, backup_id: str) -> tuple[BackupManifest, bytes]:
    """The manifest of ``backup_id`` and its exact bytes (:class:`BackupNotFoundError`)."""
    store = _unwrap(store)
    key = _backup_key(backup_id, MANIFEST_NAME)
    try:
        data = store.get_bytes(key)
    except RecordNotFoundError as exc:
        raise BackupNotFoundError(f"no backup {backup_id} in {store.location}") from exc
    try:
        return BackupManifest.model_validate(load_json(data, store.describe(key))), data
    except ValidationError as exc:
        reason = " ".join(str(exc).split())
        raise AuditStoreError(f"{store.describe(key)} is not a backup manifest: {reason}") from exc


def _path_problems(manifest: BackupManifest) -> list[BackupProblem]:
    """Entries that could escape a restore target, or contradict each other."""
    problems: list[BackupProblem] = []
    kinds: dict[str, EntryType] = {}
    for entry in manifest.entries:
        try:
            raw = entry.raw()
        except (ValueError, TypeError):
            problems.append(BackupProblem(path=entry.path, problem="raw_path is not base64"))
            continue
        parts = raw.split("/")
        if raw.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\x00" in raw:
            problems.append(
                BackupProblem(
                    path=entry.path,
                    problem="unsafe path (absolute, "
                    "'..', '.' or empty component): it would escape "
                    "the restore target",
                )
            )
            continue
        if display_path(raw) != entry.path:
            problems.append(BackupProblem(path=entry.path, problem="path and raw_path differ"))
        if raw in kinds:
            problems.append(BackupProblem(path=entry.path, problem="listed twice"))
        for depth in range(1, len(parts)):
            ancestor = "/".join(parts[:depth])
            if kinds.get(ancestor, "directory") != "directory":
                problems.append(
                    BackupProblem(
                        path=entry.path,
                        problem=f"below "
                        f"{display_path(ancestor)}, which is a "
                        f"{kinds[ancestor]}: a link in the path",
                    )
                )
                break
        if entry.type == "file" and (entry.sha256 is None or not _SHA256.match(entry.sha256)):
            problems.append(BackupProblem(path=entry.path, problem="file without a sha256"))
        if entry.type == "symlink" and entry.link_target is None:
            problems.append(BackupProblem(path=entry.path, problem="symlink without a target"))
        kinds[raw] = entry.type
    files = [e for e in manifest.entries if e.type == "file"]
    if manifest.file_count != len(files) or manifest.total_size != sum(e.size for e in files):
        problems.append(
            BackupProblem(path=None, problem="file_count/total_size do not match the entries")
        )
    return problems


def _hash_stream(handle: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


_MEMBER_TYPES: dict[bytes, EntryType] = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.DIRTYPE: "directory",
    tarfile.SYMTYPE: "symlink",
}


def iter_archive(path: Path) -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
    """Members of a backup archive in order, with a reader for regular files."""
    with (
        gzip.open(path, "rb") as gz,
        tarfile.open(fileobj=gz, mode="r|", encoding="utf-8", errors="surrogateescape") as tar,
    ):
        for member in tar:
            reader = tar.extractfile(member) if member.isreg() else None
            yield member, reader


def _check_archive(
    manifest: BackupManifest, path: Path, problems: list[BackupProblem], progress: ProgressCallback
) -> tuple[int, int]:
    by_raw = {entry.raw(): entry for entry in manifest.entries}
    seen: set[str] = set()
    files = size = 0
    assert manifest.archive is not None
    with open(path, "rb") as handle:
        digest, archive_size = _hash_stream(handle)
    if (digest, archive_size) != (manifest.archive.sha256, manifest.archive.size):
        problems.append(
            BackupProblem(
                path=ARCHIVE_NAME, problem="archive sha256/size does not match the manifest"
            )
        )
    try:
        for member, reader in iter_archive(path):
            name = member.name
            shown = display_path(name)
            entry = by_raw.get(name)
            kind = _MEMBER_TYPES.get(member.type)
            if kind is None:
                what = "a hard link" if member.islnk() else "a special file"
                problems.append(
                    BackupProblem(
                        path=shown,
                        problem=f"archive entry is {what}, which a backup never contains",
                    )
                )
                continue
            if entry is None:
                problems.append(
                    BackupProblem(path=shown, problem="archive entry is not in the manifest")
                )
                continue
            if name in seen:
                problems.append(BackupProblem(path=shown, problem="archive entry appears twice"))
            seen.add(name)
            if kind != entry.type:
                problems.append(
                    BackupProblem(
                        path=shown, problem=f"archive has a {kind}, the manifest a {entry.type}"
                    )
                )
                continue
            if kind == "symlink" and member.linkname != entry.raw_link_target():
                problems.append(
                    BackupProblem(path=shown, problem="symlink target differs from the manifest")
                )
            if kind == "file" and reader is not None:
                file_digest, file_size = _hash_stream(reader)
                files += 1
                size += file_size
                if (file_digest, file_size) != (entry.sha256, entry.size):
                    problems.append(
                        BackupProblem(path=shown, problem="sha256/size does not match the manifest")
                    )
                progress("verify", files, manifest.file_count)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        problems.append(BackupProblem(path=ARCHIVE_NAME, problem=f"archive unreadable: {exc}"))
    for raw, entry in by_raw.items():
        if raw not in seen:
            problems.append(
                BackupProblem(path=entry.path, problem="in the manifest but not in the archive")
            )
    return files, size


def _check_directory(
    store: AuditStore,
    manifest: BackupManifest,
    problems: list[BackupProblem],
    progress: ProgressCallback,
) -> tuple[int, int]:
    files = size = 0
    expected: set[str] = set()
    for entry in manifest.entries:
        if entry.type != "file":
            continue
        key = backup_file_key(manifest.backup_id, entry.raw())
        expected.add(key)
        try:
            with store.fetch_file(key) as local, open(local, "rb") as handle:
                digest, file_size = _hash_stream(handle)
        except RecordNotFoundError:
            problems.append(BackupProblem(path=entry.path, problem="file missing from the backup"))
            continue
        files += 1
        size += file_size
        if (digest, file_size) != (entry.sha256, entry.size):
            problems.append(
                BackupProblem(path=entry.path, problem="sha256/size does not match the manifest")
            )
        progress("verify", files, manifest.file_count)
    for key in store.list_keys(_backup_key(manifest.backup_id, "files")):
        if key not in expected:
            problems.append(BackupProblem(path=key, problem="object not in the manifest"))
    return files, size


def verify_backup(
    store: AuditStore,
    backup_id: str,
    *,
    expected_manifest_sha256: str | None = None,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> BackupVerification:
    """Read ``backup_id`` back and check every hash; the only source of a ``VerifiedBackup``.

    Checks: ``manifest.json`` against ``manifest.json.sha256`` (and against
    ``expected_manifest_sha256``, e.g. from the audit record of the backup step); every
    entry's path is safe to restore; the archive's own sha256; every member is in the
    manifest with the same type, size and sha256 (no hard links or special files); nothing
    is missing or extra.
    """
    store = _unwrap(store)
    report = progress or NullProgress()
    problems: list[BackupProblem] = []
    verified_at = as_utc(now or datetime.now(UTC))
    try:
        manifest, data = load_manifest(store, backup_id)
    except BackupNotFoundError:
        raise
    except AuditStoreError as exc:
        return BackupVerification(
            backup_id=backup_id,
            store=store.location,
            status="failed",
            verified_at=verified_at,
            manifest_sha256=None,
            format=None,
            files_checked=0,
            bytes_checked=0,
            problems=[BackupProblem(path=MANIFEST_NAME, problem=str(exc))],
        )
    manifest_sha = hashlib.sha256(data).hexdigest()
    try:
        recorded = store.get_bytes(_backup_key(backup_id, MANIFEST_SHA_NAME)).split()[0].decode()
    except (RecordNotFoundError, IndexError, UnicodeDecodeError):
        recorded = ""
    if recorded != manifest_sha:
        problems.append(
            BackupProblem(
                path=MANIFEST_NAME,
                problem=f"manifest does not match its recorded sha256 ({MANIFEST_SHA_NAME})",
            )
        )
    if expected_manifest_sha256 is not None and expected_manifest_sha256 != manifest_sha:
        problems.append(
            BackupProblem(path=MANIFEST_NAME, problem="manifest does not match the expected sha256")
        )
    if manifest.backup_id != backup_id:
        problems.append(
            BackupProblem(path=MANIFEST_NAME, problem="manifest names another backup id")
        )
    problems.extend(_path_problems(manifest))
    if manifest.format == "tar.gz":
        if manifest.archive is None or manifest.archive.key != ARCHIVE_NAME:
            problems.append(BackupProblem(path=None, problem="tar.gz backup without archive"))
            files = size = 0
        else:
            try:
                with store.fetch_file(_backup_key(backup_id, ARCHIVE_NAME)) as local:
                    files, size = _check_archive(manifest, local, problems, report)
            except RecordNotFoundError:
                problems.append(BackupProblem(path=ARCHIVE_NAME, problem="archive missing"))
                files = size = 0
    else:
        files, size = _check_directory(store, manifest, problems, report)
    verification = BackupVerification(
        backup_id=backup_id,
        store=store.location,
        status="failed" if problems else "verified",
        verified_at=verified_at,
        manifest_sha256=manifest_sha,
        format=manifest.format,
        files_checked=files,
        bytes_checked=size,
        problems=problems,
    )
    if not problems:
        verification._verified = VerifiedBackup(verification, manifest, _token=_TOKEN)
    return verification


def list_backups(store: AuditStore) -> list[BackupSummary]:
    """Every published backup (one with a manifest), newest first."""
    store = _unwrap(store)
    summaries: list[BackupSummary] = []
    for key in store.list_keys(BACKUPS_PREFIX):
        parts = key.split("/")
        if len(parts) != 3 or parts[2] != MANIFEST_NAME or not _BACKUP_ID.match(parts[1]):
            continue
        try:
            manifest, _ = load_manifest(store, parts[1])
        except AuditStoreError:
            continue
        summaries.append(
            BackupSummary(
                backup_id=manifest.backup_id,
                created_at=manifest.created_at,
                format=manifest.format,
                source_root=manifest.source_root,
                file_count=manifest.file_count,
                total_size=manifest.total_size,
                labels=manifest.labels,
            )
        )
    summaries.sort(key=lambda s: (s.created_at, s.backup_id), reverse=True)
    return summaries
