"""The exchange manager: routes orders to the native backend or, on failover, to CCXT.

Why it exists: when our own REST client keeps failing, or execution quality degrades,
orders must keep flowing through an independent implementation, and return to the primary
path once it is healthy, without the caller noticing more than the ``backend`` field.

Rules:

* ``error_threshold`` consecutive native errors (any call) engage CCXT (reason ``errors``).
* ``exchange.signal_quality.degraded`` engages CCXT (reason ``degradation``).
* CCXT is kept at least ``cooldown_seconds``.  After that, before a call is routed, native
  is probed (``GET /api/v3/time``); the manager returns to native when the probe succeeds
  and signal quality is not degraded.  A failed probe starts a new cooldown.
* ``exchange.signal_quality.recovered`` triggers that check at once (after the cooldown).
* A failed order is never re-sent on the other backend: a timed-out order may have reached
  the exchange, and sending it twice could double a position.

Each switch updates ``exchange_failover_state`` and ``exchange_failover_switch_total``,
publishes ``exchange.failover.engaged`` / ``...recovered`` and appends the event, with its
``previous_backend``, to ``logs/exchange_manager.log``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal, TypeVar

from bot_core.errors import ExchangeBackendError
from bot_core.exchanges._backend import ExchangeBackend
from bot_core.exchanges._ccxt_backend import CcxtBackend
from bot_core.exchanges._config import (
    DEFAULT_LOG_PATH,
    DEFAULT_SIGNAL_QUALITY_DIR,
    BackendName,
    ConnectionSettings,
    FailoverSettings,
    SignalQualitySettings,
)
from bot_core.exchanges._eventlog import EventLog
from bot_core.exchanges._events import EventBus
from bot_core.exchanges._metrics import ExchangeMetrics
from bot_core.exchanges._models import (
    DEGRADED,
    FAILOVER_ENGAGED,
    FAILOVER_RECOVERED,
    RECOVERED,
    Balance,
    ExchangeEvent,
    ExecutionStatus,
    FailoverPayload,
    ManagerStatus,
    OrderRequest,
    OrderResult,
)
from bot_core.exchanges._native import NativeBinanceBackend
from bot_core.exchanges._reporter import SignalQualityReporter

__all__ = ["ExchangeManager"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
FailoverReason = Literal["errors", "degradation"]
SwitchReason = Literal["errors", "degradation", "signal_quality_recovered", "native_healthy"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ExchangeManager:
    """Routes calls to the active backend and fails over between native and CCXT.

    **Parameters:**

    * **reporter** - the exchange's signal-quality reporter; the manager records every
      order into it and listens to its events on **bus**.
    * **native**, **ccxt** - the two backends.
    * **metrics** - where the failover metrics and execution histograms go.
    * **failover** - error threshold and cooldown.
    * **log_path** - the JSON Lines event log (``logs/exchange_manager.log``).
    * **monotonic**, **clock** - time sources (tests pass controllable ones).

    :meth:`create` builds all of it from settings; use the manager as a context manager so
    both backends are closed.
    """

    def __init__(
        self,
        *,
        reporter: SignalQualityReporter,
        bus: EventBus,
        native: ExchangeBackend,
        ccxt: ExchangeBackend,
        metrics: ExchangeMetrics,
        failover: FailoverSettings | None = None,
        log_path: str | os.PathLike[str] = DEFAULT_LOG_PATH,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.exchange = reporter.exchange
        self.reporter = reporter
        self.bus = bus
        self.metrics = metrics
        self.event_log = EventLog(log_path)
        self.settings = failover or FailoverSettings()
        self._backends: dict[BackendName, ExchangeBackend] = {"native": native, "ccxt": ccxt}
        self._monotonic = monotonic
        self._clock = clock
        self._lock = threading.RLock()
        self._active: BackendName = "native"
        self._reason: FailoverReason | None = None
        self._engaged_at = 0.0
        self._next_probe_at = 0.0
        self._consecutive_errors = 0
        self._last_error: str | None = None
        self._probing = False
        metrics.register_exchange(self.exchange)
        metrics.set_score(self.exchange, reporter.rolling_score)
        if reporter.reset_event is not None:
            self.event_log.write(reporter.reset_event)
        # The log subscriber comes first, so "degraded" is logged before the "engaged" it causes.
        self._unsubscribe = [
            bus.subscribe("exchange.signal_quality.*", self._log_signal_quality),
            bus.subscribe(DEGRADED, self._on_degraded),
            bus.subscribe(RECOVERED, self._on_recovered),
        ]

    @classmethod
    def create(
        cls,
        connection: ConnectionSettings,
        *,
        report_dir: str | os.PathLike[str] = DEFAULT_SIGNAL_QUALITY_DIR,
        log_path: str | os.PathLike[str] = DEFAULT_LOG_PATH,
        signal_quality: SignalQualitySettings | None = None,
        failover: FailoverSettings | None = None,
        metrics: ExchangeMetrics | None = None,
        bus: EventBus | None = None,
    ) -> ExchangeManager:
        """A manager with a fresh reporter, both real backends and its own metrics."""
        bus = bus or EventBus()
        reporter = SignalQualityReporter(
            connection.exchange, bus=bus, report_dir=report_dir, settings=signal_quality
        )
        return cls(
            reporter=reporter,
            bus=bus,
            native=NativeBinanceBackend(connection),
            ccxt=CcxtBackend(connection),
            metrics=metrics or ExchangeMetrics(),
            failover=failover,
            log_path=log_path,
        )

    # --- state ------------------------------------------------------------------------------

    @property
    def active_backend(self) -> BackendName:
        return self._active

    def backend(self, name: BackendName) -> ExchangeBackend:
        """One of the two backends, whichever is active (the drill checks both)."""
        return self._backends[name]

    def status(self) -> ManagerStatus:
        with self._lock:
            return ManagerStatus(
                exchange=self.exchange,
                backend=self._active,
                failover_reason=self._reason,
                consecutive_errors=self._consecutive_errors,
                last_error=self._last_error,
                degraded=self.reporter.degraded,
                rolling_score=self.reporter.rolling_score,
            )

    # --- operations -------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> OrderResult:
        """Place ``request`` on the active backend and record the execution.

        An order accepted with nothing filled yet (a resting limit order) is not an
        execution and is not recorded; a failed one is recorded and the error re-raised.
        """
        backend = self._route()
        started = self._monotonic()
        try:
            result = backend.place_order(request)
        except ExchangeBackendError as exc:
            latency = self._monotonic() - started
            self._failed(backend, exc)
            self._record(request, backend.name, 0.0, None, latency, "failed", str(exc))
            raise
        latency = self._monotonic() - started
        self._succeeded(backend)
        if result.status == "rejected":
            self._record(request, backend.name, 0.0, None, latency, "failed", "rejected")
        elif result.filled_quantity >= request.quantity:
            self._record(
                request,
                backend.name,
                result.filled_quantity,
                result.average_price,
                latency,
                "filled",
            )
        elif result.filled_quantity > 0 or result.status != "open":
            self._record(
                request,
                backend.name,
                result.filled_quantity,
                result.average_price,
                latency,
                "partial",
            )
        return result

    def cancel_order(self, symbol: str, order_id: str) -> OrderResult:
        """Cancel on the active backend (an order placed before a switch can be cancelled
        through either, since both talk to the same exchange account)."""
        return self._run(lambda backend: backend.cancel_order(symbol, order_id))

    def fetch_balance(self) -> Balance:
        return self._run(lambda backend: backend.fetch_balance())

    def fetch_open_orders(self, symbol: str) -> list[OrderResult]:
        return self._run(lambda backend: backend.fetch_open_orders(symbol))

    def check_health(self, name: BackendName = "native") -> bool:
        """Probe one backend, add the result to the rolling score, and return it."""
        backend = self._backends[name]
        started = self._monotonic()
        try:
            backend.ping()
        except ExchangeBackendError as exc:
            self.reporter.record_health_check(
                backend=name, ok=False, latency=self._monotonic() - started, error=str(exc)
            )
            self.metrics.set_score(self.exchange, self.reporter.rolling_score)
            return False
        self.reporter.record_health_check(
            backend=name, ok=True, latency=self._monotonic() - started
        )
        self.metrics.set_score(self.exchange, self.reporter.rolling_score)
        return True

    def maybe_recover(self) -> bool:
        """Return to native if the cooldown is over, native answers and quality is not
        degraded; returns whether native is active afterwards.  Called before every routed
        call; a scheduler may also call it while no orders flow."""
        with self._lock:
            if self._active == "native":
                return True
            now = self._monotonic()
            if now < self._next_probe_at:
                return False
            self._probing = True
            try:
                healthy = self.check_health("native")
            finally:
                self._probing = False
            if not healthy or self.reporter.degraded:
                self._next_probe_at = self._monotonic() + self.settings.cooldown_seconds
                return False
            reason: SwitchReason = (
                "signal_quality_recovered" if self._reason == "degradation" else "native_healthy"
            )
            self._switch("native", reason)
            return True

    # --- internals --------------------------------------------------------------------------

    def _route(self) -> ExchangeBackend:
        with self._lock:
            if self._active == "ccxt":
                self.maybe_recover()
            return self._backends[self._active]

    def _run(self, call: Callable[[ExchangeBackend], _T]) -> _T:
        backend = self._route()
        try:
            result = call(backend)
        except ExchangeBackendError as exc:
            self._failed(backend, exc)
            raise
        self._succeeded(backend)
        return result

    def _succeeded(self, backend: ExchangeBackend) -> None:
        if backend.name == "native":
            with self._lock:
                self._consecutive_errors = 0

    def _failed(self, backend: ExchangeBackend, exc: ExchangeBackendError) -> None:
        _log.warning("%s %s backend error: %s", self.exchange, backend.name, exc)
        with self._lock:
            self._last_error = str(exc)
            if backend.name != "native":
                return
            self._consecutive_errors += 1
            if (
                self._active == "native"
                and self._consecutive_errors >= self.settings.error_threshold
            ):
                self._engage("errors")

    def _record(
        self,
        request: OrderRequest,
        backend: BackendName,
        filled: float,
        executed_price: float | None,
        latency: float,
        status: ExecutionStatus,
        error: str | None = None,
    ) -> None:
        record = self.reporter.record_execution(
            backend=backend,
            symbol=request.symbol,
            side=request.side,
            order_type=request.order_type,
            requested_quantity=request.quantity,
            filled_quantity=filled,
            requested_price=request.expected_price,
            executed_price=executed_price,
            latency=latency,
            status=status,
            error=error,
        )
        self.metrics.observe_execution(self.exchange, record)
        self.metrics.set_score(self.exchange, self.reporter.rolling_score)

    def _engage(self, reason: FailoverReason) -> None:
        with self._lock:
            if self._active == "ccxt":
                return
            self._reason = reason
            self._engaged_at = self._monotonic()
            self._next_probe_at = self._engaged_at + self.settings.cooldown_seconds
            self._switch("ccxt", reason)

    def _switch(
        self,
        to: BackendName,
        reason: SwitchReason,
    ) -> None:
        previous = self._active
        seconds = round(self._monotonic() - self._engaged_at, 6) if to == "native" else None
        payload = FailoverPayload(
            previous_backend=previous,
            backend=to,
            reason=reason,
            consecutive_errors=self._consecutive_errors,
            rolling_score=self.reporter.rolling_score,
            last_error=self._last_error,
            seconds_on_previous=seconds,
        )
        self._active = to
        if to == "native":
            self._reason = None
            self._consecutive_errors = 0
            self._last_error = None
        self.metrics.record_switch(self.exchange, to)
        event = ExchangeEvent(
            name=FAILOVER_ENGAGED if to == "ccxt" else FAILOVER_RECOVERED,
            exchange=self.exchange,
            timestamp=self._clock(),
            payload=payload,
        )
        self.event_log.write(event)
        _log.warning("%s %s: %s -> %s (%s)", event.name, self.exchange, previous, to, reason)
        self.bus.publish(event)

    def _on_degraded(self, event: ExchangeEvent) -> None:
        if event.exchange == self.exchange:
            self._engage("degradation")

    def _on_recovered(self, event: ExchangeEvent) -> None:
        if event.exchange != self.exchange:
            return
        with self._lock:
            if self._probing:  # maybe_recover() is running and will decide
                return
            if self._active == "ccxt" and self._monotonic() >= self._engaged_at + (
                self.settings.cooldown_seconds
            ):
                self._next_probe_at = 0.0
                self.maybe_recover()

    def _log_signal_quality(self, event: ExchangeEvent) -> None:
        if event.exchange == self.exchange:
            self.event_log.write(event)

    # --- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop listening to the bus and close both backends."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for backend in self._backends.values():
            backend.close()

    def __enter__(self) -> ExchangeManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
