"""Failover scenarios end to end: real backends, the local exchange, the event log, metrics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot_core.errors import ExchangeBackendError, ExchangeUnavailableError
from bot_core.exchanges import (
    ExchangeEvent,
    ExchangeManager,
    FakeBinanceServer,
    FakeMarket,
    FaultSpec,
    OrderRequest,
    read_event_log,
)

from .conftest import Clock

MakeManager = Callable[..., ExchangeManager]
BUY = OrderRequest(
    symbol="BTC/USDT", side="buy", order_type="market", quantity=0.01, reference_price=30000
)


def sample(manager: ExchangeManager, name: str, **labels: str) -> float:
    value = manager.metrics.registry.get_sample_value(name, {"exchange": "binance", **labels})
    return value or 0.0


def failover_events(events: list[ExchangeEvent]) -> list[tuple[str, str]]:
    return [
        (e.name, e.payload.model_dump()["reason"])
        for e in events
        if e.name.startswith("exchange.failover.")
    ]


@pytest.mark.parametrize("mode", ["http_500", "timeout", "rate_limit", "malformed"])
def test_repeated_native_errors_engage_ccxt(
    mode: str,
    make_manager: MakeManager,
    fake: FakeBinanceServer,
    events: list[ExchangeEvent],
    tmp_path: Path,
) -> None:
    manager = make_manager(error_threshold=3, window=20, min_samples=10)
    fake.set_fault(FaultSpec(mode=mode, target="native", delay=0.5))  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(ExchangeBackendError):
            manager.place_order(BUY)
    assert manager.status().backend == "native" and events == []
    with pytest.raises(ExchangeBackendError):
        manager.fetch_balance()  # any call counts, not only orders
    assert manager.status().backend == "ccxt"
    assert failover_events(events) == [("exchange.failover.engaged", "errors")]
    payload = events[0].payload.model_dump()
    assert payload["previous_backend"] == "native" and payload["backend"] == "ccxt"
    assert payload["consecutive_errors"] == 3 and payload["last_error"].startswith("native ")

    # the failed orders were sent once each, natively, and never re-sent through CCXT
    assert fake.request_count("native", "POST", "/api/v3/order") == 2
    assert fake.request_count("ccxt", "POST", "/api/v3/order") == 0
    result = manager.place_order(BUY)
    assert result.backend == "ccxt" and result.status == "filled"
    assert fake.request_count("ccxt", "POST", "/api/v3/order") == 1

    [line] = [e for e in read_event_log(manager.event_log.path) if e.event.endswith("engaged")]
    assert (line.previous_backend, line.backend, line.reason) == ("native", "ccxt", "errors")
    assert line.level == "WARNING" and line.exchange == "binance"

    assert sample(manager, "exchange_failover_state") == 1.0
    assert sample(manager, "exchange_failover_switch_total", backend="ccxt") == 1.0
    assert sample(manager, "exchange_failover_switch_total", backend="native") == 0.0
    records = manager.reporter.report().records
    assert [(r.backend, r.status) for r in records] == [
        ("native", "failed"),
        ("native", "failed"),
        ("ccxt", "filled"),
    ]
    assert sample(manager, "exchange_order_latency_seconds_count", backend="native") == 2
    assert sample(manager, "exchange_fill_ratio_count", backend="ccxt") == 1


def test_a_success_resets_the_error_count(
    make_manager: MakeManager, fake: FakeBinanceServer
) -> None:
    manager = make_manager(error_threshold=3, window=20, min_samples=20)
    for _ in range(3):
        with fake.fault(FaultSpec(mode="http_500", target="native", count=2)):
            for _ in range(2):
                with pytest.raises(ExchangeUnavailableError):
                    manager.fetch_balance()
        manager.fetch_open_orders("BTC/USDT")
    assert manager.status().backend == "native"
    assert manager.status().consecutive_errors == 0


def test_degradation_event_engages_ccxt_on_real_slippage(
    make_manager: MakeManager, fake: FakeBinanceServer, events: list[ExchangeEvent]
) -> None:
    manager = make_manager(window=4, min_samples=3, slippage_limit_bps=50)
    fake.set_market(FakeMarket(slippage_bps=40, target="native"))  # 0.8 of the limit
    for _ in range(2):
        assert manager.place_order(BUY).backend == "native"
    assert manager.status().backend == "native"
    manager.place_order(BUY)  # third sample: rolling 0.8 >= 0.6
    assert manager.status().backend == "ccxt"
    assert [e.name for e in events] == [
        "exchange.signal_quality.degraded",
        "exchange.failover.engaged",
    ]
    assert events[1].payload.model_dump()["reason"] == "degradation"
    assert events[1].payload.model_dump()["previous_backend"] == "native"
    result = manager.place_order(BUY)
    assert result.backend == "ccxt" and result.average_price == pytest.approx(30000)
    records = manager.reporter.report().records
    assert [r.slippage_bps for r in records] == pytest.approx([40, 40, 40, 0])
    assert sample(manager, "exchange_slippage_bps_count", backend="native") == 3
    assert sample(manager, "exchange_slippage_bps_bucket", backend="native", le="50.0") == 3
    assert sample(manager, "exchange_slippage_bps_bucket", backend="native", le="25.0") == 0
    logged = [e.event for e in read_event_log(manager.event_log.path)]
    assert logged == ["exchange.signal_quality.degraded", "exchange.failover.engaged"]


def test_recovery_waits_for_the_cooldown_and_a_healthy_native(
    make_manager: MakeManager,
    fake: FakeBinanceServer,
    events: list[ExchangeEvent],
    clock: Clock,
) -> None:
    manager = make_manager(error_threshold=2, cooldown_seconds=30, window=20, min_samples=20)
    fake.set_fault(FaultSpec(mode="http_500", target="native"))
    for _ in range(2):
        with pytest.raises(ExchangeUnavailableError):
            manager.fetch_balance()
    assert manager.status().backend == "ccxt"

    clock.advance(29)
    assert manager.fetch_balance().backend == "ccxt"
    assert fake.request_count("native", "GET", "/api/v3/time") == 0  # no probe yet

    clock.advance(1)  # cooldown over, native still failing: probe fails, a new cooldown
    assert manager.fetch_balance().backend == "ccxt"
    assert fake.request_count("native", "GET", "/api/v3/time") == 1
    clock.advance(10)
    manager.fetch_balance()
    assert fake.request_count("native", "GET", "/api/v3/time") == 1

    fake.clear_faults()
    clock.advance(20)
    assert manager.fetch_balance().backend == "native"
    assert manager.status().backend == "native"
    assert failover_events(events) == [
        ("exchange.failover.engaged", "errors"),
        ("exchange.failover.recovered", "native_healthy"),
    ]
    recovered = events[-1].payload.model_dump()
    assert recovered["previous_backend"] == "ccxt" and recovered["backend"] == "native"
    assert recovered["seconds_on_previous"] == 60
    assert sample(manager, "exchange_failover_state") == 0.0
    assert sample(manager, "exchange_failover_switch_total", backend="native") == 1.0
    line = read_event_log(manager.event_log.path)[-1]
    assert (line.event, line.previous_backend, line.level) == (
        "exchange.failover.recovered",
        "ccxt",
        "INFO",
    )
    assert manager.status().model_dump() == {
        "exchange": "binance",
        "backend": "native",
        "failover_reason": None,
        "consecutive_errors": 0,
        "last_error": None,
        "degraded": False,
        "rolling_score": manager.reporter.rolling_score,
    }


def test_signal_quality_recovery_returns_to_native(
    make_manager: MakeManager, fake: FakeBinanceServer, events: list[ExchangeEvent], clock: Clock
) -> None:
    manager = make_manager(cooldown_seconds=5, window=4, min_samples=2)
    fake.set_market(FakeMarket(slippage_bps=100, target="native"))
    manager.place_order(BUY)
    manager.place_order(BUY)
    assert manager.status().backend == "ccxt"
    # good CCXT fills bring the score down; "recovered" during the cooldown changes nothing
    for _ in range(3):
        assert manager.place_order(BUY).backend == "ccxt"
    assert manager.reporter.degraded is False
    assert manager.status().backend == "ccxt"
    clock.advance(5)
    assert manager.place_order(BUY).backend == "native"
    assert failover_events(events) == [
        ("exchange.failover.engaged", "degradation"),
        ("exchange.failover.recovered", "signal_quality_recovered"),
    ]


def test_recovered_event_after_the_cooldown_switches_at_once(
    make_manager: MakeManager, events: list[ExchangeEvent]
) -> None:
    manager = make_manager(cooldown_seconds=0, window=2, min_samples=1)
    manager.reporter.record_health_check(backend="native", ok=False, latency=0)
    assert manager.status().backend == "ccxt"
    manager.reporter.record_health_check(backend="native", ok=True, latency=0)
    manager.reporter.record_health_check(backend="native", ok=True, latency=0)
    assert manager.status().backend == "native"  # no call was needed
    assert [e.name for e in events] == [
        "exchange.signal_quality.degraded",
        "exchange.failover.engaged",
        "exchange.signal_quality.recovered",
        "exchange.failover.recovered",
    ]


def test_ccxt_errors_neither_switch_nor_count(
    make_manager: MakeManager, fake: FakeBinanceServer, events: list[ExchangeEvent]
) -> None:
    manager = make_manager(error_threshold=1, cooldown_seconds=60, window=20, min_samples=20)
    fault = FaultSpec(mode="http_500", target="native", count=1)
    with fake.fault(fault), pytest.raises(ExchangeUnavailableError):
        manager.fetch_balance()
    assert manager.status().backend == "ccxt"
    with fake.fault(FaultSpec(mode="http_500", target="ccxt")):
        for _ in range(3):
            with pytest.raises(ExchangeUnavailableError, match=r"^ccxt "):
                manager.fetch_balance()
    assert manager.status().backend == "ccxt" and len(events) == 1
    assert manager.status().consecutive_errors == 1


def test_an_unfilled_resting_order_is_not_an_execution(make_manager: MakeManager) -> None:
    manager = make_manager()
    order = OrderRequest(symbol="BTC/USDT", side="buy", order_type="limit", quantity=1, price=10)
    assert manager.place_order(order).status == "open"
    assert manager.reporter.report().total == 0
    assert manager.cancel_order("BTC/USDT", manager.fetch_open_orders("BTC/USDT")[0].order_id)
    assert manager.fetch_open_orders("BTC/USDT") == []


def test_check_health_records_samples(make_manager: MakeManager, fake: FakeBinanceServer) -> None:
    manager = make_manager(window=4, min_samples=4)
    assert manager.check_health("native") is True
    with fake.fault(FaultSpec(mode="malformed", target="ccxt", count=1)):
        assert manager.check_health("ccxt") is False
    assert manager.reporter.report().degradation.last_score == 1.0
    assert sample(manager, "exchange_signal_quality_score") == 0.5
