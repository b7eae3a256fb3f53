"""Small factories shared by the audit tests."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot_core.audit import AuditRun, AuditStore, content_digest

START = datetime(2024, 6, 12, 10, 0, tzinfo=UTC)
STEPS = ("overview", "dry-run", "approval", "backup", "execution", "report")


class Clock:
    """A clock that moves one second per call."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def write_run(
    store: AuditStore,
    *,
    run_id: str = "run-1",
    steps: tuple[str, ...] = STEPS[:3],
    final: bool = True,
    operation: str = "maintenance/purge",
) -> AuditRun:
    """Write one run whose last record is final (unless told otherwise)."""
    run = AuditRun(store, operation, run_id, started_at=START, clock=Clock())
    for index, step in enumerate(steps, start=1):
        run.record(step, {"step": step, "index": index}, final=final and index == len(steps))
    return run


def forge(envelope: dict[str, Any], **changes: Any) -> bytes:
    """An edited envelope whose content_sha256 is recomputed, as a careful forger would."""
    forged = {**envelope, **changes}
    forged["content_sha256"] = content_digest(forged)
    return json.dumps(forged, indent=2, sort_keys=True).encode()


def issues(result: Any) -> list[tuple[str, str | None]]:
    """``(kind, key)`` of every issue of every run, for compact assertions."""
    return [(issue.kind, issue.key) for run in result.runs for issue in run.issues]


NON_UTF8 = b"caf\xe9-r\xf3\xbfport.txt"
LONG_NAME = "a-report-name-that-is-much-longer-than-one-hundred-characters-" + "x" * 60 + ".json"


def _at(root: Path, relative: bytes | str) -> bytes:
    name = relative if isinstance(relative, bytes) else relative.encode()
    return os.fsencode(root) + b"/" + name


def build_tree(root: Path) -> list[str]:
    """A report tree with the awkward cases; returns the paths to back up."""
    report = root / "smoke" / "2024-06-01"
    (report / "exports" / "deep").mkdir(parents=True)
    (report / "empty").mkdir()
    (report / "summary.json").write_text('{"report_date": "2024-06-01"}')
    (report / "exports" / "equity.csv").write_bytes(os.urandom(200_000))
    (report / "exports" / "deep" / LONG_NAME).write_text("long")
    (report / "exports" / "run.sh").write_text("#!/bin/sh\n")
    (report / "exports" / "run.sh").chmod(0o755)
    (report / "private.txt").write_text("secret")
    (report / "private.txt").chmod(0o600)
    with open(_at(report, NON_UTF8), "wb") as handle:
        handle.write(b"bytes in a name that is not UTF-8")
    os.symlink("../../outside/target.txt", report / "link")
    (root / "models").mkdir()
    (root / "models" / "champion.json").write_text('{"model_name": "m"}')
    stamp = 1_700_000_000_123_456_789
    for path in sorted(_walk(root), key=lambda p: -p.count(b"/")):
        stamp -= 1_000_000_007
        os.utime(path, ns=(stamp, stamp), follow_symlinks=False)
    return ["smoke/2024-06-01", "models/champion.json"]


def _walk(root: Path) -> list[bytes]:
    found: list[bytes] = []
    for directory, dirs, files in os.walk(os.fsencode(root)):
        found.extend(os.path.join(directory, name) for name in dirs + files)
    return found


def snapshot(root: Path) -> dict[bytes, tuple[Any, ...]]:
    """Every path under ``root``: type, mode, mtime_ns, and content or link target."""
    result: dict[bytes, tuple[Any, ...]] = {}
    base = os.fsencode(root)
    for path in _walk(root):
        st = os.lstat(path)
        relative = os.path.relpath(path, base)
        if stat.S_ISLNK(st.st_mode):
            result[relative] = ("link", st.st_mtime_ns, os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            result[relative] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
        else:
            with open(path, "rb") as handle:
                content = handle.read()
            result[relative] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, content)
    return result
