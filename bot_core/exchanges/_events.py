"""An in-process, synchronous event bus.

Why synchronous: the reporter's ``degraded`` event must have switched the manager to CCXT
before the next order is routed, so a subscriber runs inside :meth:`EventBus.publish`.  A
subscriber that raises is logged and skipped; one broken listener must not stop the
failover the others implement.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot_core.exchanges._models import ExchangeEvent

__all__ = ["EventBus", "EventHandler"]

EventHandler = Callable[[ExchangeEvent], None]

_log = logging.getLogger(__name__)


class EventBus:
    """Routes :class:`ExchangeEvent` objects to subscribers by name.

    A topic is an event name (``exchange.failover.engaged``), a prefix ending in ``*``
    (``exchange.signal_quality.*``) or ``*`` for everything.  Handlers run in subscription
    order, on the publishing thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[tuple[str, EventHandler]] = []

    def subscribe(self, topic: str, handler: EventHandler) -> Callable[[], None]:
        """Call ``handler`` for every event matching ``topic``; returns an unsubscribe."""
        entry = (topic, handler)
        with self._lock:
            self._subscribers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return unsubscribe

    def publish(self, event: ExchangeEvent) -> None:
        """Deliver ``event`` to every matching subscriber."""
        with self._lock:
            handlers = [h for topic, h in self._subscribers if _matches(topic, event.name)]
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                _log.exception("subscriber %r failed on %s", handler, event.name)


def _matches(topic: str, name: str) -> bool:
    if topic.endswith("*"):
        return name.startswith(topic[:-1])
    return topic == name
