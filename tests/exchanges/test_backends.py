"""Both backends, against the local exchange over HTTP: same answers, same error classes.

The CCXT backend is the real ``ccxt.binance``, pointed at the server by rewriting its API
URLs; the server's request counts prove which backend sent what, and that ccxt stayed on
the spot endpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot_core.errors import (
    ExchangeBackendError,
    ExchangeRateLimitError,
    ExchangeResponseError,
    ExchangeUnavailableError,
)
from bot_core.exchanges import (
    CcxtBackend,
    ConnectionSettings,
    ExchangeBackend,
    FakeBinanceServer,
    FakeMarket,
    FaultSpec,
    NativeBinanceBackend,
    OrderRequest,
)

MARKET_BUY = OrderRequest(symbol="BTC/USDT", side="buy", order_type="market", quantity=0.5)
RESTING = OrderRequest(
    symbol="ETH/USDT", side="buy", order_type="limit", quantity=2, price=1500, client_order_id="c1"
)


@pytest.fixture(params=["native", "ccxt"])
def backend(
    request: pytest.FixtureRequest, connection: ConnectionSettings
) -> Iterator[ExchangeBackend]:
    made: ExchangeBackend = (
        NativeBinanceBackend(connection) if request.param == "native" else CcxtBackend(connection)
    )
    yield made
    made.close()


def test_orders_balance_and_open_orders(backend: ExchangeBackend, fake: FakeBinanceServer) -> None:
    backend.ping()
    filled = backend.place_order(MARKET_BUY)
    assert filled.backend == backend.name
    assert (filled.symbol, filled.side, filled.order_type) == ("BTC/USDT", "buy", "market")
    assert (filled.status, filled.quantity, filled.filled_quantity) == ("filled", 0.5, 0.5)
    assert filled.average_price == pytest.approx(30000)

    resting = backend.place_order(RESTING)
    assert (resting.status, resting.filled_quantity, resting.price) == ("open", 0.0, 1500.0)
    [listed] = backend.fetch_open_orders("ETH/USDT")
    assert listed.order_id == resting.order_id and listed.symbol == "ETH/USDT"
    assert backend.fetch_open_orders("BTC/USDT") == []
    canceled = backend.cancel_order("ETH/USDT", resting.order_id)
    assert canceled.status == "canceled" and canceled.order_id == resting.order_id
    assert backend.fetch_open_orders("ETH/USDT") == []

    balance = backend.fetch_balance()
    assert [(a.asset, a.free, a.locked) for a in balance.assets] == [
        ("BTC", 10.0, 0.0),
        ("ETH", 100.0, 0.0),
        ("USDT", 1e6, 0.0),
    ]
    counted = fake.state().requests
    assert counted and all(key.startswith(f"{backend.name} ") for key in counted)
    assert all(" /api/v3/" in key for key in counted)  # spot only: no sapi, fapi, dapi


def test_partial_fills_and_slippage_come_through(
    backend: ExchangeBackend, fake: FakeBinanceServer
) -> None:
    fake.set_market(FakeMarket(slippage_bps=20, fill_fraction=0.5))
    limit = OrderRequest(
        symbol="BTC/USDT", side="sell", order_type="limit", quantity=1, price=29000
    )
    result = backend.place_order(limit)
    assert (result.status, result.filled_quantity) == ("partial", 0.5)
    assert result.average_price == pytest.approx(30000 * (1 - 0.002))


def test_client_order_id_and_signed_parameters_reach_the_exchange(
    backend: ExchangeBackend, fake: FakeBinanceServer
) -> None:
    result = backend.place_order(RESTING)
    assert result.client_order_id == "c1"


def test_the_same_answers_from_both_backends(connection: ConnectionSettings) -> None:
    native, ccxt = NativeBinanceBackend(connection), CcxtBackend(connection)
    try:
        varying = {"backend", "order_id", "client_order_id"}  # ccxt makes up its own ids
        a = native.place_order(MARKET_BUY).model_dump(exclude=varying)
        b = ccxt.place_order(MARKET_BUY).model_dump(exclude=varying)
        assert a == b
        assert native.fetch_balance().assets == ccxt.fetch_balance().assets
    finally:
        ccxt.close()


ERRORS: dict[str, type[ExchangeBackendError]] = {
    "http_500": ExchangeUnavailableError,
    "timeout": ExchangeUnavailableError,
    "rate_limit": ExchangeRateLimitError,
    "malformed": ExchangeResponseError,
}


@pytest.mark.parametrize("mode", list(ERRORS))
@pytest.mark.parametrize("call", ["ping", "place_order", "fetch_balance", "fetch_open_orders"])
def test_faults_become_our_error_classes(
    backend: ExchangeBackend, fake: FakeBinanceServer, mode: str, call: str
) -> None:
    if isinstance(backend, CcxtBackend):
        backend.load_markets()  # a fault on the first call would hit the market load instead
    calls: dict[str, Callable[[], object]] = {
        "ping": backend.ping,
        "place_order": lambda: backend.place_order(MARKET_BUY),
        "fetch_balance": backend.fetch_balance,
        "fetch_open_orders": lambda: backend.fetch_open_orders("BTC/USDT"),
    }
    spec = FaultSpec.model_validate({"mode": mode, "target": backend.name, "count": 1})
    with fake.fault(spec), pytest.raises(ERRORS[mode]) as caught:
        calls[call]()
    message = str(caught.value)
    assert message.startswith(backend.name) and "\n" not in message
    calls[call]()  # the fault was used up; the backend works again


def test_a_fault_for_one_backend_leaves_the_other_alone(
    connection: ConnectionSettings, fake: FakeBinanceServer
) -> None:
    native, ccxt = NativeBinanceBackend(connection), CcxtBackend(connection)
    try:
        with fake.fault(FaultSpec(mode="http_500", target="native")):
            with pytest.raises(ExchangeUnavailableError):
                native.fetch_balance()
            assert ccxt.fetch_balance().assets
    finally:
        ccxt.close()


def test_rejections_are_response_errors(backend: ExchangeBackend) -> None:
    with pytest.raises(ExchangeResponseError):
        backend.cancel_order("BTC/USDT", "999999")


def test_nothing_listening_is_unavailable(fake: FakeBinanceServer) -> None:
    endpoint = fake.endpoint
    fake.stop()
    settings = ConnectionSettings(
        endpoint=endpoint, api_key="k", api_secret="s", timeout=0.3, ccxt_rate_limit=False
    )
    ccxt = CcxtBackend(settings)
    try:
        for backend in (NativeBinanceBackend(settings), ccxt):
            with pytest.raises(ExchangeUnavailableError):
                backend.ping()
    finally:
        ccxt.close()
