"""Print the reliability figures at the end of the run; write them where asked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability._figures import (
    SUMMARY_VARIABLE,
    Summary,
    is_long_run,
    recorded,
    render_table,
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    figures = recorded()
    if not figures:
        return
    terminalreporter.section("reliability figures" + (" (long run)" if is_long_run() else ""))
    terminalreporter.write_line(render_table(figures))
    target = os.environ.get(SUMMARY_VARIABLE)
    if target:
        summary = Summary(long_run=is_long_run(), figures=figures)
        Path(target).write_text(summary.model_dump_json(indent=2) + "\n", encoding="utf-8")
