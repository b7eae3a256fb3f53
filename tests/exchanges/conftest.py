"""Fixtures for the exchange tests: a real local exchange, real backends, a settable clock.

Nothing is mocked: :class:`FakeBinanceServer` listens on 127.0.0.1 (a free port, always
stopped), and both our native client and the real ``ccxt`` library talk HTTP to it.  Time
that the failover rules depend on (the cooldown) comes from :class:`Clock`, which tests move
forward instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot_core.exchanges import (
    CcxtBackend,
    ConnectionSettings,
    EventBus,
    ExchangeEvent,
    ExchangeManager,
    ExchangeMetrics,
    FailoverSettings,
    FakeBinanceServer,
    NativeBinanceBackend,
    SignalQualityReporter,
    SignalQualitySettings,
)

START = datetime(2024, 6, 12, 10, 0, tzinfo=UTC)


class Clock:
    """A monotonic clock and a UTC wall clock that move only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return START + timedelta(seconds=self.now - 1000.0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake() -> Iterator[FakeBinanceServer]:
    with FakeBinanceServer() as server:
        yield server


@pytest.fixture
def connection(fake: FakeBinanceServer) -> ConnectionSettings:
    return ConnectionSettings(
        endpoint=fake.endpoint,
        api_key="test-key",
        api_secret="test-secret",
        timeout=0.2,
        ccxt_rate_limit=False,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def events(bus: EventBus) -> list[ExchangeEvent]:
    received: list[ExchangeEvent] = []
    bus.subscribe("*", received.append)
    return received


FAST = SignalQualitySettings(window=4, min_samples=1, fsync=False)


@pytest.fixture
def make_reporter(
    tmp_path: Path, bus: EventBus, clock: Clock
) -> Callable[..., SignalQualityReporter]:
    def make(**settings: Any) -> SignalQualityReporter:
        return SignalQualityReporter(
            "binance",
            bus=bus,
            report_dir=tmp_path / "sq",
            settings=FAST.model_copy(update=settings),
            clock=clock.utc,
        )

    return make


@pytest.fixture
def make_manager(
    tmp_path: Path,
    bus: EventBus,
    clock: Clock,
    connection: ConnectionSettings,
    make_reporter: Callable[..., SignalQualityReporter],
) -> Iterator[Callable[..., ExchangeManager]]:
    made: list[ExchangeManager] = []

    def make(
        *, error_threshold: int = 3, cooldown_seconds: float = 30.0, **settings: Any
    ) -> ExchangeManager:
        manager = ExchangeManager(
            reporter=make_reporter(**settings),
            bus=bus,
            native=NativeBinanceBackend(connection),
            ccxt=CcxtBackend(connection),
            metrics=ExchangeMetrics(),
            failover=FailoverSettings(
                error_threshold=error_threshold, cooldown_seconds=cooldown_seconds
            ),
            log_path=tmp_path / "logs/exchange_manager.log",
            monotonic=clock.monotonic,
            clock=clock.utc,
        )
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.close()
