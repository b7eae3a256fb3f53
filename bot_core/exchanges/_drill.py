"""The failover drill: a scripted degradation and recovery against a real endpoint.

Why scripted samples rather than injected faults: an operator must be able to run the drill
against any endpoint, production included, without placing orders or breaking anything.
The degradation is therefore scripted into the rolling score (failed health-check samples,
then healthy ones), while every check that decides a switch talks to the endpoint for real:
the native probe before and after, CCXT's ``fetch_time`` and market load while failed over,
and the native probe that gates the recovery.

The report carries ``exchange_failover_switch_total`` and ``exchange_failover_state`` before
and after, read from the metrics exposition (over HTTP when ``/metrics`` is served), as
runbook 8.1 asks to record them.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from prometheus_client.parser import text_string_to_metric_families
from pydantic import Field

from bot_core._types import Document, UtcDateTime
from bot_core.errors import ExchangeBackendError
from bot_core.exchanges._ccxt_backend import CcxtBackend
from bot_core.exchanges._config import (
    DEFAULT_LOG_PATH,
    DEFAULT_SIGNAL_QUALITY_DIR,
    BackendName,
    ConnectionSettings,
    FailoverSettings,
    MetricsSettings,
    SignalQualitySettings,
)
from bot_core.exchanges._events import EventBus
from bot_core.exchanges._manager import ExchangeManager
from bot_core.exchanges._metrics import ExchangeMetrics, MetricsServer
from bot_core.exchanges._models import ExchangeEvent

__all__ = ["DrillReport", "DrillStep", "MetricsSnapshot", "run_drill"]

DRILL_ERROR = "drill: scripted degradation"


class DrillStep(Document):
    """One step: what was checked, whether it passed, and the backend active afterwards."""

    name: Literal["baseline", "degrade", "verify_ccxt", "recover", "verify_native"]
    ok: bool
    backend: BackendName
    detail: str


class MetricsSnapshot(Document):
    """The failover metrics of the drilled exchange at one moment."""

    exchange_failover_state: float
    exchange_failover_switch_total: dict[BackendName, float]


class DrillReport(Document):
    """stdout of ``python -m bot_core.exchanges drill``."""

    exchange: str
    endpoint: str
    status: Literal["passed", "failed"]
    started_at: UtcDateTime
    finished_at: UtcDateTime
    steps: list[DrillStep]
    events: list[ExchangeEvent]
    exchange_failover_switch_total: dict[Literal["before", "after"], dict[BackendName, float]]
    metrics_before: MetricsSnapshot
    metrics_after: MetricsSnapshot
    metrics_url: str | None
    log_path: str
    report_path: str
    samples: int = Field(ge=0, description="scripted score samples fed to the reporter")


def _snapshot(exposition: bytes, exchange: str) -> MetricsSnapshot:
    state = 0.0
    totals: dict[BackendName, float] = {"native": 0.0, "ccxt": 0.0}
    for family in text_string_to_metric_families(exposition.decode("utf-8")):
        for sample in family.samples:
            if sample.labels.get("exchange") != exchange:
                continue
            if sample.name == "exchange_failover_state":
                state = sample.value
            elif sample.name == "exchange_failover_switch_total":
                backend = sample.labels.get("backend")
                if backend == "native":
                    totals["native"] = sample.value
                elif backend == "ccxt":
                    totals["ccxt"] = sample.value
    return MetricsSnapshot(exchange_failover_state=state, exchange_failover_switch_total=totals)


def _scrape(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        data: bytes = response.read()
        return data


def run_drill(
    connection: ConnectionSettings,
    *,
    report_dir: str | os.PathLike[str] = DEFAULT_SIGNAL_QUALITY_DIR,
    log_path: str | os.PathLike[str] = DEFAULT_LOG_PATH,
    metrics: MetricsSettings | None = None,
    signal_quality: SignalQualitySettings | None = None,
    cooldown_seconds: float = 0.0,
    max_samples: int = 200,
) -> DrillReport:
    """Run the drill; ``metrics`` set serves ``/metrics`` for its duration."""
    started = datetime.now(UTC)
    registry = ExchangeMetrics()
    bus = EventBus()
    events: list[ExchangeEvent] = []
    bus.subscribe("*", events.append)  # before the manager's handlers: causes come first
    manager = ExchangeManager.create(
        connection,
        report_dir=report_dir,
        log_path=log_path,
        signal_quality=signal_quality,
        failover=FailoverSettings(cooldown_seconds=cooldown_seconds),
        metrics=registry,
        bus=bus,
    )
    steps: list[DrillStep] = []
    samples = 0
    server: MetricsServer | None = None
    try:
        read: Callable[[], bytes] = registry.exposition
        if metrics is not None:
            served = server = MetricsServer(registry, metrics).start()
            read = lambda: _scrape(served.url)  # noqa: E731
        before = _snapshot(read(), connection.exchange)

        def step(
            name: Literal["baseline", "degrade", "verify_ccxt", "recover", "verify_native"],
            ok: bool,
            detail: str,
        ) -> bool:
            steps.append(DrillStep(name=name, ok=ok, backend=manager.active_backend, detail=detail))
            return ok

        def feed(ok: bool) -> int:
            count = 0
            target: BackendName = "ccxt" if not ok else "native"
            while manager.active_backend != target and count < max_samples:
                manager.reporter.record_health_check(
                    backend="native", ok=ok, latency=0.0, error=None if ok else DRILL_ERROR
                )
                count += 1
            return count

        if step("baseline", manager.check_health("native"), "native GET /api/v3/time"):
            n = feed(ok=False)
            samples += n
            if step("degrade", manager.active_backend == "ccxt", f"{n} failed samples"):
                step("verify_ccxt", *_check_ccxt(manager))
                n = feed(ok=True)
                samples += n
                if step("recover", manager.active_backend == "native", f"{n} healthy samples"):
                    step("verify_native", manager.check_health("native"), "native probe")
        after = _snapshot(read(), connection.exchange)
    finally:
        manager.close()
        if server is not None:
            server.stop()
    passed = len(steps) == 5 and all(s.ok for s in steps)
    return DrillReport(
        exchange=connection.exchange,
        endpoint=connection.base_url,
        status="passed" if passed else "failed",
        started_at=started,
        finished_at=datetime.now(UTC),
        steps=steps,
        events=events,
        exchange_failover_switch_total={
            "before": before.exchange_failover_switch_total,
            "after": after.exchange_failover_switch_total,
        },
        metrics_before=before,
        metrics_after=after,
        metrics_url=server.url if server is not None else None,
        log_path=str(manager.event_log.path),
        report_path=str(manager.reporter.path),
        samples=samples,
    )


def _check_ccxt(manager: ExchangeManager) -> tuple[bool, str]:
    backend = manager.backend("ccxt")
    try:
        backend.ping()
        symbols = backend.load_markets() if isinstance(backend, CcxtBackend) else []
    except ExchangeBackendError as exc:
        return False, str(exc)
    return True, f"ccxt fetch_time and load_markets: {len(symbols)} spot markets"
