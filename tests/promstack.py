"""A real Pushgateway and a real Prometheus on loopback, for the metrics tests.

Debian's ``/usr/bin/prometheus-pushgateway`` and ``/usr/bin/prometheus`` run on free ports
in the session's temporary directory; Prometheus scrapes the Pushgateway every second with
``honor_labels: true`` (as a production scrape of a Pushgateway must), so the stage7 query
runs against exactly the series our pushes produce.  Both are always stopped: terminate,
wait with a timeout, kill.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "Prometheus",
    "Pushgateway",
    "closed_port_url",
    "prometheus_server",
    "pushgateway",
    "pushgateway_server",
]

PUSHGATEWAY_BIN = Path("/usr/bin/prometheus-pushgateway")
PROMETHEUS_BIN = Path("/usr/bin/prometheus")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def closed_port_url() -> str:
    """An http URL on loopback where nothing listens (connection refused at once)."""
    return f"http://127.0.0.1:{free_port()}"


def _get(url: str, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError):
            _get(f"{url}/-/ready", timeout=1)
            return
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready within {timeout} s")


@contextlib.contextmanager
def _process(args: list[str], log: Path, url: str) -> Iterator[None]:
    with log.open("wb") as output:
        process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT)
        try:
            _wait_ready(url, process, log, timeout=30)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@dataclass(frozen=True)
class Pushgateway:
    """A running Pushgateway (admin API on, no persistence file)."""

    url: str

    def wipe(self) -> None:
        """Delete every group (``PUT /api/v1/admin/wipe``)."""
        request = urllib.request.Request(f"{self.url}/api/v1/admin/wipe", method="PUT")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def groups(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = json.loads(_get(f"{self.url}/api/v1/metrics"))["data"]
        return data

    def value(self, job: str, name: str, **labels: str) -> float | None:
        """The value of the one series of ``name`` in job ``job`` whose labels include
        ``labels`` (read from ``/api/v1/metrics``, as an operator's curl would)."""
        for group in self.groups():
            if group["labels"].get("job") != job or name not in group:
                continue
            for sample in group[name]["metrics"]:
                if labels.items() <= sample["labels"].items():
                    return float(sample["value"])
        return None

    def exposition(self) -> str:
        """The ``/metrics`` text Prometheus scrapes."""
        return _get(f"{self.url}/metrics").decode()


@dataclass(frozen=True)
class Prometheus:
    """A running Prometheus that scrapes the Pushgateway every second."""

    url: str

    def query(self, promql: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"query": promql})
        answer = json.loads(_get(f"{self.url}/api/v1/query?{query}"))
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def wait_for(self, promql: str, value: float, *, timeout: float = 30) -> None:
        """Poll until ``promql`` returns one sample equal to ``value`` (a scrape happened)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(promql)
            if result and float(result[0]["value"][1]) == value:
                return
            time.sleep(0.2)
        raise AssertionError(f"{promql} did not reach {value} within {timeout} s")


@pytest.fixture(scope="session")
def pushgateway_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushgateway]:
    """One Pushgateway for the session (``--persistence.file`` empty: memory only)."""
    if not PUSHGATEWAY_BIN.exists():
        pytest.skip(f"{PUSHGATEWAY_BIN} is not installed")
    directory = tmp_path_factory.mktemp("pushgateway")
    url = f"http://127.0.0.1:{free_port()}"
    args = [
        str(PUSHGATEWAY_BIN),
        f"--web.listen-address={url.removeprefix('http://')}",
        "--persistence.file=",
        "--web.enable-admin-api",
    ]
    with _process(args, directory / "pushgateway.log", url):
        yield Pushgateway(url)


@pytest.fixture
def pushgateway(pushgateway_server: Pushgateway, monkeypatch: pytest.MonkeyPatch) -> Pushgateway:
    """The session's Pushgateway, wiped, and named in ``BOT_CORE_PUSHGATEWAY_URL``."""
    pushgateway_server.wipe()
    monkeypatch.setenv("BOT_CORE_PUSHGATEWAY_URL", pushgateway_server.url)
    return pushgateway_server


@pytest.fixture(scope="session")
def prometheus_server(
    pushgateway_server: Pushgateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    """Prometheus scraping the session's Pushgateway every second (``honor_labels``)."""
    if not PROMETHEUS_BIN.exists():
        pytest.skip(f"{PROMETHEUS_BIN} is not installed")
    directory = tmp_path_factory.mktemp("prometheus")
    config = directory / "prometheus.yml"
    target = pushgateway_server.url.removeprefix("http://")
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    url = f"http://127.0.0.1:{free_port()}"
    args = [
        str(PROMETHEUS_BIN),
        f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address={url.removeprefix('http://')}",
    ]
    with _process(args, directory / "prometheus.log", url):
        yield Prometheus(url)
