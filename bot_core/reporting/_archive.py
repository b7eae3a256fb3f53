"""Execute archive plans: copy each target to a directory, a zip or a tar.gz.

Sources are only read (``O_RDONLY | O_NOFOLLOW`` relative to verified directory descriptors,
size and mtime checked against the walk).  Every archive is written under a hidden temporary
name in its destination directory, fsynced, and only then published under its final name,
so an interrupted run never leaves a partial archive where a complete one is expected.

Speed notes: zip uses ZIP_DEFLATED at level 6 and tar.gz is GNU format at gzip level 6 (the
standard library defaults, stored zips and level-9 PAX tars, are several times slower); file
data is streamed in 1 MiB chunks and each file is stat'ed once.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from typing import BinaryIO, Literal

from bot_core._fs import display_path, fsync_directory, open_temporary_file
from bot_core._progress import NullProgress, ProgressCallback
from bot_core.errors import InvalidInputError
from bot_core.reporting._execute import (
    DEFAULT_LOCK_TIMEOUT,
    TargetUnavailable,
    batch_status,
    opened_base,
    recheck_target,
)
from bot_core.reporting._models import (
    ArchivePlan,
    ArchivePlannedTarget,
    ArchiveResult,
    ArchiveTargetResult,
    ArchiveTargetStatus,
)
from bot_core.reporting._plan import resolve_destination
from bot_core.reporting._walk import (
    TargetChangedError,
    TargetTree,
    WalkedDir,
    WalkedFile,
    open_parent,
    traverse,
)

__all__ = ["CHUNK_SIZE", "GZIP_LEVEL", "ZIP_LEVEL", "execute_archive", "sha256_of_file"]

CHUNK_SIZE = 1024 * 1024
GZIP_LEVEL = 6
ZIP_LEVEL = 6


def sha256_of_file(path: str) -> str:
    """sha256 of a file we wrote, read back from disk."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


class _HashingWriter:
    """A write-only file object that hashes what passes through it (for tar.gz)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()


class _RawNameZipInfo(zipfile.ZipInfo):
    """A ZipInfo that keeps non-UTF-8 names as their raw bytes instead of failing."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # zipfile's own hook
        try:
            return self.filename.encode("ascii"), self.flag_bits
        except UnicodeEncodeError:
            pass
        try:
            return self.filename.encode("utf-8"), self.flag_bits | 0x800
        except UnicodeEncodeError:
            return self.filename.encode("utf-8", "surrogateescape"), self.flag_bits


def _open_source(dir_fd: int, item: WalkedFile) -> int:
    """Open a planned file for reading and insist it is still the file the walk saw."""
    fd = os.open(item.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or (info.st_size, info.st_mtime_ns) != (
        item.size,
        item.mtime_ns,
    ):
        os.close(fd)
        raise TargetChangedError(f"{display_path(item.path)} changed while it was being archived")
    return fd


def _zip_time(mtime_ns: int) -> tuple[int, int, int, int, int, int]:
    moment = time.localtime(mtime_ns / 1_000_000_000)
    if moment.tm_year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    if moment.tm_year > 2107:
        return (2107, 12, 31, 23, 59, 59)
    return (moment[0], moment[1], moment[2], moment[3], moment[4], moment[5])


def _entry_name(tree: TargetTree, path: str) -> str:
    """Name inside the archive: rooted at the target's own name (contract 6)."""
    parent = tree.relative.rpartition("/")[0]
    return path[len(parent) + 1 :] if parent else path


DirVisitor = Callable[[int, WalkedDir], None]
FileVisitor = Callable[[int, WalkedFile], None]


def _visit(
    base_fd: int, tree: TargetTree, on_dir: DirVisitor, on_file: FileVisitor
) -> list[WalkedDir]:
    """Call ``on_dir`` for each directory (pre-order) and ``on_file`` for each owned file.

    Returns the directories in the order they were entered.
    """
    entered: list[WalkedDir] = []
    parent_fd, _ = open_parent(base_fd, tree.relative)
    try:
        if tree.file is not None:
            on_file(parent_fd, tree.file)
            return entered
        assert tree.root is not None
        for event, fd, node in traverse(parent_fd, tree.root):
            if event == "enter":
                entered.append(node)
                on_dir(fd, node)
                for item in node.files:
                    on_file(fd, item)
    finally:
        os.close(parent_fd)
    return entered


def _copy_bytes(source: int, sink: int, size: int) -> None:
    """Copy exactly ``size`` bytes (kernel-side where the filesystem allows it)."""
    remaining = size
    while remaining > 0:
        try:
            copied = os.copy_file_range(source, sink, min(remaining, 64 * CHUNK_SIZE))
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            copied = 0
        if copied == 0:
            chunk = os.read(source, min(remaining, CHUNK_SIZE))
            if not chunk:
                raise TargetChangedError("a file shrank while it was being copied")
            os.write(sink, chunk)
            copied = len(chunk)
        remaining -= copied


def _write_zip(base_fd: int, tree: TargetTree, out: BinaryIO) -> None:
    with zipfile.ZipFile(
        out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL
    ) as archive:

        def on_dir(fd: int, node: WalkedDir) -> None:
            info = _RawNameZipInfo(_entry_name(tree, node.path) + "/", _zip_time(node.mtime_ns))
            info.external_attr = ((stat.S_IFDIR | node.mode) << 16) | 0x10
            archive.writestr(info, b"")

        def on_file(dir_fd: int, item: WalkedFile) -> None:
            info = _RawNameZipInfo(_entry_name(tree, item.path), _zip_time(item.mtime_ns))
            if item.is_link:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                target = os.readlink(item.name, dir_fd=dir_fd)
                archive.writestr(info, os.fsencode(target), compress_type=zipfile.ZIP_STORED)
                return
            fd = _open_source(dir_fd, item)
            with os.fdopen(fd, "rb") as source:
                info.external_attr = (stat.S_IFREG | stat.S_IMODE(os.fstat(fd).st_mode)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED  # zlib's default level, 6
                info.file_size = item.size  # lets zipfile choose zip64 for large files
                with archive.open(info, "w") as sink:
                    shutil.copyfileobj(source, sink, CHUNK_SIZE)

        _visit(base_fd, tree, on_dir, on_file)


def _write_tar(base_fd: int, tree: TargetTree, out: BinaryIO) -> str:
    """Write a GNU-format tar at gzip level 6; return the sha256 of the bytes written."""
    hashing = _HashingWriter(out)
    gz = gzip.GzipFile(fileobj=hashing, mode="wb", compresslevel=GZIP_LEVEL, mtime=0)
    with gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as archive:
        archive.copybufsize = CHUNK_SIZE  # type: ignore[attr-defined]

        def on_dir(fd: int, node: WalkedDir) -> None:
            info = tarfile.TarInfo(_entry_name(tree, node.path))
            info.type = tarfile.DIRTYPE
            info.mode = node.mode
            info.mtime = node.mtime_ns // 1_000_000_000
            archive.addfile(info)

        def on_file(dir_fd: int, item: WalkedFile) -> None:
            info = tarfile.TarInfo(_entry_name(tree, item.path))
            info.mtime = item.mtime_ns // 1_000_000_000
            if item.is_link:
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(item.name, dir_fd=dir_fd)
                info.mode = 0o777
                archive.addfile(info)
                return
            fd = _open_source(dir_fd, item)
            with os.fdopen(fd, "rb") as source:
                info.size = item.size
                info.mode = stat.S_IMODE(os.fstat(fd).st_mode)
                archive.addfile(info, source)

        _visit(base_fd, tree, on_dir, on_file)
    return hashing.digest.hexdigest()


def _copy_into(dir_fd: int, item: WalkedFile, sink: int) -> None:
    """Copy a regular file's bytes, mode and mtime into the open descriptor ``sink``."""
    source = _open_source(dir_fd, item)
    try:
        _copy_bytes(source, sink, item.size)
        os.fchmod(sink, stat.S_IMODE(os.fstat(source).st_mode))
        os.utime(sink, ns=(item.mtime_ns, item.mtime_ns))
    finally:
        os.close(source)


def _copy_file(dir_fd: int, item: WalkedFile, target: str) -> None:
    """Copy one owned file (or link, as a link) to ``target``, which must not exist yet."""
    if item.is_link:
        os.symlink(os.readlink(item.name, dir_fd=dir_fd), target)
        os.utime(target, ns=(item.mtime_ns, item.mtime_ns), follow_symlinks=False)
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    sink = os.open(target, flags, 0o600)
    try:
        _copy_into(dir_fd, item, sink)
    finally:
        os.close(sink)


def _copy_tree(base_fd: int, tree: TargetTree, root: str) -> None:
    """Copy a directory target into ``root`` (an empty directory), keeping modes and mtimes."""
    destinations: dict[str, str] = {}

    def on_dir(fd: int, node: WalkedDir) -> None:
        inner = node.path[len(tree.relative) + 1 :]
        path = os.path.join(root, inner) if inner else root
        if inner:
            os.mkdir(path, 0o700)
        destinations[node.path] = path

    def on_file(dir_fd: int, item: WalkedFile) -> None:
        directory = destinations[item.path.rpartition("/")[0]]
        _copy_file(dir_fd, item, os.path.join(directory, item.name))

    for node in reversed(_visit(base_fd, tree, on_dir, on_file)):
        path = destinations[node.path]
        os.chmod(path, node.mode)
        os.utime(path, ns=(node.mtime_ns, node.mtime_ns))


class _DestinationExists(Exception):
    """The final name was taken between the check and the publish."""


def _publish_file(temporary: str, final: str, *, overwrite: bool) -> None:
    try:
        if overwrite:
            os.replace(temporary, final)
            return
        try:
            os.link(temporary, final)  # fails instead of replacing a file that appeared
        except FileExistsError:
            raise _DestinationExists() from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _publish_directory(temporary: str, final: str, *, overwrite: bool) -> None:
    parent, name = os.path.split(final)
    if os.path.lexists(final):
        if not overwrite:
            raise _DestinationExists()
        retired = tempfile.mkdtemp(prefix=f".{name}.", suffix=".replaced", dir=parent)
        os.rename(final, os.path.join(retired, name))
        os.rename(temporary, final)
        shutil.rmtree(retired)
        return
    os.rename(temporary, final)


def _write_target(
    base_fd: int, tree: TargetTree, final: str, plan: ArchivePlan, durable: bool
) -> str | None:
    """Write one archive under a temporary name and publish it; return its sha256."""
    parent, name = os.path.split(final)
    if plan.format == "directory" and tree.root is not None:
        temporary = tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=parent)
        try:
            _copy_tree(base_fd, tree, temporary)
            _publish_directory(temporary, final, overwrite=plan.overwrite)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        return None
    digest: str | None = None
    with open_temporary_file(parent, name) as (fd, temporary):
        if plan.format == "directory":  # a root-level file report, copied as itself
            assert tree.file is not None
            parent_fd, _ = open_parent(base_fd, tree.relative)
            try:
                _copy_into(parent_fd, tree.file, fd)
                if durable:
                    os.fsync(fd)
            finally:
                os.close(parent_fd)
                os.close(fd)
        else:
            with os.fdopen(fd, "wb") as handle:
                if plan.format == "zip":
                    _write_zip(base_fd, tree, handle)
                else:
                    digest = _write_tar(base_fd, tree, handle)
                handle.flush()
                if durable:
                    os.fsync(handle.fileno())
            if digest is None:
                digest = sha256_of_file(temporary)
        _publish_file(temporary, final, overwrite=plan.overwrite)
    if durable:
        fsync_directory(parent)
    return digest


def _inside_base(path: str, base_real: str) -> bool:
    real = os.path.realpath(path)
    return real == base_real or real.startswith(base_real.rstrip("/") + "/")


def execute_archive(
    plan: ArchivePlan,
    *,
    dry_run: bool,
    durable: bool = True,
    progress: ProgressCallback | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> ArchiveResult:
    """Copy exactly what ``plan`` lists (or preview it); sources are never modified."""
    if not plan.verify_digest():
        raise InvalidInputError("the plan was modified after it was made (sha256 mismatch)")
    base = plan.fs_base_directory
    resolve_destination(base, plan.fs_destination_directory)
    base_real = os.path.realpath(base)
    report = progress or NullProgress()
    results: list[ArchiveTargetResult] = []
    lock: Literal["shared"] | None = None if dry_run else "shared"
    with opened_base(base, lock=lock, timeout=lock_timeout) as base_fd:
        for index, target in enumerate(plan.targets):
            results.append(_archive_one(base_fd, base_real, target, plan, dry_run, durable))
            report("archiving" if not dry_run else "checking", index + 1, len(plan.targets))
    copied = [r for r in results if r.status in ("copied", "preview")]
    status = batch_status(
        [r.status for r in results], dry_run=dry_run, failed=("error", "skipped_existing")
    )
    errors = [f"{r.relative_path}: {r.error}" for r in results if r.error]
    return ArchiveResult(
        base_directory=plan.base_directory,
        destination_directory=plan.destination_directory,
        format=plan.format,
        filters=plan.filters,
        matched_count=len(plan.targets),
        planned_count=len(plan.targets),
        copied_count=0 if dry_run else sum(1 for r in results if r.status == "copied"),
        copied_files=sum(r.copied_files for r in copied),
        copied_directories=sum(r.copied_directories for r in copied),
        copied_size=sum(r.copied_size for r in copied),
        targets=results,
        status=status,
        errors=errors or None,
        dry_run=True if dry_run else None,
        plan_sha256=plan.sha256,
    )


def _archive_one(
    base_fd: int | None,
    base_real: str,
    target: ArchivePlannedTarget,
    plan: ArchivePlan,
    dry_run: bool,
    durable: bool,
) -> ArchiveTargetResult:
    final = target.fs_destination_path

    def result(
        status: ArchiveTargetStatus,
        tree: TargetTree | None = None,
        *,
        sha256: str | None = None,
        error: str | None = None,
    ) -> ArchiveTargetResult:
        return ArchiveTargetResult(
            relative_path=target.relative_path,
            absolute_path=target.absolute_path,
            destination_path=target.destination_path,
            copied_files=tree.file_count if tree else 0,
            copied_directories=tree.directories if tree else 0,
            copied_size=tree.size if tree else 0,
            status=status,
            sha256=sha256,
            error=error,
        )

    if os.path.lexists(final) and not plan.overwrite:
        return result("skipped_existing", error="destination exists; use --overwrite to replace it")
    try:
        tree = recheck_target(base_fd, target)
    except TargetUnavailable as exc:
        return result("not_found" if exc.status == "not_found" else "error", error=exc.message)
    if dry_run:
        return result("preview", tree)
    assert base_fd is not None
    parent = os.path.dirname(final)
    try:
        # Checked before creating anything (a symlink in the destination tree could point into
        # the base) and again after, in case one appeared meanwhile.
        if _inside_base(parent, base_real):
            return result("error", error="destination resolves inside the base directory; refused")
        os.makedirs(parent, exist_ok=True)
        if _inside_base(parent, base_real):
            return result("error", error="destination resolves inside the base directory; refused")
        digest = _write_target(base_fd, tree, final, plan, durable)
    except _DestinationExists:
        return result("skipped_existing", error="destination appeared during the run; not replaced")
    except TargetChangedError as exc:
        return result("error", error=f"changed while archiving: {exc}; nothing written")
    except OSError as exc:
        where = f" ({display_path(str(exc.filename))})" if exc.filename else ""
        return result("error", error=f"{exc.strerror or exc}{where}; nothing written")
    return result("copied", tree, sha256=digest)
