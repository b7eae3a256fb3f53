"""Every JSON document of the exchange layer (contract section 8), as pydantic models.

Field names and status words are the contract's, in the contract's order: the desktop app
parses ``<exchange>.json`` and must find exactly these.  Every field of a record is always
written (``error`` is ``null`` on success) so a parser never has to guess whether a field is
missing or empty.  Documents we write are frozen and reject unknown fields.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from pydantic import Field

from bot_core._types import Document, SparseDocument, UtcDateTime
from bot_core.exchanges._config import BackendName

__all__ = [
    "DEGRADED",
    "FAILOVER_ENGAGED",
    "FAILOVER_RECOVERED",
    "RECOVERED",
    "SIGNAL_QUALITY_RESET",
    "AssetBalance",
    "Balance",
    "DegradationSummary",
    "EventName",
    "ExchangeEvent",
    "ExecutionRecord",
    "ExecutionStatus",
    "FailoverPayload",
    "ManagerLogEntry",
    "ManagerStatus",
    "OrderRequest",
    "OrderResult",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "ResetPayload",
    "SignalQualityPayload",
    "SignalQualityReport",
]

ExecutionStatus = Literal["filled", "partial", "failed"]
OrderSide = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]
OrderStatus = Literal["open", "filled", "partial", "canceled", "expired", "rejected"]

DEGRADED: Final = "exchange.signal_quality.degraded"
RECOVERED: Final = "exchange.signal_quality.recovered"
SIGNAL_QUALITY_RESET: Final = "exchange.signal_quality.reset"
FAILOVER_ENGAGED: Final = "exchange.failover.engaged"
FAILOVER_RECOVERED: Final = "exchange.failover.recovered"

EventName = Literal[
    "exchange.signal_quality.degraded",
    "exchange.signal_quality.recovered",
    "exchange.signal_quality.reset",
    "exchange.failover.engaged",
    "exchange.failover.recovered",
]


# --- reports/exchanges/signal_quality/<exchange>.json ----------------------------------------


class ExecutionRecord(Document):
    """One execution: what was asked, what happened, on which backend, how fast.

    ``slippage_bps`` is adverse-positive: a buy above or a sell below ``requested_price``
    is a positive number.  ``latency`` is in seconds.
    """

    timestamp: UtcDateTime
    backend: BackendName
    symbol: str
    side: OrderSide
    order_type: OrderType
    requested_quantity: float = Field(ge=0)
    filled_quantity: float = Field(ge=0)
    requested_price: float | None
    executed_price: float | None
    slippage_bps: float | None
    latency: float = Field(ge=0)
    status: ExecutionStatus
    error: str | None


class DegradationSummary(Document):
    """The rolling degradation score: mean, size, maximum and newest of the window."""

    rolling_score: float = Field(ge=0, le=1)
    window: int = Field(ge=1)
    max_score: float = Field(ge=0, le=1)
    last_score: float = Field(ge=0, le=1)


class SignalQualityReport(Document):
    """``<exchange>.json``; every aggregate is computed over ``records`` (the kept history).

    ``fill_ratio`` is filled over requested quantity (``1.0`` with no records);
    ``slippage_bps`` is the mean over records that have one (``0.0`` when none do).
    """

    exchange: str
    total: int = Field(ge=0)
    failures: int = Field(ge=0)
    fill_ratio: float = Field(ge=0)
    slippage_bps: float
    records: list[ExecutionRecord]
    degradation: DegradationSummary


# --- orders and balances (both backends return these) -----------------------------------------


class OrderRequest(Document):
    """An order to place; ``symbol`` is unified (``BTC/USDT``).

    ``price`` is the limit price (limit orders only).  ``reference_price`` is the price the
    signal expected; slippage is measured against it, or against ``price`` when it is absent.
    """

    symbol: str = Field(pattern=r"^[A-Z0-9]+/[A-Z0-9]+$")
    side: OrderSide
    order_type: OrderType
    quantity: float = Field(gt=0)
    price: float | None = Field(default=None, gt=0)
    reference_price: float | None = Field(default=None, gt=0)
    client_order_id: str | None = Field(default=None, max_length=36)

    @property
    def expected_price(self) -> float | None:
        """The price slippage is measured against."""
        return self.reference_price if self.reference_price is not None else self.price


class OrderResult(Document):
    """An order as the exchange reports it, whichever backend placed it."""

    backend: BackendName
    order_id: str
    client_order_id: str | None
    symbol: str
    side: OrderSide
    order_type: OrderType
    status: OrderStatus
    quantity: float
    filled_quantity: float
    price: float | None
    average_price: float | None


class AssetBalance(Document):
    """Free and locked amounts of one asset."""

    asset: str
    free: float
    locked: float


class Balance(Document):
    """The account's non-zero balances, sorted by asset."""

    backend: BackendName
    assets: list[AssetBalance]


# --- events and the manager's log --------------------------------------------------------------


class SignalQualityPayload(Document):
    """Payload of ``exchange.signal_quality.degraded`` and ``...recovered``."""

    rolling_score: float
    threshold: float
    release: float
    window: int
    last_score: float


class FailoverPayload(Document):
    """Payload of ``exchange.failover.engaged`` and ``...recovered``.

    ``reason`` says what triggered the switch: ``errors`` (consecutive native errors),
    ``degradation`` (the degraded event), ``signal_quality_recovered`` or ``native_healthy``.
    """

    previous_backend: BackendName
    backend: BackendName
    reason: Literal["errors", "degradation", "signal_quality_recovered", "native_healthy"]
    consecutive_errors: int
    rolling_score: float
    last_error: str | None = None
    seconds_on_previous: float | None = None


class ResetPayload(Document):
    """Payload of ``exchange.signal_quality.reset``: an unreadable file was replaced."""

    path: str
    problem: str


class ExchangeEvent(Document):
    """One event on the in-process bus."""

    name: EventName
    exchange: str
    timestamp: UtcDateTime
    payload: FailoverPayload | SignalQualityPayload | ResetPayload


class ManagerLogEntry(SparseDocument):
    """One line of ``logs/exchange_manager.log`` (JSON Lines): an event with its context.

    The payload's fields are written at the top level, so ``grep previous_backend`` and
    ``jq 'select(.event == "exchange.failover.engaged")'`` both work; fields that do not
    apply to the event are left out rather than written as ``null``.
    """

    _omit_when_none: ClassVar[frozenset[str]] = frozenset(
        {
            "previous_backend",
            "backend",
            "reason",
            "consecutive_errors",
            "rolling_score",
            "last_error",
            "seconds_on_previous",
            "threshold",
            "release",
            "window",
            "last_score",
            "path",
            "problem",
        }
    )

    timestamp: UtcDateTime
    level: Literal["INFO", "WARNING"]
    event: EventName
    exchange: str
    previous_backend: BackendName | None = None
    backend: BackendName | None = None
    reason: str | None = None
    consecutive_errors: int | None = None
    rolling_score: float | None = None
    last_error: str | None = None
    seconds_on_previous: float | None = None
    threshold: float | None = None
    release: float | None = None
    window: int | None = None
    last_score: float | None = None
    path: str | None = None
    problem: str | None = None


class ManagerStatus(Document):
    """Where the manager routes orders now, and why."""

    exchange: str
    backend: BackendName
    failover_reason: Literal["errors", "degradation"] | None
    consecutive_errors: int
    last_error: str | None
    degraded: bool
    rolling_score: float
