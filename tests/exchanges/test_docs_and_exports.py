"""The public surface: a sorted ``__all__``, documented commands, current generated schemas."""

from __future__ import annotations

import argparse
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import bot_core.exchanges
from bot_core.exchanges import ExchangeMetrics, MetricsServer, MetricsSettings
from bot_core.exchanges._cli import build_parser
from bot_core.exchanges._docs import SECTION

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs/exchanges.md"


def test_all_is_sorted_and_importable() -> None:
    names = bot_core.exchanges.__all__
    assert names == sorted(names, key=lambda name: (not name.isupper(), name))
    for name in names:
        assert hasattr(bot_core.exchanges, name), name


def test_every_command_has_help_and_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    [commands] = [
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    assert set(commands.choices) == {"drill", "serve-fake"}
    for name, parser in commands.choices.items():
        assert parser.description, name
        assert f"python -m bot_core.exchanges {name}" in text, name
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert option in text, f"{option} of {name} is not in docs/exchanges.md"
                    assert action.help, f"{option} of {name} has no help"


def test_documented_metrics_and_events_exist() -> None:
    text = DOCS.read_text(encoding="utf-8")
    exposition = ExchangeMetrics().exposition().decode()
    for family in (
        "exchange_failover_state",
        "exchange_failover_switch_total",
        "exchange_fill_ratio",
        "exchange_slippage_bps",
        "exchange_order_latency_seconds",
        "exchange_signal_quality_score",
    ):
        assert f"# TYPE {family} " in exposition and family in text
    for event in (
        bot_core.exchanges.DEGRADED,
        bot_core.exchanges.RECOVERED,
        bot_core.exchanges.SIGNAL_QUALITY_RESET,
        bot_core.exchanges.FAILOVER_ENGAGED,
        bot_core.exchanges.FAILOVER_RECOVERED,
    ):
        assert f"`{event}`" in text


def test_generated_schemas_are_current() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert SECTION.update(text) == text, "run: python -m bot_core.exchanges._docs"


def test_metrics_server_serves_only_metrics() -> None:
    with MetricsServer(ExchangeMetrics(), MetricsSettings(port=0)) as server:
        assert server.host == "127.0.0.1"
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=5)
        assert caught.value.code == 404
        caught.value.close()
