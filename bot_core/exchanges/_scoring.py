"""Pure scoring: slippage, one sample's degradation score, and the rolling window.

Why pure functions and a small state machine: the thresholds decide when real money is
routed elsewhere, so the arithmetic must be testable without a clock, a disk or a network,
and the hysteresis (degrade at ``threshold``, recover only at ``release``) must be one
explicit transition table rather than flags spread through the reporter.

A sample scores between 0 (healthy) and 1 (fully degraded):

* a failed execution or health check scores 1;
* otherwise the worst of: the unfilled share of the quantity, the adverse slippage as a
  share of ``slippage_limit_bps``, the latency as a share of ``latency_limit`` (each capped
  at 1).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Literal

from bot_core.exchanges._config import SignalQualitySettings
from bot_core.exchanges._models import DegradationSummary, ExecutionRecord, OrderSide

__all__ = [
    "DegradationWindow",
    "Transition",
    "execution_score",
    "health_score",
    "slippage_bps",
]

Transition = Literal["degraded", "recovered"]


def slippage_bps(side: OrderSide, expected: float | None, executed: float | None) -> float | None:
    """Adverse-positive slippage in basis points; ``None`` when either price is unknown."""
    if expected is None or executed is None or expected <= 0:
        return None
    direction = 1.0 if side == "buy" else -1.0
    return round(direction * (executed - expected) / expected * 10_000, 6)


def _cap(value: float) -> float:
    return max(0.0, min(1.0, value))


def execution_score(record: ExecutionRecord, settings: SignalQualitySettings) -> float:
    """The degradation score of one execution record."""
    if record.status == "failed":
        return 1.0
    unfilled = (
        1.0 - record.filled_quantity / record.requested_quantity
        if record.requested_quantity > 0
        else 0.0
    )
    slippage = max(0.0, record.slippage_bps or 0.0) / settings.slippage_limit_bps
    latency = record.latency / settings.latency_limit
    return _cap(max(unfilled, slippage, latency))


def health_score(ok: bool, latency: float, settings: SignalQualitySettings) -> float:
    """The degradation score of one health check (a failed one scores 1)."""
    if not ok:
        return 1.0
    return _cap(latency / settings.latency_limit)


class DegradationWindow:
    """The last ``window`` scores and the degraded flag, with hysteresis.

    :meth:`add` returns the transition the new sample caused, if any: ``degraded`` when the
    rolling score reaches the threshold while healthy, ``recovered`` when it falls to the
    release level while degraded; nothing before ``min_samples`` samples are in the window.
    Between the two levels nothing changes, so a score that
    hovers around one level does not flap.
    """

    def __init__(self, settings: SignalQualitySettings, scores: Iterable[float] = ()) -> None:
        self._settings = settings
        self._scores: deque[float] = deque(scores, maxlen=settings.window)
        self._degraded = False

    @property
    def degraded(self) -> bool:
        return self._degraded

    @property
    def rolling_score(self) -> float:
        return round(sum(self._scores) / len(self._scores), 6) if self._scores else 0.0

    def add(self, score: float) -> Transition | None:
        """Add one sample; return the transition it caused."""
        self._scores.append(_cap(score))
        if len(self._scores) < self._settings.min_samples:
            return None
        rolling = self.rolling_score
        if not self._degraded and rolling >= self._settings.threshold:
            self._degraded = True
            return "degraded"
        if self._degraded and rolling <= self._settings.release:
            self._degraded = False
            return "recovered"
        return None

    def summary(self) -> DegradationSummary:
        """The ``degradation`` object of ``<exchange>.json``."""
        return DegradationSummary(
            rolling_score=self.rolling_score,
            window=self._settings.window,
            max_score=round(max(self._scores), 6) if self._scores else 0.0,
            last_score=round(self._scores[-1], 6) if self._scores else 0.0,
        )
