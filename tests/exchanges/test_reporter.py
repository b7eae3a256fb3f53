"""The reporter: bounded history, restarts, health checks, events, unreadable files."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from bot_core.errors import ExchangeConfigError
from bot_core.exchanges import (
    EventBus,
    ExchangeEvent,
    ExchangeManager,
    SignalQualityReport,
    SignalQualityReporter,
    read_event_log,
)

MakeReporter = Callable[..., SignalQualityReporter]


def fill(reporter: SignalQualityReporter, n: int, *, status: str = "filled") -> None:
    for i in range(n):
        reporter.record_execution(
            backend="native",
            symbol="BTC/USDT",
            side="sell",
            order_type="limit",
            requested_quantity=1.0,
            filled_quantity=0.0 if status == "failed" else 1.0,
            requested_price=100.0,
            executed_price=None if status == "failed" else 100.0 - i / 100,
            latency=0.01,
            status=status,  # type: ignore[arg-type]
            error="x" if status == "failed" else None,
        )


def test_history_is_bounded_and_aggregates_follow_the_kept_records(
    make_reporter: MakeReporter,
) -> None:
    reporter = make_reporter(history_limit=5)
    fill(reporter, 8)
    report = SignalQualityReport.model_validate_json(reporter.path.read_bytes())
    assert report.total == 5 == len(report.records)
    # the newest five: executed at 99.97 .. 99.93 on a sell of 100 -> 3 .. 7 bps adverse
    assert [r.slippage_bps for r in report.records] == pytest.approx([3, 4, 5, 6, 7])
    assert report.slippage_bps == pytest.approx(5.0)
    assert report == reporter.report()


def test_empty_report_has_neutral_aggregates(make_reporter: MakeReporter) -> None:
    reporter = make_reporter()
    report = reporter.report()
    assert (report.total, report.failures, report.fill_ratio, report.slippage_bps) == (
        0,
        0,
        1.0,
        0.0,
    )
    assert not reporter.path.exists()  # nothing is written before there is something to say


def test_health_checks_feed_the_score_but_not_the_records(make_reporter: MakeReporter) -> None:
    reporter = make_reporter(window=4)
    assert reporter.record_health_check(backend="ccxt", ok=False, latency=0.0) == 1.0
    assert reporter.record_health_check(backend="native", ok=True, latency=1.0) == 0.5
    data = json.loads(reporter.path.read_text())
    assert data["records"] == [] and data["total"] == 0
    assert data["degradation"]["rolling_score"] == 0.75
    assert data["degradation"]["last_score"] == 0.5


def test_restart_keeps_history_and_score(make_reporter: MakeReporter) -> None:
    first = make_reporter(window=4)
    fill(first, 3)
    fill(first, 1, status="failed")
    second = make_reporter(window=4)
    assert second.load_problem is None and second.reset_event is None
    assert second.report() == first.report()
    assert second.rolling_score == first.rolling_score > 0.25


def test_events_go_to_the_bus_with_the_score(
    make_reporter: MakeReporter, events: list[ExchangeEvent]
) -> None:
    reporter = make_reporter(window=2)
    fill(reporter, 2, status="failed")
    fill(reporter, 2)
    assert [e.name for e in events] == [
        "exchange.signal_quality.degraded",
        "exchange.signal_quality.recovered",
    ]
    degraded = events[0].payload.model_dump()
    assert degraded == {
        "rolling_score": 1.0,
        "threshold": 0.6,
        "release": 0.3,
        "window": 2,
        "last_score": 1.0,
    }
    assert all(e.exchange == "binance" for e in events)


UNREADABLE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda good: good[: len(good) // 2],
    "empty": lambda good: b"",
    "not json": lambda good: b"\x00\xffgarbage",
    "wrong shape": lambda good: b'{"exchange": "binance", "total": "many"}',
    "extra field": lambda good: good.replace(b'"total"', b'"surprise": 1, "total"', 1),
    "other exchange": lambda good: good.replace(b'"binance"', b'"kraken"', 1),
}


@pytest.mark.parametrize("damage", list(UNREADABLE), ids=list(UNREADABLE))
def test_unreadable_file_on_start_is_reported_and_replaced(
    damage: str,
    make_reporter: MakeReporter,
    events: list[ExchangeEvent],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fill(make_reporter(), 2)
    path = make_reporter().path
    path.write_bytes(UNREADABLE[damage](path.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="bot_core.exchanges"):
        reporter = make_reporter()
    assert reporter.load_problem
    assert any("replacing it with an empty report" in r.getMessage() for r in caplog.records)
    replaced = SignalQualityReport.model_validate_json(path.read_bytes())
    assert replaced.exchange == "binance" and replaced.records == []
    assert [e.name for e in events] == ["exchange.signal_quality.reset"]
    fill(reporter, 1)  # and it keeps working
    assert SignalQualityReport.model_validate_json(path.read_bytes()).total == 1


def test_reset_is_written_to_the_manager_log(
    make_reporter: MakeReporter, make_manager: Callable[..., ExchangeManager], tmp_path: Path
) -> None:
    path = make_reporter().path
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"exchange": "binance", "total": 3, "fail')
    manager = make_manager()
    assert manager.reporter.load_problem is not None
    [entry] = read_event_log(tmp_path / "logs/exchange_manager.log")
    assert entry.event == "exchange.signal_quality.reset" and entry.level == "WARNING"
    assert entry.path == str(path) and entry.problem == manager.reporter.load_problem


def test_a_directory_where_the_file_should_be_is_an_error_not_a_crash_loop(
    tmp_path: Path,
) -> None:
    (tmp_path / "binance.json").mkdir()
    with pytest.raises(OSError):
        SignalQualityReporter("binance", bus=EventBus(), report_dir=tmp_path)


@pytest.mark.parametrize("name", ["", "../x", "Binance", "a/b", ".hidden", "x" * 65])
def test_exchange_name_must_be_a_safe_file_name(name: str, tmp_path: Path) -> None:
    with pytest.raises(ExchangeConfigError):
        SignalQualityReporter(name, bus=EventBus(), report_dir=tmp_path)


def test_a_failing_subscriber_does_not_stop_the_others(
    make_reporter: MakeReporter, bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def broken(event: ExchangeEvent) -> None:
        raise RuntimeError("listener bug")

    bus.subscribe("exchange.signal_quality.*", broken)
    bus.subscribe("exchange.signal_quality.degraded", lambda e: seen.append(e.name))
    unsubscribe = bus.subscribe("*", lambda e: seen.append("star"))
    unsubscribe()
    with caplog.at_level(logging.ERROR, logger="bot_core.exchanges"):
        fill(make_reporter(window=1), 1, status="failed")
    assert seen == ["exchange.signal_quality.degraded"]
    assert any("listener bug" in (r.exc_text or "") for r in caplog.records)
