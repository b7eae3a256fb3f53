"""A local exchange speaking the subset of Binance's spot REST dialect our two backends use.

Why it lives in the package rather than in the tests: operators drill failover against it on
loopback (``python -m bot_core.exchanges serve-fake``), and the tests point the real ``ccxt``
library and our native client at the same server, so neither backend is ever mocked.

Endpoints (all under ``/api/v3``): ``ping``, ``time``, ``exchangeInfo``, ``account``,
``order`` (POST places, DELETE cancels) and ``openOrders``.  Signed endpoints read the
parameters ccxt sends (``timestamp``, ``recvWindow``, ``signature``, ``newClientOrderId``...)
but do not verify the signature.  Orders fill against a fixed mark price per symbol, moved by
a configurable slippage and cut by a configurable fill fraction.

Faults are switchable per backend, because both backends talk to one server and a failover
test must be able to break one of them: each request names its backend in the
``X-Bot-Core-Backend`` header, and a :class:`FaultSpec` applies to ``native``, ``ccxt`` or
``any``.  A control endpoint (``POST /__fake__/faults``, ``/__fake__/market``, ``GET
/__fake__/state``) does the same over HTTP for operators.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, ValidationError

from bot_core._types import Document
from bot_core.exchanges._config import BACKEND_HEADER

__all__ = [
    "FakeBinanceServer",
    "FakeMarket",
    "FakeServerState",
    "FaultMode",
    "FaultSpec",
    "FaultTarget",
]

FaultMode = Literal["http_500", "timeout", "rate_limit", "malformed"]
FaultTarget = Literal["native", "ccxt", "any"]

_BALANCES = {"BTC": Decimal("10"), "ETH": Decimal("100"), "USDT": Decimal(10**6)}
_SYMBOLS: dict[str, tuple[str, str, Decimal]] = {
    "BTCUSDT": ("BTC", "USDT", Decimal("30000")),
    "ETHUSDT": ("ETH", "USDT", Decimal("2000")),
}


class FaultSpec(Document):
    """A fault the server injects into matching requests.

    ``count`` limits how many requests fail (``None``: until cleared); ``delay`` is how long a
    ``timeout`` fault holds the request before answering, longer than the client's timeout.
    """

    mode: FaultMode
    target: FaultTarget = "any"
    count: int | None = Field(default=None, ge=1)
    delay: float = Field(default=1.0, gt=0, le=60)


class FakeMarket(Document):
    """How orders fill: adverse slippage in basis points and the share of quantity filled."""

    slippage_bps: float = 0.0
    fill_fraction: float = Field(default=1.0, ge=0.0, le=1.0)
    target: FaultTarget = "any"


class FakeServerState(Document):
    """``GET /__fake__/state``: the request counts and the faults now active."""

    requests: dict[str, int]
    faults: list[FaultSpec]
    markets: list[FakeMarket]
    open_orders: int


@dataclass
class _Fault:
    spec: FaultSpec
    remaining: int | None


@dataclass
class _Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    executed: Decimal
    quote: Decimal
    status: str
    time_in_force: str
    created_ms: int

    def as_json(self) -> dict[str, object]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": _fmt(self.price or Decimal(0)),
            "origQty": _fmt(self.quantity),
            "executedQty": _fmt(self.executed),
            "cummulativeQuoteQty": _fmt(self.quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.order_type,
            "side": self.side,
            "stopPrice": "0.00000000",
            "icebergQty": "0.00000000",
            "time": self.created_ms,
            "updateTime": self.created_ms,
            "isWorking": True,
            "workingTime": self.created_ms,
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "NONE",
        }


@dataclass
class _Book:
    """Mutable server state, guarded by one lock (the server is multi-threaded)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: list[_Fault] = field(default_factory=list)
    markets: list[FakeMarket] = field(default_factory=list)
    orders: dict[int, _Order] = field(default_factory=dict)
    next_id: int = 1
    requests: dict[str, int] = field(default_factory=dict)
    balances: dict[str, Decimal] = field(
        default_factory=lambda: {
            "BTC": Decimal("10"),
            "ETH": Decimal("100"),
            "USDT": Decimal(10**6),
        }
    )


def _fmt(value: Decimal) -> str:
    return f"{value:.8f}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _exchange_info() -> dict[str, object]:
    symbols = []
    for name, (base, quote, _) in _SYMBOLS.items():
        symbols.append(
            {
                "symbol": name,
                "status": "TRADING",
                "baseAsset": base,
                "baseAssetPrecision": 8,
                "quoteAsset": quote,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                "icebergAllowed": True,
                "ocoAllowed": True,
                "quoteOrderQtyMarketAllowed": True,
                "allowTrailingStop": False,
                "cancelReplaceAllowed": True,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": "0.01000000",
                        "maxPrice": "1000000.00000000",
                        "tickSize": "0.01000000",
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "minQty": "0.00001000",
                        "maxQty": "9000.00000000",
                        "stepSize": "0.00001000",
                    },
                    {"filterType": "NOTIONAL", "minNotional": "5.00000000"},
                ],
                "permissions": ["SPOT"],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "NONE",
                "allowedSelfTradePreventionModes": ["NONE"],
            }
        )
    return {
        "timezone": "UTC",
        "serverTime": _now_ms(),
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": symbols,
    }


class _ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class FakeBinanceServer:
    """A threaded HTTP server on loopback; use as a context manager so it is always stopped.

    **Parameters:**

    * **host** - the address to bind; loopback unless an operator asks otherwise.
    * **port** - ``0`` picks a free port (see :attr:`endpoint`).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._book = _Book()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """The base URL both backends are pointed at, e.g. ``http://127.0.0.1:54321``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeBinanceServer:
        """Serve in a background thread; returns ``self``."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release held ``timeout`` requests, and close the socket."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeBinanceServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- switches ---------------------------------------------------------------------------

    def set_fault(self, spec: FaultSpec) -> None:
        """Add a fault; faults are checked in the order they were added."""
        with self._book.lock:
            self._book.faults.append(_Fault(spec, spec.count))

    def clear_faults(self) -> None:
        """Remove every fault."""
        with self._book.lock:
            self._book.faults.clear()

    @contextmanager
    def fault(self, spec: FaultSpec) -> Iterator[None]:
        """Inject ``spec`` for the duration of a ``with`` block."""
        self.set_fault(spec)
        try:
            yield
        finally:
            self.clear_faults()

    def set_market(self, market: FakeMarket) -> None:
        """Replace the fill behaviour for ``market.target`` (``any`` replaces all)."""
        with self._book.lock:
            kept = [m for m in self._book.markets if market.target not in ("any", m.target)]
            self._book.markets = [*kept, market]

    def state(self) -> FakeServerState:
        """Request counts per ``<backend> <METHOD> <path>`` and the active switches."""
        with self._book.lock:
            return FakeServerState(
                requests=dict(sorted(self._book.requests.items())),
                faults=[fault.spec for fault in self._book.faults],
                markets=list(self._book.markets),
                open_orders=sum(
                    1 for o in self._book.orders.values() if o.status in _OPEN_STATUSES
                ),
            )

    def request_count(self, backend: str, method: str, path: str) -> int:
        """How many requests ``backend`` sent to ``METHOD path`` (faulted ones included)."""
        with self._book.lock:
            return self._book.requests.get(f"{backend} {method} {path}", 0)

    # --- request handling -------------------------------------------------------------------

    def _take_fault(self, backend: str) -> FaultSpec | None:
        with self._book.lock:
            for fault in self._book.faults:
                if fault.spec.target not in ("any", backend):
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._book.faults.remove(fault)
                return fault.spec
        return None

    def _market_for(self, backend: str) -> FakeMarket:
        for market in reversed(self._book.markets):
            if market.target in ("any", backend):
                return market
        return FakeMarket()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

            def _handle(self, method: str) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                params = dict(parse_qsl(split.query))
                content_type = self.headers.get("Content-Type", "")
                if body and "json" not in content_type:
                    params.update(parse_qsl(body.decode("utf-8", "replace")))
                backend = self.headers.get(BACKEND_HEADER, "unknown")
                if split.path.startswith("/__fake__/"):
                    self._control(method, split.path, body)
                    return
                with server._book.lock:
                    key = f"{backend} {method} {split.path}"
                    server._book.requests[key] = server._book.requests.get(key, 0) + 1
                fault = server._take_fault(backend)
                if fault is not None and self._inject(fault):
                    return
                try:
                    payload = server._route(method, split.path, params, backend)
                except _ApiError as exc:
                    self._send(exc.status, {"code": exc.code, "msg": str(exc)})
                    return
                self._send(200, payload)

            def _inject(self, fault: FaultSpec) -> bool:
                if fault.mode == "http_500":
                    self._send(503, {"code": -1001, "msg": "Internal error; unable to process"})
                elif fault.mode == "rate_limit":
                    self._send(
                        429,
                        {"code": -1003, "msg": "Too many requests; current limit exceeded."},
                        extra_headers={"Retry-After": "1"},
                    )
                elif fault.mode == "malformed":
                    self._send_raw(200, b'{"serverTime": 17, "symbols": [', "application/json")
                else:
                    server._stopping.wait(fault.delay)
                    if server._stopping.is_set():
                        self.close_connection = True
                        return True
                    return False
                return True

            def _control(self, method: str, path: str, body: bytes) -> None:
                try:
                    if method == "GET" and path == "/__fake__/state":
                        self._send_raw(200, server.state().model_dump_json().encode(), "json")
                        return
                    if method == "POST" and path == "/__fake__/faults":
                        spec = FaultSpec.model_validate_json(body or b"{}")
                        server.set_fault(spec)
                    elif method == "DELETE" and path == "/__fake__/faults":
                        server.clear_faults()
                    elif method == "POST" and path == "/__fake__/market":
                        server.set_market(FakeMarket.model_validate_json(body or b"{}"))
                    else:
                        self._send(404, {"code": -1, "msg": f"no control endpoint {path}"})
                        return
                except ValidationError as exc:
                    message = "; ".join(error["msg"] for error in exc.errors())
                    self._send(400, {"code": -1, "msg": message})
                    return
                self._send_raw(200, server.state().model_dump_json().encode(), "json")

            def _send(
                self,
                status: int,
                payload: object,
                *,
                extra_headers: dict[str, str] | None = None,
            ) -> None:
                data = json.dumps(payload).encode("utf-8")
                self._send_raw(status, data, "application/json", extra_headers)

            def _send_raw(
                self,
                status: int,
                data: bytes,
                content_type: str,
                extra_headers: dict[str, str] | None = None,
            ) -> None:
                if content_type == "json":
                    content_type = "application/json"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra_headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _route(
        self, method: str, path: str, params: dict[str, str], backend: str
    ) -> dict[str, object] | list[dict[str, object]]:
        if method == "GET" and path == "/api/v3/ping":
            return {}
        if method == "GET" and path == "/api/v3/time":
            return {"serverTime": _now_ms()}
        if method == "GET" and path == "/api/v3/exchangeInfo":
            return _exchange_info()
        if method == "GET" and path == "/api/v3/account":
            self._require_signed(params)
            return self._account()
        if method == "POST" and path == "/api/v3/order":
            self._require_signed(params)
            return self._place(params, backend)
        if method == "DELETE" and path == "/api/v3/order":
            self._require_signed(params)
            return self._cancel(params)
        if method == "GET" and path == "/api/v3/openOrders":
            self._require_signed(params)
            symbol = params.get("symbol")
            with self._book.lock:
                return [
                    order.as_json()
                    for order in self._book.orders.values()
                    if order.status in _OPEN_STATUSES and symbol in (None, order.symbol)
                ]
        raise _ApiError(404, -1, f"unknown endpoint {method} {path}")

    @staticmethod
    def _require_signed(params: dict[str, str]) -> None:
        if "timestamp" not in params or "signature" not in params:
            raise _ApiError(400, -1102, "Mandatory parameter 'timestamp' or 'signature' missing.")

    def _account(self) -> dict[str, object]:
        with self._book.lock:
            balances = [
                {"asset": asset, "free": _fmt(amount), "locked": "0.00000000"}
                for asset, amount in sorted(self._book.balances.items())
            ]
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "updateTime": _now_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
        }

    def _place(self, params: dict[str, str], backend: str) -> dict[str, object]:
        symbol = params.get("symbol", "")
        if symbol not in _SYMBOLS:
            raise _ApiError(400, -1121, "Invalid symbol.")
        side = params.get("side", "").upper()
        order_type = params.get("type", "").upper()
        if side not in ("BUY", "SELL") or order_type not in ("MARKET", "LIMIT"):
            raise _ApiError(400, -1100, "Illegal characters found in parameter 'side' or 'type'.")
        try:
            quantity = Decimal(params["quantity"])
            price = Decimal(params["price"]) if order_type == "LIMIT" else None
        except (KeyError, ArithmeticError) as exc:
            raise _ApiError(400, -1102, f"Mandatory parameter missing or bad: {exc}") from exc
        mark = _SYMBOLS[symbol][2]
        with self._book.lock:
            market = self._market_for(backend)
            direction = 1 if side == "BUY" else -1
            fill_price = mark * (1 + Decimal(direction) * Decimal(str(market.slippage_bps)) / 10000)
            crosses = price is None or (price >= mark if side == "BUY" else price <= mark)
            executed = Decimal(0)
            if crosses:
                executed = (quantity * Decimal(str(market.fill_fraction))).quantize(
                    Decimal("0.00001")
                )
            if executed >= quantity:
                status = "FILLED"
            elif order_type == "MARKET":
                status = "EXPIRED"
            else:
                status = "PARTIALLY_FILLED" if executed > 0 else "NEW"
            order = _Order(
                order_id=self._book.next_id,
                client_order_id=params.get("newClientOrderId") or f"fake{self._book.next_id}",
                symbol=symbol,
                side=side,
                order_type=order_type,
                quantity=quantity,
                price=price,
                executed=executed,
                quote=(executed * fill_price).quantize(Decimal("0.00000001")),
                status=status,
                time_in_force=params.get("timeInForce", "GTC"),
                created_ms=_now_ms(),
            )
            self._book.next_id += 1
            self._book.orders[order.order_id] = order
        answer = order.as_json()
        answer["transactTime"] = order.created_ms
        answer["fills"] = (
            [
                {
                    "price": _fmt(fill_price),
                    "qty": _fmt(executed),
                    "commission": "0.00000000",
                    "commissionAsset": _SYMBOLS[symbol][0],
                    "tradeId": order.order_id,
                }
            ]
            if executed > 0
            else []
        )
        return answer

    def _cancel(self, params: dict[str, str]) -> dict[str, object]:
        with self._book.lock:
            order = None
            if "orderId" in params and params["orderId"].isdigit():
                order = self._book.orders.get(int(params["orderId"]))
            elif "origClientOrderId" in params:
                order = next(
                    (
                        o
                        for o in self._book.orders.values()
                        if o.client_order_id == params["origClientOrderId"]
                    ),
                    None,
                )
            if order is None or order.symbol != params.get("symbol"):
                raise _ApiError(400, -2011, "Unknown order sent.")
            if order.status not in _OPEN_STATUSES:
                raise _ApiError(400, -2011, "Unknown order sent.")
            order.status = "CANCELED"
            answer = order.as_json()
        answer["origClientOrderId"] = order.client_order_id
        return answer


_OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
