"""Writing files relative to an open directory descriptor, never following a symlink.

Why not :func:`bot_core._fs.atomic_write_bytes`: that helper takes a path, and resolving a
path again for every file lets a symlink planted in the audit directory or in a restore
target redirect the write.  The local audit store and restore keep a descriptor on the
directory they write into (opened with :func:`bot_core._fs.open_relative_dir`) and use these
``*at`` variants of the same ``SaveFile`` recipe: a hidden temporary file in the same
directory, fsync, then an atomic ``link`` (write-once) or ``rename`` (replace), then an fsync
of the directory; the temporary file is removed when anything fails.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from typing import BinaryIO

from bot_core._fs import DIR_OPEN_FLAGS

__all__ = [
    "copy_stream",
    "fsync_fd",
    "make_dirs_at",
    "publish_at",
    "temporary_file_at",
]

_CHUNK = 1024 * 1024


def fsync_fd(fd: int) -> None:
    """fsync a directory descriptor, tolerating filesystems that refuse it."""
    try:
        os.fsync(fd)
    except OSError as exc:  # pragma: no cover - depends on the filesystem
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise


def make_dirs_at(base_fd: int, components: list[str], *, mode: int = 0o755) -> int:
    """Open ``base/components...``, creating missing directories; never follow a symlink.

    Returns a new descriptor the caller must close.  A symlink anywhere on the way raises
    ``OSError`` (``ELOOP``/``ENOTDIR``).
    """
    fd = os.dup(base_fd)
    try:
        for part in components:
            try:
                next_fd = os.open(part, DIR_OPEN_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, mode, dir_fd=fd)
                next_fd = os.open(part, DIR_OPEN_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def temporary_file_at(dir_fd: int, final_name: str) -> Iterator[tuple[BinaryIO, str]]:
    """A hidden ``.<name>.<random>.partial`` file in ``dir_fd``, removed if the block fails.

    Yields ``(handle, temp_name)``; the block writes, then calls :func:`publish_at`.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    stem = final_name if len(final_name.encode("utf-8", "surrogateescape")) < 200 else "file"
    temp_name = f".{stem}.{secrets.token_hex(6)}.partial"
    fd = os.open(temp_name, flags, 0o600, dir_fd=dir_fd)
    handle = os.fdopen(fd, "wb")
    try:
        yield handle, temp_name
    except BaseException:
        handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name, dir_fd=dir_fd)
        raise
    finally:
        handle.close()


def copy_stream(source: BinaryIO, handle: BinaryIO) -> int:
    """Copy ``source`` into ``handle`` in 1 MiB chunks; return the byte count."""
    total = 0
    while chunk := source.read(_CHUNK):
        handle.write(chunk)
        total += len(chunk)
    return total


def publish_at(
    dir_fd: int,
    temp_name: str,
    final_name: str,
    *,
    exclusive: bool,
    handle: BinaryIO | None = None,
    mode: int | None = None,
    mtime_ns: int | None = None,
) -> None:
    """Make ``temp_name`` visible as ``final_name``: fsync, then ``link`` or ``rename``.

    ``exclusive`` (write-once) publishes with ``link``, which fails with
    ``FileExistsError`` when ``final_name`` exists; otherwise ``rename`` replaces it.  Mode
    and mtime are set on the open handle before publishing, so the final name never shows
    a file with the wrong metadata.
    """
    if handle is not None:
        handle.flush()
        fd = handle.fileno()
        if mode is not None:
            os.fchmod(fd, mode)
        if mtime_ns is not None:
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        os.fsync(fd)
        handle.close()
    try:
        if exclusive:
            os.link(temp_name, final_name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.unlink(temp_name, dir_fd=dir_fd)
        else:
            os.rename(temp_name, final_name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name, dir_fd=dir_fd)
        raise
    fsync_fd(dir_fd)
