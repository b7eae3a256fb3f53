"""A hostile little world on disk: a report base, and everything around it that must survive.

``root/base`` holds reports whose names and symlinks hypothesis chooses; ``root/outside``,
``root/base2`` (a sibling whose name starts with the base's, to catch prefix checks) and
``root/neighbour.txt`` are what the tool must never touch; ``root/dest`` is the one place an
archive may write, and ``root/parked`` where a race test moves what it swaps out of the base.
:func:`snapshot` fingerprints everything else so a test can count what changed there.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SECRET", "Entry", "World", "build_world", "snapshot", "touched"]

SECRET = b"outside-the-base-secret-7f3a"
"""Content of every file outside the base: finding it in an archive means a symlink was
followed out of the base."""

Entry = tuple[str, str | int | None, int | None]
"""What a snapshot keeps per path: kind, content hash or link target, mode."""


@dataclass
class World:
    root: Path
    base: Path
    dest: Path
    report_paths: list[str] = field(default_factory=list)
    link_paths: list[str] = field(default_factory=list)

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    @property
    def parked(self) -> Path:
        return self.root / "parked"


def _write(path: bytes, content: bytes, mtime: float) -> None:
    with open(path, "wb") as handle:
        handle.write(content)
    os.utime(path, (mtime, mtime))


def build_world(
    root: Path,
    reports: list[tuple[bytes, bytes, int]],
    links: list[tuple[bytes, bytes]],
) -> World:
    """Create the world: ``reports`` are (category, name, days old); ``links`` are (where,
    target) pairs, ``where`` relative to the base (parents created), ``target`` verbatim."""
    world = World(root=root, base=root / "base", dest=root / "dest")
    for directory in ("outside/dir/deeper", "base2/daily/2024-01-01", "base", "dest", "parked"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    old = 1_700_000_000.0
    for relative in ("outside/secret.txt", "outside/dir/secret.json", "outside/dir/deeper/x"):
        _write(os.fsencode(root / relative), SECRET, old)
    _write(os.fsencode(root / "outside/dir/summary.json"), b'{"secret": true}', old)
    _write(os.fsencode(root / "base2/daily/2024-01-01/summary.json"), SECRET, old)
    _write(os.fsencode(root / "neighbour.txt"), SECRET, old)
    base = os.fsencode(world.base)
    for category, name, days in reports:
        report = os.path.join(base, category, name)
        os.makedirs(os.path.join(report, b"exports"), exist_ok=True)
        mtime = old - days * 86400
        _write(os.path.join(report, b"summary.json"), b'{"status": "ok"}', mtime)
        _write(os.path.join(report, b"ledger.csv"), b"a,b\n1,2\n", mtime)
        _write(os.path.join(report, b"exports", b"trades.csv"), b"t\n", mtime)
        world.report_paths.append(os.fsdecode(os.path.join(category, name)))
    for where, target in links:
        path = os.path.join(base, where)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.symlink(target, path)
        except OSError:
            continue  # the drawn place collides with a report or another link: skip it
        world.link_paths.append(os.fsdecode(where))
    return world


def snapshot(world: World) -> dict[str, Entry]:
    """Every path under the root but the base, the destination and the parking place."""
    seen: dict[str, Entry] = {}
    root = os.fsencode(world.root)
    skip = {os.fsencode(world.base), os.fsencode(world.dest), os.fsencode(world.parked)}
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if os.path.join(directory, d) not in skip]
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            key = os.fsdecode(os.path.relpath(path, root))
            info = os.lstat(path)
            if os.path.islink(path):
                seen[key] = ("link", os.fsdecode(os.readlink(path)), None)
            elif os.path.isdir(path):
                seen[key] = ("dir", None, info.st_mode)
            else:
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                seen[key] = ("file", digest, info.st_mode)
    return seen


def touched(before: dict[str, Entry], after: dict[str, Entry]) -> int:
    """How many paths outside the base were removed, added or changed."""
    keys = set(before) | set(after)
    return sum(1 for key in keys if before.get(key) != after.get(key))
