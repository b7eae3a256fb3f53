"""``python -m scripts.audit.champion_diff``: compare champions between two registries.

``--lhs D --rhs D [--model M ...] [--output-dir D] [--tag T]`` writes
``champion_diff_<YYYYMMDDTHHMMSS>[_<tag>].json`` (default directory ``audit/champion_diffs/``)
and prints it, with its ``output_path``, as one JSON document (contract 7, runbook 9.1).  A
missing root, model or champion is reported in the comparison, not treated as an error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot_core._cli import CliOutput, OneLineArgumentParser, run_cli
from bot_core.registry import DEFAULT_DIFF_DIR, write_champion_diff

__all__ = ["build_parser", "main"]


def _diff(args: argparse.Namespace) -> CliOutput:
    return CliOutput(
        write_champion_diff(
            args.lhs,
            args.rhs,
            model=args.model,
            output_dir=args.output_dir,
            tag=args.tag,
            now=datetime.now(UTC),
        )
    )


def build_parser() -> argparse.ArgumentParser:
    """The command's parser, shared by ``main`` and the documentation test."""
    parser = OneLineArgumentParser(
        prog="python -m scripts.audit.champion_diff",
        description=(
            "Compare each model's champion between two registry directories and write "
            "champion_diff_<timestamp>[_<tag>].json (metric deltas, parameter changes, "
            "missing artefacts)."
        ),
    )
    parser.add_argument(
        "--lhs", required=True, type=Path, metavar="D", help="reference registry directory"
    )
    parser.add_argument(
        "--rhs", required=True, type=Path, metavar="D", help="registry directory to compare"
    )
    parser.add_argument(
        "--model", action="append", metavar="M", help="compare only this model (repeatable)"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=DEFAULT_DIFF_DIR,
        metavar="D",
        help=f"where to write the report (default: {DEFAULT_DIFF_DIR})",
    )
    parser.add_argument("--tag", metavar="T", help="suffix of the report's file name")
    parser.set_defaults(handler=_diff)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison; returns the exit status."""
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
