"""Runtime views for the trading bot's operators: the AI recommendation snapshot.

The snapshot itself is computed by :mod:`bot_core.registry`; this package holds the
``python -m bot_core.runtime.ui_bridge`` command-line shell that the desktop app runs.
"""

from bot_core.registry import RecommendationSnapshot, take_snapshot

__all__ = ["RecommendationSnapshot", "take_snapshot"]
