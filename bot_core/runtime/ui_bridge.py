"""``python -m bot_core.runtime.ui_bridge``: the runtime's JSON command line.

``snapshot --model M [--quality-dir D] [--audit-dir A] [--dry-run]`` prints the AI
recommendation snapshot of the model's champion (contract 7); without ``--dry-run`` it is also
saved as ``<audit-dir>/preview_<YYYYMMDDTHHMMSS>.json``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot_core._cli import CliOutput, OneLineArgumentParser, run_cli
from bot_core.registry import DEFAULT_AUDIT_DIR, DEFAULT_QUALITY_DIR, take_snapshot

__all__ = ["build_parser", "main"]


def _snapshot(args: argparse.Namespace) -> CliOutput:
    return CliOutput(
        take_snapshot(
            args.quality_dir,
            model=args.model,
            audit_dir=args.audit_dir,
            dry_run=args.dry_run,
            now=datetime.now(UTC),
        )
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser for every sub-command, shared by ``main`` and the documentation test."""
    parser = OneLineArgumentParser(
        prog="python -m bot_core.runtime.ui_bridge",
        description="Runtime views of the trading bot (JSON output).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    snapshot = commands.add_parser(
        "snapshot",
        help="AI recommendation snapshot of a model's champion",
        description=(
            "Print the AI recommendation snapshot of the model's champion: decision and "
            "guardrail summaries, champion history, recommendations, champion and challengers. "
            "Without --dry-run it is also saved under the audit directory."
        ),
    )
    snapshot.add_argument("--model", required=True, metavar="M", help="model name")
    snapshot.add_argument(
        "--quality-dir",
        type=Path,
        default=DEFAULT_QUALITY_DIR,
        help=f"registry directory (default: {DEFAULT_QUALITY_DIR})",
    )
    snapshot.add_argument(
        "--audit-dir",
        type=Path,
        default=DEFAULT_AUDIT_DIR,
        help=f"where the snapshot is saved as preview_<timestamp>.json "
        f"(default: {DEFAULT_AUDIT_DIR})",
    )
    snapshot.add_argument(
        "--dry-run", action="store_true", help="print the snapshot only; write nothing"
    )
    snapshot.set_defaults(handler=_snapshot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; returns the exit status."""
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
