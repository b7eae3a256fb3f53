"""Execute archive plans: copy each target to a directory, a zip or a tar.gz.

Sources are only read (``O_RDONLY | O_NOFOLLOW`` relative to verified directory descriptors,
size and mtime checked against the walk).  Every archive is written under a hidden temporary
name in its destination directory, fsynced, and only then published under its final name,
so an interrupted run never leaves a partial archive where a complete one is expected.

Speed notes: zip uses ZIP_DEFLATED at level 6 and tar.gz is GNU format at gzip level 6 (the
standard library defaults, stored zips and level-9 PAX tars, are several times slower); file
data is streamed in 1 MiB chunks and each file is stat'ed once.  A target of up to 4 MiB (the
usual report) is read into memory and compressed, written and fsynced by a worker thread
while the next target is checked; archives are published in batches once their own fsync
succeeded, and each destination directory is fsynced once per batch (see ``_Publisher``);
destination directories are checked once and then used through their descriptors.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import io
import os
import secrets
import shutil
import stat
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Literal

from bot_core._fs import display_path
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
IN_MEMORY_LIMIT = 4 * 1024 * 1024
"""Targets up to this many bytes are archived in memory, then written with one ``write``."""
PUBLISH_BATCH = 256
"""Archives written before a batch is published (each keeps a descriptor open until then)."""
OPEN_DESTINATIONS = 64
"""Destination directory descriptors kept open between batches."""
IN_FLIGHT_LIMIT = 64 * 1024 * 1024
"""Source bytes read for a batch before it is published (bounds the memory in flight)."""
WORKER_THREADS = 4


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


def _add_tar_members(archive: tarfile.TarFile, base_fd: int, tree: TargetTree) -> None:
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


def _write_tar(base_fd: int, tree: TargetTree, out: BinaryIO) -> str:
    """Write a GNU-format tar at gzip level 6; return the sha256 of the bytes written."""
    hashing = _HashingWriter(out)
    gz = gzip.GzipFile(fileobj=hashing, mode="wb", compresslevel=GZIP_LEVEL, mtime=0)
    with gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as archive:
        _add_tar_members(archive, base_fd, tree)
    return hashing.digest.hexdigest()


_ZipOp = tuple[zipfile.ZipInfo, bytes, int]


def _read_small(dir_fd: int, item: WalkedFile) -> tuple[bytes, int]:
    """A planned file's whole content and its mode, read through a checked descriptor."""
    fd = _open_source(dir_fd, item)
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        chunks: list[bytes] = []
        remaining = item.size
        while remaining > 0:
            chunk = os.read(fd, min(remaining, CHUNK_SIZE))
            if not chunk:
                raise TargetChangedError(f"{display_path(item.path)} shrank while it was read")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks), mode
    finally:
        os.close(fd)


def _zip_members(base_fd: int, tree: TargetTree) -> list[_ZipOp]:
    """Read a small target into the zip entries :func:`_zip_bytes` writes, in order.

    The entries are those :func:`_write_zip` writes for the same tree, with the same
    ``ZipInfo`` fields; reading happens here, on the caller's verified descriptors, so
    that the compression can run in a worker thread.
    """
    members: list[_ZipOp] = []

    def on_dir(fd: int, node: WalkedDir) -> None:
        info = _RawNameZipInfo(_entry_name(tree, node.path) + "/", _zip_time(node.mtime_ns))
        info.external_attr = ((stat.S_IFDIR | node.mode) << 16) | 0x10
        members.append((info, b"", zipfile.ZIP_DEFLATED))

    def on_file(dir_fd: int, item: WalkedFile) -> None:
        info = _RawNameZipInfo(_entry_name(tree, item.path), _zip_time(item.mtime_ns))
        if item.is_link:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            target = os.readlink(item.name, dir_fd=dir_fd)
            members.append((info, os.fsencode(target), zipfile.ZIP_STORED))
            return
        data, mode = _read_small(dir_fd, item)
        info.external_attr = (stat.S_IFREG | mode) << 16
        info.file_size = item.size
        members.append((info, data, zipfile.ZIP_DEFLATED))

    _visit(base_fd, tree, on_dir, on_file)
    return members


def _zip_bytes(members: list[_ZipOp]) -> bytes:
    """The zip :func:`_write_zip` writes, from entries read by :func:`_zip_members`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(
        buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL
    ) as archive:
        for info, data, compress_type in members:
            if info.is_dir():
                archive.writestr(info, data)
            elif compress_type == zipfile.ZIP_STORED:
                archive.writestr(info, data, compress_type=zipfile.ZIP_STORED)
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w") as sink:
                    sink.write(data)
    return buffer.getvalue()


def _tar_bytes(base_fd: int, tree: TargetTree) -> bytes:
    """The uncompressed tar :func:`_write_tar` would compress, built in memory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        _add_tar_members(archive, base_fd, tree)
    return buffer.getvalue()


def _gzip_bytes(data: bytes) -> bytes:
    """``data`` in a gzip member exactly as :func:`_write_tar`'s ``GzipFile`` writes it."""
    buffer = io.BytesIO()
    with gzip.GzipFile(
        fileobj=_NamelessWriter(buffer), mode="wb", compresslevel=GZIP_LEVEL, mtime=0
    ) as gz:
        gz.write(data)
    return buffer.getvalue()


class _NamelessWriter:
    """A file object without a ``name`` (the gzip header then records none, as before)."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target

    def write(self, data: bytes) -> int:
        return self._target.write(data)

    def flush(self) -> None:
        self._target.flush()


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


def _sha256_of_fd(fd: int) -> str:
    """sha256 of what was written to ``fd``, read back from the start (``pread``)."""
    digest = hashlib.sha256()
    offset = 0
    while chunk := os.pread(fd, CHUNK_SIZE, offset):
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


def _publish_at(dir_fd: int, temporary: str, final: str, *, overwrite: bool) -> None:
    """Give ``temporary`` its final name: ``link`` (never replaces) or ``replace``."""
    try:
        if overwrite:
            os.replace(temporary, final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            return
        try:
            os.link(temporary, final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
        except FileExistsError:
            raise _DestinationExists() from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=dir_fd)


def _temporary_at(dir_fd: int, final: str) -> tuple[int, str]:
    """Create ``.<final>.XXXXXXXX.partial`` in ``dir_fd`` (as ``mkstemp`` names it)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        name = f".{final}.{secrets.token_hex(4)}.partial"
        try:
            return os.open(name, flags, 0o600, dir_fd=dir_fd), name
        except FileExistsError:
            continue


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


@dataclass(slots=True)
class _Pending:
    """An archive under its temporary name, being finished in a worker thread.

    ``done`` compresses the archive (small targets), writes it to the open descriptor,
    fsyncs it when the run is durable, closes it and returns the sha256.  The descriptor
    stays open until the fsync has run: a writeback error is reported to descriptors that
    were open when it happened, so fsyncing a re-opened file could miss it.
    """

    index: int
    dir_fd: int
    temporary: str
    """Name of the temporary file in ``dir_fd``."""
    final: str
    """Final name in ``dir_fd``."""
    done: Future[str | None]
    weight: int


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _finish(
    fd: int, build: Callable[[], bytes] | None, digest: str | None, durable: bool
) -> str | None:
    """Worker side of an archive: build its bytes (if not yet written), write, fsync, close."""
    try:
        if build is not None:
            data = build()
            _write_all(fd, data)
            digest = hashlib.sha256(data).hexdigest()
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    return digest


def _prepare(
    base_fd: int, tree: TargetTree, fd: int, plan: ArchivePlan
) -> tuple[Callable[[], bytes] | None, str | None]:
    """Do the part of writing an archive that reads the sources (on this thread).

    Small targets (the usual report of a few files) are read into memory here and
    compressed by the worker (``zlib`` releases the GIL, so compression overlaps with the
    next target's checks); their sha256 comes from the buffer instead of a read-back.
    Larger targets are streamed into ``fd`` here, as before.  The bytes are the same either
    way: the same ``zipfile``/``tarfile`` calls on a seekable stream starting at offset 0,
    and DEFLATE output does not depend on how its input is split into ``compress`` calls.
    """
    if plan.format == "directory":  # a root-level file report, copied as itself
        assert tree.file is not None
        parent_fd, _ = open_parent(base_fd, tree.relative)
        try:
            _copy_into(parent_fd, tree.file, fd)
        finally:
            os.close(parent_fd)
        return None, None
    if tree.size <= IN_MEMORY_LIMIT:
        if plan.format == "zip":
            members = _zip_members(base_fd, tree)
            return lambda: _zip_bytes(members), None
        data = _tar_bytes(base_fd, tree)
        return lambda: _gzip_bytes(data), None
    with os.fdopen(fd, "wb", closefd=False) as handle:
        if plan.format == "zip":
            _write_zip(base_fd, tree, handle)
            handle.flush()
            return None, _sha256_of_fd(fd)
        digest = _write_tar(base_fd, tree, handle)
        handle.flush()
        return None, digest


def _fsync_dir_fd(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:  # pragma: no cover - some filesystems refuse fsync on directories
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise


class _Destinations:
    """Descriptors of the destination directories archives are written into.

    Why: every archive used to resolve its destination directory by path three times
    (``realpath`` twice for the inside-the-base check, then ``mkstemp``/``link``/``fsync``),
    a dozen ``lstat`` calls per report.  A directory is now checked once, when first used
    (:func:`_open_destination`), and every later write, link and fsync goes through its
    descriptor, so a symlink planted in the destination path afterwards cannot redirect
    them (the path-based recipe re-resolved the path after its check).
    """

    def __init__(self) -> None:
        self.fds: dict[str, int] = {}

    def add(self, parent: str, fd: int) -> None:
        self.fds[parent] = fd

    def get(self, parent: str) -> int:
        fd = self.fds.pop(parent)
        self.fds[parent] = fd  # most recently used last
        return fd

    def trim(self) -> None:
        """Close the least recently used descriptors (only between batches)."""
        while len(self.fds) > OPEN_DESTINATIONS:
            oldest = next(iter(self.fds))
            os.close(self.fds.pop(oldest))

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


def _exists(destinations: _Destinations, final: str) -> bool:
    """``lexists(final)``, through the destination directory's descriptor once it is open."""
    parent, name = os.path.split(final)
    dir_fd = destinations.fds.get(parent)
    if dir_fd is None:
        return os.path.lexists(final)
    try:
        os.lstat(name, dir_fd=dir_fd)
    except (OSError, ValueError):  # as lexists: an unreadable name counts as absent
        return False
    return True


def _open_destination(parent: str, base_real: str) -> int | None:
    """Create ``parent`` if needed and open it; ``None`` if it resolves inside the base.

    Checked before creating anything (a symlink in the destination tree could point into
    the base) and again after; the descriptor opened must be the directory that was
    checked (same device and inode as the resolved path, which must not have moved).
    """
    if _inside_base(parent, base_real):
        return None
    os.makedirs(parent, exist_ok=True)
    real = os.path.realpath(parent)
    if _inside_base(real, base_real):
        return None
    fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info, now = os.fstat(fd), os.stat(real, follow_symlinks=False)
        if (info.st_dev, info.st_ino) != (now.st_dev, now.st_ino) or os.path.realpath(
            parent
        ) != real:
            raise OSError(errno.EAGAIN, "destination directory changed while it was checked")
    except BaseException:
        os.close(fd)
        raise
    return fd


class _Publisher:
    """Finish written archives in worker threads; make them durable and publish in batches.

    The old recipe compressed, fsynced and published every archive, then fsynced its
    directory, one after the other: two journal commits per report were most of an archive
    run's time.  Now each archive is finished (compressed, written, fsynced) in a small
    thread pool while the next target is checked and read, and the filesystem commits the
    concurrent fsyncs together.  Before any archive of a batch is published, its own
    fsync must have succeeded; after the batch, each destination directory is fsynced
    once.  The order that makes a crash safe is unchanged: data durable, then the link or
    rename, then the directory.  An interrupted run leaves only hidden ``.partial`` files.
    """

    def __init__(self, *, durable: bool, overwrite: bool) -> None:
        self.durable = durable
        self.overwrite = overwrite
        self.pending: list[_Pending] = []
        self.in_flight = 0
        self.pool = ThreadPoolExecutor(max_workers=WORKER_THREADS)
        self.destinations = _Destinations()

    def add(
        self,
        index: int,
        fd: int,
        where: tuple[int, str, str],
        work: tuple[Callable[[], bytes] | None, str | None],
        weight: int,
    ) -> None:
        build, digest = work
        done = self.pool.submit(_finish, fd, build, digest, self.durable)
        self.pending.append(_Pending(index, *where, done, weight))
        self.in_flight += weight

    def full(self) -> bool:
        return len(self.pending) >= PUBLISH_BATCH or self.in_flight >= IN_FLIGHT_LIMIT

    def flush(self) -> list[tuple[int, str | None, str | None]]:
        """Publish the batch; ``(index, sha256, None)`` or ``(index, None, error)`` each."""
        batch, self.pending, self.in_flight = self.pending, [], 0
        outcomes: list[tuple[int, str | None, str | None]] = []
        published: set[int] = set()
        for item in batch:
            try:
                digest = item.done.result()
                _publish_at(item.dir_fd, item.temporary, item.final, overwrite=self.overwrite)
            except _DestinationExists:
                outcomes.append((item.index, None, _APPEARED))
                continue
            except OSError as exc:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(item.temporary, dir_fd=item.dir_fd)
                where = f" ({display_path(str(exc.filename))})" if exc.filename else ""
                outcomes.append((item.index, None, f"{exc.strerror or exc}{where}"))
                continue
            published.add(item.dir_fd)
            outcomes.append((item.index, digest, None))
        if self.durable:
            for future in [self.pool.submit(_fsync_dir_fd, fd) for fd in sorted(published)]:
                future.result()
        self.destinations.trim()
        return outcomes

    def close(self) -> None:
        """Drop what was not published (an interrupted run): no partial file is left."""
        for item in self.pending:
            with contextlib.suppress(Exception):
                item.done.result()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(item.temporary, dir_fd=item.dir_fd)
        self.pending = []
        self.pool.shutdown(wait=True)
        self.destinations.close()


def _write_temporary(
    base_fd: int,
    tree: TargetTree,
    final: str,
    plan: ArchivePlan,
    index: int,
    publisher: _Publisher,
) -> bool:
    """Write one target under a temporary name beside ``final``.

    A directory target is copied and published at once (``True``); a file archive is
    handed to ``publisher`` (``False``), which finishes and publishes it.
    """
    parent, name = os.path.split(final)
    if plan.format == "directory" and tree.root is not None:
        temporary = tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=parent)
        try:
            _copy_tree(base_fd, tree, temporary)
            _publish_directory(temporary, final, overwrite=plan.overwrite)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        return True
    dir_fd = publisher.destinations.get(parent)
    fd, temporary = _temporary_at(dir_fd, name)
    try:
        work = _prepare(base_fd, tree, fd, plan)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=dir_fd)
        raise
    publisher.add(index, fd, (dir_fd, temporary, name), work, max(tree.size, 1))
    return False


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
    results: list[ArchiveTargetResult | None] = []
    trees: dict[int, TargetTree] = {}
    lock: Literal["shared"] | None = None if dry_run else "shared"
    publisher = _Publisher(durable=durable, overwrite=plan.overwrite)

    def publish() -> None:
        for index, digest, error in publisher.flush():
            target, tree = plan.targets[index], trees.pop(index)
            if error is None:
                results[index] = _result(target, "copied", tree, sha256=digest)
            elif error == _APPEARED:
                results[index] = _result(target, "skipped_existing", error=error)
            else:
                results[index] = _result(target, "error", error=f"{error}; nothing written")

    try:
        with opened_base(base, lock=lock, timeout=lock_timeout) as base_fd:
            for index, target in enumerate(plan.targets):
                outcome = _archive_one(base_fd, base_real, target, plan, dry_run, index, publisher)
                if isinstance(outcome, ArchiveTargetResult):
                    results.append(outcome)
                else:
                    trees[index] = outcome
                    results.append(None)
                    if publisher.full():
                        publish()
                report("archiving" if not dry_run else "checking", index + 1, len(plan.targets))
            publish()
    finally:
        publisher.close()
    done = [r for r in results if r is not None]
    assert len(done) == len(plan.targets)
    copied = [r for r in done if r.status in ("copied", "preview")]
    status = batch_status(
        [r.status for r in done], dry_run=dry_run, failed=("error", "skipped_existing")
    )
    errors = [f"{r.relative_path}: {r.error}" for r in done if r.error]
    return ArchiveResult(
        base_directory=plan.base_directory,
        destination_directory=plan.destination_directory,
        format=plan.format,
        filters=plan.filters,
        matched_count=len(plan.targets),
        planned_count=len(plan.targets),
        copied_count=0 if dry_run else sum(1 for r in done if r.status == "copied"),
        copied_files=sum(r.copied_files for r in copied),
        copied_directories=sum(r.copied_directories for r in copied),
        copied_size=sum(r.copied_size for r in copied),
        targets=done,
        status=status,
        errors=errors or None,
        dry_run=True if dry_run else None,
        plan_sha256=plan.sha256,
    )


_APPEARED = "destination appeared during the run; not replaced"


def _result(
    target: ArchivePlannedTarget,
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


def _archive_one(
    base_fd: int | None,
    base_real: str,
    target: ArchivePlannedTarget,
    plan: ArchivePlan,
    dry_run: bool,
    index: int,
    publisher: _Publisher,
) -> ArchiveTargetResult | TargetTree:
    """Check and write one target; a file archive handed to ``publisher`` returns its tree."""
    final = target.fs_destination_path
    if not plan.overwrite and _exists(publisher.destinations, final):
        return _result(
            target, "skipped_existing", error="destination exists; use --overwrite to replace it"
        )
    try:
        tree = recheck_target(base_fd, target)
    except TargetUnavailable as exc:
        status: ArchiveTargetStatus = "not_found" if exc.status == "not_found" else "error"
        return _result(target, status, error=exc.message)
    if dry_run:
        return _result(target, "preview", tree)
    assert base_fd is not None
    parent = os.path.dirname(final)
    refused = "destination resolves inside the base directory; refused"
    try:
        if plan.format == "directory" and tree.root is not None:
            # Checked before creating anything (a symlink in the destination tree could point
            # into the base) and again after, in case one appeared meanwhile.
            if _inside_base(parent, base_real):
                return _result(target, "error", error=refused)
            os.makedirs(parent, exist_ok=True)
            if _inside_base(parent, base_real):
                return _result(target, "error", error=refused)
        elif parent not in publisher.destinations.fds:
            dir_fd = _open_destination(parent, base_real)
            if dir_fd is None:
                return _result(target, "error", error=refused)
            publisher.destinations.add(parent, dir_fd)
        published = _write_temporary(base_fd, tree, final, plan, index, publisher)
    except _DestinationExists:
        return _result(target, "skipped_existing", error=_APPEARED)
    except TargetChangedError as exc:
        return _result(target, "error", error=f"changed while archiving: {exc}; nothing written")
    except OSError as exc:
        where = f" ({display_path(str(exc.filename))})" if exc.filename else ""
        return _result(target, "error", error=f"{exc.strerror or exc}{where}; nothing written")
    if published:
        return _result(target, "copied", tree)
    return tree
