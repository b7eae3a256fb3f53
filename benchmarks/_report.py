"""Turning measured sides into results, and results into the text table.

Why the median of per-pair ratios (not the ratio of medians): run i of the project and run i
of the baseline ran next to each other, so they saw the same background load; dividing
within a pair cancels most of that noise before the median drops the outliers.
"""

from __future__ import annotations

import statistics

from benchmarks._measure import Side, side_stats
from benchmarks._models import BenchmarkReport, Comparison, RowResult, Target
from benchmarks._rows import Baseline, RowSpec

__all__ = ["render_table", "row_result"]


def _passed(target: Target, ratio: float, throughput: float) -> bool:
    if target.kind == "max_wall_ratio":
        return ratio <= target.value
    if target.kind == "min_throughput_ratio":
        return throughput >= target.value
    raise ValueError(f"not a ratio target: {target.kind}")


def _comparison(project: Side, baseline: Baseline) -> Comparison:
    pairs = zip(project.samples, baseline.side.samples, strict=True)
    ratios = [round(a.wall_seconds / max(b.wall_seconds, 1e-6), 3) for a, b in pairs]
    median = round(statistics.median(ratios), 3)
    throughput = round(statistics.median(1 / max(r, 1e-6) for r in ratios), 3)
    return Comparison(
        baseline=side_stats(baseline.side),
        ratios=ratios,
        median_ratio=median,
        median_throughput_ratio=throughput,
        target=baseline.target,
        passed=_passed(baseline.target, median, throughput),
    )


def row_result(spec: RowSpec) -> RowResult:
    """The measured row: each side's medians, and the project against each baseline."""
    return RowResult(
        name=spec.name,
        description=spec.description,
        status="measured",
        project=side_stats(spec.project),
        comparisons=[_comparison(spec.project, baseline) for baseline in spec.baselines],
        notes=list(spec.notes),
    )


def rss_row(overview: RowResult, target: Target) -> RowResult:
    """``overview-rss``: the overview's peak RSS against its own limit (no baseline)."""
    if overview.project is None:
        return RowResult(
            name="overview-rss",
            description="peak RSS of the overview",
            status=overview.status,
            reason=overview.reason,
        )
    rss = overview.project.median_peak_rss_mb
    return RowResult(
        name="overview-rss",
        description="peak RSS of the overview (same runs as the overview row)",
        status="measured",
        project=overview.project,
        rss_target=target,
        rss_passed=rss <= target.value,
    )


_HEADER = (
    "row",
    "project s",
    "project MiB",
    "baseline",
    "baseline s",
    "baseline MiB",
    "ratio A/B",
    "target",
    "result",
)


def _lines(row: RowResult) -> list[tuple[str, ...]]:
    if row.status != "measured" or row.project is None:
        return [(row.name, "-", "-", "-", "-", "-", "-", "-", f"{row.status}: {row.reason}")]
    a = row.project
    head = (row.name, f"{a.median_wall_seconds:.2f}", f"{a.median_peak_rss_mb:.0f}")
    if row.rss_target is not None:
        verdict = "PASS" if row.rss_passed else "FAIL"
        return [(*head, "-", "-", "-", "-", row.rss_target.text, verdict)]
    lines: list[tuple[str, ...]] = []
    for comparison in row.comparisons:
        b = comparison.baseline
        ratio = f"{comparison.median_ratio:.2f}x"
        if comparison.target.kind == "min_throughput_ratio":
            ratio += f" (thr {comparison.median_throughput_ratio:.2f}x)"
        lines.append(
            (
                *head,
                b.name,
                f"{b.median_wall_seconds:.2f}",
                f"{b.median_peak_rss_mb:.0f}",
                ratio,
                comparison.target.text,
                "PASS" if comparison.passed else "FAIL",
            )
        )
    return lines


def render_table(report: BenchmarkReport) -> str:
    """The text table printed on stdout, one line per project/baseline comparison."""
    rows: list[tuple[str, ...]] = [_HEADER]
    for row in report.rows:
        rows.extend(_lines(row))
    widths = [max(len(line[i]) for line in rows) for i in range(len(_HEADER))]
    text = [
        " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in rows
    ]
    text.insert(1, "-+-".join("-" * width for width in widths))
    tree = report.tree
    machine = report.machine
    text.append("")
    text.append(
        f"{tree.reports} reports, {tree.files} files, {tree.total_bytes / 1e9:.2f} GB; "
        f"selection: {tree.selection} ({tree.selected_reports} reports); "
        f"pristine tree intact: {tree.pristine_intact}; repeat {report.repeat}"
    )
    text.append(
        f"{machine.cpu_model}, {machine.cores} cores, {machine.ram_gib} GiB, {machine.kernel}, "
        f"{machine.filesystem}, Python {machine.python}, load {machine.load_average}, "
        f"code {machine.source_revision}"
    )
    return "\n".join(text)
