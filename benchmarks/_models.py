"""The benchmark's JSON document (``--json``), as pydantic models.

Why models: the project rule is that every JSON document we read or write is a pydantic
model; the smoke test and anyone comparing two runs parse the file back through these.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bot_core._types import Document, UtcDateTime

__all__ = [
    "BenchmarkReport",
    "Comparison",
    "MachineFacts",
    "RowResult",
    "Sample",
    "SideStats",
    "Target",
    "TreeFacts",
]


class Target(Document):
    """A row's goal, from the issue.

    ``max_wall_ratio``: median of project/baseline wall time <= ``value``.
    ``min_throughput_ratio``: median of baseline/project wall time (same bytes moved, so the
    project's throughput relative to the baseline's) >= ``value``.
    ``max_peak_rss_mb``: median peak RSS of the project side <= ``value`` MiB.
    """

    kind: Literal["max_wall_ratio", "min_throughput_ratio", "max_peak_rss_mb"]
    value: float
    text: str


class Sample(Document):
    """One timed run of one side."""

    wall_seconds: float
    peak_rss_kib: int
    """``ru_maxrss`` from ``wait4``: the largest process of the run's process tree."""
    exit_code: int


class SideStats(Document):
    """One side (the project or a baseline) of a row: its command and its timed runs."""

    name: str
    command: str
    samples: list[Sample]
    median_wall_seconds: float
    median_peak_rss_mb: float
    notes: list[str] = Field(default_factory=list)


class Comparison(Document):
    """The project against one baseline, run alternately on the same data."""

    baseline: SideStats
    ratios: list[float]
    """project/baseline wall time of each pair of runs (pair i = the i-th run of each)."""
    median_ratio: float
    median_throughput_ratio: float
    """baseline/project wall time: how much of the baseline's throughput the project has."""
    target: Target
    passed: bool


class RowResult(Document):
    """One row of the table: what was measured, or why it was skipped."""

    name: str
    description: str
    status: Literal["measured", "skipped", "failed"]
    reason: str | None = None
    project: SideStats | None = None
    comparisons: list[Comparison] = Field(default_factory=list)
    rss_target: Target | None = None
    rss_passed: bool | None = None
    notes: list[str] = Field(default_factory=list)


class MachineFacts(Document):
    """Where the figures come from (the machine may be shared: see ``load_average``)."""

    cpu_model: str
    cores: int
    ram_gib: float
    kernel: str
    filesystem: str
    """Filesystem type and device holding the work directory."""
    python: str
    load_average: list[float]
    tool_versions: dict[str, str]
    source_revision: str
    """The project's git ``HEAD`` (and uncommitted paths) whose code was measured."""


class TreeFacts(Document):
    """The generated report tree every row works on."""

    reports: int
    files: int
    total_bytes: int
    generate_seconds: float
    selection: str
    """How the destructive and archive rows pick about half of the reports."""
    selected_reports: int
    pristine_intact: bool | None = None
    """Whether the pristine copy still had the same paths, sizes, modes and mtimes at the end."""


class BenchmarkReport(Document):
    """``python -m benchmarks run --json FILE``."""

    schema_version: Literal["bot_core.benchmarks/1"] = "bot_core.benchmarks/1"
    started_at: UtcDateTime
    finished_at: UtcDateTime
    repeat: int
    warmup: int
    """Untimed runs of each side before the timed ones (1 unless cut for time)."""
    workdir: str
    machine: MachineFacts
    tree: TreeFacts
    rows: list[RowResult]
