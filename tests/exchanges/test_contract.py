"""Contract section 8, one test (at least) per statement, checked on the real artefacts.

Each test names the statement it proves.  Files are read back as plain JSON (the way the
desktop app parses them), not through our models.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from bot_core.exchanges import (
    DEFAULT_LOG_PATH,
    DEFAULT_SIGNAL_QUALITY_DIR,
    ConnectionSettings,
    EventBus,
    ExchangeEvent,
    ExchangeManager,
    ExchangeMetrics,
    FakeBinanceServer,
    FaultSpec,
    MetricsServer,
    MetricsSettings,
    OrderRequest,
    SignalQualityReporter,
    SignalQualitySettings,
)
from bot_core.reporting import DEFAULT_SIGNAL_QUALITY_DIR as PURGE_DEFAULT_DIR

RECORD_FIELDS = [
    "timestamp",
    "backend",
    "symbol",
    "side",
    "order_type",
    "requested_quantity",
    "filled_quantity",
    "requested_price",
    "executed_price",
    "slippage_bps",
    "latency",
    "status",
    "error",
]

BUY = OrderRequest(
    symbol="BTC/USDT", side="buy", order_type="market", quantity=0.01, reference_price=30000
)


def _record(reporter: SignalQualityReporter, status: str = "filled", **fields: object) -> None:
    values: dict[str, object] = {
        "backend": "native",
        "symbol": "BTC/USDT",
        "side": "buy",
        "order_type": "market",
        "requested_quantity": 1.0,
        "filled_quantity": 1.0 if status == "filled" else (0.5 if status == "partial" else 0),
        "requested_price": 100.0,
        "executed_price": None if status == "failed" else 100.1,
        "latency": 0.05,
        "status": status,
        "error": "boom" if status == "failed" else None,
    }
    values.update(fields)
    reporter.record_execution(**values)  # type: ignore[arg-type]


def test_file_is_reports_exchanges_signal_quality_exchange_json_under_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`reports/exchanges/signal_quality/<exchange>.json`, the purge's directory too."""
    monkeypatch.chdir(tmp_path)
    assert DEFAULT_SIGNAL_QUALITY_DIR == PURGE_DEFAULT_DIR == "reports/exchanges/signal_quality"
    reporter = SignalQualityReporter("binance", bus=EventBus())
    _record(reporter)
    assert sorted(os.listdir(tmp_path / "reports/exchanges/signal_quality")) == ["binance.json"]
    assert reporter.path == Path("reports/exchanges/signal_quality/binance.json")


def test_summary_fields_are_exactly_the_contracts(
    make_reporter: Callable[..., SignalQualityReporter],
) -> None:
    """`{exchange, total, failures, fill_ratio, slippage_bps, records[], degradation:
    {rolling_score, window, max_score, last_score}}`."""
    reporter = make_reporter()
    _record(reporter, "filled")
    _record(reporter, "partial")
    _record(reporter, "failed")
    data = json.loads(reporter.path.read_text())
    assert list(data) == [
        "exchange",
        "total",
        "failures",
        "fill_ratio",
        "slippage_bps",
        "records",
        "degradation",
    ]
    assert list(data["degradation"]) == ["rolling_score", "window", "max_score", "last_score"]
    assert data["exchange"] == "binance"
    assert (data["total"], data["failures"]) == (3, 1)
    assert data["fill_ratio"] == pytest.approx(1.5 / 3)
    assert data["slippage_bps"] == pytest.approx(10.0)  # 100 -> 100.1 on a buy
    assert isinstance(data["records"], list) and len(data["records"]) == 3
    assert data["degradation"]["window"] == reporter.settings.window
    assert data["degradation"]["last_score"] == 1.0
    assert data["degradation"]["max_score"] == 1.0


def test_record_fields_backends_and_statuses_are_exactly_the_contracts(
    make_reporter: Callable[..., SignalQualityReporter],
) -> None:
    """A record: `timestamp, backend (native|ccxt), symbol, side, order_type,
    requested_quantity, filled_quantity, requested_price, executed_price, slippage_bps,
    latency, status (filled|partial|failed), error`."""
    reporter = make_reporter()
    _record(reporter, "filled", backend="native")
    _record(reporter, "partial", backend="ccxt")
    _record(reporter, "failed", backend="native")
    records = json.loads(reporter.path.read_text())["records"]
    for record in records:
        assert list(record) == RECORD_FIELDS
    assert [r["backend"] for r in records] == ["native", "ccxt", "native"]
    assert [r["status"] for r in records] == ["filled", "partial", "failed"]
    assert [r["error"] for r in records] == [None, None, "boom"]
    assert records[0]["timestamp"] == "2024-06-12T10:00:00+00:00"
    assert records[0]["slippage_bps"] == pytest.approx(10.0)
    assert records[2]["executed_price"] is None and records[2]["slippage_bps"] is None
    with pytest.raises(ValueError):
        _record(reporter, "filled", backend="kraken")
    with pytest.raises(ValueError):
        _record(reporter, "cancelled")


def test_written_atomically_a_reader_never_sees_a_partial_file(
    make_reporter: Callable[..., SignalQualityReporter],
) -> None:
    """`Written atomically.`: a concurrent reader always parses a whole document, and no
    temporary file is left behind (the temp name is hidden and ends ``.partial``)."""
    reporter = make_reporter(history_limit=400)
    _record(reporter)
    seen: list[int] = []
    problems: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                seen.append(json.loads(reporter.path.read_bytes())["total"])
            except ValueError as exc:  # pragma: no cover - the failure this test looks for
                problems.append(str(exc))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(150):
            _record(reporter, requested_quantity=123456.789, filled_quantity=123456.789)
    finally:
        done.set()
        reader.join()
    assert problems == [] and seen
    assert seen == sorted(seen)
    assert os.listdir(reporter.path.parent) == ["binance.json"]


def test_degraded_at_or_above_threshold_recovered_at_or_below_release_defaults(
    tmp_path: Path,
) -> None:
    """`A rolling degradation score at or above a threshold (default 0.6) publishes
    exchange.signal_quality.degraded; at or below the release level (default 0.3)
    exchange.signal_quality.recovered.`"""
    bus = EventBus()
    received: list[ExchangeEvent] = []
    bus.subscribe("exchange.signal_quality.*", received.append)
    settings = SignalQualitySettings(fsync=False)
    assert (settings.threshold, settings.release, settings.window) == (0.6, 0.3, 20)
    reporter = SignalQualityReporter("binance", bus=bus, report_dir=tmp_path, settings=settings)
    scores = []
    for ok in (True, True, False, False):
        reporter.record_health_check(backend="native", ok=ok, latency=0.0)
        scores.append(reporter.rolling_score)
    assert scores[-1] == 0.5 and received == []
    reporter.record_health_check(backend="native", ok=False, latency=0.0)  # 3/5 = 0.6
    assert reporter.rolling_score == 0.6
    assert [e.name for e in received] == ["exchange.signal_quality.degraded"]
    for _ in range(4):  # 3/6 .. 3/9: between the levels, nothing is published
        reporter.record_health_check(backend="native", ok=True, latency=0.0)
    assert reporter.rolling_score > 0.3 and len(received) == 1
    reporter.record_health_check(backend="native", ok=True, latency=0.0)  # 3/10 = 0.3
    assert reporter.rolling_score == 0.3
    assert [e.name for e in received][-1] == "exchange.signal_quality.recovered"
    assert received[0].payload.model_dump()["threshold"] == 0.6


def test_manager_switches_to_ccxt_and_back_with_previous_backend_logged(
    make_manager: Callable[..., ExchangeManager],
    events: list[ExchangeEvent],
    tmp_path: Path,
) -> None:
    """`The exchange manager reacts by switching to the CCXT backend
    (exchange.failover.engaged, payload previous_backend: "native") and back
    (exchange.failover.recovered), logging both to logs/exchange_manager.log`."""
    manager = make_manager(cooldown_seconds=0)
    for _ in range(3):
        manager.reporter.record_health_check(backend="native", ok=False, latency=0.0)
    assert manager.status().backend == "ccxt"
    for _ in range(4):
        manager.reporter.record_health_check(backend="native", ok=True, latency=0.0)
    assert manager.status().backend == "native"
    failover = [e for e in events if e.name.startswith("exchange.failover.")]
    assert [e.name for e in failover] == [
        "exchange.failover.engaged",
        "exchange.failover.recovered",
    ]
    assert failover[0].payload.model_dump()["previous_backend"] == "native"
    assert failover[1].payload.model_dump()["previous_backend"] == "ccxt"
    lines = [json.loads(line) for line in manager.event_log.path.read_text().splitlines()]
    logged = [line for line in lines if line["event"].startswith("exchange.failover.")]
    assert [(line["event"], line["previous_backend"]) for line in logged] == [
        ("exchange.failover.engaged", "native"),
        ("exchange.failover.recovered", "ccxt"),
    ]
    assert manager.event_log.path == tmp_path / "logs/exchange_manager.log"


def test_default_log_path_is_logs_exchange_manager_log_under_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeBinanceServer
) -> None:
    """`logging both to logs/exchange_manager.log` (by default, relative to the cwd)."""
    monkeypatch.chdir(tmp_path)
    assert DEFAULT_LOG_PATH == "logs/exchange_manager.log"
    connection = ConnectionSettings(
        endpoint=fake.endpoint, api_key="k", api_secret="s", timeout=0.3, ccxt_rate_limit=False
    )
    with ExchangeManager.create(
        connection, signal_quality=SignalQualitySettings(fsync=False)
    ) as manager:
        with fake.fault(FaultSpec(mode="http_500", target="native")):
            for _ in range(3):
                with pytest.raises(Exception, match="HTTP 503"):
                    manager.place_order(BUY)
        assert manager.status().backend == "ccxt"
    text = (tmp_path / "logs/exchange_manager.log").read_text()
    assert '"event":"exchange.failover.engaged"' in text
    assert '"previous_backend":"native"' in text
    assert (tmp_path / "reports/exchanges/signal_quality/binance.json").is_file()


def test_metrics_exported_on_metrics_with_exchange_and_backend_labels(
    make_manager: Callable[..., ExchangeManager],
) -> None:
    """`exports exchange_failover_state{exchange} (0 native, 1 CCXT) and
    exchange_failover_switch_total{exchange,backend} on /metrics`."""
    manager = make_manager(cooldown_seconds=0)
    with MetricsServer(manager.metrics, MetricsSettings(port=0)) as server:

        def scrape() -> str:
            with urllib.request.urlopen(server.url, timeout=5) as response:
                assert response.status == 200
                return str(response.read().decode())

        text = scrape()
        assert 'exchange_failover_state{exchange="binance"} 0.0' in text
        assert 'exchange_failover_switch_total{backend="ccxt",exchange="binance"} 0.0' in text
        for _ in range(3):
            manager.reporter.record_health_check(backend="native", ok=False, latency=0.0)
        text = scrape()
        assert 'exchange_failover_state{exchange="binance"} 1.0' in text
        assert 'exchange_failover_switch_total{backend="ccxt",exchange="binance"} 1.0' in text
        assert 'exchange_failover_switch_total{backend="native",exchange="binance"} 0.0' in text
        for _ in range(4):
            manager.reporter.record_health_check(backend="native", ok=True, latency=0.0)
        text = scrape()
        assert 'exchange_failover_state{exchange="binance"} 0.0' in text
        assert 'exchange_failover_switch_total{backend="native",exchange="binance"} 1.0' in text


def test_metrics_endpoint_defaults_to_loopback_port_9000() -> None:
    """`on /metrics (default port 9000)`, bound to 127.0.0.1 unless configured."""
    settings = MetricsSettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 9000)
    try:
        server = MetricsServer(ExchangeMetrics())
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            pytest.skip("port 9000 is in use on this machine")
        raise
    with server:
        assert (server.host, server.port) == ("127.0.0.1", 9000)
        assert server.url == "http://127.0.0.1:9000/metrics"
        with urllib.request.urlopen(server.url, timeout=5) as response:
            assert b"exchange_failover_state" in response.read()
