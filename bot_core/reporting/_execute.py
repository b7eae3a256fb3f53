"""Execute purge and delete plans: re-check each target, then remove exactly what it owns.

Dry and real runs go through the same loop (borg's habit); only the mutating calls
(``unlink``/``rmdir``) are guarded by ``dry_run``.  A target whose fingerprint no longer
matches the plan is reported with ``status: "error"`` and left untouched; an error on one
target does not stop the others.  Real runs hold an exclusive ``flock`` on the base directory
so two purges never delete at once (archives take it shared).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot_core._fs import display_path, encode_raw_path, undisplay_path
from bot_core._progress import NullProgress, ProgressCallback
from bot_core.errors import InvalidInputError, OperationError, UnsafePathError
from bot_core.reporting._models import (
    BatchStatus,
    DeletePlan,
    DeleteResult,
    PlannedTarget,
    PurgePlan,
    PurgeResult,
    PurgeTargetResult,
    SignalQualityCleanup,
    TargetStatus,
)
from bot_core.reporting._signal_quality import execute_signal_quality_cleanup
from bot_core.reporting._walk import (
    TargetChangedError,
    TargetTree,
    open_parent,
    traverse,
    walk_target,
)

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "TargetUnavailable",
    "base_lock",
    "batch_status",
    "delete_tree",
    "execute_delete",
    "execute_purge",
    "open_base",
    "opened_base",
    "plan_delete",
    "recheck_target",
]

DEFAULT_LOCK_TIMEOUT = 60.0
"""Seconds to wait for another maintenance run on the same base directory to finish."""


def open_base(base_directory: str) -> int | None:
    """Open the base directory (it may itself be a symlink); ``None`` when it is absent."""
    try:
        return os.open(base_directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OperationError(
            f"cannot open base directory {display_path(base_directory)}: {exc.strerror}"
        ) from exc


@contextlib.contextmanager
def base_lock(base_fd: int | None, *, exclusive: bool, timeout: float) -> Iterator[None]:
    """Hold an advisory lock on the base directory itself (no lock file is created)."""
    if base_fd is None:
        yield
        return
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(base_fd, mode | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OperationError(
                    "another maintenance run holds the lock on the base directory; "
                    f"gave up after {timeout:.0f} s, try again when it has finished"
                ) from None
            time.sleep(0.1)
    try:
        yield
    finally:
        fcntl.flock(base_fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def opened_base(
    base_directory: str, *, lock: Literal["exclusive", "shared"] | None, timeout: float
) -> Iterator[int | None]:
    """The base directory's descriptor for an executor, locked for real runs (``lock``).

    ``None`` is yielded when the base directory does not exist (every target is then
    ``not_found``).
    """
    base_fd = open_base(base_directory)
    try:
        if lock is None:
            yield base_fd
        else:
            with base_lock(base_fd, exclusive=lock == "exclusive", timeout=timeout):
                yield base_fd
    finally:
        if base_fd is not None:
            os.close(base_fd)


class TargetUnavailable(Exception):
    """A planned target cannot be acted on; ``status`` is the contract's word for why."""

    def __init__(self, status: TargetStatus, message: str | None = None) -> None:
        super().__init__(message or status)
        self.status = status
        self.message = message


def recheck_target(base_fd: int | None, target: PlannedTarget) -> TargetTree:
    """Walk a planned target again and insist that it is exactly as planned."""
    if base_fd is None:
        raise TargetUnavailable("not_found")
    relative = target.fs_path
    folded = {nested.fs_path: nested.kind for nested in target.folded}
    try:
        tree = walk_target(base_fd, relative, target.kind, folded)
    except FileNotFoundError:
        raise TargetUnavailable("not_found") from None
    except TargetChangedError as exc:
        raise TargetUnavailable("error", f"changed since the plan: {exc}; left untouched") from exc
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise TargetUnavailable(
                "error", "a symlink now sits in the target's path; left untouched"
            ) from exc
        where = f" ({display_path(str(exc.filename))})" if exc.filename else ""
        raise TargetUnavailable("error", f"cannot read target: {exc.strerror}{where}") from exc
    if tree.fingerprint != target.fingerprint:
        raise TargetUnavailable(
            "error",
            f"changed since the plan (planned {target.file_count} files, {target.size} bytes; "
            f"found {tree.file_count} files, {tree.size} bytes); left untouched",
        )
    return tree


@dataclass(slots=True)
class Removal:
    """What a deletion actually removed."""

    files: int = 0
    directories: int = 0
    size: int = 0
    errors: list[str] = field(default_factory=list)


def delete_tree(base_fd: int, tree: TargetTree) -> Removal:
    """Remove what ``tree`` owns, then every walked directory that ended up empty.

    Files are unlinked by name relative to a verified directory descriptor; a directory
    replaced since the walk stops the deletion of that target with an error.
    """
    removal = Removal()
    parent_fd, name = open_parent(base_fd, tree.relative)
    try:
        if tree.file is not None:
            try:
                os.unlink(name, dir_fd=parent_fd)
                removal.files, removal.size = 1, tree.file.size
            except FileNotFoundError:
                pass
            except OSError as exc:
                removal.errors.append(f"{display_path(tree.relative)}: {exc.strerror}")
            return removal
        assert tree.root is not None
        for event, fd, node in traverse(parent_fd, tree.root):
            if event == "enter":
                for item in node.files:
                    try:
                        os.unlink(item.name, dir_fd=fd)
                    except FileNotFoundError:
                        continue
                    except OSError as exc:
                        removal.errors.append(f"{display_path(item.path)}: {exc.strerror}")
                        continue
                    removal.files += 1
                    removal.size += item.size
            else:
                try:
                    os.rmdir(node.name, dir_fd=fd)
                    removal.directories += 1
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                        removal.errors.append(f"{display_path(node.path)}: {exc.strerror}")
    except TargetChangedError as exc:
        removal.errors.append(f"stopped: {exc}")
    finally:
        os.close(parent_fd)
    return removal


def batch_status(statuses: list[str], *, dry_run: bool, failed: tuple[str, ...]) -> BatchStatus:
    """The contract's overall status from the targets' statuses."""
    if not statuses:
        return "empty"
    failures = sum(1 for status in statuses if status in failed)
    if failures == len(statuses):
        return "error"
    if failures:
        return "partial_failure"
    return "preview" if dry_run else "completed"


def _require_sealed(plan: PurgePlan | DeletePlan) -> None:
    if not plan.verify_digest():
        raise InvalidInputError("the plan was modified after it was made (sha256 mismatch)")


def execute_purge(
    plan: PurgePlan,
    *,
    dry_run: bool,
    progress: ProgressCallback | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> PurgeResult:
    """Delete exactly what ``plan`` lists (or preview it), target by target."""
    _require_sealed(plan)
    report = progress or NullProgress()
    base = plan.fs_base_directory
    results: list[PurgeTargetResult] = []
    lock: Literal["exclusive"] | None = None if dry_run else "exclusive"
    with opened_base(base, lock=lock, timeout=lock_timeout) as base_fd:
        for index, target in enumerate(plan.targets):
            results.append(_purge_one(base_fd, target, dry_run=dry_run))
            report("purging" if not dry_run else "checking", index + 1, len(plan.targets))
        cleanup = execute_signal_quality_cleanup(plan.signal_quality, dry_run=dry_run)
    return _purge_result(plan, results, cleanup, dry_run=dry_run)


def _purge_one(base_fd: int | None, target: PlannedTarget, *, dry_run: bool) -> PurgeTargetResult:
    def result(
        status: TargetStatus, files: int = 0, dirs: int = 0, size: int = 0, error: str | None = None
    ) -> PurgeTargetResult:
        return PurgeTargetResult(
            relative_path=target.relative_path,
            absolute_path=target.absolute_path,
            removed_files=files,
            removed_directories=dirs,
            removed_size=size,
            status=status,
            error=error,
        )

    try:
        tree = recheck_target(base_fd, target)
    except TargetUnavailable as exc:
        return result(exc.status, error=exc.message)
    if dry_run:
        return result("preview", tree.file_count, tree.removable_directories, tree.size)
    assert base_fd is not None
    removal = delete_tree(base_fd, tree)
    if removal.errors:
        shown = "; ".join(removal.errors[:3])
        more = f" (+{len(removal.errors) - 3} more)" if len(removal.errors) > 3 else ""
        return result("error", removal.files, removal.directories, removal.size, shown + more)
    return result("deleted", removal.files, removal.directories, removal.size)


def _purge_result(
    plan: PurgePlan,
    results: list[PurgeTargetResult],
    cleanup: SignalQualityCleanup,
    *,
    dry_run: bool,
) -> PurgeResult:
    acted = [r for r in results if r.status in ("preview", "deleted")]
    status = batch_status([r.status for r in results], dry_run=dry_run, failed=("error",))
    if status in ("completed", "preview", "empty") and cleanup.status in (
        "error",
        "partial_failure",
    ):
        status = "partial_failure"
    errors = [f"{r.relative_path}: {r.error}" for r in results if r.error]
    errors.extend(f"signal quality: {message}" for message in cleanup.errors or [])
    return PurgeResult(
        base_directory=plan.base_directory,
        filters=plan.filters,
        matched_count=len(plan.targets),
        planned_count=len(plan.targets),
        deleted_count=0 if dry_run else sum(1 for r in results if r.status == "deleted"),
        removed_files=sum(r.removed_files for r in acted),
        removed_directories=sum(r.removed_directories for r in acted),
        removed_size=sum(r.removed_size for r in acted),
        targets=results,
        status=status,
        errors=errors or None,
        dry_run=True if dry_run else None,
        signal_quality_cleanup=cleanup,
        plan_sha256=plan.sha256,
    )


# --- delete PATH (contract 4) ----------------------------------------------------------------


def _relative_inside(base: str, path: str) -> str:
    """``path`` (relative to the base, or absolute) as a normalised relative path inside it."""
    if not path or not path.strip():
        raise UnsafePathError("path is blank; name the report or directory to delete")
    if os.path.isabs(path):
        candidate = os.path.normpath(path)
        for root in (base, os.path.realpath(base)):
            relative = os.path.relpath(candidate, root)
            if relative != "." and not relative.startswith(".."):
                return relative
            if relative == ".":
                raise UnsafePathError("refusing to delete the base directory itself")
        raise UnsafePathError(
            f"{display_path(path)} is outside the base directory {display_path(base)}"
        )
    relative = os.path.normpath(path)
    if relative == ".":
        raise UnsafePathError("refusing to delete the base directory itself")
    if relative == ".." or relative.startswith("../"):
        raise UnsafePathError(
            f"{display_path(path)} is outside the base directory {display_path(base)}"
        )
    return relative


def plan_delete(base_directory: str, path: str, *, now: datetime) -> DeletePlan:
    """Check ``path`` and record what deleting it removes; refuses unsafe paths (exit 2)."""
    base = os.path.abspath(base_directory)
    relative = _relative_inside(base, path)
    if os.path.lexists(base) and not os.path.isdir(base):
        raise InvalidInputError(f"base directory is not a directory: {display_path(base)}")
    base_fd = open_base(base)
    tree: TargetTree | None = None
    try:
        if base_fd is not None:
            candidates = [relative]
            fallback = undisplay_path(relative)
            if fallback != relative:
                candidates.append(fallback)
            for candidate in candidates:
                try:
                    tree = walk_target(base_fd, candidate, "all")
                    relative = candidate
                    break
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    if exc.errno == errno.ELOOP:
                        raise UnsafePathError(
                            f"{display_path(path)} passes through a symlinked directory; refusing"
                        ) from exc
                    if exc.errno == errno.ENOTDIR:
                        continue
                    raise OperationError(
                        f"cannot read {display_path(path)}: {exc.strerror}"
                    ) from exc
                except TargetChangedError as exc:
                    raise OperationError(str(exc)) from exc
    finally:
        if base_fd is not None:
            os.close(base_fd)
    return DeletePlan(
        created_at=now,
        base_directory=display_path(base),
        raw_base_directory=encode_raw_path(base),
        relative_path=display_path(relative),
        raw_path=encode_raw_path(relative),
        absolute_path=display_path(os.path.join(base, relative)),
        exists=tree is not None,
        is_directory=tree is not None and tree.root is not None,
        file_count=tree.file_count if tree else 0,
        directory_count=tree.removable_directories if tree else 0,
        size=tree.size if tree else 0,
        fingerprint=tree.fingerprint if tree else "",
    ).sealed()


def execute_delete(
    plan: DeletePlan, *, dry_run: bool, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> DeleteResult:
    """Delete the planned path (or preview it) if it is still exactly as planned."""
    _require_sealed(plan)

    def result(
        status: TargetStatus, removal: Removal | None = None, error: str | None = None
    ) -> DeleteResult:
        removal = removal or Removal()
        return DeleteResult(
            base_directory=plan.base_directory,
            relative_path=plan.relative_path,
            absolute_path=plan.absolute_path,
            removed_files=removal.files,
            removed_directories=removal.directories,
            removed_size=removal.size,
            status=status,
            dry_run=True if dry_run else None,
            error=error,
        )

    if not plan.exists:
        return result("not_found")
    base = plan.fs_base_directory
    relative = plan.fs_path
    lock: Literal["exclusive"] | None = None if dry_run else "exclusive"
    with opened_base(base, lock=lock, timeout=lock_timeout) as base_fd:
        if base_fd is None:
            return result("not_found")
        try:
            tree = walk_target(base_fd, relative, "all")
        except FileNotFoundError:
            return result("not_found")
        except (OSError, TargetChangedError) as exc:
            return result("error", error=f"cannot check {plan.relative_path}: {exc}")
        if tree.fingerprint != plan.fingerprint:
            return result("error", error="changed while it was being checked; left untouched")
        if dry_run:
            return result(
                "preview", Removal(tree.file_count, tree.removable_directories, tree.size)
            )
        removal = delete_tree(base_fd, tree)
    if removal.errors:
        return result("error", removal, "; ".join(removal.errors[:3]))
    return result("deleted", removal)
