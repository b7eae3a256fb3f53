"""The interface both order backends implement, and Binance's answers as models.

Why a tiny base class (as httpx's ``BaseTransport``): the manager routes every call to
whichever backend is active and must not know whether it is our REST client or CCXT.  Both
return the same :class:`OrderResult` / :class:`Balance` documents, so a failover changes
nothing for the caller.

Binance's own payloads are documents we *read*: they are accepted loosely (unknown fields are
ignored, since Binance adds fields over time) but every field we rely on is validated, so a
malformed answer becomes :class:`ExchangeResponseError` instead of a wrong number.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from bot_core.exchanges._config import BackendName
from bot_core.exchanges._models import (
    AssetBalance,
    Balance,
    OrderRequest,
    OrderResult,
    OrderSide,
    OrderStatus,
    OrderType,
)

__all__ = [
    "BinanceAccount",
    "BinanceBalance",
    "BinanceOrder",
    "BinanceTime",
    "ExchangeBackend",
    "balance_from_binance",
    "binance_symbol",
    "order_from_binance",
]


class ExchangeBackend(ABC):
    """The operations the manager routes; each raises ``ExchangeBackendError`` on failure."""

    name: BackendName

    @abstractmethod
    def ping(self) -> None:
        """Ask the exchange for its time: the health check the manager probes with."""

    @abstractmethod
    def place_order(self, request: OrderRequest) -> OrderResult:
        """Place an order and return it as the exchange acknowledged it."""

    @abstractmethod
    def cancel_order(self, symbol: str, order_id: str) -> OrderResult:
        """Cancel an open order."""

    @abstractmethod
    def fetch_balance(self) -> Balance:
        """The account's non-zero balances."""

    @abstractmethod
    def fetch_open_orders(self, symbol: str) -> list[OrderResult]:
        """Open orders of one symbol."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections; the default holds none."""


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class BinanceTime(_Loose):
    """``GET /api/v3/time``."""

    serverTime: int


class BinanceBalance(_Loose):
    asset: str
    free: Decimal
    locked: Decimal


class BinanceAccount(_Loose):
    """``GET /api/v3/account`` (only the balances matter here)."""

    balances: list[BinanceBalance]


class BinanceOrder(_Loose):
    """An order as ``POST``/``DELETE /api/v3/order`` and ``GET /api/v3/openOrders`` give it."""

    symbol: str
    orderId: int
    clientOrderId: str | None = None
    price: Decimal
    origQty: Decimal
    executedQty: Decimal
    cummulativeQuoteQty: Decimal
    status: str
    type: str
    side: str


_STATUS: dict[str, OrderStatus] = {
    "NEW": "open",
    "PENDING_NEW": "open",
    "PENDING_CANCEL": "open",
    "PARTIALLY_FILLED": "partial",
    "FILLED": "filled",
    "CANCELED": "canceled",
    "EXPIRED": "expired",
    "EXPIRED_IN_MATCH": "expired",
    "REJECTED": "rejected",
}


def binance_symbol(symbol: str) -> str:
    """``BTC/USDT`` -> ``BTCUSDT``."""
    return symbol.replace("/", "")


def order_from_binance(order: BinanceOrder, *, backend: BackendName, symbol: str) -> OrderResult:
    """Our :class:`OrderResult` from Binance's order payload (``symbol`` is the unified one)."""
    side: OrderSide = "buy" if order.side.upper() == "BUY" else "sell"
    order_type: OrderType = "market" if order.type.upper() == "MARKET" else "limit"
    average = (
        float(order.cummulativeQuoteQty / order.executedQty) if order.executedQty > 0 else None
    )
    return OrderResult(
        backend=backend,
        order_id=str(order.orderId),
        client_order_id=order.clientOrderId,
        symbol=symbol,
        side=side,
        order_type=order_type,
        status=_STATUS.get(order.status.upper(), "open"),
        quantity=float(order.origQty),
        filled_quantity=float(order.executedQty),
        price=float(order.price) if order.price > 0 else None,
        average_price=average,
    )


def balance_from_binance(account: BinanceAccount, *, backend: BackendName) -> Balance:
    """Our :class:`Balance` (non-zero assets, sorted) from Binance's account payload."""
    assets = [
        AssetBalance(asset=item.asset, free=float(item.free), locked=float(item.locked))
        for item in sorted(account.balances, key=lambda item: item.asset)
        if item.free > 0 or item.locked > 0
    ]
    return Balance(backend=backend, assets=assets)
