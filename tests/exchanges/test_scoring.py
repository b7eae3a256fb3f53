"""Pure scoring: slippage sign, per-sample scores, hysteresis, settings validation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot_core.errors import ExchangeConfigError
from bot_core.exchanges import (
    DegradationWindow,
    ExecutionRecord,
    SignalQualitySettings,
    build_settings,
    execution_score,
    slippage_bps,
)

SETTINGS = SignalQualitySettings(window=4, min_samples=1)


def record(**fields: object) -> ExecutionRecord:
    values: dict[str, object] = {
        "timestamp": datetime(2024, 1, 1, tzinfo=UTC),
        "backend": "native",
        "symbol": "BTC/USDT",
        "side": "buy",
        "order_type": "market",
        "requested_quantity": 1.0,
        "filled_quantity": 1.0,
        "requested_price": 100.0,
        "executed_price": 100.0,
        "slippage_bps": 0.0,
        "latency": 0.0,
        "status": "filled",
        "error": None,
    }
    values.update(fields)
    return ExecutionRecord.model_validate(values)


def test_slippage_is_positive_when_adverse_for_either_side() -> None:
    assert slippage_bps("buy", 100.0, 100.5) == 50.0
    assert slippage_bps("sell", 100.0, 99.5) == 50.0
    assert slippage_bps("buy", 100.0, 99.0) == -100.0
    assert slippage_bps("buy", None, 99.0) is None
    assert slippage_bps("sell", 100.0, None) is None


@pytest.mark.parametrize(
    ("fields", "score"),
    [
        ({}, 0.0),
        ({"status": "failed", "filled_quantity": 0.0}, 1.0),
        ({"status": "partial", "filled_quantity": 0.25}, 0.75),
        ({"slippage_bps": 25.0}, 0.5),  # half of the 50 bps limit
        ({"slippage_bps": -80.0}, 0.0),  # price improvement is not degradation
        ({"slippage_bps": 500.0}, 1.0),  # capped
        ({"latency": 1.0}, 0.5),  # half of the 2 s limit
    ],
)
def test_execution_score(fields: dict[str, object], score: float) -> None:
    assert execution_score(record(**fields), SETTINGS) == pytest.approx(score)


def test_hysteresis_publishes_each_transition_once() -> None:
    window = DegradationWindow(SignalQualitySettings(window=4, min_samples=1))
    transitions = [window.add(s) for s in (1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0)]
    # rolling: 1, 1, .67, .5, .25 (recovered), .25, .5, .75 (degraded)
    assert transitions == [
        "degraded",
        None,
        None,
        None,
        "recovered",
        None,
        None,
        "degraded",
    ]


def test_no_transition_before_min_samples() -> None:
    window = DegradationWindow(SignalQualitySettings(window=10, min_samples=3))
    assert [window.add(1.0) for _ in range(3)] == [None, None, "degraded"]


def test_summary_of_the_window() -> None:
    window = DegradationWindow(SignalQualitySettings(window=3, min_samples=1))
    assert window.summary().model_dump() == {
        "rolling_score": 0.0,
        "window": 3,
        "max_score": 0.0,
        "last_score": 0.0,
    }
    for score in (0.9, 0.3, 0.0, 0.6):
        window.add(score)
    assert window.summary().model_dump() == {
        "rolling_score": 0.3,
        "window": 3,
        "max_score": 0.6,
        "last_score": 0.6,
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"threshold": 0.5, "release": 0.5}, "must be below threshold"),
        ({"window": 3, "min_samples": 4}, "cannot exceed window"),
        ({"threshold": 1.5}, "threshold"),
    ],
)
def test_invalid_settings_are_a_config_error(values: dict[str, object], message: str) -> None:
    with pytest.raises(ExchangeConfigError, match=message) as caught:
        build_settings(SignalQualitySettings, **values)
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)
