"""The JSON Schemas section of ``docs/exchanges.md``, generated from the pydantic models.

``python -m bot_core.exchanges._docs`` rewrites it; a test fails when it is stale.
"""

from __future__ import annotations

import sys

from bot_core._schema_docs import SchemaSection
from bot_core.exchanges._cli import ServeReport
from bot_core.exchanges._drill import DrillReport
from bot_core.exchanges._fake_server import FakeMarket, FaultSpec
from bot_core.exchanges._models import ExchangeEvent, ManagerLogEntry, SignalQualityReport

__all__ = ["SECTION"]

SECTION = SchemaSection(
    module="bot_core.exchanges._docs",
    title="bot_core exchange documents",
    documents=(
        ("`reports/exchanges/signal_quality/<exchange>.json`", SignalQualityReport),
        ("a line of `logs/exchange_manager.log`", ManagerLogEntry),
        ("an event on the bus (library)", ExchangeEvent),
        ("stdout of `python -m bot_core.exchanges drill`", DrillReport),
        ("stdout of `python -m bot_core.exchanges serve-fake`", ServeReport),
        ("body of `POST /__fake__/faults` (fake server)", FaultSpec),
        ("body of `POST /__fake__/market` (fake server)", FakeMarket),
    ),
    path="docs/exchanges.md",
)

if __name__ == "__main__":
    sys.exit(SECTION.main())
