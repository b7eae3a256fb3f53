"""Exchange signal quality and automatic native -> CCXT failover (contract section 8).

A :class:`SignalQualityReporter` records every execution into
``reports/exchanges/signal_quality/<exchange>.json`` and publishes
``exchange.signal_quality.degraded`` / ``...recovered`` on an :class:`EventBus`; an
:class:`ExchangeManager` routes orders to the native REST backend or to CCXT and fails over
on repeated errors or degradation, with Prometheus metrics (:class:`ExchangeMetrics`,
:class:`MetricsServer`).  ``python -m bot_core.exchanges`` runs the failover drill and a local
Binance-compatible server; ``docs/exchanges.md`` describes it all.
"""

from bot_core.exchanges._backend import ExchangeBackend
from bot_core.exchanges._ccxt_backend import CcxtBackend
from bot_core.exchanges._config import (
    BACKEND_HEADER,
    DEFAULT_BINANCE_ENDPOINT,
    DEFAULT_LOG_PATH,
    DEFAULT_METRICS_HOST,
    DEFAULT_METRICS_PORT,
    DEFAULT_SIGNAL_QUALITY_DIR,
    SUPPORTED_EXCHANGES,
    BackendName,
    ConnectionSettings,
    FailoverSettings,
    MetricsSettings,
    SignalQualitySettings,
    build_settings,
)
from bot_core.exchanges._drill import DrillReport, DrillStep, MetricsSnapshot, run_drill
from bot_core.exchanges._eventlog import EventLog, read_event_log
from bot_core.exchanges._events import EventBus, EventHandler
from bot_core.exchanges._fake_server import FakeBinanceServer, FakeMarket, FaultSpec
from bot_core.exchanges._manager import ExchangeManager
from bot_core.exchanges._metrics import ExchangeMetrics, MetricsServer
from bot_core.exchanges._models import (
    DEGRADED,
    FAILOVER_ENGAGED,
    FAILOVER_RECOVERED,
    RECOVERED,
    SIGNAL_QUALITY_RESET,
    AssetBalance,
    Balance,
    DegradationSummary,
    ExchangeEvent,
    ExecutionRecord,
    FailoverPayload,
    ManagerLogEntry,
    ManagerStatus,
    OrderRequest,
    OrderResult,
    ResetPayload,
    SignalQualityPayload,
    SignalQualityReport,
)
from bot_core.exchanges._native import NativeBinanceBackend
from bot_core.exchanges._reporter import SignalQualityReporter, signal_quality_path
from bot_core.exchanges._scoring import DegradationWindow, execution_score, slippage_bps

__all__ = [
    "BACKEND_HEADER",
    "DEFAULT_BINANCE_ENDPOINT",
    "DEFAULT_LOG_PATH",
    "DEFAULT_METRICS_HOST",
    "DEFAULT_METRICS_PORT",
    "DEFAULT_SIGNAL_QUALITY_DIR",
    "DEGRADED",
    "FAILOVER_ENGAGED",
    "FAILOVER_RECOVERED",
    "RECOVERED",
    "SIGNAL_QUALITY_RESET",
    "SUPPORTED_EXCHANGES",
    "AssetBalance",
    "BackendName",
    "Balance",
    "CcxtBackend",
    "ConnectionSettings",
    "DegradationSummary",
    "DegradationWindow",
    "DrillReport",
    "DrillStep",
    "EventBus",
    "EventHandler",
    "EventLog",
    "ExchangeBackend",
    "ExchangeEvent",
    "ExchangeManager",
    "ExchangeMetrics",
    "ExecutionRecord",
    "FailoverPayload",
    "FailoverSettings",
    "FakeBinanceServer",
    "FakeMarket",
    "FaultSpec",
    "ManagerLogEntry",
    "ManagerStatus",
    "MetricsServer",
    "MetricsSettings",
    "MetricsSnapshot",
    "NativeBinanceBackend",
    "OrderRequest",
    "OrderResult",
    "ResetPayload",
    "SignalQualityPayload",
    "SignalQualityReport",
    "SignalQualityReporter",
    "SignalQualitySettings",
    "build_settings",
    "execution_score",
    "read_event_log",
    "run_drill",
    "signal_quality_path",
    "slippage_bps",
]
