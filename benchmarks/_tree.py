"""The data every row works on: one generated tree, a pristine copy, and cheap restores.

Why a pristine copy restored with ``cp -al`` (hard links): a purge only ever ``unlink``s
files and ``rmdir``s directories (``bot_core/reporting/_execute.py``); it never opens a
source file for writing, ``chmod``s or ``utime``s it, and its ``flock`` is taken on a
directory descriptor, not on a lock file.  Unlinking a hard link leaves the other link (the
pristine copy) and the inode's content, size, mode and mtime untouched, and ``cp -al``
creates fresh directories, so directory mtimes changed by the purge are the copy's own.
Archive and backup only read their sources (``fchmod``/``utime`` in ``_archive.py`` act on
the archive being written), so they run on the pristine tree itself.  The reasoning is
checked, not trusted: :func:`tree_digest` of the pristine tree (every path, type, size, mode
and mtime) is taken before the first row and after the last, and the report says whether
they match (``TreeFacts.pristine_intact``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pydantic import TypeAdapter

from bot_core._fs import undisplay_path
from bot_core.demo import DemoTree
from bot_core.reporting import PurgeResult

__all__ = [
    "DEMO_NOW",
    "SELECTED_CATEGORIES",
    "Tree",
    "plan_selection",
    "prepare_tree",
    "remove",
    "restore_copy",
    "tree_digest",
]

DEMO_NOW = "2025-06-01T00:00:00Z"
"""A fixed "now" for the generator, so every benchmark run sees the same tree."""

SELECTED_CATEGORIES = ("daily", "diagnostics")
"""About half of the reports (38 % + 13 % of the generator's mix).  Why categories and not a
date: ``tar``, ``zip`` and the backup can then be given the very same two directories, and
every row that works on "half the reports" works on exactly the same ones."""


class Tree:
    """Paths of the work directory's data (all on the same local filesystem)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.pristine = workdir / "pristine" / "reports"
        self.facts_path = workdir / "pristine" / "tree.json"
        self.copy = workdir / "run" / "reports"
        self.out = workdir / "out"
        self.targets_file = workdir / "out" / "targets.nul"
        self.missing_signal_quality = workdir / "no-signal-quality"
        """Passed as ``--signal-quality-dir`` so purges delete reports only (it never exists)."""
        self.demo: DemoTree | None = None
        self.generate_seconds = 0.0
        self.targets: list[str] = []


def _generate(tree: Tree, reports: int) -> None:
    if tree.pristine.parent.exists():
        shutil.rmtree(tree.pristine.parent)
    tree.pristine.parent.mkdir(parents=True)
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot_core.demo",
            "generate",
            "--reports",
            str(reports),
            "--base-dir",
            str(tree.pristine),
            "--now",
            DEMO_NOW,
            "--no-signal-quality",
            "--no-registry",
        ],
        cwd=tree.pristine.parent,
        check=True,
        stdout=subprocess.PIPE,
    )
    tree.generate_seconds = round(time.perf_counter() - started, 2)
    tree.demo = DemoTree.model_validate_json(result.stdout)
    tree.facts_path.write_bytes(result.stdout)
    (tree.pristine.parent / "generate_seconds").write_text(str(tree.generate_seconds))


def prepare_tree(tree: Tree, reports: int) -> None:
    """Generate the pristine tree, unless the work directory already holds one of this size.

    Reusing it saves ~100 s at 100k reports when a row is re-run with ``--only``.
    """
    tree.out.mkdir(parents=True, exist_ok=True)
    if tree.facts_path.exists():
        demo = DemoTree.model_validate_json(tree.facts_path.read_bytes())
        seconds = tree.pristine.parent / "generate_seconds"
        if demo.seed == 7 and _requested(demo) == reports and seconds.exists():
            tree.demo = demo
            tree.generate_seconds = float(seconds.read_text())
            return
    _generate(tree, reports)


def _requested(demo: DemoTree) -> int:
    """The ``--reports`` the tree was generated with (the count excludes root-level files)."""
    return demo.report_count - demo.root_files


def plan_selection(tree: Tree) -> PurgeResult:
    """Plan (untimed) the purge of the selected categories; keep its target list.

    The list is what ``rm -rf``, ``tar`` and ``zip`` are given, NUL-separated, relative to
    the base directory, with ``\\xNN`` escapes turned back into the raw bytes.
    """
    command = [
        sys.executable,
        "-m",
        "bot_core.reporting.ui_bridge",
        "purge",
        "--dry-run",
        "--base-dir",
        str(tree.pristine),
        "--signal-quality-dir",
        str(tree.missing_signal_quality),
    ]
    for category in SELECTED_CATEGORIES:
        command += ["--category", category]
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE)
    plan = TypeAdapter(PurgeResult).validate_json(result.stdout)
    tree.targets = [undisplay_path(target.relative_path) for target in plan.targets]
    data = b"".join(os.fsencode(path) + b"\0" for path in tree.targets)
    tree.targets_file.write_bytes(data)
    return plan


def restore_copy(tree: Tree) -> None:
    """Replace the working copy by a hard-linked copy of the pristine tree (untimed)."""
    if tree.copy.exists():
        subprocess.run(["rm", "-rf", str(tree.copy)], check=True)
    tree.copy.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(tree.pristine), str(tree.copy)], check=True)


def remove(path: Path) -> None:
    """Remove a previous run's output (untimed); ``rm -rf`` is the fastest way we have."""
    if path.exists() or path.is_symlink():
        subprocess.run(["rm", "-rf", str(path)], check=True)


def tree_digest(root: Path) -> str:
    """sha256 over every entry's relative path, type, size, mode and mtime (no content).

    Content is left out on purpose: an in-place write changes the mtime, and reading 2 GB
    twice would double the harness's own cost for nothing.
    """
    digest = hashlib.sha256()
    base = os.fsencode(root)
    for directory, subdirs, files in os.walk(base):
        subdirs.sort()
        for name in sorted(files + subdirs):
            path = os.path.join(directory, name)
            st = os.lstat(path)
            digest.update(os.path.relpath(path, base))
            digest.update(f"\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()
