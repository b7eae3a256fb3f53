"""``logs/exchange_manager.log``: one JSON line per failover or signal-quality event.

Why JSON Lines rather than the ``logging`` module's text: the runbook (8.1) has operators
look for ``exchange.failover.engaged`` with its ``previous_backend`` context, and an incident
review wants to filter those lines with ``jq``; each line is a :class:`ManagerLogEntry`.
Lines are appended with one ``write`` on an ``O_APPEND`` descriptor, so concurrent writers
never interleave within a line.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from bot_core.exchanges._models import ExchangeEvent, ManagerLogEntry

__all__ = ["EventLog", "read_event_log"]


class EventLog:
    """Appends events to a JSON Lines file, creating its directory on first use."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def write(self, event: ExchangeEvent) -> ManagerLogEntry:
        """Append ``event`` (payload flattened into the line) and return the entry."""
        level = "WARNING" if event.name.endswith((".engaged", ".degraded", ".reset")) else "INFO"
        entry = ManagerLogEntry.model_validate(
            {
                "timestamp": event.timestamp,
                "level": level,
                "event": event.name,
                "exchange": event.exchange,
                **event.payload.model_dump(),
            }
        )
        line = entry.model_dump_json().encode("utf-8") + b"\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        return entry


def read_event_log(path: str | os.PathLike[str]) -> list[ManagerLogEntry]:
    """Every entry of a log written by :class:`EventLog` (missing file: none)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [ManagerLogEntry.model_validate_json(line) for line in text.splitlines() if line]
