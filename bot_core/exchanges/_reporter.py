"""The signal-quality reporter: execution history, ``<exchange>.json`` and the degradation score.

Why one object per exchange: the file, the bounded history and the rolling window belong
together, and the file is rewritten after every sample so the desktop app and ``jq`` always
see the current state.  Writes go through :func:`bot_core._fs.atomic_write_bytes`, whose
hidden ``.partial`` temporary file is never matched by the purge's ``*.json`` retention.

The directory defaults to ``DEFAULT_SIGNAL_QUALITY_DIR`` from :mod:`bot_core.reporting`, the
same value the purge cleans, so the two cannot drift apart.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from bot_core._fs import atomic_write_bytes
from bot_core.errors import ExchangeConfigError
from bot_core.exchanges._config import (
    DEFAULT_SIGNAL_QUALITY_DIR,
    BackendName,
    SignalQualitySettings,
)
from bot_core.exchanges._events import EventBus
from bot_core.exchanges._models import (
    DEGRADED,
    RECOVERED,
    SIGNAL_QUALITY_RESET,
    DegradationSummary,
    ExchangeEvent,
    ExecutionRecord,
    ExecutionStatus,
    OrderSide,
    OrderType,
    ResetPayload,
    SignalQualityPayload,
    SignalQualityReport,
)
from bot_core.exchanges._scoring import (
    DegradationWindow,
    Transition,
    execution_score,
    health_score,
    slippage_bps,
)

__all__ = ["SignalQualityReporter", "signal_quality_path", "summarize"]

_log = logging.getLogger(__name__)
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def signal_quality_path(exchange: str, report_dir: str | os.PathLike[str]) -> Path:
    """``<report_dir>/<exchange>.json``; the exchange name must be a safe file name."""
    if not _SAFE_NAME.match(exchange):
        raise ExchangeConfigError(
            f"exchange name {exchange!r} must be lowercase letters, digits, '_' or '-'"
        )
    return Path(report_dir) / f"{exchange}.json"


def summarize(
    exchange: str, records: list[ExecutionRecord], window: DegradationWindow
) -> SignalQualityReport:
    """The contract's summary of ``records``; every aggregate comes from the records alone."""
    requested = sum(r.requested_quantity for r in records)
    filled = sum(r.filled_quantity for r in records)
    slippages = [r.slippage_bps for r in records if r.slippage_bps is not None]
    return SignalQualityReport(
        exchange=exchange,
        total=len(records),
        failures=sum(1 for r in records if r.status == "failed"),
        fill_ratio=round(filled / requested, 6) if requested > 0 else 1.0,
        slippage_bps=round(sum(slippages) / len(slippages), 6) if slippages else 0.0,
        records=list(records),
        degradation=window.summary(),
    )


class SignalQualityReporter:
    """Records executions and health checks for one exchange and publishes degradation.

    **Parameters:**

    * **exchange** - the exchange id; also the file name (``binance`` -> ``binance.json``).
    * **bus** - where ``exchange.signal_quality.degraded`` / ``...recovered`` go.
    * **report_dir** - defaults to ``reports/exchanges/signal_quality`` (relative to the
      working directory), the directory the purge's retention cleans.
    * **settings** - history size, window, threshold and release levels.
    * **clock** - returns the current UTC time (tests pass a fixed one).

    A file that cannot be read back on start (truncated, not JSON, not the contract's
    shape, another exchange's) is reported (:attr:`load_problem`, a warning in the log and
    an ``exchange.signal_quality.reset`` event) and replaced by an empty report.
    """

    def __init__(
        self,
        exchange: str,
        *,
        bus: EventBus,
        report_dir: str | os.PathLike[str] = DEFAULT_SIGNAL_QUALITY_DIR,
        settings: SignalQualitySettings | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.exchange = exchange
        self.path = signal_quality_path(exchange, report_dir)
        self.settings = settings or SignalQualitySettings()
        self._bus = bus
        self._clock = clock
        self._lock = threading.Lock()
        self._records: deque[ExecutionRecord] = deque(maxlen=self.settings.history_limit)
        self._window = DegradationWindow(self.settings)
        self.load_problem: str | None = None
        self.reset_event: ExchangeEvent | None = None
        self._load()

    # --- reading ----------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            self._reset(f"unreadable: {exc.strerror or exc}")
            return
        try:
            report = SignalQualityReport.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            self._reset(
                f"invalid ({exc.error_count()} problem(s); {where or 'document'}: {first['msg']})"
            )
            return
        if report.exchange != self.exchange:
            self._reset(f"belongs to exchange {report.exchange!r}, not {self.exchange!r}")
            return
        self._records.extend(report.records)
        kept = list(self._records)[-self.settings.window :]
        self._window = DegradationWindow(
            self.settings, (execution_score(r, self.settings) for r in kept)
        )

    def _reset(self, problem: str) -> None:
        self.load_problem = problem
        _log.warning(
            "signal-quality file %s %s; replacing it with an empty report", self.path, problem
        )
        self._write(summarize(self.exchange, [], self._window))
        self.reset_event = ExchangeEvent(
            name=SIGNAL_QUALITY_RESET,
            exchange=self.exchange,
            timestamp=self._clock(),
            payload=ResetPayload(path=str(self.path), problem=problem),
        )
        self._bus.publish(self.reset_event)

    # --- state ------------------------------------------------------------------------------

    @property
    def degraded(self) -> bool:
        """Whether the last transition was ``degraded`` (not persisted across restarts)."""
        return self._window.degraded

    @property
    def rolling_score(self) -> float:
        return self._window.rolling_score

    def report(self) -> SignalQualityReport:
        """The document as it is (and as it was last written)."""
        with self._lock:
            return summarize(self.exchange, list(self._records), self._window)

    # --- recording --------------------------------------------------------------------------

    def record_execution(
        self,
        *,
        backend: BackendName,
        symbol: str,
        side: OrderSide,
        order_type: OrderType,
        requested_quantity: float,
        filled_quantity: float,
        requested_price: float | None,
        executed_price: float | None,
        latency: float,
        status: ExecutionStatus,
        error: str | None = None,
    ) -> ExecutionRecord:
        """Record one execution, rewrite the file and publish any degradation transition."""
        record = ExecutionRecord(
            timestamp=self._clock(),
            backend=backend,
            symbol=symbol,
            side=side,
            order_type=order_type,
            requested_quantity=requested_quantity,
            filled_quantity=filled_quantity,
            requested_price=requested_price,
            executed_price=executed_price,
            slippage_bps=slippage_bps(side, requested_price, executed_price),
            latency=round(max(latency, 0.0), 6),
            status=status,
            error=error,
        )
        with self._lock:
            self._records.append(record)
            transition = self._window.add(execution_score(record, self.settings))
            summary = self._window.summary()
            self._write(summarize(self.exchange, list(self._records), self._window))
        self._announce(transition, summary)
        return record

    def record_health_check(
        self, *, backend: BackendName, ok: bool, latency: float, error: str | None = None
    ) -> float:
        """Add a health check to the rolling window (not to ``records``); return its score."""
        score = health_score(ok, latency, self.settings)
        with self._lock:
            transition = self._window.add(score)
            summary = self._window.summary()
            self._write(summarize(self.exchange, list(self._records), self._window))
        if not ok:
            _log.info("%s health check on %s failed: %s", self.exchange, backend, error)
        self._announce(transition, summary)
        return score

    def _write(self, report: SignalQualityReport) -> None:
        data = report.model_dump_json(indent=2).encode("utf-8") + b"\n"
        atomic_write_bytes(str(self.path), data, fsync=self.settings.fsync)

    def _announce(self, transition: Transition | None, summary: DegradationSummary) -> None:
        if transition is None:
            return
        self._bus.publish(
            ExchangeEvent(
                name=DEGRADED if transition == "degraded" else RECOVERED,
                exchange=self.exchange,
                timestamp=self._clock(),
                payload=SignalQualityPayload(
                    rolling_score=summary.rolling_score,
                    threshold=self.settings.threshold,
                    release=self.settings.release,
                    window=summary.window,
                    last_score=summary.last_score,
                ),
            )
        )
