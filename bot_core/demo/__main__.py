"""``python -m bot_core.demo generate``: write a demo report tree and print what was written."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot_core._cli import CliOutput, OneLineArgumentParser, run_cli
from bot_core.demo._generator import generate_demo_tree
from bot_core.errors import InvalidInputError
from bot_core.registry import DEFAULT_QUALITY_DIR
from bot_core.reporting import DEFAULT_BASE_DIR, DEFAULT_SIGNAL_QUALITY_DIR, parse_filters


def _generate(args: argparse.Namespace) -> CliOutput:
    now = None
    if args.now is not None:
        now = parse_filters(until=args.now).until
    if args.reports < 1:
        raise InvalidInputError("--reports must be at least 1")
    try:
        tree = generate_demo_tree(
            args.base_dir,
            reports=args.reports,
            seed=args.seed,
            now=now,
            days=args.days,
            signal_quality_directory=None if args.no_signal_quality else args.signal_quality_dir,
            registry_directory=None if args.no_registry else args.registry_dir,
            edge_cases=not args.no_edge_cases,
            large_file_ratio=args.large_file_ratio,
        )
    except FileExistsError as exc:
        raise InvalidInputError(str(exc)) from exc
    return CliOutput(tree)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog="python -m bot_core.demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    command = commands.add_parser("generate", help="write a demo report tree")
    command.add_argument("--base-dir", default=DEFAULT_BASE_DIR, help="new or empty directory")
    command.add_argument("--reports", type=int, default=300, help="number of reports (default 300)")
    command.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    command.add_argument("--now", help="pretend it is this moment (ISO-8601; default: now)")
    command.add_argument("--days", type=int, default=730, help="spread reports over N days")
    command.add_argument(
        "--signal-quality-dir",
        default=DEFAULT_SIGNAL_QUALITY_DIR,
        help=f"where to write signal-quality files (default: {DEFAULT_SIGNAL_QUALITY_DIR})",
    )
    command.add_argument("--no-signal-quality", action="store_true", help="write none")
    command.add_argument(
        "--registry-dir",
        default=DEFAULT_QUALITY_DIR,
        help=f"where to build a model registry (default: {DEFAULT_QUALITY_DIR})",
    )
    command.add_argument("--no-registry", action="store_true", help="build no model registry")
    command.add_argument("--no-edge-cases", action="store_true", help="no symlink, odd names...")
    command.add_argument(
        "--large-file-ratio",
        type=float,
        default=0.002,
        help="share of daily reports with a 1-4 MiB export",
    )
    command.set_defaults(handler=_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
