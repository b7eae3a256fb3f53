"""One benchmark run: the tree, then each selected row, then the report.

Why one process drives everything: the rows must see the same tree, and the pristine tree's
digest is taken before the first row and after the last to prove no row (and no restore)
changed it.  The S3 server runs only while the upload row runs, and is stopped even when
the row fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._machine import machine_facts
from benchmarks._measure import BenchmarkError, run_alternating, stderr_log
from benchmarks._models import BenchmarkReport, RowResult, TreeFacts
from benchmarks._report import row_result, rss_row
from benchmarks._rows import OVERVIEW_RSS_TARGET, ROW_NAMES, RowContext, Skip, build_row
from benchmarks._s3 import SeaweedServer, find_weed
from benchmarks._tools import Tools, tool_versions
from benchmarks._tree import (
    SELECTED_CATEGORIES,
    Tree,
    plan_selection,
    prepare_tree,
    tree_digest,
)

__all__ = ["Options", "run_benchmark"]


@dataclass(frozen=True)
class Options:
    """``python -m benchmarks run`` options."""

    reports: int
    repeat: int
    warmup: int
    workdir: Path
    tools_dir: Path
    only: Sequence[str]
    s3_files: int


@contextlib.contextmanager
def _s3_server(ctx: RowContext, needed: bool) -> Iterator[None]:
    """Start SeaweedFS for the upload row (when ``weed`` exists); always stop it."""
    weed = find_weed() if needed else None
    if weed is None:
        yield
        return
    ctx.tools.paths["weed"] = weed
    root = ctx.tree.workdir / "seaweedfs"
    with SeaweedServer(root, weed) as server:
        ctx.server = server
        try:
            yield
        finally:
            ctx.server = None


def _run_row(name: str, ctx: RowContext, options: Options) -> RowResult:
    stderr_log(f"row {name}")
    try:
        spec = build_row(name, ctx)
        sides = [spec.project, *(baseline.side for baseline in spec.baselines)]
        run_alternating(sides, repeat=options.repeat, warmup=options.warmup, log=stderr_log)
    except Skip as skip:
        return RowResult(name=name, description=name, status="skipped", reason=str(skip))
    except BenchmarkError as exc:
        stderr_log(f"  failed: {exc}")
        return RowResult(name=name, description=name, status="failed", reason=str(exc))
    return row_result(spec)


def run_benchmark(options: Options) -> BenchmarkReport:
    """Generate (or reuse) the tree, run the selected rows, and return the report."""
    started = datetime.now(UTC)
    tree = Tree(options.workdir)
    stderr_log(f"tree: {options.reports} reports in {tree.pristine}")
    prepare_tree(tree, options.reports)
    plan = plan_selection(tree)
    before = tree_digest(tree.pristine)
    tools = Tools(options.tools_dir, stderr_log)
    for name in ("find", "tar", "gzip", "sha256sum", "sh", "xargs", "rm", "cp"):
        tools.system(name)
    ctx = RowContext(tree=tree, tools=tools, s3_files=options.s3_files)
    wanted = set(options.only or ROW_NAMES)
    if "overview-rss" in wanted:
        wanted.add("overview")
    rows: list[RowResult] = []
    for name in ROW_NAMES:
        if name not in wanted or name == "overview-rss":
            continue
        with _s3_server(ctx, name == "s3-upload"):
            result = _run_row(name, ctx, options)
        if name != "overview" or not options.only or "overview" in options.only:
            rows.append(result)
        if name == "overview" and "overview-rss" in wanted:
            rows.append(rss_row(result, OVERVIEW_RSS_TARGET))
    intact = tree_digest(tree.pristine) == before
    demo = tree.demo
    assert demo is not None
    return BenchmarkReport(
        started_at=started,
        finished_at=datetime.now(UTC),
        repeat=options.repeat,
        warmup=options.warmup,
        workdir=str(options.workdir),
        machine=machine_facts(options.workdir, tool_versions(tools)),
        tree=TreeFacts(
            reports=demo.report_count,
            files=demo.file_count,
            total_bytes=demo.total_bytes,
            generate_seconds=tree.generate_seconds,
            selection=f"categories {', '.join(SELECTED_CATEGORIES)}",
            selected_reports=len(plan.targets),
            pristine_intact=intact,
        ),
        rows=rows,
    )
