"""Fixtures for the audit tests: the shared SeaweedFS server and one store per back-end.

``backend`` is parametrized over a local directory and a real S3 bucket (SeaweedFS on
loopback); each gives the store under test and raw access for tampering, the way an
attacker or a careless operator would touch the storage: directly, not through our API.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot_core.audit import AuditStore, LocalAuditStore, S3AuditStore
from tests.s3server import SeaweedServer, s3_bucket, s3_server

__all__ = ["Backend", "s3_bucket", "s3_server"]

FIXED_START = datetime(2024, 6, 12, 10, 0, tzinfo=UTC)


@dataclass
class Backend:
    """A store plus raw read/write/delete of its objects, bypassing the store."""

    name: str
    store: AuditStore
    read: Callable[[str], bytes]
    write: Callable[[str, bytes], None]
    delete: Callable[[str], None]


def _local_backend(root: Path) -> Backend:
    def path(key: str) -> Path:
        return root.joinpath(*key.split("/"))

    def write(key: str, data: bytes) -> None:
        target = path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.chmod(0o644)
        target.write_bytes(data)

    return Backend(
        name="local",
        store=LocalAuditStore(root),
        read=lambda key: path(key).read_bytes(),
        write=write,
        delete=lambda key: path(key).unlink(),
    )


def s3_backend(server: SeaweedServer, bucket: str, **store_options: Any) -> Backend:
    """A backend on ``bucket`` of the test server (no Object Lock unless asked)."""
    client = server.client()

    def read(key: str) -> bytes:
        body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    return Backend(
        name="s3",
        store=S3AuditStore(client, bucket, **store_options),
        read=read,
        write=lambda key, data: client.put_object(Bucket=bucket, Key=key, Body=data),
        delete=lambda key: client.delete_object(Bucket=bucket, Key=key),
    )


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The store under test on each back-end, with raw access for tampering."""
    if request.param == "local":
        return _local_backend(tmp_path / "audit")
    server: SeaweedServer = request.getfixturevalue("s3_server")
    return s3_backend(server, server.create_bucket(request.node.name[:20]))


@pytest.fixture
def chdir_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test in ``tmp_path`` (relative defaults such as ``audit/`` land there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def set_mtime(path: Path | str | bytes, ns: int) -> None:
    """Set a path's mtime (and atime) without following a final symlink."""
    os.utime(path, ns=(ns, ns), follow_symlinks=False)
