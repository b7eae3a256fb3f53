"""Prometheus metrics of the exchange layer and the ``/metrics`` endpoint that serves them.

Why a dedicated ``CollectorRegistry``: the process-wide default registry is shared by every
library that uses prometheus-client; ours holds only the metrics the runbook (8.1) names, can
be created more than once (tests, the drill) and is served on its own port.

Metrics (``exchange``/``backend`` labels as in runbook 8.1):

* ``exchange_failover_state{exchange}`` - gauge, 0 native, 1 CCXT.
* ``exchange_failover_switch_total{exchange,backend}`` - counter, one per switch *to*
  ``backend``.
* ``exchange_fill_ratio{exchange,backend}`` - histogram of filled/requested per execution.
* ``exchange_slippage_bps{exchange,backend}`` - histogram of adverse slippage (bps).
* ``exchange_order_latency_seconds{exchange,backend}`` - histogram of order round trips.
* ``exchange_signal_quality_score{exchange}`` - gauge, the rolling degradation score.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot_core.exchanges._config import BackendName, MetricsSettings
from bot_core.exchanges._models import ExecutionRecord

__all__ = ["ExchangeMetrics", "MetricsServer"]

_BACKENDS: tuple[BackendName, ...] = ("native", "ccxt")


class ExchangeMetrics:
    """The exchange metrics, registered in their own :class:`CollectorRegistry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.failover_state = Gauge(
            "exchange_failover_state",
            "Active order backend: 0 native, 1 CCXT failover.",
            ["exchange"],
            registry=self.registry,
        )
        self.failover_switches = Counter(
            "exchange_failover_switch",
            "Backend switches, labelled with the backend switched to.",
            ["exchange", "backend"],
            registry=self.registry,
        )
        self.fill_ratio = Histogram(
            "exchange_fill_ratio",
            "Filled over requested quantity per execution.",
            ["exchange", "backend"],
            buckets=(0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0),
            registry=self.registry,
        )
        self.slippage_bps = Histogram(
            "exchange_slippage_bps",
            "Adverse slippage per execution in basis points (negative is price improvement).",
            ["exchange", "backend"],
            buckets=(-50.0, -10.0, -1.0, 0.0, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0),
            registry=self.registry,
        )
        self.latency = Histogram(
            "exchange_order_latency_seconds",
            "Order round-trip latency in seconds.",
            ["exchange", "backend"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.score = Gauge(
            "exchange_signal_quality_score",
            "Rolling degradation score of the exchange's executions (0 healthy, 1 degraded).",
            ["exchange"],
            registry=self.registry,
        )

    def register_exchange(self, exchange: str) -> None:
        """Create the exchange's series at their start values, so a scrape shows them at once.

        Without this, ``exchange_failover_switch_total`` would appear only after the first
        switch, and "before" in an incident record would be missing instead of 0.
        """
        self.failover_state.labels(exchange=exchange).set(0)
        self.score.labels(exchange=exchange).set(0)
        for backend in _BACKENDS:
            self.failover_switches.labels(exchange=exchange, backend=backend)

    def record_switch(self, exchange: str, backend: BackendName) -> None:
        """Count a switch to ``backend`` and set the state gauge accordingly."""
        self.failover_switches.labels(exchange=exchange, backend=backend).inc()
        self.failover_state.labels(exchange=exchange).set(1 if backend == "ccxt" else 0)

    def observe_execution(self, exchange: str, record: ExecutionRecord) -> None:
        """Observe one execution's fill ratio, slippage and latency."""
        labels = {"exchange": exchange, "backend": record.backend}
        if record.requested_quantity > 0:
            self.fill_ratio.labels(**labels).observe(
                record.filled_quantity / record.requested_quantity
            )
        if record.slippage_bps is not None:
            self.slippage_bps.labels(**labels).observe(record.slippage_bps)
        self.latency.labels(**labels).observe(record.latency)

    def set_score(self, exchange: str, score: float) -> None:
        self.score.labels(exchange=exchange).set(score)

    def switch_total(self, exchange: str) -> dict[BackendName, float]:
        """``exchange_failover_switch_total`` per backend, as a scrape would show it."""
        return {
            backend: self.registry.get_sample_value(
                "exchange_failover_switch_total", {"exchange": exchange, "backend": backend}
            )
            or 0.0
            for backend in _BACKENDS
        }

    def state(self, exchange: str) -> float:
        """``exchange_failover_state`` of ``exchange`` (0 when never set)."""
        value = self.registry.get_sample_value("exchange_failover_state", {"exchange": exchange})
        return value or 0.0

    def exposition(self) -> bytes:
        """The Prometheus text exposition of every metric in the registry."""
        return generate_latest(self.registry)


class MetricsServer:
    """Serves ``GET /metrics`` from one registry; use as a context manager.

    Binds ``127.0.0.1:9000`` by default (``MetricsSettings``); port 0 picks a free port,
    read back from :attr:`port`.  Any other path answers 404.
    """

    def __init__(self, metrics: ExchangeMetrics, settings: MetricsSettings | None = None) -> None:
        settings = settings or MetricsSettings()
        self._metrics = metrics
        self._httpd = ThreadingHTTPServer((settings.host, settings.port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def start(self) -> MetricsServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        metrics = self._metrics

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404, "only /metrics is served here")
                    return
                body = metrics.exposition()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE_LATEST)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
