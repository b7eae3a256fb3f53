"""The CCXT backend: the real ``ccxt`` library, pointed at the configured endpoint.

Why CCXT as the fallback: it is an independent implementation of the same exchange API, so
a bug or an incompatibility in our native client does not take it down as well.

Pointing ccxt elsewhere (a drill, a test, a regional endpoint) is done the way ccxt supports
it: every entry of ``exchange.urls["api"]`` keeps its path and gets the configured scheme and
host.  Options keep ccxt on spot: ``fetchMarkets.types = ["spot"]`` (no futures or options
calls), no margin pairs and no currency list (both need ``/sapi`` endpoints), no time-skew
lookup.

ccxt answers a malformed payload sometimes with an exception and sometimes with a result
built from garbage; every result is therefore validated here, and every error is translated
at one boundary (:func:`_translated`) into the ``ExchangeBackendError`` family.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ccxt
from pydantic import BaseModel, ConfigDict, ValidationError

from bot_core.errors import (
    ExchangeBackendError,
    ExchangeRateLimitError,
    ExchangeResponseError,
    ExchangeUnavailableError,
)
from bot_core.exchanges._backend import ExchangeBackend
from bot_core.exchanges._config import BACKEND_HEADER, BackendName, ConnectionSettings
from bot_core.exchanges._models import (
    AssetBalance,
    Balance,
    OrderRequest,
    OrderResult,
    OrderSide,
    OrderStatus,
    OrderType,
)

__all__ = ["CcxtBackend", "ccxt_options", "point_urls"]

_T = TypeVar("_T")

_CCXT_STATUS: dict[str, OrderStatus] = {
    "open": "open",
    "closed": "filled",
    "canceled": "canceled",
    "cancelled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
}


class _CcxtOrder(BaseModel):
    """The fields of a ccxt unified order we rely on."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    clientOrderId: str | None = None
    symbol: str
    side: OrderSide
    type: OrderType
    status: str
    amount: float
    filled: float
    price: float | None = None
    average: float | None = None


def point_urls(urls: Any, endpoint: str) -> Any:
    """ccxt's ``urls["api"]`` with every URL moved to ``endpoint`` (paths kept)."""
    if isinstance(urls, str):
        return endpoint.rstrip("/") + urlsplit(urls).path
    if isinstance(urls, dict):
        return {key: point_urls(value, endpoint) for key, value in urls.items()}
    return urls


def ccxt_options(settings: ConnectionSettings) -> dict[str, Any]:
    """The constructor options: credentials, timeout, spot only, our backend header."""
    return {
        "apiKey": settings.api_key,
        "secret": settings.api_secret,
        "timeout": int(settings.timeout * 1000),
        "enableRateLimit": settings.ccxt_rate_limit,
        "headers": {BACKEND_HEADER: "ccxt"},
        "options": {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "fetchMargins": False,
            "fetchCurrencies": False,
            "adjustForTimeDifference": False,
            "recvWindow": settings.recv_window,
        },
    }


@contextmanager
def _translated(where: str) -> Iterator[None]:
    try:
        yield
    except ExchangeBackendError:
        raise
    except ccxt.DDoSProtection as exc:  # RateLimitExceeded is a subclass
        raise ExchangeRateLimitError(f"ccxt {where}: {_one_line(exc)}") from exc
    except ccxt.OperationFailed as exc:  # NetworkError, RequestTimeout, ExchangeNotAvailable
        raise ExchangeUnavailableError(f"ccxt {where}: {_one_line(exc)}") from exc
    except ccxt.BaseError as exc:
        raise ExchangeResponseError(f"ccxt {where}: {_one_line(exc)}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "answer"
        raise ExchangeResponseError(
            f"ccxt {where}: malformed answer ({field}: {first['msg']})"
        ) from exc
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # ccxt parsed a malformed payload into something unusable.
        raise ExchangeResponseError(f"ccxt {where}: malformed answer ({_one_line(exc)})") from exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


class CcxtBackend(ExchangeBackend):
    """Binance spot through ``ccxt.binance``; markets are loaded on first use."""

    name: BackendName = "ccxt"

    def __init__(self, settings: ConnectionSettings) -> None:
        self._settings = settings
        exchange_class: Callable[[dict[str, Any]], Any] = getattr(ccxt, settings.exchange)
        self._exchange: Any = exchange_class(ccxt_options(settings))
        self._exchange.urls["api"] = point_urls(self._exchange.urls["api"], settings.endpoint)
        self._markets_loaded = False

    def _call(self, where: str, call: Callable[[], _T]) -> _T:
        with _translated(where):
            if not self._markets_loaded and where != "fetch_time":
                self._exchange.load_markets()
                self._markets_loaded = True
            return call()

    def ping(self) -> None:
        value = self._call("fetch_time", lambda: self._exchange.fetch_time())
        if not isinstance(value, int):
            raise ExchangeResponseError(f"ccxt fetch_time: malformed answer ({value!r})")

    def load_markets(self) -> list[str]:
        """Load (again) and return the spot symbols ccxt knows; the drill's CCXT check."""
        with _translated("load_markets"):
            markets = self._exchange.load_markets(reload=True)
            self._markets_loaded = True
            return sorted(markets)

    def place_order(self, request: OrderRequest) -> OrderResult:
        params: dict[str, Any] = {}
        if request.client_order_id:
            params["clientOrderId"] = request.client_order_id
        raw = self._call(
            "create_order",
            lambda: self._exchange.create_order(
                request.symbol,
                request.order_type,
                request.side,
                request.quantity,
                request.price if request.order_type == "limit" else None,
                params,
            ),
        )
        return self._order(raw, "create_order")

    def cancel_order(self, symbol: str, order_id: str) -> OrderResult:
        raw = self._call("cancel_order", lambda: self._exchange.cancel_order(order_id, symbol))
        return self._order(raw, "cancel_order")

    def fetch_balance(self) -> Balance:
        raw = self._call("fetch_balance", lambda: self._exchange.fetch_balance())
        if not isinstance(raw, dict) or not isinstance(raw.get("info"), dict):
            raise ExchangeResponseError("ccxt fetch_balance: malformed answer (no account)")
        skip = {"info", "free", "used", "total", "timestamp", "datetime"}
        assets: list[AssetBalance] = []
        with _translated("fetch_balance"):
            for asset in sorted(key for key in raw if key not in skip):
                entry = raw[asset]
                free, used = float(entry.get("free") or 0), float(entry.get("used") or 0)
                if free > 0 or used > 0:
                    assets.append(AssetBalance(asset=asset, free=free, locked=used))
        return Balance(backend=self.name, assets=assets)

    def fetch_open_orders(self, symbol: str) -> list[OrderResult]:
        raw = self._call("fetch_open_orders", lambda: self._exchange.fetch_open_orders(symbol))
        if not isinstance(raw, list):
            raise ExchangeResponseError("ccxt fetch_open_orders: malformed answer (not a list)")
        return [self._order(item, "fetch_open_orders") for item in raw]

    def _order(self, raw: Any, where: str) -> OrderResult:
        with _translated(where):
            order = _CcxtOrder.model_validate(raw)
        status = _CCXT_STATUS.get(order.status, "open")
        if status == "open" and order.filled > 0:
            status = "partial"
        return OrderResult(
            backend=self.name,
            order_id=order.id,
            client_order_id=order.clientOrderId,
            symbol=order.symbol,
            side=order.side,
            order_type=order.type,
            status=status,
            quantity=order.amount,
            filled_quantity=order.filled,
            # ccxt fills a market order's price with its average; ours keeps limits only
            price=(order.price or None) if order.type == "limit" else None,
            average_price=order.average,
        )

    def close(self) -> None:
        self._exchange.close()
