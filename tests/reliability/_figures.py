"""The reliability suite's figures: per test, the cases run, failures and data lost.

Each test adds one :class:`Figure`; the suite's ``conftest`` prints the table at the end of
the run and, when ``RELIABILITY_SUMMARY`` names a file, writes it there as JSON (the long
run's command, ``python -m tests.reliability``, reads it back).  Kept apart from the tests
so a figure is a fact the test measured, never a number typed into the docs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

__all__ = ["Figure", "Summary", "is_long_run", "record", "recorded", "scaled"]

LONG_RUN_VARIABLE = "RELIABILITY_LONG"
SUMMARY_VARIABLE = "RELIABILITY_SUMMARY"


class Figure(BaseModel):
    """One row of the summary table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: str
    test: str
    cases: int
    failures: int
    data_lost: int
    detail: str = ""


class Summary(BaseModel):
    """The whole table, as written to ``RELIABILITY_SUMMARY``."""

    model_config = ConfigDict(extra="forbid")

    long_run: bool
    figures: list[Figure]


@dataclass
class _Recorder:
    figures: list[Figure]


_RECORDER = _Recorder(figures=[])


def is_long_run() -> bool:
    """True when the long version runs (``RELIABILITY_LONG=1``), False in CI's reduced run."""
    return os.environ.get(LONG_RUN_VARIABLE, "") not in ("", "0")


def scaled(reduced: int, long: int) -> int:
    """The number of cases for this run: ``long`` in the long version, else ``reduced``."""
    return long if is_long_run() else reduced


def record(
    category: str,
    test: str,
    *,
    cases: int,
    failures: int,
    data_lost: int,
    detail: str = "",
) -> None:
    """Add a test's figures to the summary (called after the test measured them)."""
    _RECORDER.figures.append(
        Figure(
            category=category,
            test=test,
            cases=cases,
            failures=failures,
            data_lost=data_lost,
            detail=detail,
        )
    )


def recorded() -> list[Figure]:
    """Every figure recorded so far in this process."""
    return list(_RECORDER.figures)


def render_table(figures: list[Figure]) -> str:
    """The summary as a Markdown table (the same text goes into docs/reliability.md)."""
    lines = [
        "| category | test | cases | failures | data lost | detail |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    lines += [
        f"| {f.category} | {f.test} | {f.cases} | {f.failures} | {f.data_lost} | {f.detail} |"
        for f in figures
    ]
    return "\n".join(lines)
