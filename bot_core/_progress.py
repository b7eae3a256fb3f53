"""Progress for long operations, shown on stderr only when it is a terminal.

Why: stdout carries JSON for the Report Center and must stay pure; a person at a terminal
still wants to see that a scan of 100k reports is moving.  Library functions accept any
``ProgressCallback`` (the Prefect tasks pass one that updates a progress artifact).
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

__all__ = ["NullProgress", "ProgressCallback", "TerminalProgress", "terminal_progress"]


class ProgressCallback(Protocol):
    """Receives ``(stage, done, total)``; ``total`` is ``None`` while it is unknown."""

    def __call__(self, stage: str, done: int, total: int | None) -> None: ...


class NullProgress:
    """Discards progress; the default for library calls."""

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        return None


class TerminalProgress:
    """Rewrites one stderr line at most ten times a second."""

    def __init__(self, stream: TextIO, *, interval: float = 0.1) -> None:
        self._stream = stream
        self._interval = interval
        self._last = 0.0
        self._shown = False

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if not finished and now - self._last < self._interval:
            return
        self._last = now
        count = f"{done}/{total}" if total is not None else f"{done}"
        self._stream.write(f"\r\x1b[K{stage}: {count}")
        if finished:
            self._stream.write("\n")
            self._shown = False
        else:
            self._shown = True
        self._stream.flush()

    def close(self) -> None:
        """End the progress line so later messages start on a fresh line."""
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = False


def terminal_progress() -> ProgressCallback:
    """A progress callback for the CLI: visible on a terminal, silent otherwise."""
    if sys.stderr.isatty():
        return TerminalProgress(sys.stderr)
    return NullProgress()
