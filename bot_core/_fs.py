"""Filesystem primitives shared by every bot_core package.

Why a module of its own: three habits must hold everywhere we touch disk, and they are easy
to get subtly wrong when re-written in each place.

* Files we write appear atomically (borg's ``SaveFile``): a temporary file in the target
  directory, fsync, ``os.replace``, fsync of the directory; the temporary file is removed when
  anything fails, so a crash never leaves a half-written file under the final name.
* Paths are walked with directory file descriptors and ``O_NOFOLLOW`` on every component, so a
  symlink planted anywhere along a path is refused instead of followed.
* File names are ``str`` decoded with ``surrogateescape`` (Python's default on POSIX); names
  that are not valid UTF-8 are shown to people and written to JSON with each invalid byte as
  ``\\xNN`` (:func:`display_path`).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime

__all__ = [
    "DIR_OPEN_FLAGS",
    "atomic_write_bytes",
    "decode_raw_path",
    "display_path",
    "encode_raw_path",
    "fsync_directory",
    "iso_from_ns",
    "ns_from_datetime",
    "open_dir_nofollow",
    "open_relative_dir",
    "open_temporary_file",
    "split_relative",
    "undisplay_path",
    "utc_from_ns",
]

DIR_OPEN_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
"""Flags for opening a directory without ever following a symlink in its last component."""

_HEX_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def display_path(raw: str) -> str:
    """Return ``raw`` fit for JSON and terminals: each byte that is not UTF-8 becomes ``\\xNN``."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return raw


def undisplay_path(shown: str) -> str:
    """Reverse :func:`display_path`: turn each ``\\xNN`` back into the raw byte it stands for.

    Used only as a fallback when a path typed by an operator (copied from our JSON) does not
    exist literally; a name that really contains a backslash is tried first as given.
    """
    if "\\x" not in shown:
        return shown
    raw = bytearray()
    position = 0
    for match in _HEX_ESCAPE.finditer(shown):
        raw += shown[position : match.start()].encode("utf-8", "surrogateescape")
        raw.append(int(match.group(1), 16))
        position = match.end()
    raw += shown[position:].encode("utf-8", "surrogateescape")
    return bytes(raw).decode("utf-8", "surrogateescape")


def encode_raw_path(raw: str) -> str | None:
    """Return a lossless base64 form of ``raw`` when its display form would lose bytes.

    Plans are JSON documents that a flow may execute hours later; a name with invalid UTF-8
    must survive that round trip exactly, so the plan carries this beside the display form.
    ``None`` means the display form is the name itself.
    """
    if display_path(raw) == raw:
        return None
    return base64.b64encode(raw.encode("utf-8", "surrogateescape")).decode("ascii")


def decode_raw_path(shown: str, encoded: str | None) -> str:
    """Inverse of :func:`encode_raw_path`: the raw name from a plan's fields."""
    if encoded is None:
        return shown
    return base64.b64decode(encoded).decode("utf-8", "surrogateescape")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns_from_datetime(value: datetime) -> int:
    """Exact nanoseconds since the epoch (float timestamps lose precision at this scale)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def utc_from_ns(mtime_ns: int) -> datetime:
    """A timezone-aware UTC datetime from a ``st_mtime_ns`` value."""
    return datetime.fromtimestamp(mtime_ns / 1_000_000_000, tz=UTC)


def iso_from_ns(mtime_ns: int) -> str:
    """ISO-8601 UTC with an explicit ``+00:00`` offset, as the contract writes timestamps."""
    return utc_from_ns(mtime_ns).isoformat()


def split_relative(relative: str) -> list[str]:
    """Split a POSIX relative path into components, refusing ``..``, ``.`` and absolute paths."""
    if relative.startswith("/"):
        raise ValueError(
            f"absolute path where a relative one is required: {display_path(relative)}"
        )
    parts = [part for part in relative.split("/") if part]
    for part in parts:
        if part in (".", ".."):
            raise ValueError(f"path component {part!r} is not allowed: {display_path(relative)}")
    return parts


def open_dir_nofollow(name: str, *, dir_fd: int | None = None) -> int:
    """Open one directory component relative to ``dir_fd`` without following a symlink."""
    return os.open(name, DIR_OPEN_FLAGS, dir_fd=dir_fd)


def open_relative_dir(base_fd: int, components: list[str]) -> int:
    """Open ``base/components...`` one component at a time, never following a symlink.

    Raises ``OSError``: ``ELOOP`` when a component is a symlink, ``ENOTDIR`` when it is a
    file, ``ENOENT`` when it is missing.
    The caller owns the returned descriptor.
    """
    fd = os.dup(base_fd)
    try:
        for part in components:
            next_fd = open_dir_nofollow(part, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except OSError as exc:
        # O_NOFOLLOW | O_DIRECTORY reports a symlink as ENOTDIR, like a regular file; callers
        # must tell them apart (a symlink in the path is refused, a file means "not found").
        if exc.errno == errno.ENOTDIR and _is_symlink(part, fd):
            os.close(fd)
            raise OSError(errno.ELOOP, "a symlink sits in the path", part) from exc
        os.close(fd)
        raise
    except BaseException:
        os.close(fd)
        raise
    return fd


def _is_symlink(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def fsync_directory(path: str) -> None:
    """fsync a directory so that a rename inside it survives a power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:  # pragma: no cover - some filesystems refuse fsync on directories
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_temporary_file(directory: str, final_name: str) -> Iterator[tuple[int, str]]:
    """Create a hidden temporary file beside ``final_name``; remove it if the block fails.

    The name starts with a dot and ends with ``.partial``, so an interrupted run leaves
    nothing under the final name and the leftover is recognisable.  The block owns the
    descriptor and must close it (``os.fdopen`` does): closing it here as well could close an
    unrelated descriptor that reused the number.
    """
    fd, temp_path = tempfile.mkstemp(prefix=f".{final_name}.", suffix=".partial", dir=directory)
    try:
        yield fd, temp_path
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_path)
        raise


def atomic_write_bytes(path: str, data: bytes, *, mode: int = 0o644, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or the new, never a mix."""
    directory, name = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open_temporary_file(directory, name) as (fd, temp_path):
        with os.fdopen(fd, "wb", closefd=True) as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.chmod(temp_path, mode)
        os.replace(temp_path, path)
    if fsync:
        fsync_directory(directory)
