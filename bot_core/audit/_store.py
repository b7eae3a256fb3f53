"""The audit store interface, and its local-directory and in-memory back-ends.

Why one small interface (httpx's ``BaseTransport``): records, manifests and backup data go
through the same five calls whether they land in ``audit/`` on disk, in an S3 bucket, or in
a dict in a test.  Records are JSON written once: a second write under the same key is a
:class:`~bot_core.errors.RecordExistsError`, never an overwrite.

The local back-end walks its directory with descriptors and ``O_NOFOLLOW`` (``_fsat``), so a
symlink planted inside ``audit/`` is refused rather than followed.  Names starting with a
dot (temporary ``.partial`` files, the spool) are not keys.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot_core._fs import display_path, open_relative_dir
from bot_core._progress import NullProgress, ProgressCallback
from bot_core.audit._fsat import make_dirs_at, publish_at, temporary_file_at
from bot_core.audit._keys import build_key
from bot_core.errors import (
    AuditStoreError,
    RecordExistsError,
    RecordNotFoundError,
    UnsafePathError,
)

__all__ = [
    "AuditStore",
    "LocalAuditStore",
    "MemoryAuditStore",
    "StoredObject",
    "dump_json",
    "load_json",
    "sha256_file",
]

_CHUNK = 1024 * 1024


def dump_json(document: Mapping[str, Any]) -> bytes:
    """The bytes we store for a JSON document: sorted keys, 2-space indent, UTF-8, newline.

    Names that are not valid UTF-8 (``surrogateescape`` strings) cannot be written as UTF-8;
    such a document is written with ``\\uXXXX`` escapes instead, which still round-trips.
    """
    try:
        text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=True, allow_nan=False)
        return text.encode("ascii") + b"\n"


def load_json(data: bytes, where: str) -> dict[str, Any]:
    """Parse a stored JSON object; raise :class:`AuditStoreError` saying why it is not one."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AuditStoreError(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise AuditStoreError(f"{where} is not a JSON object")
    return document


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """``(sha256 hex, size)`` of a local file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What a write returns: the key, the sha256 and size of the bytes, and where they went.

    ``spooled`` is true when S3 was unreachable and the object waits in the local spool.
    """

    key: str
    sha256: str
    size: int
    spooled: bool = False


class AuditStore(abc.ABC):
    """Where audit records, manifests and backup data live.

    **Parameters** of the methods:

    * ``key`` - a ``/``-separated key made by :func:`~bot_core.audit.build_key`.
    * ``write_once`` - refuse to replace an existing object (records and manifests).

    Sub-classes implement the ``_bytes``/``_file`` primitives; ``put_json``/``get_json`` add
    the JSON encoding every record shares.
    """

    location: str
    """Where the store points, for people: an absolute directory or ``s3://bucket/prefix``."""

    def put_json(self, key: str, document: Mapping[str, Any]) -> StoredObject:
        """Store ``document`` as JSON under ``key``, once; return its sha256."""
        return self.put_bytes(key, dump_json(document), write_once=True)

    def get_json(self, key: str) -> dict[str, Any]:
        """Read the JSON object stored under ``key``."""
        return load_json(self.get_bytes(key), self.describe(key))

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes, *, write_once: bool = True) -> StoredObject:
        """Store ``data`` under ``key``; with ``write_once``, an existing key is an error."""

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The bytes stored under ``key`` (:class:`RecordNotFoundError` when absent)."""

    @abc.abstractmethod
    def list_keys(self, prefix: str = "") -> list[str]:
        """Every key below the directory-like ``prefix`` (all keys for ``""``), sorted."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abc.abstractmethod
    def put_file(
        self,
        key: str,
        path: str | os.PathLike[str],
        *,
        sha256: str | None = None,
        move: bool = False,
        progress: ProgressCallback | None = None,
    ) -> StoredObject:
        """Store the local file ``path`` under ``key`` (large files: multipart on S3).

        ``move`` allows the store to take the file over (a rename on the same disk).
        """

    @abc.abstractmethod
    def fetch_file(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A local path holding the object's bytes for the duration of a ``with`` block."""

    def staging_directory(self) -> contextlib.AbstractContextManager[Path]:
        """A scratch directory for files about to be stored, removed afterwards."""
        return _temporary_directory(None)

    def describe(self, key: str) -> str:
        """Where ``key`` lives, for messages: a path or an ``s3://`` URL."""
        return f"{self.location.rstrip('/')}/{key}"

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Release what the store holds (S3 stores own nothing: the client is passed in)."""

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextlib.contextmanager
def _temporary_directory(parent: str | None) -> Iterator[Path]:
    if parent is not None:
        os.makedirs(parent, exist_ok=True)
    path = tempfile.mkdtemp(prefix=".staging-", dir=parent)
    try:
        yield Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


class MemoryAuditStore(AuditStore):
    """An audit store in a dict: the test double (like httpx's ``MockTransport``)."""

    def __init__(self) -> None:
        self.location = "memory://"
        self.objects: dict[str, bytes] = {}

    def put_bytes(self, key: str, data: bytes, *, write_once: bool = True) -> StoredObject:
        key = build_key(key)
        if write_once and key in self.objects:
            raise RecordExistsError(f"audit object already exists: {self.describe(key)}")
        self.objects[key] = bytes(data)
        return StoredObject(key, hashlib.sha256(data).hexdigest(), len(data))

    def get_bytes(self, key: str) -> bytes:
        key = build_key(key)
        try:
            return self.objects[key]
        except KeyError:
            raise RecordNotFoundError(f"no audit object {self.describe(key)}") from None

    def list_keys(self, prefix: str = "") -> list[str]:
        start = build_key(prefix) + "/" if prefix.strip("/") else ""
        return sorted(key for key in self.objects if key.startswith(start))

    def exists(self, key: str) -> bool:
        return build_key(key) in self.objects

    def put_file(
        self,
        key: str,
        path: str | os.PathLike[str],
        *,
        sha256: str | None = None,
        move: bool = False,
        progress: ProgressCallback | None = None,
    ) -> StoredObject:
        return self.put_bytes(key, Path(path).read_bytes(), write_once=True)

    @contextlib.contextmanager
    def fetch_file(self, key: str) -> Iterator[Path]:
        data = self.get_bytes(key)
        with _temporary_directory(None) as directory:
            path = directory / "object"
            path.write_bytes(data)
            yield path


@contextlib.contextmanager
def _local_errors(action: str, where: str) -> Iterator[None]:
    """The boundary where ``OSError`` from the local store becomes a bot_core error."""
    try:
        yield
    except FileExistsError as exc:
        raise RecordExistsError(f"audit object already exists: {where}") from exc
    except FileNotFoundError as exc:
        raise RecordNotFoundError(f"no audit object {where}") from exc
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePathError(
                f"cannot {action} {where}: a symlink or a file sits in the path"
            ) from exc
        raise AuditStoreError(f"cannot {action} {where}: {exc.strerror or exc}") from exc


class LocalAuditStore(AuditStore):
    """An audit store in a local directory (default ``audit/`` under the working directory).

    **Parameters:**

    * ``root`` - the directory; relative paths are taken from the working directory now.
    * ``fsync`` - fsync files and directories as they are written (on by default).
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.location = display_path(self.root)
        self._fsync = fsync

    # -- descriptors ----------------------------------------------------------------------

    def _open_root(self, *, create: bool) -> int:
        if create:
            os.makedirs(self.root, exist_ok=True)
        return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    @contextlib.contextmanager
    def _parent(self, key: str, *, create: bool) -> Iterator[tuple[int, str]]:
        parts = build_key(key).split("/")
        root_fd = self._open_root(create=create)
        try:
            if create:
                fd = make_dirs_at(root_fd, parts[:-1])
            else:
                fd = open_relative_dir(root_fd, parts[:-1])
        finally:
            os.close(root_fd)
        try:
            yield fd, parts[-1]
        finally:
            os.close(fd)

    # -- the interface --------------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes, *, write_once: bool = True) -> StoredObject:
        key = build_key(key)
        with (
            _local_errors("write", self.describe(key)),
            self._parent(key, create=True) as (fd, name),
            temporary_file_at(fd, name) as (handle, temp_name),
        ):
            handle.write(data)
            publish_at(fd, temp_name, name, exclusive=write_once, handle=handle, mode=0o444)
        return StoredObject(key, hashlib.sha256(data).hexdigest(), len(data))

    def get_bytes(self, key: str) -> bytes:
        key = build_key(key)
        with (
            _local_errors("read", self.describe(key)),
            self._parent(key, create=False) as (fd, name),
        ):
            file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            with os.fdopen(file_fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    raise IsADirectoryError(errno.EISDIR, "not a file", name)
                return handle.read()

    def exists(self, key: str) -> bool:
        key = build_key(key)
        try:
            with self._parent(key, create=False) as (fd, name):
                return stat.S_ISREG(os.lstat(name, dir_fd=fd).st_mode)
        except OSError:
            return False

    def list_keys(self, prefix: str = "") -> list[str]:
        parts = build_key(prefix).split("/") if prefix.strip("/") else []
        where = self.describe("/".join(parts)) if parts else self.location
        keys: list[str] = []
        with _local_errors("list", where):
            try:
                root_fd = self._open_root(create=False)
            except FileNotFoundError:
                return []
            try:
                try:
                    fd = open_relative_dir(root_fd, parts)
                except (FileNotFoundError, NotADirectoryError):
                    return []
            finally:
                os.close(root_fd)
            try:
                self._walk(fd, parts, keys)
            finally:
                os.close(fd)
        return sorted(keys)

    def _walk(self, fd: int, parts: list[str], keys: list[str]) -> None:
        with os.scandir(fd) as entries:
            children = sorted(entries, key=lambda entry: entry.name)
        for entry in children:
            if entry.name.startswith("."):
                continue
            try:
                entry.name.encode("utf-8")
            except UnicodeEncodeError:
                continue
            if entry.is_dir(follow_symlinks=False):
                child_fd = os.open(
                    entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd
                )
                try:
                    self._walk(child_fd, [*parts, entry.name], keys)
                finally:
                    os.close(child_fd)
            elif entry.is_file(follow_symlinks=False):
                keys.append("/".join([*parts, entry.name]))

    def put_file(
        self,
        key: str,
        path: str | os.PathLike[str],
        *,
        sha256: str | None = None,
        move: bool = False,
        progress: ProgressCallback | None = None,
    ) -> StoredObject:
        key = build_key(key)
        report = progress or NullProgress()
        source = os.fspath(path)
        with (
            _local_errors("write", self.describe(key)),
            self._parent(key, create=True) as (fd, name),
        ):
            if move:
                digest, size = (sha256, os.stat(source).st_size) if sha256 else sha256_file(source)
                try:
                    os.link(source, name, dst_dir_fd=fd)
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                        raise
                else:
                    os.unlink(source)
                    if self._fsync:
                        os.fsync(fd)
                    report("store", size, size)
                    return StoredObject(key, digest, size)
            hasher = hashlib.sha256()
            size = 0
            with temporary_file_at(fd, name) as (handle, temp_name):
                with open(source, "rb") as reader:
                    while chunk := reader.read(_CHUNK):
                        handle.write(chunk)
                        hasher.update(chunk)
                        size += len(chunk)
                        report("store", size, None)
                publish_at(fd, temp_name, name, exclusive=True, handle=handle, mode=0o444)
        return StoredObject(key, hasher.hexdigest(), size)

    @contextlib.contextmanager
    def fetch_file(self, key: str) -> Iterator[Path]:
        key = build_key(key)
        with (
            _local_errors("read", self.describe(key)),
            self._parent(key, create=False) as (fd, name),
        ):
            mode = os.lstat(name, dir_fd=fd).st_mode
            if not stat.S_ISREG(mode):
                raise AuditStoreError(f"{self.describe(key)} is not a regular file")
        yield Path(self.root, *key.split("/"))

    def staging_directory(self) -> contextlib.AbstractContextManager[Path]:
        """Scratch space inside the store's root, so that a finished file is only renamed."""
        return _temporary_directory(self.root)

    def describe(self, key: str) -> str:
        return display_path(os.path.join(self.root, *key.split("/")))

    def discard(self, key: str) -> None:
        """Remove ``key`` and the directories it leaves empty (used to empty the spool)."""
        parts = build_key(key).split("/")
        with _local_errors("remove", self.describe(key)):
            root_fd = self._open_root(create=False)
            try:
                fd = open_relative_dir(root_fd, parts[:-1])
                try:
                    os.unlink(parts[-1], dir_fd=fd)
                    if self._fsync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
                for depth in range(len(parts) - 1, 0, -1):
                    fd = open_relative_dir(root_fd, parts[: depth - 1])
                    try:
                        os.rmdir(parts[depth - 1], dir_fd=fd)
                    except OSError:
                        break
                    finally:
                        os.close(fd)
            finally:
                os.close(root_fd)
