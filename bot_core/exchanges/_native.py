"""Our own Binance spot REST client, on ``urllib.request`` (no extra dependency).

Why a native client next to CCXT: it is the primary path, with fewer layers between an
order and the exchange; CCXT is the independent fallback the manager switches to when this
one keeps failing.  Errors are translated at one boundary (:meth:`NativeBinanceBackend._send`)
into the ``ExchangeBackendError`` family, chained to the original.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import time
import urllib.error
import urllib.request
from decimal import Decimal
from typing import TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel, TypeAdapter, ValidationError

from bot_core.errors import (
    ExchangeBackendError,
    ExchangeRateLimitError,
    ExchangeResponseError,
    ExchangeUnavailableError,
)
from bot_core.exchanges._backend import (
    BinanceAccount,
    BinanceOrder,
    BinanceTime,
    ExchangeBackend,
    balance_from_binance,
    binance_symbol,
    order_from_binance,
)
from bot_core.exchanges._config import BACKEND_HEADER, BackendName, ConnectionSettings
from bot_core.exchanges._models import Balance, OrderRequest, OrderResult

__all__ = ["NativeBinanceBackend"]

_M = TypeVar("_M", bound=BaseModel)
_ORDERS = TypeAdapter(list[BinanceOrder])


def _decimal(value: float) -> str:
    """A quantity or price as Binance wants it: plain decimal, never exponent notation."""
    return format(Decimal(str(value)).normalize(), "f")


class NativeBinanceBackend(ExchangeBackend):
    """Binance spot over plain HTTPS; signed endpoints use HMAC-SHA256 like Binance asks."""

    name: BackendName = "native"

    def __init__(self, settings: ConnectionSettings) -> None:
        self._settings = settings

    def ping(self) -> None:
        self._send("GET", "/api/v3/time", {}, signed=False, model=BinanceTime)

    def place_order(self, request: OrderRequest) -> OrderResult:
        params: dict[str, str] = {
            "symbol": binance_symbol(request.symbol),
            "side": request.side.upper(),
            "type": request.order_type.upper(),
            "quantity": _decimal(request.quantity),
            "newOrderRespType": "FULL",
        }
        if request.order_type == "limit":
            if request.price is None:
                raise ExchangeResponseError("a limit order needs a price")
            params["price"] = _decimal(request.price)
            params["timeInForce"] = "GTC"
        if request.client_order_id:
            params["newClientOrderId"] = request.client_order_id
        order = self._send("POST", "/api/v3/order", params, signed=True, model=BinanceOrder)
        return order_from_binance(order, backend=self.name, symbol=request.symbol)

    def cancel_order(self, symbol: str, order_id: str) -> OrderResult:
        params = {"symbol": binance_symbol(symbol), "orderId": order_id}
        order = self._send("DELETE", "/api/v3/order", params, signed=True, model=BinanceOrder)
        return order_from_binance(order, backend=self.name, symbol=symbol)

    def fetch_balance(self) -> Balance:
        account = self._send("GET", "/api/v3/account", {}, signed=True, model=BinanceAccount)
        return balance_from_binance(account, backend=self.name)

    def fetch_open_orders(self, symbol: str) -> list[OrderResult]:
        data = self._raw("GET", "/api/v3/openOrders", {"symbol": binance_symbol(symbol)}, True)
        try:
            orders = _ORDERS.validate_json(data)
        except ValidationError as exc:
            raise _malformed("GET /api/v3/openOrders", exc) from exc
        return [order_from_binance(o, backend=self.name, symbol=symbol) for o in orders]

    # --- transport --------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        *,
        signed: bool,
        model: type[_M],
    ) -> _M:
        data = self._raw(method, path, params, signed)
        try:
            return model.model_validate_json(data)
        except ValidationError as exc:
            raise _malformed(f"{method} {path}", exc) from exc

    def _raw(self, method: str, path: str, params: dict[str, str], signed: bool) -> bytes:
        settings = self._settings
        headers = {BACKEND_HEADER: self.name, "User-Agent": "bot_core-native/1"}
        if signed:
            params = {
                **params,
                "timestamp": str(int(time.time() * 1000)),
                "recvWindow": str(settings.recv_window),
            }
            query = urlencode(params)
            signature = hmac.new(
                settings.api_secret.encode(), query.encode(), hashlib.sha256
            ).hexdigest()
            query = f"{query}&signature={signature}"
            headers["X-MBX-APIKEY"] = settings.api_key
        else:
            query = urlencode(params)
        url = f"{settings.base_url}{path}"
        body: bytes | None = None
        if method == "POST":
            body = query.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif query:
            url = f"{url}?{query}"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        where = f"{method} {path}"
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read(500).decode("utf-8", "replace")
            raise _http_error(where, exc.code, detail) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise ExchangeUnavailableError(f"native {where}: {reason}") from exc
        except (http.client.HTTPException, OSError) as exc:
            raise ExchangeUnavailableError(f"native {where}: {exc!r}") from exc


def _http_error(where: str, status: int, detail: str) -> ExchangeBackendError:
    message = f"native {where}: HTTP {status} {' '.join(detail.split())}"
    if status in (418, 429):
        return ExchangeRateLimitError(message)
    if status >= 500:
        return ExchangeUnavailableError(message)
    return ExchangeResponseError(message)


def _malformed(where: str, exc: ValidationError) -> ExchangeResponseError:
    first = exc.errors()[0]["msg"] if exc.errors() else str(exc)
    return ExchangeResponseError(f"native {where}: malformed answer ({first})")
