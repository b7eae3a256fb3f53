"""Helpers for report tests: build trees, run the real CLI, snapshot the disk."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

UI_BRIDGE = [sys.executable, "-m", "bot_core.reporting.ui_bridge"]


def ts(text: str) -> float:
    """Epoch seconds of an ISO-8601 UTC moment."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def write(path: Path, data: bytes | str = b"x", *, mtime: str | None = None) -> Path:
    """Write a file (creating parents) and optionally set its mtime."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    if mtime is not None:
        os.utime(path, (ts(mtime), ts(mtime)))
    return path


def report(
    base: Path,
    identifier: str,
    summary: dict[str, Any] | bytes | None = None,
    files: dict[str, bytes | str] | None = None,
    *,
    mtime: str = "2024-05-01T12:00:00+00:00",
) -> Path:
    """Create a report directory: an optional summary plus files, all with ``mtime``."""
    directory = base / identifier
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in (files or {}).items():
        write(directory / name, data, mtime=mtime)
    if summary is not None:
        data = summary if isinstance(summary, bytes) else json.dumps(summary).encode()
        write(directory / "summary.json", data, mtime=mtime)
    return directory


@dataclass
class Run:
    """A finished CLI run."""

    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def model(self, model: type[BaseModel]) -> Any:
        """Parse stdout into the pydantic model (strictly: unknown fields fail)."""
        return model.model_validate_json(self.stdout)

    def assert_clean_error(self, code: int = 2) -> str:
        """An error: the exit code, nothing on stdout, one line on stderr, no traceback."""
        assert self.code == code, (self.code, self.stdout, self.stderr)
        assert self.stdout == "", self.stdout
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, self.stderr
        assert "Traceback" not in self.stderr
        assert lines[0].startswith("error: ")
        return lines[0]


def cli(
    *args: str | os.PathLike[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
    module: list[str] | None = None,
) -> Run:
    """Run ``python -m bot_core.reporting.ui_bridge ARGS`` in ``cwd``."""
    command = [*(prefix or []), *(module or UI_BRIDGE), *map(os.fspath, args)]
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(command, cwd=cwd, capture_output=True, env=full_env, timeout=120)
    return Run(
        done.returncode,
        done.stdout.decode("utf-8"),
        done.stderr.decode("utf-8", "replace"),
    )


def snapshot(root: Path) -> dict[bytes, tuple[str, int, int, str]]:
    """Every entry under ``root``: kind, size, mtime_ns and a content digest (links: target)."""
    result: dict[bytes, tuple[str, int, int, str]] = {}
    top = os.fsencode(root)
    if not os.path.lexists(top):
        return result
    for directory, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            relative = os.path.relpath(path, top)
            if os.path.islink(path):
                result[relative] = ("link", 0, info.st_mtime_ns, os.fsdecode(os.readlink(path)))
            elif os.path.isdir(path):
                result[relative] = ("dir", 0, 0, "")
            else:
                digest = hashlib.sha256(Path(os.fsdecode(path)).read_bytes()).hexdigest()
                result[relative] = ("file", info.st_size, info.st_mtime_ns, digest)
    return result


DROP_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
"""Prefix that makes permission bits apply even when the tests run as root."""
