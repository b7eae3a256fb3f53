"""Walk one target safely, the way an executor must before it deletes or copies anything.

A plan was made from a scan, possibly hours ago.  Before acting, an executor walks the target
again through directory descriptors (``O_NOFOLLOW`` on every component, device and inode
checked when a directory is re-opened), rebuilds what the target owns with the same rules
as the scanner (contract section 1), and compares the :func:`fingerprint` with the plan's.
A target whose fingerprint differs is reported and left alone.

Roles a walked directory can have:

``summary``  owned by a summary report: every file, and every sub-directory without its own
             ``summary.json`` (a nested report is walked only when it is folded in);
``orphan``   a directory of loose files: its direct files only;
``transit``  a directory on the way to a folded report: walked, nothing in it is owned;
``all``      everything below, as ``delete PATH`` asks.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from bot_core._fs import DIR_OPEN_FLAGS, display_path, open_relative_dir, split_relative
from bot_core.reporting._scan import MAX_DEPTH, SUMMARY_NAME

__all__ = [
    "TargetChangedError",
    "TargetTree",
    "WalkRole",
    "WalkedDir",
    "WalkedFile",
    "fingerprint",
    "open_parent",
    "traverse",
    "walk_target",
]

WalkRole = Literal["summary", "orphan", "transit", "all", "file"]


class TargetChangedError(Exception):
    """The target on disk is not what was walked or planned; the message says how."""


@dataclass(slots=True)
class WalkedFile:
    """A file the target owns, as seen by the walk."""

    name: str
    path: str
    size: int
    mtime_ns: int
    is_link: bool


@dataclass(slots=True)
class WalkedDir:
    """A directory the walk entered; ``removable`` is True when the operation empties it."""

    name: str
    path: str
    device: int
    inode: int
    role: WalkRole
    files: list[WalkedFile] = field(default_factory=list)
    subdirs: list[WalkedDir] = field(default_factory=list)
    entries: int = 0
    removable: bool = False
    mtime_ns: int = 0
    mode: int = 0o755


@dataclass(slots=True)
class TargetTree:
    """The result of walking one target."""

    relative: str
    kind: WalkRole
    root: WalkedDir | None
    file: WalkedFile | None
    fingerprint: str
    file_count: int
    size: int
    removable_directories: int
    directories: int

    def iter_files(self) -> Iterator[WalkedFile]:
        if self.file is not None:
            yield self.file
            return
        stack = [self.root] if self.root is not None else []
        while stack:
            node = stack.pop()
            yield from node.files
            stack.extend(node.subdirs)

    def iter_dirs(self) -> Iterator[WalkedDir]:
        stack = [self.root] if self.root is not None else []
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.subdirs)


def fingerprint(files: Iterable[tuple[str, int, int, bool]], directories: Iterable[str]) -> str:
    """sha256 over every owned file's (path, size, mtime, link flag) and every directory.

    The scanner-side planner and the executor-side walk feed this the same facts, so equal
    digests mean the target is exactly as planned.
    """
    lines = [f"f\0{path}\0{size}\0{mtime}\0{int(link)}" for path, size, mtime, link in files]
    lines.extend(f"d\0{path}" for path in directories)
    lines.sort()
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8", "surrogateescape"))
        digest.update(b"\n")
    return digest.hexdigest()


def open_parent(base_fd: int, relative: str) -> tuple[int, str]:
    """Open the parent directory of ``relative`` without following symlinks.

    Returns ``(descriptor, last component)``; raises ``OSError`` (``ENOENT``, ``ELOOP``,
    ``ENOTDIR``) and ``ValueError`` for ``..`` or an absolute path.
    """
    components = split_relative(relative)
    if not components:
        raise ValueError("the base directory itself is not a target")
    return open_relative_dir(base_fd, components[:-1]), components[-1]


class _Walker:
    def __init__(self, device: int, folded: Mapping[str, WalkRole]) -> None:
        self.device = device
        self.folded = folded
        self.ancestors: set[str] = set()
        for path in folded:
            parts = path.split("/")
            for end in range(1, len(parts)):
                self.ancestors.add("/".join(parts[:end]))

    def child_role(self, parent: WalkRole, path: str, has_summary: bool) -> WalkRole | None:
        role = self.folded.get(path)
        if role is not None:
            return role
        if parent == "all":
            return "all"
        if parent == "summary" and not has_summary:
            return "summary"
        if path in self.ancestors:
            return "transit"
        return None

    def walk(
        self,
        parent_fd: int,
        name: str,
        path: str,
        role: WalkRole | None,
        parent: WalkRole,
        depth: int,
    ) -> WalkedDir | None:
        if depth > MAX_DEPTH:
            raise TargetChangedError(f"{display_path(path)}: nested deeper than {MAX_DEPTH}")
        if (
            role is None
            and parent in ("orphan", "transit")
            and (path not in self.folded and path not in self.ancestors)
        ):
            return None
        fd = os.open(name, DIR_OPEN_FLAGS, dir_fd=parent_fd)
        try:
            info = os.fstat(fd)
            if info.st_dev != self.device:
                if role is not None:
                    raise TargetChangedError(f"{display_path(path)}: on another filesystem")
                return None
            files: list[WalkedFile] = []
            subdirs: list[str] = []
            entries = 0
            has_summary = False
            with os.scandir(fd) as listing:
                for entry in listing:
                    entries += 1
                    if entry.is_dir(follow_symlinks=False):
                        subdirs.append(entry.name)
                        continue
                    try:
                        entry_info = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        entries -= 1
                        continue
                    regular = stat.S_ISREG(entry_info.st_mode)
                    if regular and entry.name == SUMMARY_NAME:
                        has_summary = True
                    files.append(
                        WalkedFile(
                            entry.name,
                            f"{path}/{entry.name}",
                            entry_info.st_size if regular else 0,
                            entry_info.st_mtime_ns,
                            not regular,
                        )
                    )
            if role is None:
                role = self.child_role(parent, path, has_summary)
                if role is None:
                    return None
            node = WalkedDir(
                name,
                path,
                info.st_dev,
                info.st_ino,
                role,
                entries=entries,
                mtime_ns=info.st_mtime_ns,
                mode=stat.S_IMODE(info.st_mode),
            )
            if role != "transit":
                node.files = files
            for child in sorted(subdirs):
                walked = self.walk(fd, child, f"{path}/{child}", None, role, depth + 1)
                if walked is not None:
                    node.subdirs.append(walked)
            removable_children = sum(1 for child in node.subdirs if child.removable)
            node.removable = len(node.files) + removable_children == entries
            node.files.sort(key=lambda walked_file: walked_file.name)
            return node
        finally:
            os.close(fd)


def walk_target(
    base_fd: int,
    relative: str,
    kind: Literal["summary", "orphan", "file", "all"],
    folded: Mapping[str, WalkRole] | None = None,
) -> TargetTree:
    """Walk ``relative`` (raw, relative to the base) and return what it owns.

    Raises ``FileNotFoundError`` when the target is gone, ``OSError`` with ``ELOOP`` or
    ``ENOTDIR`` when a symlink sits in its path, and :class:`TargetChangedError` when it is
    no longer the kind of thing the plan expected.
    """
    parent_fd, name = open_parent(base_fd, relative)
    try:
        device = os.fstat(base_fd).st_dev
        info = os.lstat(name, dir_fd=parent_fd)
        if stat.S_ISDIR(info.st_mode):
            if kind == "file":
                raise TargetChangedError(f"{display_path(relative)} is now a directory")
            walker = _Walker(device, folded or {})
            root = walker.walk(parent_fd, name, relative, kind, kind, 0)
            assert root is not None
            tree = TargetTree(relative, kind, root, None, "", 0, 0, 0, 0)
        else:
            if kind in ("summary", "orphan"):
                raise TargetChangedError(f"{display_path(relative)} is no longer a directory")
            regular = stat.S_ISREG(info.st_mode)
            walked = WalkedFile(
                name, relative, info.st_size if regular else 0, info.st_mtime_ns, not regular
            )
            tree = TargetTree(relative, "file", None, walked, "", 0, 0, 0, 0)
    finally:
        os.close(parent_fd)
    files = list(tree.iter_files())
    directories = list(tree.iter_dirs())
    tree.fingerprint = fingerprint(
        ((item.path, item.size, item.mtime_ns, item.is_link) for item in files),
        (node.path for node in directories),
    )
    tree.file_count = len(files)
    tree.size = sum(item.size for item in files)
    tree.directories = len(directories)
    tree.removable_directories = sum(1 for node in directories if node.removable)
    return tree


def traverse(parent_fd: int, node: WalkedDir) -> Iterator[tuple[str, int, WalkedDir]]:
    """Re-enter a walked tree, yielding ``("enter", fd, dir)`` and ``("leave", parent_fd, dir)``.

    Each directory is re-opened by name with ``O_NOFOLLOW`` relative to its parent and must
    be the same inode the walk saw; otherwise :class:`TargetChangedError` is raised.  The
    descriptor given with ``enter`` is valid until the matching ``leave``.
    """
    try:
        fd = os.open(node.name, DIR_OPEN_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise TargetChangedError(
                f"{display_path(node.path)} was replaced by a symlink or file"
            ) from exc
        raise
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != (node.device, node.inode):
            raise TargetChangedError(f"{display_path(node.path)} was replaced since it was checked")
        yield "enter", fd, node
        for child in node.subdirs:
            yield from traverse(fd, child)
    finally:
        os.close(fd)
    yield "leave", parent_fd, node
