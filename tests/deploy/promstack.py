"""What the deploy tests share: the dashboards' queries, and a Prometheus stack on loopback.

Why one helper: both test modules must agree on which expressions the dashboards send
(panels nested in rows included, template variables substituted the way Grafana would), and
the live test needs real ``prometheus`` and ``prometheus-pushgateway`` processes that bind
127.0.0.1 on free ports and are always stopped, even when a test fails half-way.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

__all__ = [
    "DASHBOARD_DIR",
    "GRAFANA_DIR",
    "PROMETHEUS",
    "PROMETHEUS_DIR",
    "PROMTOOL",
    "PUSHGATEWAY",
    "REPO",
    "ManagedProcess",
    "PanelQuery",
    "PromStack",
    "free_port",
    "iter_panels",
    "load_dashboards",
    "panel_queries",
    "substitute",
    "variable_defaults",
]

REPO = Path(__file__).resolve().parents[2]
GRAFANA_DIR = REPO / "deploy" / "grafana"
DASHBOARD_DIR = GRAFANA_DIR / "provisioning" / "dashboards"
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"

PROMTOOL = Path("/usr/bin/promtool")
PROMETHEUS = Path("/usr/bin/prometheus")
PUSHGATEWAY = Path("/usr/bin/prometheus-pushgateway")

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class PanelQuery:
    """One target of one panel: the PromQL Grafana sends, before variable substitution."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str
    instant: bool

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref_id}"


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Every provisioned dashboard JSON, by file name."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in (collapsed) rows; rows themselves too."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries(file_name: str, dashboard: Mapping[str, Any]) -> list[PanelQuery]:
    """The PromQL targets of every panel, in panel order."""
    return [
        PanelQuery(
            dashboard=file_name,
            panel=panel["title"],
            ref_id=target["refId"],
            expr=target["expr"],
            instant=bool(target.get("instant")),
        )
        for panel in iter_panels(dashboard)
        for target in panel.get("targets", [])
    ]


def variable_defaults(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """Each template variable's default as Grafana sends it: "All" becomes its allValue."""
    values: dict[str, str] = {}
    for variable in dashboard["templating"]["list"]:
        value = variable["current"]["value"]
        values[variable["name"]] = variable["allValue"] if value == "$__all" else value
    return values


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace ``$name`` / ``${name}``; an undefined variable raises ``KeyError``."""
    return _VARIABLE.sub(lambda match: values[match.group(1) or match.group(2)], expr)


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the OS picks it; the race window is tiny)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body


class ManagedProcess:
    """A server subprocess whose output goes to a log file; stopping it always ends it.

    ``stop`` sends SIGTERM, waits, then SIGKILLs, so a hung server cannot outlive a test.
    """

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, url: str, timeout: float = 30.0) -> None:
        """Poll ``url`` until it answers 200; fail with the server's log if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                _get(url)
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready at {url} after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        self._log.close()


class PromStack:
    """A Pushgateway and a Prometheus on 127.0.0.1 free ports, configured from deploy/.

    The Prometheus config is ``deploy/prometheus/prometheus.yml`` with the scrape targets
    rewritten to this stack's Pushgateway and ``exchange_target``, every interval set to 1 s
    (so ``increase()`` has two samples within seconds) and the rule files made absolute, so
    the alert rules are loaded as in production.  Use it as a context manager.
    """

    def __init__(self, workdir: Path, *, exchange_target: str) -> None:
        self.workdir = workdir
        self.exchange_target = exchange_target
        self.pushgateway_port = free_port()
        self.prometheus_port = free_port()
        self._processes: list[ManagedProcess] = []

    @property
    def pushgateway_url(self) -> str:
        return f"http://127.0.0.1:{self.pushgateway_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    def config(self) -> dict[str, Any]:
        """The deploy config with this stack's targets, 1 s intervals and absolute rules."""
        config: dict[str, Any] = yaml.safe_load(
            (PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8")
        )
        config["global"]["scrape_interval"] = "1s"
        config["global"]["evaluation_interval"] = "1s"
        config["rule_files"] = [str(PROMETHEUS_DIR / rule) for rule in config["rule_files"]]
        targets = {
            "pushgateway": f"127.0.0.1:{self.pushgateway_port}",
            "bot_core_exchanges": self.exchange_target,
        }
        for job in config["scrape_configs"]:
            job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
        return config

    def start(self) -> PromStack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config()), encoding="utf-8")
        try:
            # Debian's Pushgateway persists to /var/lib/prometheus/pushgateway.data by default,
            # which every Pushgateway on the host would share and reload: keep ours in memory.
            gateway = self._spawn(
                "pushgateway",
                [
                    str(PUSHGATEWAY),
                    f"--web.listen-address=127.0.0.1:{self.pushgateway_port}",
                    "--persistence.file=",
                ],
            )
            gateway.wait_ready(f"{self.pushgateway_url}/-/ready")
            prometheus = self._spawn(
                "prometheus",
                [
                    str(PROMETHEUS),
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
                ],
            )
            prometheus.wait_ready(f"{self.prometheus_url}/-/ready")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()

    def __enter__(self) -> PromStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log()}" for p in self._processes)

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>``: the ``data`` member (raises if Prometheus says error)."""
        url = f"{self.prometheus_url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        document = json.loads(_get(url, timeout=5.0))
        if document["status"] != "success":
            raise RuntimeError(f"{path} {params} failed: {document}")
        return document["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """``/api/v1/query`` at now: the result vector."""
        result: list[dict[str, Any]] = self.api("query", query=expr)["result"]
        return result

    def wait_for(self, expr: str, *, deadline: float) -> list[dict[str, Any]]:
        """Poll ``expr`` until its result is non-empty or the monotonic ``deadline`` passes."""
        while True:
            result = self.query(expr)
            if result or time.monotonic() >= deadline:
                return result
            time.sleep(0.5)

    def _spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.workdir / f"{name}.log")
        self._processes.append(process)
        return process
